"""Helpers of the reliability tests: run the CLI in-process, snapshot a tree, tiny trained models."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from analysis.cli import main


def run(argv, capsys) -> tuple[int, str]:
    """(exit status, stderr stripped) of ``spikecount argv`` run in this process."""
    capsys.readouterr()
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # a usage error found by argparse
        rc = e.code
    return rc, capsys.readouterr().err.strip()


def refused(argv, capsys, *needles: str) -> str:
    """Run and assert: exit 2, exactly one stderr line, naming every needle."""
    rc, err = run(argv, capsys)
    assert rc == 2, (rc, err)
    assert err.startswith("spikecount") and "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def snapshot(root: Path) -> dict[str, str]:
    """Every path under root (itself excluded) -> 'dir', 'link:<target>' or the file's sha256."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            elif p.is_file():
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[rel] = "special"
    return out


def kept(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Paths of ``before`` that are gone or changed in ``after`` (should be empty)."""
    return [p for p, h in before.items() if after.get(p) != h]


IRIS = ["--dataset", "iris", "--arch", "4-8-3", "--epochs", "2", "--quiet"]
