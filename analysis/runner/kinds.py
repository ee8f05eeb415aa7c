"""What each kind of job does, and :func:`execute`, which runs one job in this process (the serial
runner, or a Dask worker). A kind's function gets the job, its directory (None for jobs whose
result is only returned) and the model directories of the jobs it needs; it returns a JSON-able dict.

Kinds: ``train-snn`` / ``train-ann`` (a learning.train / baselines.train_ann configuration),
``convert`` (an ANN job's model, a normalisation), ``evaluate`` (a model job, a ``measure``),
``simulate-shard`` (a sample-id range of ``spikecount simulate``, result only).
Model directories are ``<job dir>/model``, read with the one loader (``learning.models.load``).
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from analysis.runner.job import Job, claim, finish, is_done, job_dir, read_result
from simcore.fileio import read_json
from simcore.outputs import Options, options

__all__ = ["execute", "model_dir", "MODEL"]

MODEL = "model"


def model_dir(root, job: Job | str) -> Path:
    """The model a train/convert job writes."""
    return job_dir(root, job) / MODEL


def _settings(cls, job: Job):
    """A training configuration dataclass from the job's config (data_dir from the job's machine view)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in job.config.items() if k in names and k != "data_dir"}, data_dir=job.data_dir)


def _train_snn(job: Job, d: Path, needs: dict) -> dict:
    from learning.train import TrainConfig, train

    out = d / MODEL
    metrics = train(_settings(TrainConfig, job), out, resume=(out / "checkpoint.safetensors").is_file(),
                    progress=False)
    return {"test_accuracy": metrics["test_accuracy"], "metrics": metrics}


def _train_ann(job: Job, d: Path, needs: dict) -> dict:
    from baselines.train_ann import ANNConfig, train_ann

    out = d / MODEL
    metrics = train_ann(_settings(ANNConfig, job), out, resume=(out / "checkpoint.safetensors").is_file(),
                        progress=False)
    return {"test_accuracy": metrics["test_accuracy"], "metrics": metrics}


def _convert(job: Job, d: Path, needs: dict) -> dict:
    from baselines.convert import convert

    c, out = job.config, d / MODEL
    if not (out / "model.json").is_file():  # converted in a staging directory, renamed when complete
        stage = d / f".{MODEL}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        convert(needs["ann"], c["norm"], out_dir=stage, data_dir=job.data_dir, seed=c["seed"], v_init=c["v_init"])
        os.replace(stage, out)
    return {"scale_factors": read_json(out / "model.json", "converted model")["scale_factors"]}


def _sweep_rows(model: Path, job: Job) -> dict:
    """``model``: a spike-count, converted or graph directory, or a ``.nir`` file (``semantics`` in the
    job's config, default "nir"). Decode scores (tie-broken and counts-only accuracy, tie fraction;
    simcore.decode.decode_scores)
    and SOPs (without the ``v_init_*`` emulation sources) at every T_infer in simcore (sync), the
    converted model's ANN accuracy, and the decision latency at the largest T. ``v_init`` "half" in
    the job's config runs a spike-count network with theta/2 added to every initial potential."""
    import baselines  # noqa: F401  (registers the "converted" kind in this worker)
    from analysis.latency import decision_latency
    from learning.datasets import load_dataset
    from learning.export import to_graph
    from learning.graph_builder import is_v_init
    from learning.models import load
    from simcore import simulate
    from simcore.decode import decode_scores

    c = job.config
    test = load_dataset(c["dataset"], "test", job.data_dir, limit=c["limit"])
    x, y = test.x.astype(np.float64), test.y
    loaded = load(model, kinds=("snn", "converted", "graph", "nir"), purpose="a sweep",
                  semantics=c.get("semantics", "nir"))
    graph, meta = loaded.graph, loaded.meta
    if c.get("v_init", "zero") == "half":  # only spike-count jobs carry it (a conversion's is its own job's)
        if loaded.net is None:
            raise ValueError(f"{model}: V(0)=theta/2 needs a spike-count network (this is kind {loaded.kind!r})")
        graph = to_graph(loaded.net, v_init=loaded.net.theta / 2)
    enc, rate = meta.get("encoding", "bernoulli"), float(meta.get("max_rate", 1.0))
    rows, trace = [], None
    for T in c["T_infer"]:
        res = simulate(graph, x, T, c["seed"], encoding=enc, max_rate=rate, sample_ids=np.arange(len(y)), mode="sync")
        sops = sum(v for p, v in res.sops.items() if not is_v_init(p))
        rows.append({"T_infer": T, **decode_scores(res.counts[res.output], res.membrane[res.output], y),
                     "ann_accuracy": meta.get("ann_test_accuracy"), "sops_per_sample": float(sops.mean()),
                     "samples": len(y)})
        trace = res.prediction_trace
    return {"rows": rows, "latency": decision_latency(trace, y).tolist()}


