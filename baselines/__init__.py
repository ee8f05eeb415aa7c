"""baselines: ANN-to-SNN conversion with weight normalisation (Diehl et al. 2015, Rueckauer et al. 2017).

Importing the package registers its model kinds with :mod:`learning.models` (lazily: the loaders'
modules are imported only when such a model is loaded). The same kinds are declared in
pyproject.toml's ``spikecount.model_kinds`` entry points, for processes that never import baselines.

Public names (imported on first use); see docs/api.md::

    graph, lambdas, folded = baselines.convert_torch(my_torch_cnn, (1, 28, 28), "robust", train.x)
    ann, metrics = baselines.train_ann_network(baselines.ann_config_from("digits", "64-100-10"))
    graph, lambdas = baselines.convert_ann(ann, "data", train.x)
"""
from __future__ import annotations

from learning.lazy import lazy_exports

from learning.models import register

register("ann", "baselines.ann:load_ann_model")
register("converted", "baselines.convert:load_converted_model")

_EXPORTS = {
    "ANN": "baselines.ann", "ConversionError": "baselines.ann", "save_ann": "baselines.ann",
    "ANNConfig": "baselines.train_ann", "ann_config_from": "baselines.train_ann",
    "train_ann_network": "baselines.train_ann", "ann_accuracy": "baselines.train_ann",
    "convert_ann": "baselines.convert", "scale_factors": "baselines.convert",
    "NORMS": "baselines.normalise", "RESETS": "baselines.choices",
    "convert_torch": "baselines.torch_ann", "fold_chain": "baselines.torch_ann", "FoldedANN": "baselines.torch_ann",
    "load_torch_state": "baselines.torch_ann", "convert_torch_state": "baselines.torch_ann",
    "build_chain": "baselines.torch_spec",
}
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
