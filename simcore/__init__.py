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
* ``neuron_kernels``  the neuron record in compiled form (numba): leak and bias current at the step
                 start, fire check (``V >= fire_at``) and reset. A new neuron option goes into
                 ``neuron``, ``compiler._neuron_arrays`` and here.
* ``delivery``   numba helpers delivering one spike: a dense row, a conv run, a CSR row (sync: add;
                 async: add and check each target). A new layout: a ``p_kind`` in the compiler and
                 a sync/async pair here.
* ``kernels``    the compiled driver over ``KernelTables``: input generation, one population's
                 steps (sync / async), the per-step decode, ``prange`` over sample chunks.
* ``numba_cache``  keys the kernels' on-disk cache on the helper modules they inline too.
* ``engine``     :func:`simulate` (the Python driver and the event-semantics contract) and
                 :class:`SimResult`. A new engine (another backend) takes a ``Compiled`` and must
                 reproduce this contract (tested like ``tests/simcore/test_neuron_options.py``).
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
