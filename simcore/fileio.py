"""Atomic file writes: a reader sees the old file or the complete new one, never half of it.

Every write goes through :func:`atomic_write`, which first applies the output-safety rule of
:mod:`simcore.outputs` (never over a non-regular file, never over a file an output directory's
command did not write)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from simcore import outputs

__all__ = ["atomic_write", "write_json", "write_result", "read_json"]


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, fsync it, then rename over ``path``,
    after the output-safety check (:func:`simcore.outputs.check_target`)."""
    path, claim, rel = outputs.check_target(path)
    path = Path(path)
    outputs.replace_file(path, write, mode)
    outputs.recorded(claim, rel)
    return path


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    try:
        text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=False)
    except ValueError as e:  # NaN / inf somewhere in a result
        raise ValueError(f"{path}: not written, the result holds NaN or infinite values ({e})") from None
    return atomic_write(path, lambda f: f.write(text + "\n"), mode="w")


def write_result(path: str | os.PathLike, obj: dict, kind: str) -> Path:
    """Write a JSON result of command ``kind`` to a single file, under
    :func:`simcore.outputs.result_file`'s rule."""
    return write_json(outputs.result_file(path, kind), {"spikecount_output": kind, **obj})


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
