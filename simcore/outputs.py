"""Output safety: the one rule every command follows when it writes.

A command never deletes or replaces a file it did not create. It writes

* **into a directory** (``--out DIR``) only if DIR is new, empty, or this command's own earlier
  output of the same kind: a marker file ``.spikecount-output.json`` (written when the directory
  is claimed) names the kind and lists every file the command wrote there. A file not in that
  list is never replaced or removed, a non-regular file (device, FIFO, directory, symlink) never
  written over. Output directories written before markers existed are recognised when every
  entry is a regular file with one of the kind's own names (``adopt``). A lock
  (``fcntl.flock`` on ``.spikecount-output.lock``, released by the kernel when the process
  ends, so a killed run leaves no stale lock) keeps two runs out of the same directory.
* **a single file** (``--out FILE.json``) only if FILE is new or a result this kind of command
  wrote (JSON with ``"spikecount_output": kind``, or a PNG with that ``tEXt`` chunk), or with ``--overwrite`` a regular file; never
  a model's own file (``model.json``, weights, checkpoint, ``graph.json``...), never a device.

Every write is atomic (temporary file in the same directory, fsync, ``os.replace``) with the
usual permissions (:func:`simcore.fileio.atomic_write`, which calls :func:`check_target`).
``--overwrite`` and ``--force`` reach the library through :func:`options` (a context variable),
so library signatures stay as they are.
"""
from __future__ import annotations

import contextvars
import fcntl
import json
import os
import stat
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

__all__ = ["MARKER", "LOCK", "MODEL_OWN_FILES", "OutputError", "OutputDir", "options", "current_options",
           "output_dir", "check_dir", "check_target", "recorded", "remove_own", "remove_stale", "result_file",
           "replace_file", "GRAPH_FILES"]

MARKER = ".spikecount-output.json"
LOCK = ".spikecount-output.lock"
# files that make up a model or a run: never the target of another command's single-file output
MODEL_OWN_FILES = frozenset({"model.json", "weights.safetensors", "checkpoint.safetensors", "metrics.json",
                             "graph.json", "weights.npz", MARKER, LOCK})
_FORMAT = "spikecount-output"


class OutputError(ValueError):
    """Refusal to write somewhere (one line naming the path and the reason)."""


@dataclass(frozen=True)
class Options:
    overwrite: bool = False  # replace this tool's own earlier output (a regular file for single-file outputs)
    force: bool = False  # run although the memory estimate exceeds the available memory


_OPTIONS: contextvars.ContextVar[Options] = contextvars.ContextVar("spikecount_output_options", default=Options())


@contextmanager
def options(*, overwrite: bool = False, force: bool = False) -> Iterator[Options]:
    """Set ``--overwrite`` / ``--force`` for everything called inside the ``with`` block."""
    token = _OPTIONS.set(Options(bool(overwrite), bool(force)))
    try:
        yield _OPTIONS.get()
    finally:
        _OPTIONS.reset(token)


def current_options() -> Options:
    return _OPTIONS.get()


@dataclass
class OutputDir:
    """A claimed output directory: its kind and the files (relative paths) this tool wrote in it."""

    path: Path
    kind: str
    files: set[str] = field(default_factory=set)
    changed: bool = False  # this claim wrote or removed a file


    def owns(self, rel: str) -> bool:
        return rel in self.files

    def record(self, rel: str) -> None:
        self.changed = True
        if rel not in self.files:
            self.files.add(rel)
            self.save_marker()

    def save_marker(self) -> None:
        doc = {"format": _FORMAT, "kind": self.kind, "files": sorted(self.files)}
        text = json.dumps(doc, indent=1) + "\n"
        replace_file(self.path / MARKER, lambda f: f.write(text), "w")


_LOCAL = threading.local()  # the claims of this thread (a Dask worker runs several tasks in threads)


def _active() -> dict[Path, OutputDir]:
    return _LOCAL.__dict__.setdefault("claims", {})


