"""The job model and the runner: identity by configuration, refusal of foreign directories, resume,
failures, and identical results serially, on a LocalCluster and on a scheduler with TCP workers."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from analysis.cli import main
from analysis.runner import Job, JobDirError, JobsFailed, Runner
from analysis.runner import kinds
from analysis.runner.build import train_job
from analysis.runner.job import JOB_FILE, RESULT_FILE, claim, job_dir
from analysis.sweep import sweep
from learning.train import config_from
from simcore.outputs import MARKER, output_dir

try:
    import distributed
except ImportError:  # the dist extra is not installed: only the Dask tests are skipped
    distributed = None
needs_dask = pytest.mark.skipif(distributed is None, reason="needs the dist extra (dask[distributed])")

ROOT = Path(__file__).resolve().parents[2]
TINY = dict(dataset="digits", arch="64-10-10", T_train=(5,), T_infer=(5, 10), norms=("model",), seeds=(0, 1),
            epochs=1, ann_epochs=1, limit_train=80, limit_test=40, progress=False)
# long enough (a second or two per training job) for a worker to be killed in the middle of one
SLOW = dict(TINY, seeds=(0,), epochs=6, limit_train=600)


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    return out, sweep(out_dir=out, **TINY)


def test_job_identity_is_the_full_configuration():
    a = train_job(config_from("digits", "64-20-10", epochs=1, limit_train=10))
    assert a.id == train_job(config_from("digits", "64-20-10", epochs=1, limit_train=10)).id
    assert a.id == Job(dict(reversed(list(a.config.items())))).id  # canonical JSON: key order is irrelevant
    for other in (config_from("digits", "64-200-10", epochs=1, limit_train=10),
                  config_from("digits", "64-20-10", epochs=3, limit_train=10),
                  config_from("digits", "64-20-10", epochs=1)):
        assert train_job(other).id != a.id
    assert len(a.config["data"]["digits.csv.gz"]) == 64  # data files by sha256


def test_fair_settings_are_part_of_the_sweep_jobs_identity():
    """QCFS levels, the initial potential, the spike-count lr and patience each make other jobs;
    the plain (V(0) = 0) jobs stay what they were."""
    from analysis.sweep import sweep_jobs

    def jobs(**kw):
        return {j.id: j.config for j in sweep_jobs("digits", "64-10-10", T_train=[4], T_infer=[4], norms=["robust"],
                                                   seeds=[0], **kw)[0]}

    plain = jobs()
    half = jobs(v_inits=("zero", "half"))
    assert set(plain) < set(half)
    added = sorted((c["kind"], c.get("v_init", "-")) for k, c in half.items() if k not in plain)
    # the theta/2 conversion, the spike-count network's theta/2 evaluation, and the evaluation of the
    # new conversion (its identity holds the id of the job it reads)
    assert added == [("convert", "half"), ("evaluate", "-"), ("evaluate", "half")]
    q4, q8 = jobs(qcfs_levels=(4,)), jobs(qcfs_levels=(8,))
    qcfs = lambda js: {k for k, c in js.items() if c.get("activation") == "qcfs"}  # noqa: E731
    assert set(plain) < set(q4) and qcfs(q4) and qcfs(q4).isdisjoint(qcfs(q8))
    assert [c["levels"] for k, c in q4.items() if k in qcfs(q4)] == [4]
    for other in (jobs(lr=1e-2), jobs(patience=3), jobs(select_on="accuracy")):  # another spike-count job
        assert len(set(other) - set(plain)) == 2 and len(set(plain) - set(other)) == 2  # (and its evaluation)
    # select_on came after grids were run: at its old value ("loss") the ids stay what they were
    assert jobs(select_on="loss") == plain and all("select_on" not in c for c in plain.values())


def test_a_directory_not_written_by_the_job_is_refused_and_kept(tmp_path):
    job = train_job(config_from("digits", "64-20-10", epochs=1, limit_train=10))
    d = job_dir(tmp_path, job)
    d.mkdir(parents=True)
    (d / "model.json").write_text("user's file")
    with pytest.raises(JobDirError, match="refusing"):
        Runner(progress=False).run([job], tmp_path)
    assert (d / "model.json").read_text() == "user's file" and not (d / JOB_FILE).exists()
    (d / "model.json").unlink()
    other = Job({**job.config, "epochs": 2})
    (d / JOB_FILE).write_text(json.dumps({"id": other.id, "config": other.config, "needs": {}}))
    with pytest.raises(JobDirError, match="another configuration"):
        with claim(tmp_path, job):
            pass


def _rows(result):
    return result["rows"]


def _marker_kind(d: Path) -> str:
    return json.loads((d / MARKER).read_text())["kind"]


@needs_dask
def test_local_cluster_sweep_in_a_claimed_out_equals_serial(serial, tmp_path, capsys):
    """`spikecount sweep --workers 2`: the command claims --out (marker, lock) and each worker process
    claims the job directories it writes inside it; same table as the serial run."""
    out = tmp_path / "out"
    args = ["sweep", "--dataset", "digits", "--arch", "64-10-10", "--T-train", "5", "--T-infer", "5,10", "--norms",
            "model", "--seeds", "0,1", "--epochs", "1", "--ann-epochs", "1", "--limit-train", "80", "--limit-test",
            "40", "--quiet", "--out", str(out)]
    assert main(args + ["--workers", "2"]) == 0, capsys.readouterr().err
    assert json.loads((out / "sweep.json").read_text())["rows"] == _rows(serial[1])
    assert (out / "sweep.csv").read_text() == (serial[0] / "sweep.csv").read_text()
    assert _marker_kind(out) == "sweep"
    assert {"sweep.json", "sweep.csv"} <= set(json.loads((out / MARKER).read_text())["files"])
    job_dirs = [d for d in (out / "jobs").iterdir() if not d.name.startswith(".")]
    assert len(job_dirs) == 10 and all(_marker_kind(d) == "job" for d in job_dirs)
    assert not [d for d in (out / "jobs").iterdir() if d.name.startswith(".")]  # no stage left behind
    held, release = threading.Event(), threading.Event()

    def other_run():  # another run (claims are per thread) holds --out
        with output_dir(out, "sweep"):
            held.set()
            release.wait(60)

    holder = threading.Thread(target=other_run)
    holder.start()
    try:
        assert held.wait(60)
        assert main(args + ["--workers", "2"]) == 2  # refused with one line, nothing run
    finally:
        release.set()
        holder.join()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another spikecount run is writing this directory" in err[0]


@pytest.fixture(scope="module")
def tcp_cluster(tmp_path_factory):
    """A scheduler and two workers started as separate processes on localhost (TCP)."""
    tmp = tmp_path_factory.mktemp("cluster")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    sched_file = tmp / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(200):
            if sched_file.is_file() and sched_file.stat().st_size:
                break
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        for k in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--host",
                 "127.0.0.1", "--no-dashboard", "--local-directory", str(tmp / f"w{k}")],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


@needs_dask
def test_scheduler_with_tcp_workers_equals_serial(serial, tcp_cluster, tmp_path):
    _, reference = serial
    res = sweep(out_dir=tmp_path, runner=Runner(scheduler=tcp_cluster, progress=False), **TINY)
    assert _rows(res) == _rows(reference)


@needs_dask
def test_a_worker_killed_mid_job_still_gives_the_serial_table(tcp_cluster, tmp_path):
    reference = sweep(out_dir=tmp_path / "serial", **SLOW)
    done, killed = {}, []

    def run():
        done["res"] = sweep(out_dir=tmp_path / "dist", runner=Runner(scheduler=tcp_cluster, progress=False), **SLOW)

    thread = threading.Thread(target=run)
    with distributed.Client(tcp_cluster) as client:
        thread.start()
        deadline = time.time() + 60
        while not killed and time.time() < deadline and thread.is_alive():
            for worker, keys in client.processing().items():
                if any(str(k).startswith("train-") for k in keys):
                    pid = client.run(os.getpid, workers=[worker])[worker]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    break
            time.sleep(0.02)
        thread.join(timeout=120)
    assert killed, "no training job was seen running"
    assert _rows(done["res"]) == _rows(reference)


def _count_executions(monkeypatch):
    ran = []
    for kind, fn in list(kinds.KINDS.items()):
        def counted(job, d, needs, fn=fn):
            ran.append(job.id)
            return fn(job, d, needs)
        monkeypatch.setitem(kinds.KINDS, kind, counted)
    return ran


def test_rerun_after_an_interruption_does_only_what_is_missing(serial, tmp_path, monkeypatch):
    calls = []
    real = kinds.KINDS["evaluate"]

    def interrupted(job, d, needs):
        calls.append(job.id)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the grid
        return real(job, d, needs)

    monkeypatch.setitem(kinds.KINDS, "evaluate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sweep(out_dir=tmp_path, **TINY)
    monkeypatch.setitem(kinds.KINDS, "evaluate", real)
    finished = {p.parent.name: p.stat().st_mtime_ns for p in (tmp_path / "jobs").glob(f"*/{RESULT_FILE}")}
    started = {p.parent.name for p in (tmp_path / "jobs").glob(f"*/{JOB_FILE}")}
    assert finished and started - set(finished)  # some done, one interrupted half-way
    ran = _count_executions(monkeypatch)
    res = sweep(out_dir=tmp_path, **TINY)
    assert not set(ran) & set(finished) and len(ran) == len(set(ran))
    assert len(ran) + len(finished) == len(res["jobs"])
    assert {p: (tmp_path / "jobs" / p / RESULT_FILE).stat().st_mtime_ns for p in finished} == finished
    assert _rows(res) == _rows(serial[1])
    ran.clear()
    sweep(out_dir=tmp_path, **TINY)
    assert ran == []


def test_a_failed_job_is_reported_and_the_others_finish(tmp_path, capsys):
    good = train_job(config_from("digits", "64-10-10", epochs=1, limit_train=20, limit_test=20))
    bad = train_job(config_from("digits", "64-10-3", epochs=1, limit_train=20, limit_test=20))
    with pytest.raises(JobsFailed, match="1 of 2 jobs failed"):
        Runner(progress=False).run([bad, good], tmp_path)
    assert (job_dir(tmp_path, good) / RESULT_FILE).is_file()
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("failed:")]
    assert len(line) == 1 and bad.id in line[0] and "arch=64-10-3" in line[0] and "ValueError" in line[0]


@needs_dask
def test_a_failed_job_on_a_cluster_is_reported_and_its_dependents_skipped(tcp_cluster, tmp_path, capsys):
    from analysis.runner.build import eval_job

    good = train_job(config_from("digits", "64-10-10", epochs=1, limit_train=20, limit_test=20))
    bad = train_job(config_from("digits", "64-10-3", epochs=1, limit_train=20, limit_test=20))
    after_bad, after_good = eval_job(bad, "tensor", split="test", limit=20), eval_job(good, "tensor", split="test", limit=20)
    with pytest.raises(JobsFailed, match="2 of 4 jobs failed"):
        Runner(scheduler=tcp_cluster, progress=False).run([bad, good, after_bad, after_good], tmp_path)
    assert (job_dir(tmp_path, after_good) / RESULT_FILE).is_file()
    lines = {l.split()[1]: l for l in capsys.readouterr().out.splitlines() if l.startswith("failed:")}
    assert set(lines) == {bad.id, after_bad.id}
    assert "ValueError" in lines[bad.id] and "skipped: a job it needs failed" in lines[after_bad.id]


@needs_dask
def test_sharded_simulate_equals_single_process(serial):
    from analysis.runner.shard import simulate_sharded
    from learning.simulate import simulate_dataset

    out, res = serial
    model = out / next(r["model"] for r in res["rows"] if r["method"].startswith("spike-count"))
    drop = ("created", "wall_seconds", "simulate_seconds", "shards", "model")
    one = simulate_dataset(model, progress=False, chunk=7)
    many = simulate_sharded(model, runner=Runner(workers=2, progress=False), shards=3, chunk=7)
    assert many["shards"] == 3 and one["prediction_agreement"] is not None
    assert {k: v for k, v in many.items() if k not in drop} == {k: v for k, v in one.items() if k not in drop}


def test_a_new_configuration_in_the_same_out_is_never_relabelled(tmp_path):
    """Issue 12 point 3: 64-20-10 models are never reported as 64-200-10; limited data never as full."""
    base = dict(dataset="digits", T_train=(5,), T_infer=(5,), norms=("model",), seeds=(0,), ann_epochs=1,
                limit_test=30, progress=False)
    first = sweep(out_dir=tmp_path, arch="64-20-10", epochs=1, limit_train=10, **base)
    second = sweep(out_dir=tmp_path, arch="64-200-10", epochs=3, **base)
    for res, arch, epochs, limit in ((first, "64-20-10", 1, 10), (second, "64-200-10", 3, None)):
        for row in res["rows"]:
            job = json.loads((tmp_path / row["model"]).parent.joinpath(JOB_FILE).read_text())
            assert job["config"]["arch"] == arch
            if row["method"].startswith("spike-count"):
                meta = json.loads((tmp_path / row["model"] / "metrics.json").read_text())["config"]
                assert (meta["arch"], meta["epochs"], meta["limit_train"]) == (arch, epochs, limit)
    assert not {r["model"] for r in first["rows"]} & {r["model"] for r in second["rows"]}


def test_workers_without_dask_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert main(["sweep", "--dataset", "digits", "--arch", "64-10-10", "--workers", "2",
                 "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'spikecount[dist]'" in err[0]
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("form", ["graph", "nir"])
def test_sweep_evaluation_accepts_a_graph_or_an_imported_nir_model(tmp_path, form):
    """issue 13: the sweep's evaluation (measure "sweep") runs on a graph directory or a .nir file;
    its rows equal simcore's own run of the loaded network at every T_infer."""
    import numpy as np

    from analysis.runner.job import Job
    from analysis.runner.kinds import KINDS
    from learning.datasets import load_dataset
    from learning.models import load
    from simcore import Dense, Network, save_network, simulate

    if form == "nir":
        pytest.importorskip("nir")
    from simcore.nir_export import write_nir

    rng = np.random.default_rng(2)
    net = Network()
    net.add_input("input", (64,))
    net.add_neurons("h", (16,), bias=np.round(rng.normal(0, 0.1, 16) * 64) / 64, bias_mode="current")
    net.add_neurons("out", (10,))
    net.connect("input", "h", [Dense(np.round(rng.normal(0, 0.3, (16, 64)) * 64) / 64)])
    net.connect("h", "out", [Dense(np.round(rng.normal(0, 0.5, (10, 16)) * 64) / 64)])
    path = tmp_path / ("net.nir" if form == "nir" else "g")
    write_nir(net, path) if form == "nir" else save_network(net, path)
    job = Job({"kind": "evaluate", "measure": "sweep", "dataset": "digits", "limit": 30, "T_infer": [3, 7],
               "seed": 5})
    res = KINDS["evaluate"](job, None, {"model": path})
    test = load_dataset("digits", "test", None, limit=30)
    graph = load(path).graph
    assert [r["T_infer"] for r in res["rows"]] == [3, 7]
    for row in res["rows"]:
        sim = simulate(graph, test.x.astype(np.float64), row["T_infer"], 5, sample_ids=np.arange(30), mode="sync")
        assert row["accuracy"] == float(np.mean(sim.predictions == test.y)) and row["samples"] == 30
    half = Job({**job.config, "v_init": "half"})
    with pytest.raises(ValueError, match="needs a spike-count network"):
        KINDS["evaluate"](half, None, {"model": path})


