"""``make demo``: the seed example, a temperature sweep, and (with the network) a trained classifier."""

from __future__ import annotations

import numpy as np

from .kernels import log_softmax, softmax


def run_demo(args=None) -> int:
    logits = np.array([1.6, 3.1, 0.5])
    print("softmaxkit demo")
    print("===============")
    print(f"logits                 {logits}")
    print(f"softmax                {np.array2string(softmax(logits), precision=8)}")
    print(f"log_softmax([1000, 1]) {log_softmax([1000.0, 1.0])}   (naive formula: nan)")
    print()
    print("temperature sweep: T -> 0 approaches argmax, T -> inf approaches uniform")
    for t in (0.25, 0.5, 1.0, 2.0, 5.0, 100.0):
        probs = softmax(logits, temperature=t)
        print(f"  T = {t:>6g}   " + "  ".join(f"{p:6.1%}" for p in probs))
    return 0
