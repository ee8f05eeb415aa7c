"""The CLI's options for a fair comparison with conversion (issue 15): the validation split and
early stopping, QCFS training, the initial potential of conversion, the sweep's extra settings,
and the ``fight`` subcommand. Torch-free, so ``spikecount --help`` stays cheap."""
from __future__ import annotations

import argparse

from analysis.cli_safety import claimed, finite, safety_options
from baselines.choices import V_INITS
from learning.validation import SELECT_ON

__all__ = ["validation_options", "qcfs_options", "v_init_option", "sweep_fair_options", "add_fight"]


def validation_options(p: argparse.ArgumentParser, positive_int) -> None:
    """--val-fraction, --patience and --select-on (train, train-ann)."""
    p.add_argument("--val-fraction", type=finite, help="held-out validation part (default 0.1; UCI 0)")
    p.add_argument("--patience", type=positive_int, help="early stopping: epochs without a better best epoch")
    select_on_option(p)


def select_on_option(p: argparse.ArgumentParser) -> None:
    """--select-on loss|accuracy: what the best epoch is chosen by on the validation split."""
    p.add_argument("--select-on", choices=SELECT_ON, help="best epoch by validation loss (default) or accuracy")


def qcfs_options(p: argparse.ArgumentParser, positive_int) -> None:
    """--activation relu|qcfs and --levels L (train-ann)."""
    p.add_argument("--activation", choices=("relu", "qcfs"), default="relu", help="qcfs (Bu 2022) needs --levels")
    p.add_argument("--levels", type=positive_int, help="QCFS quantisation levels L")


def v_init_option(p: argparse.ArgumentParser) -> None:
    """--v-init zero|half (convert)."""
    p.add_argument("--v-init", choices=tuple(V_INITS), help="V(0) 0 or theta/2; default half for qcfs, else zero")


def _v_inits(text: str) -> list[str]:
    names = [v for v in text.split(",") if v]
    bad = [v for v in names if v not in V_INITS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown initial potential {(bad or [text])[0]!r}; choose from "
                                         f"{', '.join(V_INITS)}")
    return names


def sweep_fair_options(p: argparse.ArgumentParser, positive_int, ints) -> None:
    """--qcfs-levels, --v-init, --lr, --patience, --select-on, --extra-model (sweep: each is part of the jobs' configurations)."""
    p.add_argument("--qcfs-levels", type=ints, default=[], help="also QCFS ANNs with these levels L, converted")
    p.add_argument("--v-init", type=_v_inits, default=["zero"],
                   help="comma-separated initial potentials of conversion: zero,half")
    p.add_argument("--lr", type=finite, help="spike-count lr")
    p.add_argument("--patience", type=positive_int, help="spike-count early stopping (epochs since the best)")
    select_on_option(p)
    p.add_argument("--extra-model", action="append", default=[], metavar="PATH",
                   help="also evaluate this model (.nir file, model or graph directory) at each T_infer (repeatable)")


def cmd_fight(a: argparse.Namespace) -> None:
    from analysis.fight import write_fight

    with claimed(a, "fight"):
        md = write_fight(a.sweep, a.out)
    print(md)


def add_fight(sub) -> None:
    """The ``fight`` subcommand: who wins at which latency, from one sweep or several pooled."""
    p = sub.add_parser("fight", help="who wins at which latency: a sweep.json over seeds (fight.md, fight.png)")
    p.add_argument("--sweep", required=True, action="append", metavar="FILE",
                   help="sweep.json (or sweep.csv, rows only) written by `spikecount sweep`; repeat to pool "
                        "sweeps of other seeds with the same settings")
    p.add_argument("--out", required=True)
    safety_options(p)
    p.set_defaults(func=cmd_fight)