def _evaluate(job: Job, d: Path, needs: dict) -> dict:
    """One measurement of a model job's model or of the given ``config["model"]`` (``measure``; the split,
    sample limit and seed in config)."""
    c = job.config
    model = needs["model"] if "model" in needs else Path(c["model"])  # a job's model, or a given one
    measure, split, limit = c["measure"], c.get("split", "test"), c.get("limit")
    if measure == "tensor":  # the training mode of a spike-count network
        from learning.evaluate import evaluate_model

        return {"accuracy": evaluate_model(model, split=split, limit=limit, data_dir=job.data_dir)["accuracy"]}
    if measure == "simcore":  # sync mode at the model's T, same spike trains
        from learning.simulate import simulate_dataset

        res = simulate_dataset(model, split=split, limit=limit, data_dir=job.data_dir, progress=False, compare=False)
        return {k: res[k] for k in ("accuracy", "counts_only_accuracy", "tie_fraction", "sops_per_sample")}
    if measure == "ann":
        from baselines.train_ann import ann_accuracy
        from learning.datafiles import resolve_data_dir
        from learning.datasets import load_dataset
        from learning.models import load

        ann = load(model, kinds=("ann",), purpose="the ANN rows")
        data_dir = resolve_data_dir(ann.meta, ann.meta["dataset"], job.data_dir, str(model))
        data = load_dataset(ann.meta["dataset"], split, data_dir, split_seed=int(ann.meta.get("split_seed", 0)),
                            limit=limit)
        return {"accuracy": ann_accuracy(ann.net, data.x, data.y)}
    if measure == "converted-at-T":
        from baselines.evaluate import accuracy_vs_T

        at_T = accuracy_vs_T(model, Ts=(c["T"],), limit=limit, data_dir=job.data_dir, seed=c["seed"])[0]
        return {k: at_T[k] for k in ("accuracy", "counts_only_accuracy", "tie_fraction")}
    if measure == "sweep":
        return _sweep_rows(model, job)
    raise ValueError(f"unknown measure {measure!r}")


def _simulate_shard(job: Job, d, needs: dict) -> dict:
    from learning.simulate import prepare_run, simulate_range

    c = job.config
    run = prepare_run(c["model"], c["dataset"], split=c["split"], T=c["T"], seed=c["seed"],
                      split_seed=c["split_seed"], data_dir=job.data_dir, limit=c["limit"],
                      dt=c.get("dt"), semantics=c.get("semantics", "nir"))
    return simulate_range(run, c["lo"], c["hi"], mode=c["mode"], compare=c["compare"], chunk=c["chunk"])


KINDS = {"train-snn": _train_snn, "train-ann": _train_ann, "convert": _convert, "evaluate": _evaluate,
         "simulate-shard": _simulate_shard}
PERSISTENT = {"train-snn", "train-ann", "convert", "evaluate"}


def execute(job: Job, root, *_after, run_options: Options | None = None) -> dict:
    """Run ``job`` here with one torch thread (so results do not depend on where it runs) and return
    its result; a finished job is read back, not run again. ``_after``: results of the jobs it needs
    (passed only so that Dask runs it after them); ``run_options``: the command's --overwrite/--force
    (a Dask worker does not see the caller's :func:`simcore.outputs.options`)."""
    if run_options is not None:
        with options(overwrite=run_options.overwrite, force=run_options.force):
            return execute(job, root)
    if job.kind not in KINDS:
        raise ValueError(f"unknown job kind {job.kind!r}")
    needs = {role: model_dir(root, dep) for role, dep in job.needs.items()}
    if job.kind not in PERSISTENT:
        return _timed(job, None, needs)[0]
    if is_done(root, job):
        return read_result(root, job)
    with claim(root, job) as d:
        result, seconds = _timed(job, d, needs)
        finish(d, result, seconds)
    return result


def _timed(job: Job, d: Path | None, needs: dict) -> tuple[dict, float]:
    """The kind's result with torch pinned to one thread, and its seconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        return KINDS[job.kind](job, d, needs), time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
