"""Named options of a run, in a module without torch so that the CLI can offer them cheaply.

MODES: the tensor model's forward passes (:mod:`learning.model`); ENCODINGS: the input encodings
(:mod:`simcore.encoding`'s Bernoulli trains, or the analog intensity every step); SCALINGS: how
:mod:`learning.npz_data` scales your own features (used as given, or min-max with training statistics).
"""
from __future__ import annotations

__all__ = ["MODES", "ENCODINGS", "SCALINGS"]

MODES = ("aggregate", "stepped")
ENCODINGS = ("bernoulli", "analog")
SCALINGS = ("as-is", "minmax-train")
