"""Calibration of trained MLPs, in the style of Guo et al. (2017), "On Calibration of Modern Neural Networks".

For each data set, an MLP trained by the standard recipe (``bench_accuracy.py``; reused from
``--models DIR`` when present there, trained otherwise) is calibrated on its validation split with
temperature, vector and matrix scaling, and measured on the test split: accuracy, ECE and MCE
(15 equal-width bins), NLL. The bar for temperature scaling: ECE <= 1.0% and at least 40% below the
uncalibrated model's, lower NLL, unchanged accuracy.

    python benchmarks/bench_accuracy.py --only mlp --keep runs/bench   # train the MLPs once
    python benchmarks/bench_calibration.py --models runs/bench
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_accuracy import RECIPES


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="runs/bench", help="directory of trained models (default runs/bench)")
    parser.add_argument("--data", nargs="+", default=["mnist", "fashion-mnist"])
    args = parser.parse_args(argv)

    from softmaxkit import calibration, datasets, nn
    from softmaxkit.cli import main as cli
    from softmaxkit.conformal import SplitConformal, average_set_size, coverage
    from softmaxkit.evaluation import held_out_split
    from softmaxkit.kernels import softmax
    from softmaxkit.metrics import accuracy, calibration_error, nll

    models = Path(args.models)
    models.mkdir(parents=True, exist_ok=True)
    recipes = {name: cli_args for name, _, cli_args in RECIPES}
    print("| data set | method | T | accuracy | ECE | MCE | NLL |")
    print("|---|---|---|---|---|---|---|")
    verdicts = []
    conformal_rows = []
    for data_name in args.data:
        path = models / f"{data_name}-mlp.skm"
        if not path.exists():
            status = cli(
                ["train", *recipes[f"{data_name} mlp"].split(), "--seed", "0", "--out", str(path), "--no-progress"]
            )
            if status != 0:
                print(f"| {data_name} | skipped: could not train (data missing?) | | | | | |")
                continue
        model = nn.load(path)  # the network alone, without any calibration stored in the file
        data = datasets.load(data_name)
        x_val, y_val = held_out_split(model, data)
        val_logits = model.predict_logits(x_val).astype(np.float64)
        test_logits = model.predict_logits(data.x_test).astype(np.float64)
        y = data.y_test
        rows = {"uncalibrated": (None, softmax(test_logits))}
        for name, cls in (
            ("temperature", calibration.TemperatureScaling),
            ("vector", calibration.VectorScaling),
            ("matrix", calibration.MatrixScaling),
        ):
            fitted = cls().fit(val_logits, y_val)
            rows[name] = (getattr(fitted, "temperature_", None), fitted.predict_proba(test_logits))
        scores = {}
        for name, (t, probs) in rows.items():
            s = (
                accuracy(y, probs),
                calibration_error(y, probs, n_bins=15),
                calibration_error(y, probs, n_bins=15, norm="max"),
                nll(y, probs),
            )
            scores[name] = s
            print(
                f"| {data_name} | {name} | {'' if t is None else f'{t:.3f}'} | {s[0]:.2%} | {s[1]:.2%} | {s[2]:.2%} | {s[3]:.4f} |"
            )
        before, after = scores["uncalibrated"], scores["temperature"]
        ok = after[1] <= 0.01 and after[1] <= 0.6 * before[1] and after[3] < before[3] and after[0] == before[0]
        verdicts.append((data_name, ok, before, after))
        ts = calibration.TemperatureScaling().fit(val_logits, y_val)
        val_probs, test_probs = ts.predict_proba(val_logits), ts.predict_proba(test_logits)
        conformal_rows.append((data_name, val_probs, y_val, test_probs, y))
    print()
    print("Split-conformal prediction sets (temperature-scaled probabilities; fitted on the validation split,")
    print("coverage averaged over 20 random half/half re-splits of validation + test):")
    print()
    print("| data set | score | alpha | coverage | bar | average set size |")
    print("|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for data_name, val_probs, y_val, test_probs, y in conformal_rows:
        probs_all = np.concatenate([val_probs, test_probs])
        y_all = np.concatenate([y_val, y])
        for score, randomized in (("lac", False), ("aps", False), ("aps", True)):
            for alpha in (0.1, 0.05, 0.01):
                cov, size = [], []
                for _ in range(20):
                    order = rng.permutation(len(y_all))
                    cal, held = order[: len(y_val)], order[len(y_val) :]
                    conformal = (
                        SplitConformal(score, randomized=randomized, random_state=rng)
                        if randomized
                        else SplitConformal(score)
                    )
                    sets = conformal.fit(probs_all[cal], y_all[cal], alpha=alpha).predict_sets(probs_all[held])
                    cov.append(coverage(y_all[held], sets))
                    size.append(average_set_size(sets))
                c = float(np.mean(cov))
                inside = 1 - alpha - 0.01 <= c <= 1 - alpha + 0.03
                label = f"{score} (randomized)" if randomized else score
                print(
                    f"| {data_name} | {label} | {alpha} | {c:.2%} | [{1 - alpha - 0.01:.0%}, {1 - alpha + 0.03:.0%}]"
                    f"{'' if inside else ' MISSED'} | {np.mean(size):.2f} |"
                )
    print()
    for data_name, ok, before, after in verdicts:
        print(
            f"{data_name}: temperature scaling ECE {before[1]:.2%} -> {after[1]:.2%} "
            f"({1 - after[1] / before[1]:.0%} lower), NLL {before[3]:.4f} -> {after[3]:.4f}: "
            f"{'meets' if ok else 'MISSES'} the bar"
        )
    return 0 if all(ok for _, ok, _, _ in verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
