"""simcore: event-driven simulation of integrate-and-fire networks (numpy, numba, networkx; no torch)."""
from simcore.decode import predict
from simcore import encoding

__all__ = ["predict", "encoding"]
