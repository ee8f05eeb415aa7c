"""The ``spikecount`` command. Each subcommand is a thin wrapper over one library function.

Errors in the input (a bad spec, a corrupt file, T < 1, NaN weights...) are reported as one line,
``spikecount: error: ...``, with exit status 2.
"""
from __future__ import annotations

import argparse
import sys

from analysis.cli_safety import OneLineParser, claimed as _claimed, finite as _finite, run_command
from analysis.cli_safety import safety_options as _safety_options, seed as _seed, seeds as _seeds
from analysis.cli_fair import add_fight, qcfs_options, sweep_fair_options, v_init_option, validation_options
from analysis.cli_runner import runner as _runner, runner_options
from analysis.cli_options import data_options as _data_options, int_at_least as _int_at_least, semantics_option
from analysis.cli_options import dataset as _dataset, print_json as _print_json, positive_int as _positive_int
from analysis.cli_simcore import add_export, add_simulate
from baselines.choices import RESETS
from baselines.normalise import NORMS, RELU_NORMS
from learning.choices import ENCODINGS, MODES

__all__ = ["main", "build_parser"]


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
        rate_target=a.rate_target, weight_bits=a.weight_bits, val_fraction=a.val_fraction, patience=a.patience,
        select_on=a.select_on, bias=a.bias,
    )
    metrics = train(cfg, a.out, resume=a.resume, progress=not a.quiet)
    print(f"test accuracy {metrics['test_accuracy']:.4f} (counts only {metrics['counts_only_test_accuracy']:.4f}); "
          f"best epoch {metrics['best_epoch']} on validation  ({metrics['wall_seconds']:.1f} s)  -> {a.out}")


def cmd_evaluate(a: argparse.Namespace) -> None:
    from learning.evaluate import evaluate_model

    res = evaluate_model(a.model, a.dataset, split=a.split, T=a.T, mode=a.mode, seed=a.seed,
                         data_dir=a.data_dir, limit=a.limit, split_seed=a.split_seed)
    _print_json(res, a.out, a.result_kind)


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
    from analysis.sweep import COLUMNS, check_extra_models, sweep

    check_extra_models(a.extra_model, a.dataset, a.data_dir)  # before --out is claimed (sweep checks again)
    with _claimed(a, "sweep"):
        res = sweep(a.dataset, a.arch, a.out, T_train=a.T_train, T_infer=a.T_infer,
                    norms=[n for n in a.norms.split(",") if n], qcfs_levels=a.qcfs_levels, v_inits=a.v_init,
                    seeds=a.seeds, epochs=a.epochs, ann_epochs=a.ann_epochs, lr=a.lr, lr_decay=a.lr_decay,
                    dropout=a.dropout, patience=a.patience, select_on=a.select_on, data_dir=a.data_dir,
                    limit_train=a.limit_train,
                    limit_test=a.limit_test, runner=_runner(a), extra_models=a.extra_model)
    print(markdown_table(res["rows"], [c for c in COLUMNS if c not in ("samples", "model")]))


def cmd_quantisation(a: argparse.Namespace) -> None:
    from analysis.quantisation import write_layer_errors
    from analysis.report import markdown_table

    with _claimed(a, "quantisation"):
        res = write_layer_errors(a.model, a.out, dataset=a.dataset, T=a.T, limit=a.limit, seed=a.seed,
                                 data_dir=a.data_dir, semantics=a.semantics)
    rows = [{"population": l["population"], "residual": l["residual_mean"],
             "local_differ_fraction": l["local"]["differ_fraction"],
             "propagated_differ_fraction": l["propagated"]["differ_fraction"]} for l in res["layers"]]
    print(markdown_table(rows, list(rows[0])))


def cmd_depth_series(a: argparse.Namespace) -> None:
    from analysis.report import markdown_table

    rows = [{"hidden layers": len(r["layers"]) - 1, "accuracy": r["accuracy"],
             **{f"L{k + 1} differ_fraction": l["propagated"]["differ_fraction"] for k, l in enumerate(r["layers"])}}
            for r in _depth_rows(a)]
    print(markdown_table(rows, list(rows[-1])))


