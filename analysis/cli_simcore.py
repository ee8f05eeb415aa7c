"""The CLI's simcore commands: ``export`` (a simcore graph directory or a NIR file) and ``simulate``
(a data split through the event-driven simulator; any model :func:`learning.models.load` reads,
a ``.nir`` file included)."""
from __future__ import annotations

import argparse
import sys

from analysis.cli_options import data_options, int_at_least, positive_int, print_json, semantics_option
from analysis.cli_runner import runner, runner_options
from analysis.cli_safety import safety_options, seed

__all__ = ["add_export", "add_simulate"]


def cmd_export(a: argparse.Namespace) -> None:
    """``spikecount export``: a trained model as a simcore graph directory, or any model as a NIR file."""
    if a.exact and a.format != "nir":
        raise ValueError("--exact applies to --format nir only")
    if a.format == "nir":
        from learning.export import export_nir

        for line in export_nir(a.model, a.out, exact=a.exact):
            print(f"spikecount: {line}", file=sys.stderr)
        print(f"NIR graph written to {a.out}")
        return
    from learning.export import export_model

    export_model(a.model, a.out, delay=a.delay)
    print(f"simcore graph written to {a.out}")


def add_export(sub) -> None:
    """The ``export`` subcommand on the subparsers ``sub``."""
    p = sub.add_parser("export", help="turn a model into a simcore graph directory or a NIR file")
    p.add_argument("--model", required=True, help="model directory written by train (any model for --format nir)")
    p.add_argument("--out", required=True, help="graph directory to write (graph.json + weights.npz), or the .nir file")
    p.add_argument("--format", choices=("simcore", "nir"), default="simcore")
    p.add_argument("--exact", action="store_true", help="nir: subtractive reset as the explicit I/Threshold/Scale "
                   "loop and a lattice-exact threshold")
    p.add_argument("--delay", type=int_at_least(0), default=0, help="delay in steps of every projection (default 0)")
    safety_options(p)
    p.set_defaults(func=cmd_export)


def cmd_simulate(a: argparse.Namespace) -> None:
    """``spikecount simulate``: a data split of a model (or a ``.nir`` file) through simcore, optionally sharded."""
    from analysis.runner.shard import simulate_sharded

    res = simulate_sharded(a.model, a.dataset, split=a.split, T=a.T, mode=a.mode, limit=a.limit,
                           data_dir=a.data_dir, seed=a.seed, split_seed=a.split_seed, runner=runner(a),
                           shards=a.shards, dt=a.dt, semantics=a.semantics)
    print_json(res, a.out, a.result_kind)


def add_simulate(sub) -> None:
    """The ``simulate`` subcommand on the subparsers ``sub``."""
    p = sub.add_parser("simulate", help="run a data split through the event-driven simulator")
    p.add_argument("--model", required=True, help="trained model, converted model or simcore graph directory, "
                   "or a .nir file")
    data_options(p)
    p.add_argument("--split", choices=("train", "test"), default="test")
    p.add_argument("--T", type=positive_int, help="time steps (default: the model's)")
    p.add_argument("--mode", choices=("sync", "async"), default="sync")
    p.add_argument("--dt", type=float, help="NIR: Euler time step (default: the file's metadata)")
    semantics_option(p)
    p.add_argument("--limit", type=positive_int, help="only the first N samples")
    p.add_argument("--seed", type=seed, help="input-encoding seed (default: the model's)")
    p.add_argument("--out", help="write the result JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    runner_options(p, positive_int)
    p.add_argument("--shards", type=positive_int, help="with --workers/--scheduler: sample-id ranges to split "
                   "the split into (default: one per worker)")
    safety_options(p, force=True)
    p.set_defaults(func=cmd_simulate, result_kind="simulate")