def replace_file(path: Path, write, mode: str = "wb") -> None:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, fsync it, then rename it over
    ``path`` (normal permissions). No ownership check: callers check first (:func:`check_target`,
    as :func:`simcore.fileio.atomic_write` does), except for this module's own marker file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_marker(path: Path) -> dict | None:
    m = path / MARKER
    if not os.path.lexists(m):
        return None
    try:
        doc = json.loads(m.read_text())
        if doc.get("format") != _FORMAT or not isinstance(doc.get("kind"), str) or not isinstance(doc.get("files"), list):
            raise ValueError("unexpected content")
    except (OSError, ValueError, AttributeError) as e:
        raise OutputError(f"{m}: corrupt output marker ({e}); move it away or choose another --out") from None
    return doc


def _entries(path: Path) -> list[str]:
    return sorted(n for n in os.listdir(path) if n not in (MARKER, LOCK))


def _inspect(path: Path, kind: str, adopt: frozenset[str]) -> tuple[set[str], bool]:
    """(files already ours, marker missing) for an existing directory, or OutputError."""
    doc = _read_marker(path)
    if doc is not None:
        if doc["kind"] != kind:
            raise OutputError(f"{path}: holds the output of `{doc['kind']}`, not of `{kind}`; choose another --out")
        return {str(f) for f in doc["files"]}, False
    entries = _entries(path)
    if entries and not (all(n in adopt and stat.S_ISREG(os.lstat(path / n).st_mode) for n in entries)
                        and any(_signed(path / n) for n in entries)):
        raise OutputError(f"{path}: not empty and not an output of `{kind}` (no {MARKER}); "
                          "refusing to write into it, choose a new or empty directory")
    return set(entries), True


_SIGNATURES = {"model.json": "spikecount-model", "graph.json": "simcore-network"}


def _signed(path: Path) -> bool:
    """True for a description file this tool wrote before markers existed (a model.json or graph.json
    whose ``format`` is this tool's), the evidence that an unmarked directory is an earlier output."""
    if path.name not in _SIGNATURES:
        return False
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("format") == _SIGNATURES[path.name]


def _lock(path: Path) -> int:
    fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise OutputError(f"{path}: another spikecount run is writing this directory; wait for it "
                          "or choose another --out") from None
    return fd


def check_dir(path: str | os.PathLike, kind: str, *, adopt: Iterable[str] = ()) -> None:
    """OutputError now if :func:`output_dir` would refuse ``path`` (to refuse before long work)."""
    given = Path(path)
    if os.path.lexists(given) and not given.is_dir():
        raise OutputError(f"{given}: exists and is not a directory; --out must be a new or empty directory")
    real = given.resolve()
    if real.exists() and real not in _active():
        _inspect(real, kind, frozenset(adopt))


@contextmanager
def output_dir(path: str | os.PathLike, kind: str, *, adopt: Iterable[str] = ()) -> Iterator[OutputDir]:
    """Claim ``path`` as the output directory of command ``kind`` for the ``with`` block (see the module
    docstring); nested claims of a directory this process already holds return the holder's claim.
    A directory created here and left without any file (the command failed) is removed again."""
    check_dir(path, kind, adopt=adopt)
    real = Path(path).resolve()
    active = _active()
    if real in active:
        yield active[real]
        return
    created = not real.exists()
    top = real  # the highest directory made here (removed again if nothing is written)
    while not top.parent.exists():
        top = top.parent
    if created:
        real.mkdir(parents=True)
    fd = _lock(real)
    try:
        files, new_marker = _inspect(real, kind, frozenset(adopt))  # under the lock: no run claims it meanwhile
        out = OutputDir(real, kind, files)
        if new_marker:
            out.save_marker()
        active[real] = out
        try:
            yield out
        finally:
            del active[real]
            if new_marker and not out.changed:  # nothing written or removed: leave no trace
                for name in (MARKER, LOCK):
                    (real / name).unlink(missing_ok=True)
                if created and not _entries(real):
                    for d in [real, *real.parents]:
                        d.rmdir()
                        if d == top:
                            break
    finally:
        os.close(fd)


def _claim_of(target: Path) -> tuple[OutputDir, str] | None:
    """The active claim holding ``target`` (nearest claimed ancestor) and target's path relative to it."""
    active = _active()
    for parent in target.parents:
        if parent in active:
            return active[parent], target.relative_to(parent).as_posix()
    return None