def _depth_rows(a: argparse.Namespace) -> list[dict]:
    from analysis.quantisation import depth_series

    with _claimed(a, "depth-series"):
        return depth_series(a.out, a.dataset, a.hidden, a.depths, T=a.T, epochs=a.epochs, seed=a.seed,
                            data_dir=a.data_dir, limit=a.limit)


def cmd_report(a: argparse.Namespace) -> None:
    from analysis.report import write_report

    with _claimed(a, "report"):
        print(f"report written to {write_report(a.runs, a.out)}")


def cmd_train_ann(a: argparse.Namespace) -> None:
    from baselines.train_ann import ann_config_from, train_ann

    cfg = ann_config_from(a.dataset, a.arch, epochs=a.epochs, seed=a.seed, lr=a.lr, batch_size=a.batch_size,
                          bias=not a.no_bias, activation=a.activation, levels=a.levels, data_dir=a.data_dir,
                          split_seed=a.split_seed, lr_decay=a.lr_decay,
                          limit_train=a.limit_train, limit_test=a.limit_test, val_fraction=a.val_fraction,
                          patience=a.patience, select_on=a.select_on)
    metrics = train_ann(cfg, a.out, resume=a.resume, progress=not a.quiet)
    print(f"ANN test accuracy {metrics['test_accuracy']:.4f}; best epoch {metrics['best_epoch']} of "
          f"{metrics['epochs_done']} on validation  ({metrics['wall_seconds']:.1f} s)  -> {a.out}")


def cmd_convert(a: argparse.Namespace) -> None:
    from baselines.convert import convert

    if a.torch_state is not None:  # your own torch ANN: baselines.torch_ann
        from baselines.torch_ann import convert_torch_state
        info = convert_torch_state(a.torch_state, a.arch, a.dataset, a.norm, a.out, percentile=a.percentile,
                                   reset=a.reset, input=a.input, data_dir=a.data_dir, norm_samples=a.norm_samples,
                                   seed=a.seed or 0)
        return print(f"converted torch ANN (ANN test accuracy {info['ann_test_accuracy']:.4f}) -> {a.out}")
    info = convert(a.ann, a.norm, percentile=a.percentile, reset=a.reset, input=a.input, out_dir=a.out,
                   data_dir=a.data_dir, norm_samples=a.norm_samples, seed=a.seed, v_init=a.v_init)
    factors = ", ".join(f"{v:.4g}" for v in info["scale_factors"])
    print(f"converted ({info['norm']}, reset {info['reset']}, V(0) {info['v_init']}, {info['encoding']} input; "
          f"scale factors {factors}) -> {a.out}")


def cmd_raster(a: argparse.Namespace) -> None:
    from analysis.raster import write_raster

    path = write_raster(a.model, a.out, a.sample, dataset=a.dataset, split=a.split, T=a.T, seed=a.seed,
                        data_dir=a.data_dir, split_seed=a.split_seed, populations=a.populations)
    print(f"raster written to {path}")


def cmd_crosscheck(a: argparse.Namespace) -> None:
    from analysis.crosscheck import crosscheck

    res = crosscheck(a.model, a.dataset, limit=a.limit, data_dir=a.data_dir, seed=a.seed, split=a.split,
                     target=a.target, T=a.T, split_seed=a.split_seed, schedule=a.schedule.replace("-", "_"))
    _print_json(res, a.out, a.result_kind)


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

    kwargs = {"seeds": tuple(range(a.seeds)), "epochs": a.epochs, "runner": _runner(a)} if a.what != "cost" else {}
    if a.what == "table1":
        kwargs["limit"] = a.limit
    if a.what == "table2":
        kwargs.update(data_dir=a.data_dir, limit_train=a.limit, limit_test=a.limit)
        from analysis.reproduce import TABLE2

        if a.configs:
            kwargs["configs"] = tuple(TABLE2[_row(i)] for i in a.configs.split(","))
        if a.seeds_for:
            kwargs["seeds_for"] = _row_seeds(a.seeds_for, TABLE2)
    if a.what == "cost":
        from analysis.cost import require_snntorch

        require_snntorch()  # before any work
    with _claimed(a, "reproduce"):
        print(reproduce(a.what, a.out, **kwargs))


