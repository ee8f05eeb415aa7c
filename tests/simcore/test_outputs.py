"""The output-safety rule of simcore.outputs: what a command may write, replace and remove."""
import errno
import fcntl
import json
import os

import pytest

from simcore import outputs
from simcore.fileio import atomic_write, write_json
from simcore.fileio import write_result
from simcore.outputs import MARKER, OutputError, output_dir, remove_own, result_file


def _write(path, text="x"):
    atomic_write(path, lambda f: f.write(text), mode="w")


def test_new_directory_gets_a_marker_listing_what_was_written(tmp_path):
    out = tmp_path / "new" / "deeper"
    with output_dir(out, "export"):
        _write(out / "graph.json")
    marker = json.loads((out / MARKER).read_text())
    assert marker["kind"] == "export" and marker["files"] == ["graph.json"]
    with output_dir(out, "export"):  # its own output: may be written again, own files replaced
        _write(out / "graph.json", "y")
    assert (out / "graph.json").read_text() == "y"


def test_a_failed_command_leaves_no_trace(tmp_path):
    out = tmp_path / "a" / "b"
    with pytest.raises(RuntimeError):
        with output_dir(out, "export"):
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    empty = tmp_path / "empty"
    empty.mkdir()
    with output_dir(empty, "export"):
        pass
    assert list(empty.iterdir()) == []


def test_foreign_or_other_kind_directories_are_refused(tmp_path):
    (tmp_path / "user.txt").write_text("mine")
    with pytest.raises(OutputError, match="not empty and not an output of `export`"):
        with output_dir(tmp_path, "export"):
            pass
    other = tmp_path / "o"
    with output_dir(other, "train"):
        _write(other / "model.json")
    with pytest.raises(OutputError, match="holds the output of `train`, not of `export`"):
        with output_dir(other, "export"):
            pass
    (tmp_path / "f").write_text("file")
    with pytest.raises(OutputError, match="not a directory"):
        with output_dir(tmp_path / "f", "export"):
            pass
    assert (tmp_path / "user.txt").read_text() == "mine" and (tmp_path / "f").read_text() == "file"


def test_legacy_outputs_are_adopted_only_when_every_entry_is_the_kinds_own(tmp_path):
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "graph.json").write_text("{}")  # a user's file of that name: not this tool's
    with pytest.raises(OutputError, match="not empty"):
        with output_dir(legacy, "export", adopt=("graph.json", "weights.npz")):
            pass
    assert sorted(os.listdir(legacy)) == ["graph.json"]  # the refusal left no trace
    (legacy / "graph.json").write_text('{"format": "simcore-network"}')  # written before markers existed
    with output_dir(legacy, "export", adopt=("graph.json", "weights.npz")):
        _write(legacy / "graph.json", "new")
    (legacy / "notes.txt").write_text("user")
    os.unlink(legacy / MARKER)
    with pytest.raises(OutputError, match="not empty"):
        with output_dir(legacy, "export", adopt=("graph.json", "weights.npz")):
            pass


def test_never_replaces_a_file_the_command_did_not_write(tmp_path):
    out = tmp_path / "o"
    with output_dir(out, "report"):
        _write(out / "index.html")
        (out / "user.md").write_text("user")  # appears while the command runs
        with pytest.raises(OutputError, match="was not written by `report`"):
            _write(out / "user.md")
        with pytest.raises(OutputError, match="not written by this command"):
            remove_own(out / "user.md")
        with pytest.raises(OutputError, match="bookkeeping"):
            _write(out / MARKER)
        assert remove_own(out / "index.html") and not (out / "index.html").exists()
        with pytest.raises(OutputError, match="outside the output directory"):
            _write(tmp_path / "elsewhere.txt")
    assert (out / "user.md").read_text() == "user"


def test_non_regular_targets_are_refused(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "d").mkdir()
    os.symlink(tmp_path / "d", tmp_path / "link")
    for name in ("fifo", "d", "link"):
        with pytest.raises(OutputError, match="not a regular file"):
            _write(tmp_path / name)
    with pytest.raises(OutputError, match="not a regular file"):
        result_file("/dev/null", "evaluate")


def test_single_file_results(tmp_path):
    res = tmp_path / "r.json"
    write_result(res, {"accuracy": 0.5}, "evaluate")
    write_result(res, {"accuracy": 0.6}, "evaluate")  # its own earlier result
    assert json.loads(res.read_text())["accuracy"] == 0.6
    with pytest.raises(OutputError, match="not an earlier `simulate` result"):
        write_result(res, {}, "simulate")
    user = tmp_path / "user.json"
    user.write_text("keep")
    with pytest.raises(OutputError, match="--overwrite"):
        write_result(user, {}, "evaluate")
    assert user.read_text() == "keep"
    with outputs.options(overwrite=True):
        write_result(user, {"a": 1}, "evaluate")
        for name in ("model.json", "weights.safetensors", "checkpoint.safetensors", "graph.json", "weights.npz"):
            with pytest.raises(OutputError, match="own file name"):
                write_result(tmp_path / name, {}, "evaluate")
    assert json.loads(user.read_text())["a"] == 1


def test_a_second_run_cannot_write_a_locked_directory(tmp_path):
    out = tmp_path / "o"
    with output_dir(out, "sweep"):
        _write(out / "sweep.json")
    fd = os.open(out / outputs.LOCK, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another run holds it
    try:
        with pytest.raises(OutputError, match="another spikecount run"):
            with output_dir(out, "sweep"):
                pass
    finally:
        os.close(fd)
    with output_dir(out, "sweep"):  # the lock went with its holder: never stale
        pass


def test_disk_full_leaves_no_temporary_file_and_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    write_json(path, {"old": 1})

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        write_json(path, {"new": 1})
    assert json.loads(path.read_text()) == {"old": 1} and os.listdir(tmp_path) == ["r.json"]


def test_written_files_have_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {})
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644


def test_nan_results_are_one_line(tmp_path):
    with pytest.raises(ValueError, match="NaN or infinite"):
        write_json(tmp_path / "a.json", {"x": float("nan")})
    assert not (tmp_path / "a.json").exists()


def test_claims_belong_to_their_thread(tmp_path):
    import threading

    errors, inside = [], threading.Event()
    release = threading.Event()

    def hold():
        with output_dir(tmp_path / "a", "sweep"):
            _write(tmp_path / "a" / "x.json")
            inside.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    inside.wait(10)
    try:
        _write(tmp_path / "free.json")  # this thread holds no claim: not confined to the other's directory
        with pytest.raises(OutputError, match="another spikecount run"):
            with output_dir(tmp_path / "a", "sweep"):
                pass
    except BaseException as e:  # noqa: BLE001 -- reported below, after the thread is released
        errors.append(e)
    release.set()
    t.join()
    assert not errors, errors
