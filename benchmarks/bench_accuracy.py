"""Test accuracy of the standard recipes, trained exactly as the CLI trains them.

Each row runs ``softmaxkit train`` with the listed arguments and reports the held-out test accuracy and
NLL saved in the model file, next to the quality bar it must reach. Datasets other than digits need their
files first (``softmaxkit data fetch mnist``, ``softmaxkit data fetch fashion-mnist``); missing ones
are reported and skipped.

    python benchmarks/bench_accuracy.py                 # every recipe (MNIST CNN takes several minutes)
    python benchmarks/bench_accuracy.py --only digits   # rows whose name contains "digits"
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

#: The recipes measured here, with their bars. Their settings are the defaults of `softmaxkit train`
#: (`softmaxkit.recipes`), so the arguments name only the data and, where it is not the default, the model.
MEASURED = [
    ("digits", "mlp", 0.97),
    ("mnist", "logistic", 0.92),
    ("mnist", "mlp", 0.980),
    ("mnist", "cnn", 0.990),
    ("fashion-mnist", "mlp", 0.88),
    ("fashion-mnist", "cnn", 0.90),
]


def _cli_args(kind: str, model: str) -> str:
    from softmaxkit.recipes import DEFAULT_MODEL

    return f"--data {kind}" + ("" if DEFAULT_MODEL[kind] == model else f" --model {model}")


# name, bar, CLI arguments
RECIPES = [(f"{kind} {model}", bar, _cli_args(kind, model)) for kind, model, bar in MEASURED]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="run the recipes whose name contains this text")
    parser.add_argument("--keep", default=None, help="directory to keep the trained models in")
    args = parser.parse_args(argv)

    from softmaxkit import nn
    from softmaxkit.cli import main as cli

    out_dir = Path(args.keep or tempfile.mkdtemp(prefix="skm-bench-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, bar, cli_args in RECIPES:
        if args.only not in name:
            continue
        path = out_dir / f"{name.replace(' ', '-')}.skm"
        start = time.perf_counter()
        status = cli(["train", *cli_args.split(), "--seed", "0", "--out", str(path), "--no-progress"])
        seconds = time.perf_counter() - start
        if status != 0 or not path.exists():
            rows.append((name, bar, None, None, seconds, cli_args))
            continue
        meta = nn.load(path).metadata
        rows.append((name, bar, meta["test_accuracy"], meta["test_nll"], seconds, cli_args))
    print()
    print(f"# bench_accuracy ({os.cpu_count()} cores)")
    print("| recipe | test accuracy | bar | test NLL | train time | arguments |")
    print("|---|---|---|---|---|---|")
    ok = True
    for name, bar, acc, loss, seconds, cli_args in rows:
        if acc is None:
            print(f"| {name} | skipped (data missing or failed) | {bar:.1%} | | | `{cli_args}` |")
            continue
        mark = "" if acc >= bar else " (below bar)"
        ok &= acc >= bar
        print(f"| {name} | {acc:.2%}{mark} | {bar:.1%} | {loss:.4f} | {seconds:.0f} s | `{cli_args}` |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