def test_sweep_extra_model_rows_and_job_identity(tmp_path, capsys):
    """issue 13: `sweep --extra-model net.nir` adds that model's rows at each T_infer, labelled by its
    path; the file's sha256 is in the evaluation job's configuration (a changed file is a new job)."""
    import numpy as np

    pytest.importorskip("nir")
    from learning.datasets import load_dataset
    from learning.models import load
    from simcore import Dense, Network, simulate
    from simcore.nir_export import write_nir

    def write(seed):
        rng = np.random.default_rng(seed)
        net = Network()
        net.add_input("input", (64,))
        net.add_neurons("out", (10,), bias=np.round(rng.normal(0, 0.1, 10) * 64) / 64, bias_mode="current")
        net.connect("input", "out", [Dense(np.round(rng.normal(0, 0.3, (10, 64)) * 64) / 64)])
        write_nir(net, tmp_path / "net.nir")

    write(0)
    out = tmp_path / "out"
    args = ["sweep", "--dataset", "digits", "--arch", "64-10-10", "--T-train", "5", "--T-infer", "4,6", "--norms",
            "model", "--epochs", "1", "--ann-epochs", "1", "--limit-train", "60", "--limit-test", "25",
            "--extra-model", str(tmp_path / "net.nir"), "--quiet", "--out", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    doc = json.loads((out / "sweep.json").read_text())
    rows = [r for r in doc["rows"] if r["method"] == str(tmp_path / "net.nir")]
    assert [r["T_infer"] for r in rows] == [4, 6] and all(r["model"] == str(tmp_path / "net.nir") for r in rows)
    test = load_dataset("digits", "test", None, limit=25)
    graph = load(tmp_path / "net.nir").graph
    for r in rows:
        sim = simulate(graph, test.x.astype(np.float64), r["T_infer"], 0, sample_ids=np.arange(25), mode="sync")
        assert r["accuracy"] == float(np.mean(sim.predictions == test.y))
    (ev,) = [c for c in doc["jobs"].values() if c.get("model") == str(tmp_path / "net.nir")]
    assert set(ev["model_sha256"]) == {"net.nir"}
    write(1)  # another network in the same file: a new evaluation job, the trained jobs reused
    assert main(args + ["--overwrite"]) == 0, capsys.readouterr().err
    doc2 = json.loads((out / "sweep.json").read_text())
    assert set(doc2["jobs"]) - set(doc["jobs"]) and len(set(doc["jobs"]) - set(doc2["jobs"])) == 1


def test_sweep_refuses_a_bad_extra_model_before_any_job(tmp_path, capsys):
    """`sweep --extra-model` loads and checks every given model first: a missing or unreadable one, one
    whose input or output size does not fit the dataset, or one recorded for another dataset stops the
    sweep with one line and exit 2, before --out is claimed or any job starts."""
    import numpy as np

    pytest.importorskip("nir")
    from simcore import Dense, Network
    from simcore.nir_export import write_nir

    def nir_file(name, n_in, n_out, run=None):
        net = Network()
        net.add_input("input", (n_in,))
        net.add_neurons("out", (n_out,))
        net.connect("input", "out", [Dense(np.full((n_out, n_in), 0.25))])
        write_nir(net, tmp_path / name, run=run)
        return tmp_path / name

    (tmp_path / "junk.nir").write_bytes(b"not hdf5")
    (tmp_path / "empty").mkdir()
    cases = {nir_file("wide.nir", 20, 10): "20 inputs, but digits has 64 features",
             nir_file("few.nir", 64, 3): "3 output neurons, but digits has 10 classes",
             nir_file("iris.nir", 64, 10, run={"dataset": "iris"}): "a model for dataset 'iris', the sweep is on 'digits'",
             tmp_path / "junk.nir": "not a readable NIR file", tmp_path / "missing": "not found",
             tmp_path / "empty": "neither a model directory"}
    good = nir_file("good.nir", 64, 10)
    out = tmp_path / "out"
    for bad, why in cases.items():
        args = ["sweep", "--dataset", "digits", "--arch", "64-10-10", "--T-train", "5", "--epochs", "1",
                "--extra-model", str(good), "--extra-model", str(bad), "--quiet", "--out", str(out)]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--extra-model" in err and why in err and str(bad) in err, err
        assert not out.exists()  # nothing claimed, no job started
    with pytest.raises(ValueError, match="3 output neurons"):  # the Python API checks too
        sweep("digits", "64-10-10", tmp_path / "api", extra_models=[tmp_path / "few.nir"], progress=False)
    assert not (tmp_path / "api" / "jobs").exists()


@needs_dask
def test_local_cluster_workers_keep_glibc_adaptive_malloc():
    """Dask's nanny would start workers with MALLOC_TRIM_THRESHOLD_ set (8x slower numpy on arrays over
    128 KiB, measured); the runner's LocalCluster unsets it and still pins the threads."""
    from analysis.runner.backend import _connect

    with _connect(1, None) as client:
        env = client.run(lambda: {k: os.environ.get(k) for k in ("MALLOC_TRIM_THRESHOLD_", "NUMBA_NUM_THREADS")})
    assert list(env.values()) == [{"MALLOC_TRIM_THRESHOLD_": None, "NUMBA_NUM_THREADS": "1"}]
