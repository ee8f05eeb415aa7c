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
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from learning.datasets import Dataset

__all__ = ["DEFAULT_VAL_FRACTION", "default_val_fraction", "split_validation", "check_schedule"]

DEFAULT_VAL_FRACTION = 0.1


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


def check_schedule(val_fraction: float, patience: int | None) -> None:
    """ValueError (one line) unless 0 <= val_fraction < 1 and patience is None or an integer >= 1
    that has a validation split to watch."""
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if patience is not None and (int(patience) != patience or patience < 1):
        raise ValueError(f"patience must be an integer >= 1, got {patience}")
    if patience is not None and val_fraction == 0:
        raise ValueError("patience (early stopping) needs a validation split (val_fraction > 0)")
