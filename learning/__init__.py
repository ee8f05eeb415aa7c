"""learning: the spike-count rule of Wu et al. (2019) on an equivalent tensor model (torch).

Public names (imported on first use, so ``import learning`` stays cheap); see docs/api.md::

    net = learning.build_net("784-800-10")
    train, test, info = learning.from_arrays(x_train, y_train, x_test, y_test)
    net, metrics = learning.train_net(net, (train, test), T=20, epochs=2)
    res = learning.evaluate_net(net, test.x, test.y, T=20)
"""
from __future__ import annotations

from learning.lazy import lazy_exports

_EXPORTS = {
    "build_net": "learning.api", "train_net": "learning.api", "evaluate_net": "learning.api",
    "spike_trains": "learning.api", "simulate_net": "learning.api", "Trained": "learning.api",
    "from_arrays": "learning.npz_data", "load_npz": "learning.npz_data",
    "load_dataset": "learning.datasets", "Dataset": "learning.dataset_record", "DatasetError": "learning.dataset_record",
    "DATASETS": "learning.datasets",
    "parse_spec": "learning.spec", "SpecError": "learning.spec",
    "SpikingNet": "learning.model", "Forward": "learning.model",
    "TrainConfig": "learning.train", "config_from": "learning.train", "train_network": "learning.train",
    "Evaluation": "learning.evaluate", "evaluate_model": "learning.evaluate",
    "save_model": "learning.io", "load": "learning.models", "Loaded": "learning.models",
    "to_graph": "learning.export", "export_model": "learning.export",
    "simulate_dataset": "learning.simulate",
}
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
