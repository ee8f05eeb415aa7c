"""The CLI's side of reliability: argument types with ranges, ``--overwrite`` / ``--force``, claimed
output directories, and every failure mapped to ONE line ``spikecount: error: ...`` (exit 2)."""
from __future__ import annotations

import argparse
import math
import sys
from typing import Callable

from simcore.resources import MAX_SEED

__all__ = ["OneLineParser", "finite", "seed", "seeds", "safety_options", "claimed", "run_command"]

class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``spikecount train: error: ...``), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def finite(text: str) -> float:
    """argparse type: a finite float (ranges are checked by the library)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def seed(text: str) -> int:
    """argparse type: an integer seed in 0..2**32-1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be in 0..{MAX_SEED}, got {value}")
    return value


def seeds(text: str) -> list[int]:
    """argparse type: comma-separated seeds."""
    values = [seed(v) for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated seeds, got {text!r}")
    return values


def safety_options(p: argparse.ArgumentParser, force: bool = False) -> None:
    """--overwrite (every command that writes) and, where a run is sized first, --force."""
    p.add_argument("--overwrite", action="store_true",
                   help="replace this command's own earlier output in --out (never other files)")
    if force:
        p.add_argument("--force", action="store_true",
                       help="run although the memory estimate exceeds the available memory")


def claimed(a: argparse.Namespace, kind: str):
    """--out claimed as the output directory of command ``kind`` (see simcore.outputs)."""
    from simcore.outputs import output_dir

    return output_dir(a.out, kind)


def _error(message: str) -> int:
    print(f"spikecount: error: {message}", file=sys.stderr)
    return 2


def run_command(func: Callable[[argparse.Namespace], None], args: argparse.Namespace) -> int:
    """Run a subcommand under its --overwrite / --force options; every expected failure is one line."""
    from simcore.outputs import options, result_file

    try:
        with options(overwrite=getattr(args, "overwrite", False), force=getattr(args, "force", False)):
            if getattr(args, "result_kind", None) and args.out:
                result_file(args.out, args.result_kind)  # refuse a bad --out FILE before the work
            func(args)
    except ValueError as e:
        return _error(str(e))
    except OSError as e:  # disk full, permissions, a path that is a directory...: one line naming the file
        return _error(f"{e.filename}: {e.strerror or e}" if e.filename else str(e.strerror or e))
    except MemoryError:
        return _error("out of memory; use a smaller size, batch, T or --limit")
    except RuntimeError as e:  # torch reports a failed allocation as a RuntimeError
        if "allocate" not in str(e):
            raise
        return _error(f"out of memory ({str(e).splitlines()[0]})")
    except KeyboardInterrupt:
        print("spikecount: interrupted", file=sys.stderr)
        return 130
    return 0
