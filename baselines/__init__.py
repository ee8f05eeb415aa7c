"""baselines: ANN-to-SNN conversion with weight normalisation (Diehl et al. 2015, Rueckauer et al. 2017).

Importing the package registers its model kinds with :mod:`learning.models` (lazily: the loaders'
modules are imported only when such a model is loaded). The same kinds are declared in
pyproject.toml's ``spikecount.model_kinds`` entry points, for processes that never import baselines.
"""
from learning.models import register

register("ann", "baselines.ann:load_ann_model")
register("converted", "baselines.convert:load_converted_model")
