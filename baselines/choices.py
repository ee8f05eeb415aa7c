"""Named options of ANN-to-SNN conversion, in a module without torch so that the CLI can offer them cheaply.

RESETS: the two resets conversion offers, as :class:`simcore.neuron.NeuronParams` names them
(Rueckauer: subtract; Diehl: zero). V_INITS: the initial potentials, as a fraction of the
threshold theta (Bu et al.: theta/2). INPUTS: the ``--input`` choices and the encoding each records.
"""
from __future__ import annotations

__all__ = ["RESETS", "INPUTS", "V_INITS"]

RESETS = ("subtract", "zero")
INPUTS = {"poisson": "bernoulli", "bernoulli": "bernoulli", "analog": "analog"}
V_INITS = {"zero": 0.0, "half": 0.5}
