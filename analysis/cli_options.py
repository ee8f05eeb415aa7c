"""Option types and helpers shared by the CLI's modules (:mod:`analysis.cli`, :mod:`analysis.cli_simcore`)."""
from __future__ import annotations

import argparse
import json
import os

from analysis.cli_safety import seed
from learning.datasets import DATASETS

__all__ = ["int_at_least", "positive_int", "dataset", "data_options", "semantics_option", "print_json"]


def int_at_least(minimum: int, what: str = "an integer"):
    """argparse type: an integer >= minimum, with a one-line error naming the problem."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


def dataset(text: str) -> str:
    """argparse type: a built-in data set name, or npz:PATH (your own arrays; made absolute)."""
    if text not in DATASETS and not (text.startswith("npz:") and len(text) > 4):
        raise argparse.ArgumentTypeError(f"unknown dataset {text!r}; choose from {', '.join(DATASETS)} or npz:PATH")
    return "npz:" + os.path.abspath(os.path.expanduser(text[4:])) if text.startswith("npz:") else text


positive_int = int_at_least(1)


def data_options(p: argparse.ArgumentParser) -> None:
    """--dataset, --data-dir, --split-seed."""
    p.add_argument("--dataset", type=dataset, metavar="NAME|npz:PATH", help="data set (default: the model's own)")
    p.add_argument("--data-dir", help="directory of the data files (MNIST IDX, raw or .gz); "
                   "else $SPIKECOUNT_DATA_DIR, else ~/.cache/spikecount")
    p.add_argument("--split-seed", type=seed, help="seed of the stratified train/test split (UCI, digits)")


def print_json(obj: dict, out: str | None, kind: str) -> None:
    """Print the scalar fields of a result; with ``out``, write it all as a ``kind`` result file."""
    from simcore.fileio import write_result

    if out:
        write_result(out, obj, kind)
    print(json.dumps({k: v for k, v in obj.items() if not isinstance(v, (dict, list))}, indent=2))


def semantics_option(p: argparse.ArgumentParser) -> None:
    """--semantics: how a .nir file's neurons are read (ignored for other models)."""
    p.add_argument("--semantics", choices=("nir", "recorded"), default="nir",
                   help="NIR: NIR's own neuron semantics, or those recorded in the node metadata (spikecount's "
                        "full record; another exporter's reset, reset_leak, threshold_test)")
