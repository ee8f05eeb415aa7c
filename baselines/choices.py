"""Named options of ANN-to-SNN conversion, in a module without torch so that the CLI can offer them cheaply.

RESETS: the two resets conversion offers, as :class:`simcore.neuron.NeuronParams` names them
(Rueckauer: subtract; Diehl: zero). INPUTS: the ``--input`` choices and the encoding each records.
"""
from __future__ import annotations

__all__ = ["RESETS", "INPUTS"]

RESETS = ("subtract", "zero")
INPUTS = {"poisson": "bernoulli", "bernoulli": "bernoulli", "analog": "analog"}
