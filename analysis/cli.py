"""The ``spikecount`` command. Each subcommand is a thin wrapper over one library function.

Errors in the input (a bad spec, a corrupt file, T < 1, NaN weights...) are reported as one line,
``spikecount: error: ...``, with exit status 2.
"""
from __future__ import annotations

import argparse
import json
import sys

__all__ = ["main", "build_parser"]

DATASETS = ("mnist", "digits", "iris", "wbc", "abalone", "yeast")


def _int_at_least(minimum: int, what: str = "an integer"):
    """argparse type: an integer >= minimum, with a one-line error naming the problem."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


_positive_int = _int_at_least(1)
_seed = _int_at_least(0, "an integer seed")


def _data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", choices=DATASETS, help="data set (default: the model's own where there is one)")
    p.add_argument("--data-dir", help="directory of the data files (MNIST IDX, raw or .gz); "
                   "else $SPIKECOUNT_DATA_DIR, else ~/.cache/spikecount")
    p.add_argument("--split-seed", type=_seed, help="seed of the stratified train/test split (UCI, digits)")


def _print_json(obj: dict, out: str | None) -> None:
    from simcore.fileio import write_json

    if out:
        write_json(out, obj)
    print(json.dumps({k: v for k, v in obj.items() if not isinstance(v, (dict, list))}, indent=2))


# -- subcommands --------------------------------------------------------------------------------
def _download(a: argparse.Namespace) -> None:
    """--download: fetch missing MNIST files (checksummed) before the command reads them."""
    if getattr(a, "download", False):
        from learning.datasets import load_dataset

        for split in ("train", "test"):
            load_dataset(a.dataset, split, a.data_dir, download=True)


def cmd_train(a: argparse.Namespace) -> None:
    from learning.train import config_from, train

    _download(a)
    cfg = config_from(
        a.dataset, a.arch, T=a.T, epochs=a.epochs, seed=a.seed, mode=a.mode, lr=a.lr, theta=a.theta,
        batch_size=a.batch_size, encoding=a.encoding, max_rate=a.max_rate, lr_decay=a.lr_decay, dropout=a.dropout,
        bounded_output=None if a.output_grad is None else a.output_grad == "bounded",
        data_dir=a.data_dir, split_seed=a.split_seed, limit_train=a.limit_train, limit_test=a.limit_test,
        rate_lambda=None if a.rate_lambda is None else (a.rate_lambda[0] if len(a.rate_lambda) == 1 else a.rate_lambda),
        rate_target=a.rate_target, weight_bits=a.weight_bits, bias=a.bias,
    )
    metrics = train(cfg, a.out, resume=a.resume, progress=not a.quiet)
    print(f"test accuracy {metrics['test_accuracy']:.4f}  ({metrics['wall_seconds']:.1f} s)  -> {a.out}")


def cmd_evaluate(a: argparse.Namespace) -> None:
    from learning.evaluate import evaluate_model

    res = evaluate_model(a.model, a.dataset, split=a.split, T=a.T, mode=a.mode, seed=a.seed,
                         data_dir=a.data_dir, limit=a.limit, split_seed=a.split_seed)
    _print_json(res, a.out)


def cmd_export(a: argparse.Namespace) -> None:
    if a.exact and a.format != "nir":
        raise ValueError("--exact applies to --format nir only")
    if a.format == "nir":
        from learning.export import export_nir

        for line in export_nir(a.model, a.out, exact=a.exact):
            print(f"spikecount: {line}", file=sys.stderr)
        print(f"NIR graph written to {a.out}")
        return
    from learning.export import export_model

    export_model(a.model, a.out, delay=a.delay)
    print(f"simcore graph written to {a.out}")


def cmd_simulate(a: argparse.Namespace) -> None:
    from learning.simulate import simulate_dataset

    res = simulate_dataset(a.model, a.dataset, split=a.split, T=a.T, mode=a.mode, limit=a.limit,
                           data_dir=a.data_dir, seed=a.seed, split_seed=a.split_seed, progress=not a.quiet,
                           dt=a.dt, semantics=a.semantics)
    _print_json(res, a.out)


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got {text!r}")
    return values


def cmd_sweep(a: argparse.Namespace) -> None:
    from analysis.report import markdown_table
    from analysis.sweep import sweep

    res = sweep(a.dataset, a.arch, a.out, T_train=a.T_train, T_infer=a.T_infer, norms=a.norms.split(","),
                seeds=a.seeds, epochs=a.epochs, ann_epochs=a.ann_epochs, lr_decay=a.lr_decay, dropout=a.dropout,
                data_dir=a.data_dir,
                limit_train=a.limit_train, limit_test=a.limit_test, progress=not a.quiet)
    print(markdown_table(res["rows"], ["method", "T_train", "T_infer", "seed", "accuracy", "sops_per_sample"]))


def cmd_quantisation(a: argparse.Namespace) -> None:
    from analysis.quantisation import write_layer_errors
    from analysis.report import markdown_table

    res = write_layer_errors(a.model, a.out, dataset=a.dataset, T=a.T, limit=a.limit, seed=a.seed,
                             data_dir=a.data_dir)
    rows = [{"population": l["population"], "residual": l["residual_mean"],
             "local_differ_fraction": l["local"]["differ_fraction"],
             "propagated_differ_fraction": l["propagated"]["differ_fraction"]} for l in res["layers"]]
    print(markdown_table(rows, list(rows[0])))


def cmd_depth_series(a: argparse.Namespace) -> None:
    from analysis.quantisation import depth_series
    from analysis.report import markdown_table

    rows = [{"hidden layers": len(r["layers"]) - 1, "accuracy": r["accuracy"],
             **{f"L{k + 1} differ_fraction": l["propagated"]["differ_fraction"] for k, l in enumerate(r["layers"])}}
            for r in depth_series(a.out, a.dataset, a.hidden, a.depths, T=a.T, epochs=a.epochs, seed=a.seed,
                                  data_dir=a.data_dir, limit=a.limit)]
    print(markdown_table(rows, list(rows[-1])))


def cmd_report(a: argparse.Namespace) -> None:
    from analysis.report import write_report

    print(f"report written to {write_report(a.runs, a.out)}")


def cmd_train_ann(a: argparse.Namespace) -> None:
    from baselines.train_ann import ann_config_from, train_ann

    cfg = ann_config_from(a.dataset, a.arch, epochs=a.epochs, seed=a.seed, lr=a.lr, batch_size=a.batch_size,
                          bias=not a.no_bias, data_dir=a.data_dir, split_seed=a.split_seed, lr_decay=a.lr_decay,
                          limit_train=a.limit_train, limit_test=a.limit_test)
    metrics = train_ann(cfg, a.out, resume=a.resume, progress=not a.quiet)
    print(f"ANN test accuracy {metrics['test_accuracy']:.4f}  ({metrics['wall_seconds']:.1f} s)  -> {a.out}")


def cmd_convert(a: argparse.Namespace) -> None:
    from baselines.convert import convert

    info = convert(a.ann, a.norm, percentile=a.percentile, reset=a.reset, input=a.input, out_dir=a.out,
                   data_dir=a.data_dir, norm_samples=a.norm_samples, seed=a.seed)
    factors = ", ".join(f"{v:.4g}" for v in info["scale_factors"])
    print(f"converted ({info['norm']}, reset {info['reset']}, {info['encoding']} input; scale factors {factors}) "
          f"-> {a.out}")


def cmd_crosscheck(a: argparse.Namespace) -> None:
    from analysis.crosscheck import crosscheck

    res = crosscheck(a.model, a.dataset, limit=a.limit, data_dir=a.data_dir, seed=a.seed, split=a.split,
                     target=a.target, T=a.T, split_seed=a.split_seed)
    _print_json(res, a.out)


def _row(text: str) -> int:
    """A Table II row index 0-3."""
    if text.strip() not in ("0", "1", "2", "3"):
        raise ValueError(f"table2 row must be 0, 1, 2 or 3, got {text!r}")
    return int(text)


def _row_seeds(items: list[str], table: tuple) -> dict[str, int]:
    """--seeds-for ROW=N items -> {architecture of that row of ``table``: N}."""
    out = {}
    for item in items:
        row, _, n = item.partition("=")
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f"--seeds-for expects ROW=N with N >= 1, got {item!r}")
        out[table[_row(row)][0]] = int(n)
    return out


def cmd_reproduce(a: argparse.Namespace) -> None:
    from analysis.reproduce import reproduce

    kwargs = {"seeds": tuple(range(a.seeds)), "epochs": a.epochs} if a.what != "cost" else {}
    if a.what == "table1":
        kwargs["limit"] = a.limit
    if a.what == "table2":
        kwargs.update(data_dir=a.data_dir, limit_train=a.limit, limit_test=a.limit)
        from analysis.reproduce import TABLE2

        if a.configs:
            kwargs["configs"] = tuple(TABLE2[_row(i)] for i in a.configs.split(","))
        if a.seeds_for:
            kwargs["seeds_for"] = _row_seeds(a.seeds_for, TABLE2)
    print(reproduce(a.what, a.out, **kwargs))


def cmd_demo(a: argparse.Namespace) -> None:
    from analysis.demo import demo

    demo(a.out, epochs=a.epochs, crosscheck_samples=a.crosscheck_samples, brian2_target=a.brian2_target)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spikecount", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a spiking network with the spike-count rule")
    p.add_argument("--dataset", choices=DATASETS, required=True)
    p.add_argument("--arch", required=True, help="spec string, e.g. 784-800-10 or 28x28-12c5-2a-64c5-2a-10")
    p.add_argument("--T", type=_positive_int, help="time steps per sample (default: the paper's for the data set)")
    p.add_argument("--mode", choices=("aggregate", "stepped"), default="aggregate",
                   help="forward pass: closed-form counts or explicit IF dynamics (default aggregate)")
    p.add_argument("--epochs", type=_positive_int)
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--lr", type=float)
    p.add_argument("--lr-decay", type=float, help="multiply the learning rate by this after each epoch")
    p.add_argument("--dropout", type=float, help="hidden-neuron dropout probability in training (default 0)")
    p.add_argument("--theta", type=float, help="firing threshold (default 1.0)")
    p.add_argument("--batch-size", type=_positive_int)
    p.add_argument("--encoding", choices=("bernoulli", "analog"))
    p.add_argument("--max-rate", type=float, help="spikes per step at intensity 1 (default 1.0)")
    p.add_argument("--output-grad", choices=("bounded", "paper"),
                   help="output-layer count gradient: bounded straight-through (default) or Eq. 10 as printed")
    p.add_argument("--rate-lambda", type=float, nargs="+", metavar="L",
                   help="spike-rate penalty: loss += L x mean spike count per neuron per sample (one L: all "
                        "hidden+output neurons together; one L per weighted layer: per layer)")
    p.add_argument("--rate-target", type=float, metavar="R",
                   help="with --rate-lambda: penalise only the excess, L x mean(relu(count - R)), "
                        "R in spikes per neuron per sample")
    p.add_argument("--weight-bits", type=int, choices=range(2, 9), metavar="K",
                   help="K-bit weights (2..8): quantisation-aware training, power-of-two scale per layer")
    p.add_argument("--bias", choices=("initial", "current"),
                   help="bias as the initial potential V(0) = b (default, the paper) or a current every step "
                        "(exact in NIR)")
    p.add_argument("--limit-train", type=_positive_int, help="use only the first N training samples")
    p.add_argument("--limit-test", type=_positive_int, help="use only the first N test samples")
    p.add_argument("--out", required=True, help="output directory (model, checkpoint, metrics.json)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--data-dir", help="directory of the data files (MNIST IDX, raw or .gz); "
                   "else $SPIKECOUNT_DATA_DIR, else ~/.cache/spikecount")
    p.add_argument("--download", action="store_true",
                   help="fetch missing MNIST files from the public mirrors (md5-checked); never done otherwise")
    p.add_argument("--split-seed", type=_seed)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a trained model, also at another T or mode")
    p.add_argument("--model", required=True, help="model directory written by train")
    _data_options(p)
    p.add_argument("--split", choices=("train", "test"), default="test")
    p.add_argument("--T", type=_positive_int)
    p.add_argument("--mode", choices=("aggregate", "stepped"))
    p.add_argument("--seed", type=_seed, help="input-encoding seed (default: the model's)")
    p.add_argument("--limit", type=_positive_int)
    p.add_argument("--out", help="also write the result as JSON here")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("export", help="turn a model into a simcore graph directory or a NIR file")
    p.add_argument("--model", required=True, help="model directory written by train (any model for --format nir)")
    p.add_argument("--out", required=True, help="graph directory to write (graph.json + weights.npz), or the .nir file")
    p.add_argument("--format", choices=("simcore", "nir"), default="simcore")
    p.add_argument("--exact", action="store_true", help="nir: subtractive reset as the explicit I/Threshold/Scale "
                   "loop and a lattice-exact threshold")
    p.add_argument("--delay", type=int, default=0, help="delay in steps of every projection (default 0)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("simulate", help="run a data split through the event-driven simulator")
    p.add_argument("--model", required=True, help="trained model, converted model or simcore graph directory, "
                   "or a .nir file")
    _data_options(p)
    p.add_argument("--split", choices=("train", "test"), default="test")
    p.add_argument("--T", type=_positive_int, help="time steps (default: the model's)")
    p.add_argument("--mode", choices=("sync", "async"), default="sync")
    p.add_argument("--dt", type=float, help="NIR: Euler time step (default: the file's metadata)")
    p.add_argument("--semantics", choices=("nir", "recorded"), default="nir",
                   help="NIR: NIR's own neuron semantics, or those spikecount recorded in the node metadata")
    p.add_argument("--limit", type=_positive_int, help="only the first N samples")
    p.add_argument("--seed", type=_seed, help="input-encoding seed (default: the model's)")
    p.add_argument("--out", help="write the result JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("sweep", help="latency-accuracy sweep: direct training vs conversion, in simcore")
    p.add_argument("--dataset", choices=DATASETS, required=True)
    p.add_argument("--arch", required=True)
    p.add_argument("--T-train", type=_ints, default=[5, 10, 20], help="comma-separated, e.g. 5,10,20,50")
    p.add_argument("--T-infer", type=_ints, help="comma-separated (default: the T-train values)")
    p.add_argument("--norms", default="model,data,robust", help="comma-separated normalisations")
    p.add_argument("--seeds", type=lambda t: [int(v) for v in t.split(",")], default=[0])
    p.add_argument("--epochs", type=_positive_int, help="spike-count training epochs")
    p.add_argument("--ann-epochs", type=_positive_int)
    p.add_argument("--lr-decay", type=float, help="learning-rate decay per epoch (spike-count and ANN training)")
    p.add_argument("--dropout", type=float, help="hidden-neuron dropout for spike-count training")
    p.add_argument("--data-dir")
    p.add_argument("--limit-train", type=_positive_int)
    p.add_argument("--limit-test", type=_positive_int)
    p.add_argument("--out", required=True, help="directory for models, sweep.json/csv and plots")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("quantisation", help="per-layer quantisation error of a trained network")
    p.add_argument("--model", required=True)
    _data_options(p)
    p.add_argument("--T", type=_positive_int)
    p.add_argument("--limit", type=_positive_int, default=1000, help="test samples (default 1000)")
    p.add_argument("--seed", type=_seed)
    p.add_argument("--out", required=True, help="directory for quantisation.json and quantisation.png")
    p.set_defaults(func=cmd_quantisation)

    p = sub.add_parser("depth-series", help="quantisation error as depth grows (MLPs with 1..6 hidden layers)")
    p.add_argument("--dataset", choices=DATASETS, default="mnist")
    p.add_argument("--data-dir")
    p.add_argument("--hidden", type=_positive_int, default=400, help="neurons per hidden layer")
    p.add_argument("--depths", type=_ints, default=[1, 2, 3, 4, 5, 6])
    p.add_argument("--T", type=_positive_int, default=20)
    p.add_argument("--epochs", type=_positive_int, default=5)
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--limit", type=_positive_int, default=1000, help="test samples measured")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_depth_series)

    p = sub.add_parser("report", help="HTML + Markdown report of a runs directory")
    p.add_argument("--runs", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("train-ann", help="train the ReLU ANN twin of a spec (for conversion)")
    p.add_argument("--dataset", choices=DATASETS, required=True)
    p.add_argument("--arch", required=True, help="spec string, e.g. 64-100-10 or 8x8-12c3-2a-10")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--epochs", type=_positive_int)
    p.add_argument("--no-bias", action="store_true", help="no biases (Diehl's bias-free nets)")
    p.add_argument("--lr-decay", type=float, help="multiply the learning rate by this after each epoch")
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=_positive_int)
    p.add_argument("--data-dir")
    p.add_argument("--split-seed", type=_seed)
    p.add_argument("--limit-train", type=_positive_int, help="use only the first N training samples")
    p.add_argument("--limit-test", type=_positive_int, help="use only the first N test samples")
    p.add_argument("--out", required=True, help="output directory (model, checkpoint, metrics.json)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train_ann)

    p = sub.add_parser("convert", help="convert a trained ANN into a spiking network (weight normalisation)")
    p.add_argument("--ann", required=True, help="ANN directory written by train-ann")
    p.add_argument("--norm", choices=("model", "data", "robust"), required=True,
                   help="Diehl 2015 model- or data-based, or Rueckauer 2017 robust (percentile)")
    p.add_argument("--percentile", type=float, help="robust only: percentile of non-zero activations (default 99.9)")
    p.add_argument("--reset", choices=("subtract", "zero"), default="subtract")
    p.add_argument("--input", choices=("poisson", "analog"), default="poisson",
                   help="Bernoulli spike input (intensity = spike probability per step) or analog current")
    p.add_argument("--norm-samples", type=_positive_int,
                   help="training samples for data/robust normalisation (default: all / 10000)")
    p.add_argument("--seed", type=_seed, help="input-encoding seed recorded for simulation (default: the ANN's)")
    p.add_argument("--data-dir")
    p.add_argument("--out", required=True, help="directory for the converted model (graph + model.json)")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("crosscheck", help="compare spike counts neuron by neuron with Brian2 (default schedule)")
    p.add_argument("--model", required=True, help="trained model or simcore graph directory")
    _data_options(p)
    p.add_argument("--split", choices=("train", "test"), default="test")
    p.add_argument("--T", type=_positive_int, help="time steps (default: the model's)")
    p.add_argument("--limit", type=_positive_int, default=100, help="only the first K samples (default 100)")
    p.add_argument("--seed", type=_seed, help="input-encoding seed (default: the model's)")
    p.add_argument("--target", choices=("cython", "numpy"), default="cython",
                   help="Brian2 code generation target (cython falls back to numpy if it cannot compile)")
    p.add_argument("--out", required=True, help="write the result JSON here (every mismatch listed)")
    p.set_defaults(func=cmd_crosscheck)

    p = sub.add_parser("reproduce", help="the paper's Table I (UCI), Table II (MNIST) or training-cost claim")
    p.add_argument("what", choices=("table1", "table2", "cost"))
    p.add_argument("--seeds", type=_positive_int, default=5, help="number of seeds 0..N-1 (default 5)")
    p.add_argument("--epochs", type=_positive_int, help="training epochs (default: the data set's)")
    p.add_argument("--limit", type=_positive_int, help="use only the first N samples of each split (smoke runs)")
    p.add_argument("--configs", help="table2 only: comma-separated row indices 0-3 "
                   "(0 784-800-10 T50, 1 784-800-800-10 T50, 2 CNN T50, 3 784-800-10 T10)")
    p.add_argument("--seeds-for", nargs="+", metavar="ROW=N", help="table2 only: fewer seeds for a row, "
                   "e.g. 2=3 (the CNN with seeds 0-2)")
    p.add_argument("--data-dir")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("demo", help="the main job: everything on the embedded digits set, with a report")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--epochs", type=_positive_int, default=30)
    p.add_argument("--crosscheck-samples", type=_positive_int, default=20)
    p.add_argument("--brian2-target", choices=("cython", "numpy"), default="cython")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError) as e:
        print(f"spikecount: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("spikecount: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
