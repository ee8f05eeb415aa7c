"""A latency-accuracy study on your own .npz data: direct training against conversion, in simcore.

    python examples/latency_study_npz.py [--npz FILE.npz] [--small] [--out DIR]

The .npz holds x_train, y_train, x_test, y_test (see docs/api.md). Without --npz the script
writes one from scikit-learn's breast-cancer set (30 raw features, scaled by the loader with
training statistics). For each T it trains a spike-count network, trains one ANN, converts it with
each normalisation, simulates everything in simcore at every T and prints accuracy against T.
``--small`` (or SPIKECOUNT_EXAMPLE_SMALL=1): fewer epochs and windows, for the test suite.
"""
import os
import time

import numpy as np

import analysis
from _example import example_args, example_parser


def demo_npz(path: str) -> str:
    """Your data would go here: four arrays in one .npz (no pickles). An existing file is reused, never replaced."""
    if os.path.exists(path):
        return path
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    x, y = load_breast_cancer(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, stratify=y, random_state=0)
    np.savez(path, x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te)
    return path


def main() -> None:
    p = example_parser(__doc__)
    p.add_argument("--npz", help="your data (default: a breast-cancer demo file)")
    a = example_args(p)
    t0 = time.perf_counter()
    npz = a.npz or demo_npz(os.path.join(a.out, "data.npz"))
    T_train, epochs = ([4, 16], 10) if a.small else ([2, 4, 8, 16, 32], 200)
    result = analysis.latency_sweep(f"npz:{os.path.abspath(npz)}", "30-40-2", os.path.join(a.out, "sweep"),
                                    T_train=T_train, norms=("data", "robust"), epochs=epochs, ann_epochs=epochs,
                                    progress=False)
    rows = [r for r in result["rows"] if r["T_train"] in (None, r["T_infer"])]  # each SNN at its own T
    print(analysis.markdown_table(rows, ["method", "T_infer", "accuracy", "sops_per_sample"]))
    print(f"figures: {os.path.join(a.out, 'sweep', 'accuracy_vs_T.png')}   ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
