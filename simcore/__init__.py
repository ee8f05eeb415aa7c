"""simcore: event-driven simulation of spiking networks (numpy, numba, networkx; no torch).

Module map (dependencies point down the list; nothing here imports torch or the other packages):

* ``neuron``     the neuron model as data: :class:`NeuronParams` and the pure numpy ``step``/``run``
                 every engine is tested against. A new neuron option starts here.
* ``ops``        linear ops of a projection (:class:`Dense`, :class:`Conv2d`, :class:`AvgPool2d`,
                 :class:`Flatten`) as immutable records with COO maps and their composition. A new
                 op goes here (and into ``OPS`` for the file format).
* ``network``    the model as data: :class:`Population` / :class:`Projection` records in a DAG
                 (:class:`Network`), validation.
* ``compiler``   Network -> flat fan-out tables (:class:`Compiled`, the kernels' ``KernelTables``
                 record; dense / CSR / conv-run layouts), cached per network version.
* ``kernels``    numba helpers over ``KernelTables``: input generation, delivery of a dense row /
                 conv run / CSR row, fire check and reset following the neuron record, decode step.
                 A new neuron option also goes into the record (``compiler._neuron_arrays``) and
                 ``kernels._neuron``/``_step_start``/``_fire``.
* ``engine``     :func:`simulate` (the Python driver and the event-semantics contract) and
                 :class:`SimResult`. A new engine (another backend) takes a ``Compiled`` and must
                 reproduce this contract.
* ``decode``     the decode rule, once: :func:`best_index` (compiled, per sample) and :func:`predict`.
* ``encoding``   the seeded counter-based input encoder shared by all engines.
* ``graphfile``  graph.json + weights.npz (:func:`save_network` / :func:`load_network`; reads v1 and v2).
* ``fileio``, ``provenance``  atomic writes; what produced a result.
"""
from simcore import encoding
from simcore.compiler import Compiled, compile_network
from simcore.decode import best_index, predict
from simcore.engine import SimResult, simulate
from simcore.graphfile import load_network, save_network
from simcore.network import Network, Population, Projection
from simcore.neuron import NeuronError, NeuronParams
from simcore.ops import AvgPool2d, Conv2d, Dense, Flatten, GraphError

__all__ = [
    "predict",
    "best_index",
    "encoding",
    "Network",
    "Population",
    "Projection",
    "NeuronParams",
    "NeuronError",
    "Dense",
    "Conv2d",
    "AvgPool2d",
    "Flatten",
    "GraphError",
    "Compiled",
    "compile_network",
    "save_network",
    "load_network",
    "simulate",
    "SimResult",
]
