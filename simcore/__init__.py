"""simcore: event-driven simulation of integrate-and-fire networks (numpy, numba, networkx; no torch)."""
from simcore.decode import predict
from simcore import encoding
from simcore.graph import AvgPool2d, Conv2d, Dense, Flatten, GraphError, Network
from simcore.engine import SimResult, simulate

__all__ = [
    "predict",
    "encoding",
    "Network",
    "Dense",
    "Conv2d",
    "AvgPool2d",
    "Flatten",
    "GraphError",
    "simulate",
    "SimResult",
]
