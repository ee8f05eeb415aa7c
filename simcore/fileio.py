"""Atomic file writes: a reader sees the old file or the complete new one, never half of it.

Every write goes through :func:`atomic_write`, which first applies the output-safety rule of
:mod:`simcore.outputs` (never over a non-regular file, never over a file an output directory's
command did not write)."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from simcore import outputs

__all__ = ["atomic_write", "write_json", "read_json"]


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb", *,
                 checked: bool = True) -> Path:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, fsync it, then rename over ``path``.

    ``checked=False`` skips the ownership check (only for simcore.outputs' own marker file)."""
    claim, rel = None, ""
    if checked:
        path, claim, rel = outputs.check_target(path)
    path = Path(path)
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
    outputs.recorded(claim, rel)
    return path


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    try:
        text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=False)
    except ValueError as e:  # NaN / inf somewhere in a result
        raise ValueError(f"{path}: not written, the result holds NaN or infinite values ({e})") from None
    return atomic_write(path, lambda f: f.write(text + "\n"), mode="w")


def read_json(path: str | os.PathLike, what: str = "file") -> Any:
    """Read JSON; raise ValueError naming the file if it is missing or not valid JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a directory, expected a {what}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: corrupt {what}: {e}") from None
