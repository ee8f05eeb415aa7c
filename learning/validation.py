"""The held-out validation split: every recipe choice and early-stopping decision is made on it,
and the test split is evaluated once, at the end of training.

``split_validation(train, fraction, seed)`` carves a stratified ``fraction`` of the (possibly
limited) training split out as the validation set (``sklearn.model_selection.train_test_split``
with ``stratify=y`` and ``random_state=seed``; both parts keep the training split's order).
Default fraction (:func:`default_val_fraction`): 10% for MNIST (6000 of 60000) and digits (135 of
1347). The UCI sets default to 0 (no validation split): the paper's protocol (Table I) fixes the
train/test sizes (e.g. Iris 90/60), so carving a validation set out of the training split would
change the protocol; their recipes (``learning.train.UCI_SCHEDULE``) stay fixed schedules, not
chosen on validation -- pass ``val_fraction`` to validate them anyway.

The *best epoch* (:func:`best_epoch`) is chosen on the validation split by ``select_on``: ``"loss"``
(lowest validation loss, the default) or ``"accuracy"`` (highest validation accuracy, lowest loss
among equal accuracies). Early stopping (``patience``) counts epochs since that best epoch. The
spike-count networks at large T keep improving in validation accuracy after their validation loss
has turned (the output counts grow more confident faster than they get more often right), so
Table II's recipes select on accuracy (``docs/results.md`` 16.9).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from learning.datasets import Dataset

__all__ = ["DEFAULT_VAL_FRACTION", "SELECT_ON", "default_val_fraction", "split_validation", "check_schedule",
           "best_epoch"]

DEFAULT_VAL_FRACTION = 0.1
SELECT_ON = ("loss", "accuracy")  # what the best epoch is chosen by, on the validation split


def default_val_fraction(dataset: str) -> float:
    """10% for MNIST and digits, 0 for the UCI sets (see the module docstring)."""
    return DEFAULT_VAL_FRACTION if dataset in ("mnist", "digits") else 0.0


def split_validation(train: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset | None]:
    """(fitting part, validation part or None for fraction 0) of a training split; stratified by class
    (a split too small to stratify, e.g. a few samples under ``limit``, is drawn without it)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {fraction}")
    if fraction == 0:
        return train, None
    from sklearn.model_selection import train_test_split

    n_val = int(round(fraction * len(train)))
    if n_val < 1 or len(train) - n_val < 1:
        raise ValueError(f"val_fraction {fraction} of {len(train)} training samples leaves an empty part")
    counts = np.bincount(train.y, minlength=train.n_classes)
    n_cls = int((counts > 0).sum())
    # stratified where sklearn can (every class twice, each part at least one per class); else plain
    ok = counts[counts > 0].min() >= 2 and min(n_val, len(train) - n_val) >= n_cls
    stratify = train.y if ok else None
    idx_fit, idx_val = train_test_split(np.arange(len(train)), test_size=n_val, stratify=stratify, random_state=seed)
    idx_fit, idx_val = np.sort(idx_fit), np.sort(idx_val)
    return (replace(train, x=train.x[idx_fit], y=train.y[idx_fit]),
            replace(train, split="val", x=train.x[idx_val], y=train.y[idx_val]))


def check_schedule(val_fraction: float, patience: int | None, select_on: str = "loss") -> None:
    """ValueError (one line) unless 0 <= val_fraction < 1, patience is None or an integer >= 1
    that has a validation split to watch, and select_on is one of :data:`SELECT_ON`."""
    if select_on not in SELECT_ON:
        raise ValueError(f"select_on must be one of {', '.join(SELECT_ON)}, got {select_on!r}")
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if patience is not None and (int(patience) != patience or patience < 1):
        raise ValueError(f"patience must be an integer >= 1, got {patience}")
    if patience is not None and val_fraction == 0:
        raise ValueError("patience (early stopping) needs a validation split (val_fraction > 0)")


def best_epoch(history: list[dict], select_on: str = "loss") -> int | None:
    """The epoch (1-based) chosen on validation among ``history``'s entries (dicts with ``epoch``,
    ``val_loss``, ``val_accuracy``): lowest ``val_loss`` (``select_on="loss"``) or highest
    ``val_accuracy`` then lowest ``val_loss`` (``"accuracy"``); the first on remaining ties. Without
    validation entries the last epoch; None for an empty history."""
    scored = [e for e in history if e.get("val_loss") is not None]
    if not scored:
        return history[-1]["epoch"] if history else None
    if select_on == "accuracy":
        return min(scored, key=lambda e: (-e["val_accuracy"], e["val_loss"], e["epoch"]))["epoch"]
    return min(scored, key=lambda e: (e["val_loss"], e["epoch"]))["epoch"]