def check_target(path: str | os.PathLike) -> tuple[Path, OutputDir | None, str]:
    """Check that ``path`` may be written now; returns (absolute path, claim or None, relative name).

    Never a non-regular file; inside a claimed directory never a file that claim did not write;
    while this thread holds a claim, nothing outside its claimed directories."""
    p = Path(os.path.abspath(path))
    if p.name in (MARKER, LOCK):
        raise OutputError(f"{p}: is spikecount's own bookkeeping file; refusing to write it")
    if os.path.lexists(p):
        mode = os.lstat(p).st_mode
        if not stat.S_ISREG(mode):
            raise OutputError(f"{p}: exists and is not a regular file; refusing to replace it")
    real = p.parent.resolve() / p.name
    claim = _claim_of(real)
    if claim is None:
        if _active():
            raise OutputError(f"{p}: outside the output directory {', '.join(map(str, _active()))}; refusing to "
                              "write it")
        return p, None, p.name
    out, rel = claim
    if os.path.lexists(real) and not out.owns(rel):
        raise OutputError(f"{real}: exists and was not written by `{out.kind}`; refusing to replace it")
    return real, out, rel


def recorded(claim: OutputDir | None, rel: str) -> None:
    """Note that the claim's command wrote ``rel`` (called by the writer after the rename)."""
    if claim is not None:
        claim.record(rel)


def remove_own(path: str | os.PathLike) -> bool:
    """Delete ``path`` if it exists and an active claim wrote it; OutputError for anything else."""
    p = Path(os.path.abspath(path))
    if not os.path.lexists(p):
        return False
    real = p.parent.resolve() / p.name
    claim = _claim_of(real)
    if claim is None or not claim[0].owns(claim[1]) or not stat.S_ISREG(os.lstat(real).st_mode):
        raise OutputError(f"{p}: was not written by this command; refusing to remove it")
    real.unlink()
    claim[0].changed = True
    claim[0].files.discard(claim[1])
    claim[0].save_marker()
    return True


def remove_stale(paths: Iterable[str | os.PathLike]) -> None:
    """Before a command rewrites a set of files that belong together, remove its own earlier ones
    (:func:`remove_own`), so a rerun stopped halfway leaves some of the new files, never new beside
    old. Outside any claim (library use) nothing is removed."""
    for path in paths:
        p = Path(os.path.abspath(path))
        if _claim_of(p.parent.resolve() / p.name) is not None:
            remove_own(p)  # False when there is nothing to remove


def _result_kind(data: bytes) -> str | None:
    """The ``spikecount_output`` kind a result records: a JSON field, or a PNG ``tEXt`` chunk."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return json.loads(data).get("spikecount_output")
    pos = 8
    while pos + 8 <= len(data):  # chunks: length (4 bytes, big-endian), type (4), data, CRC (4)
        n, ctype = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
        key, _, value = data[pos + 8:pos + 8 + n].partition(b"\0")
        if ctype == b"tEXt" and key == b"spikecount_output":
            return value.decode("latin-1")
        pos += 12 + n
    return None


def result_file(path: str | os.PathLike, kind: str) -> Path:
    """Check a single-file output ``path`` of command ``kind`` (see the module docstring)."""
    p = Path(path)
    if p.name in MODEL_OWN_FILES:
        raise OutputError(f"{p}: {p.name} is a model's or run's own file name; write the result elsewhere")
    if not os.path.lexists(p):
        return p
    if not stat.S_ISREG(os.lstat(p).st_mode):
        raise OutputError(f"{p}: exists and is not a regular file; refusing to replace it")
    marker = _read_marker(p.parent.resolve())
    if marker is not None and p.name in marker["files"]:
        raise OutputError(f"{p}: belongs to the `{marker['kind']}` output in {p.parent}; write the result elsewhere")
    try:
        own = _result_kind(p.read_bytes()) == kind
    except (OSError, ValueError, AttributeError):
        own = False
    if not own and not current_options().overwrite:
        raise OutputError(f"{p}: exists and is not an earlier `{kind}` result; pass --overwrite to replace it")
    return p


GRAPH_FILES = ("graph.json", "weights.npz")
