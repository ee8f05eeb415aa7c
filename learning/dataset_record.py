"""The record every data-set loader returns (:class:`Dataset`) and their one error (:class:`DatasetError`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset", "DatasetError"]


class DatasetError(ValueError):
    """A data set that cannot be loaded: unknown name, missing or malformed file, bad checksum."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """One split of one data set; see the module docstring for units and shapes."""

    name: str
    split: str
    x: np.ndarray  # float32 (N, D) in [0, 1]
    y: np.ndarray  # int64 (N,)
    input_shape: tuple
    n_classes: int

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, split={self.split!r}, n={len(self)}, "
                f"input_shape={self.input_shape}, n_classes={self.n_classes})")
