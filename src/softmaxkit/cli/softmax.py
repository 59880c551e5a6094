"""``softmaxkit softmax LOGITS...``: print the softmax probabilities of the given logits."""

from __future__ import annotations

import json
import re

from ._argtypes import finite_float, positive_float

__all__ = ["register"]

_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE)


def register(sub) -> None:
    p = sub.add_parser("softmax", help="print softmax probabilities of the given logits")
    p.add_argument("logits", nargs="+", type=finite_float, help="logits, e.g. 1.6 3.1 0.5")
    p.add_argument("--temperature", "-t", type=positive_float, default=1.0, help="temperature T > 0 (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    # argparse reads "-1e308" or "-inf" as an unknown option (its test for negative numbers knows only
    # "-1" and "-1.5"); this command has no option that looks like a number, so any of them is a logit.
    p._negative_number_matcher = _NEGATIVE_NUMBER
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from ..kernels import softmax

    probs = softmax(np.asarray(args.logits, dtype=np.float64), temperature=args.temperature)
    if args.json:
        print(json.dumps({"logits": args.logits, "temperature": args.temperature, "probabilities": probs.tolist()}))
    else:
        print(" ".join(f"{p:.8f}" for p in probs))
    return 0
