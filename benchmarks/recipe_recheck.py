"""Re-check training recipes on validation: for every spike-count training run under the given
directories (metrics.json with a per-epoch history), the epoch each selection rule keeps and its
validation accuracy: lowest validation loss, highest validation accuracy, the last epoch.

    python benchmarks/recipe_recheck.py runs/table2/jobs runs/knobs --json recheck.json

Prints a Markdown table (one row per run: architecture, T, seed, the recipe's knobs, and for each
rule the epoch and validation accuracy). Reads only the validation history: test accuracy is
printed for the kept model alone (the one figure the run reports)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from learning.validation import best_epoch  # noqa: E402
from simcore.fileio import write_json  # noqa: E402


def runs(roots: list[str]) -> list[dict]:
    """One row per metrics.json of a spike-count run (config with T) found under ``roots``."""
    rows = []
    for root in roots:
        for path in sorted(Path(root).rglob("metrics.json")):
            m = json.loads(path.read_text())
            c, h = m.get("config", {}), m.get("history", [])
            if "T" not in c or not h or h[0].get("val_accuracy") is None:
                continue
            pick = {rule: best_epoch(h, rule) for rule in ("loss", "accuracy")}
            pick["last"] = h[-1]["epoch"]
            rows.append({"run": str(path.parent), "arch": c["arch"], "T": c["T"], "seed": c["seed"],
                         "epochs": c["epochs"], "lr_decay": c.get("lr_decay"), "dropout": c.get("dropout"),
                         "select_on": c.get("select_on", "loss"),
                         **{f"{r}_epoch": e for r, e in pick.items()},
                         **{f"{r}_val_accuracy": h[e - 1]["val_accuracy"] for r, e in pick.items()},
                         "kept_test_accuracy": m.get("test_accuracy")})
    return sorted(rows, key=lambda r: (r["arch"], r["T"], r["dropout"], r["lr_decay"], r["seed"]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("roots", nargs="+")
    p.add_argument("--json")
    a = p.parse_args()
    rows = runs(a.roots)
    cols = ["arch", "T", "seed", "epochs", "lr_decay", "dropout", "loss_epoch", "loss_val_accuracy",
            "accuracy_epoch", "accuracy_val_accuracy", "last_epoch", "last_val_accuracy", "kept_test_accuracy"]
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{100 * r[c]:.2f}" if c.endswith("_accuracy") and r[c] is not None else str(r[c])
                                for c in cols) + " |")
    if a.json:
        write_json(a.json, {"rows": rows})


if __name__ == "__main__":
    main()
