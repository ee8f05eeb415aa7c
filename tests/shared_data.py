"""Where the tests find ``../shared`` (the data beside the checkout): ``$SPIKECOUNT_SHARED`` if set,
else the repository root's sibling ``shared/``. Missing, a test skips with the path it looked at;
under CI (``CI=true``) it fails instead, so a moved data folder can never pass silently."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def shared_path(*parts: str) -> Path:
    """``shared/<parts>``, or skip (fail under CI) naming where it was looked for."""
    base = Path(os.environ["SPIKECOUNT_SHARED"]) if os.environ.get("SPIKECOUNT_SHARED") else ROOT.parent / "shared"
    path = base.joinpath(*parts)
    if not path.exists():
        why = f"{path} not found (set SPIKECOUNT_SHARED to the shared/ folder)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(why)
        pytest.skip(why)
    return path