def cmd_demo(a: argparse.Namespace) -> None:
    from analysis.demo import demo

    with _claimed(a, "demo"):
        demo(a.out, epochs=a.epochs, crosscheck_samples=a.crosscheck_samples, brian2_target=a.brian2_target,
             runner=_runner(a))


def _training_commands(sub) -> None:
    """The subcommands for train and evaluate spike-count networks."""
    p = sub.add_parser("train", help="train a spiking network with the spike-count rule")
    p.add_argument("--dataset", type=_dataset, metavar="NAME|npz:PATH", required=True)
    validation_options(p, _positive_int)
    p.add_argument("--arch", required=True, help="spec string, e.g. 784-800-10 or 28x28-12c5-2a-64c5-2a-10")
    p.add_argument("--T", type=_positive_int, help="time steps per sample (default: the paper's for the data set)")
    p.add_argument("--mode", choices=MODES, default="aggregate",
                   help="forward pass: closed-form counts or explicit IF dynamics (default aggregate)")
    p.add_argument("--epochs", type=_positive_int)
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--lr", type=_finite)
    p.add_argument("--lr-decay", type=_finite, help="multiply the learning rate by this after each epoch")
    p.add_argument("--dropout", type=_finite, help="hidden-neuron dropout probability in training (default 0)")
    p.add_argument("--theta", type=_finite, help="firing threshold (default 1.0)")
    p.add_argument("--batch-size", type=_positive_int)
    p.add_argument("--encoding", choices=ENCODINGS)
    p.add_argument("--max-rate", type=_finite, help="spikes per step at intensity 1 (default 1.0)")
    p.add_argument("--output-grad", choices=("bounded", "paper"),
                   help="output-layer count gradient: bounded straight-through (default) or Eq. 10 as printed")
    p.add_argument("--rate-lambda", type=_finite, nargs="+", metavar="L",
                   help="spike-rate penalty: loss += L x mean spike count per neuron per sample (one L: all "
                        "hidden+output neurons together; one L per weighted layer: per layer)")
    p.add_argument("--rate-target", type=_finite, metavar="R",
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
    _safety_options(p, force=True)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a trained model, also at another T or mode")
    p.add_argument("--model", required=True, help="model directory written by train")
    _data_options(p)
    p.add_argument("--split", choices=("train", "test"), default="test")
    p.add_argument("--T", type=_positive_int)
    p.add_argument("--mode", choices=MODES)
    p.add_argument("--seed", type=_seed, help="input-encoding seed (default: the model's)")
    p.add_argument("--limit", type=_positive_int)
    p.add_argument("--out", help="also write the result as JSON here")
    _safety_options(p, force=True)
    p.set_defaults(func=cmd_evaluate, result_kind="evaluate")

    add_export(sub)
    add_simulate(sub)


def _study_commands(sub) -> None:
    """The subcommands for sweeps, quantisation error, reports."""
    p = sub.add_parser("sweep", help="latency-accuracy sweep: direct training vs conversion, in simcore")
    p.add_argument("--dataset", type=_dataset, metavar="NAME|npz:PATH", required=True)
    p.add_argument("--arch", required=True)
    p.add_argument("--T-train", type=_ints, default=[5, 10, 20], help="comma-separated, e.g. 5,10,20,50")
    p.add_argument("--T-infer", type=_ints, help="comma-separated (default: the T-train values)")
    p.add_argument("--norms", default=",".join(RELU_NORMS), help="comma-separated normalisations of the ReLU ANN "
                   "('' for none)")
    sweep_fair_options(p, _positive_int, _ints)
    p.add_argument("--seeds", type=_seeds, default=[0])
    p.add_argument("--epochs", type=_positive_int, help="spike-count training epochs")
    p.add_argument("--ann-epochs", type=_positive_int)
    p.add_argument("--lr-decay", type=_finite, help="learning-rate decay per epoch (spike-count and ANN training)")
    p.add_argument("--dropout", type=_finite, help="hidden-neuron dropout for spike-count training")
    p.add_argument("--data-dir")
    p.add_argument("--limit-train", type=_positive_int)
    p.add_argument("--limit-test", type=_positive_int)
    p.add_argument("--out", required=True, help="directory for jobs (models, evaluations), sweep.json/csv, plots")
    p.add_argument("--quiet", action="store_true")
    runner_options(p, _positive_int)
    _safety_options(p)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("quantisation", help="per-layer quantisation error of a trained network or graph")
    p.add_argument("--model", required=True)
    _data_options(p)
    p.add_argument("--T", type=_positive_int)
    p.add_argument("--limit", type=_positive_int, default=1000, help="test samples (default 1000)")
    p.add_argument("--seed", type=_seed)
    p.add_argument("--out", required=True, help="directory for quantisation.json and quantisation.png")
    semantics_option(p)
    _safety_options(p)
    p.set_defaults(func=cmd_quantisation)

    p = sub.add_parser("depth-series", help="quantisation error as depth grows (MLPs with 1..6 hidden layers)")
    p.add_argument("--dataset", type=_dataset, metavar="NAME|npz:PATH", default="mnist")
    p.add_argument("--data-dir")
    p.add_argument("--hidden", type=_positive_int, default=400, help="neurons per hidden layer")
    p.add_argument("--depths", type=_ints, default=[1, 2, 3, 4, 5, 6])
    p.add_argument("--T", type=_positive_int, default=20)
    p.add_argument("--epochs", type=_positive_int, default=5)
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--limit", type=_positive_int, default=1000, help="test samples measured")
    p.add_argument("--out", required=True)
    _safety_options(p)
    p.set_defaults(func=cmd_depth_series)

    add_fight(sub)

    p = sub.add_parser("report", help="HTML + Markdown report of a runs directory")
    p.add_argument("--runs", required=True)
    p.add_argument("--out", required=True)
    _safety_options(p)
    p.set_defaults(func=cmd_report)


def _conversion_commands(sub) -> None:
    """The subcommands for the ANN twin and its conversion."""
    p = sub.add_parser("train-ann", help="train the ReLU ANN twin of a spec (for conversion)")
    p.add_argument("--dataset", type=_dataset, metavar="NAME|npz:PATH", required=True)
    validation_options(p, _positive_int)
    p.add_argument("--arch", required=True, help="spec string, e.g. 64-100-10 or 8x8-12c3-2a-10")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--epochs", type=_positive_int)
    p.add_argument("--no-bias", action="store_true", help="no biases (Diehl's bias-free nets)")
    qcfs_options(p, _positive_int)
    p.add_argument("--lr-decay", type=_finite, help="multiply the learning rate by this after each epoch")
    p.add_argument("--lr", type=_finite)
    p.add_argument("--batch-size", type=_positive_int)
    p.add_argument("--data-dir")
    p.add_argument("--split-seed", type=_seed)
    p.add_argument("--limit-train", type=_positive_int, help="use only the first N training samples")
    p.add_argument("--limit-test", type=_positive_int, help="use only the first N test samples")
    p.add_argument("--out", required=True, help="output directory (model, checkpoint, metrics.json)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _safety_options(p, force=True)
    p.set_defaults(func=cmd_train_ann)

    p = sub.add_parser("convert", help="convert a trained ANN into a spiking network (weight normalisation)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--ann", help="ANN directory written by train-ann")
    g.add_argument("--torch-state", help="your own torch ANN: a safetensors state dict (never a pickle) of --arch")
    p.add_argument("--arch", help="with --torch-state: chain spec of the nn.Sequential (see docs/api.md)")
    p.add_argument("--dataset", type=_dataset, metavar="NAME|npz:PATH", help="with --torch-state: its data set")
    p.add_argument("--norm", choices=NORMS, required=True,
                   help="Diehl 2015 model- or data-based, Rueckauer 2017 robust (percentile), or qcfs "
                        "(the trained thresholds of a QCFS ANN, Bu et al. 2022)")
    p.add_argument("--percentile", type=_finite, help="robust, qcfs output: percentile of non-zero activations (99.9)")
    v_init_option(p)
    p.add_argument("--reset", choices=RESETS, default="subtract")
    p.add_argument("--input", choices=("poisson", "analog"), default="poisson",
                   help="Bernoulli spike input (intensity = spike probability per step) or analog current")
    p.add_argument("--norm-samples", type=_positive_int,
                   help="training samples for data/robust normalisation (default: all / 10000)")
    p.add_argument("--seed", type=_seed, help="input-encoding seed recorded for simulation (default: the ANN's)")
    p.add_argument("--data-dir")
    p.add_argument("--out", required=True, help="directory for the converted model (graph + model.json)")
    _safety_options(p)
    p.set_defaults(func=cmd_convert)


def _inspection_commands(sub) -> None:
    """The subcommands for rasters, Brian2, the paper's tables, the demo."""
    p = sub.add_parser("raster", help="spike raster of one sample (input, each layer, running decision) as a PNG")
    p.add_argument("--model", required=True, help="trained, converted or simcore graph directory")
    p.add_argument("--sample", type=_int_at_least(0, "a sample index"), default=0, help="index in the split")
    _data_options(p)
    p.add_argument("--split", choices=("train", "test"), default="test")
    p.add_argument("--T", type=_positive_int, help="time steps (default: the model's)")
    p.add_argument("--seed", type=_seed, help="input-encoding seed (default: the model's)")
    p.add_argument("--populations", type=lambda t: t.split(","), help="comma-separated populations (default: all)")
    p.add_argument("--out", required=True, help="PNG to write (replaces only an earlier raster, else --overwrite)")
    _safety_options(p)
    p.set_defaults(func=cmd_raster, result_kind="raster")

    p = sub.add_parser("crosscheck", help="compare spike counts neuron by neuron with Brian2")
    p.add_argument("--schedule", choices=("same-step", "delayed"), default="same-step", help="what is compared: README")
    p.add_argument("--model", required=True, help="trained model, simcore graph directory or .nir file")
    _data_options(p)
    p.add_argument("--split", choices=("train", "test"), default="test")
    p.add_argument("--T", type=_positive_int, help="time steps (default: the model's)")
    p.add_argument("--limit", type=_positive_int, default=100, help="only the first K samples (default 100)")
    p.add_argument("--seed", type=_seed, help="input-encoding seed (default: the model's)")
    p.add_argument("--target", choices=("cython", "numpy"), default="cython",
                   help="Brian2 code generation target (cython falls back to numpy if it cannot compile)")
    p.add_argument("--out", required=True, help="write the result JSON here (every mismatch listed)")
    _safety_options(p)
    p.set_defaults(func=cmd_crosscheck, result_kind="crosscheck")

    p = sub.add_parser("reproduce", help="the paper's Table I (UCI), Table II (MNIST) or training-cost claim")
    p.add_argument("what", choices=("table1", "table2", "cost"))
    p.add_argument("--seeds", type=_positive_int, default=5, help="number of seeds 0..N-1 (default 5)")
    p.add_argument("--epochs", type=_positive_int, help="training epochs (default: the data set's)")
    p.add_argument("--limit", type=_positive_int, help="use only the first N samples of each split (smoke runs)")
    p.add_argument("--configs", help="table2 only: comma-separated row indices 0-3 "
                   "(0 784-800-10 T50, 1 784-800-800-10 T50, 2 CNN T50, 3 784-800-10 T10)")
    p.add_argument("--seeds-for", nargs="+", action="extend", metavar="ROW=N",
                   help="table2 only: fewer seeds for a row, e.g. 2=3 (the CNN with seeds 0-2); repeatable")
    p.add_argument("--data-dir")
    p.add_argument("--out", required=True)
    runner_options(p, _positive_int)
    _safety_options(p)
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("demo", help="the main job: everything on the embedded digits set, with a report")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--epochs", type=_positive_int, default=300, help="spike-count maximum (early stopping)")
    p.add_argument("--crosscheck-samples", type=_positive_int, default=20)
    p.add_argument("--brian2-target", choices=("cython", "numpy"), default="cython")
    runner_options(p, _positive_int)
    _safety_options(p)
    p.set_defaults(func=cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="spikecount", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _training_commands(sub)
    _study_commands(sub)
    _conversion_commands(sub)
    _inspection_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_command(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
