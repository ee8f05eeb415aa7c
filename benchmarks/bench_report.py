"""What every benchmark shares at its ends: its output options, the load average, its result files.

A benchmark's ``--json`` / ``--png`` file follows :func:`simcore.outputs.result_file`: it may replace
an earlier result of the same script only (tagged ``"spikecount_output": <script name>``, a JSON
field or a PNG text chunk), or with ``--overwrite`` another regular file. :func:`check_outputs`
applies that rule before the work, so a wrong path costs one line, not the run.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path
from typing import Callable

from simcore.fileio import atomic_write, write_result
from simcore.outputs import OutputError, options, result_file


def kind() -> str:
    """The result tag of the running benchmark: its script name."""
    return Path(sys.argv[0]).stem


def run_script(main: Callable[[], object]) -> None:
    """Run a benchmark's ``main`` as the script and exit with its status (an int; anything else,
    such as a result dict, is success); Ctrl-C ends it with one line and status 130 (its result file
    is written atomically at the end, so an earlier one is left as it was)."""
    try:
        code = main()
    except KeyboardInterrupt:
        print(f"{kind()}: interrupted", file=sys.stderr)
        code = 130
    sys.exit(code if isinstance(code, int) else 0)


def add_output_args(ap: argparse.ArgumentParser, png: bool = False, required: bool = False) -> None:
    """``--json FILE`` (also spelt ``--out``; ``required``: the script's only output), ``--png FILE``
    if asked, and ``--overwrite``."""
    ap.add_argument("--json", "--out", dest="json", default=None, required=required,
                    help="write the figures here" if required else "also write the figures here")
    if png:
        ap.add_argument("--png", default=None, help="also draw them here")
    ap.add_argument("--overwrite", action="store_true", help="let --json / --png replace a file this script "
                                                             "did not write")


def check_outputs(ap: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse (``ap.error``: one line, exit 2) an output file this run may not replace."""
    for path in (args.json, getattr(args, "png", None)):
        if path:
            try:
                with options(overwrite=args.overwrite):
                    result_file(path, kind())
            except OutputError as err:
                ap.error(str(err))


def write_json_result(args: argparse.Namespace, obj: dict) -> Path:
    """``obj`` tagged with :func:`kind`, to ``args.json`` (atomically, under the rule above)."""
    with options(overwrite=args.overwrite):
        return write_result(args.json, obj, kind())


def write_png_result(args: argparse.Namespace, fig, dpi: int = 110) -> Path:
    """Figure ``fig`` as a PNG tagged with :func:`kind`, to ``args.png`` (atomically, under the rule above)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"spikecount_output": kind()})
    with options(overwrite=args.overwrite):
        return atomic_write(result_file(args.png, kind()), lambda f: f.write(buf.getvalue()))


def report_rows(rows: list[dict], args: argparse.Namespace, head: str = "") -> None:
    """Print ``head`` and the 1-minute load average; write ``{"rows": rows}`` to ``args.json`` if given."""
    print(f"{head}load average {os.getloadavg()[0]:.2f}")
    if args.json:
        write_json_result(args, {"rows": rows})


def print_and_write(args: argparse.Namespace, res: dict) -> dict:
    """Print ``res`` as JSON, write it with :func:`write_json_result`, and return it."""
    print(json.dumps(res, indent=1))
    write_json_result(args, res)
    return res
