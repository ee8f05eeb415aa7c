"""The closing lines every benchmark shares: the load average, then the rows as JSON when asked."""
from __future__ import annotations

import json
import os


def report_rows(rows: list[dict], json_path: str | None, head: str = "") -> None:
    """Print ``head`` and the 1-minute load average; write ``rows`` to ``json_path`` (indent 1) if given."""
    print(f"{head}load average {os.getloadavg()[0]:.2f}")
    if json_path:
        with open(json_path, "w") as f:
            json.dump(rows, f, indent=1)


def dump_result(res: dict, path: str) -> dict:
    """Write ``res`` to ``path`` as JSON (indent 1), print it, and return it."""
    with open(path, "w") as fh:
        json.dump(res, fh, indent=1)
    print(json.dumps(res, indent=1))
    return res
