"""``softmaxkit predict``: class probabilities for image files, folders, ``.npy`` batches or table rows, with rejection.

Inputs are read exactly as the model's training data was (its recorded preprocessing): image size,
channels, resizing and inversion for images; columns and one-hot categories for table rows.
"""

from __future__ import annotations

import json

from ._argtypes import closed_probability, positive_int
from ._common import CLIError, load_model
from ._format import format_top_k
from ._sources import model_preprocessing

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser("predict", help="class probabilities for images or a .npy batch")
    p.add_argument("model")
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="image files (PNG, JPEG, ...), folders of images, .npy batches, or for a model trained on a table "
        ".csv/.parquet files of rows",
    )
    p.add_argument("--top", type=positive_int, default=3, help="how many classes to show (default 3)")
    p.add_argument(
        "--invert",
        choices=("auto", "yes", "no"),
        default=None,
        help="invert grey images (default: as the model was trained; auto for the built-in digit sets)",
    )
    p.add_argument(
        "--reject-below",
        type=closed_probability,
        default=None,
        metavar="P",
        help="answer 'none of the above' when the top probability is below P",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from ..exceptions import InputError
    from ..inputs import load_inputs
    from ..selective import REJECT, predict_with_reject

    model = load_model(args.model)
    if model.input_shape is None:
        raise CLIError(f"{args.model}: the model file does not record its input shape")
    preprocessing = model_preprocessing(model)
    try:
        if preprocessing.get("kind") == "table":
            x, names = _table_rows(args, preprocessing)
        else:
            x, names = load_inputs(args.inputs, model.input_shape, invert=args.invert, preprocessing=preprocessing)
    except InputError as exc:
        raise CLIError(str(exc)) from None
    if len(x) == 0:
        raise CLIError("no inputs to predict")
    probs = model.predict_proba(x).astype(np.float64)
    classes = [str(c) for c in (model.class_names or range(probs.shape[1]))]
    k = min(args.top, probs.shape[1])
    rejected = predict_with_reject(probs, reject_below=args.reject_below or 0.0) == REJECT
    if args.json:
        result = []
        for name, row, reject in zip(names, probs, rejected):
            order = np.argsort(-row, kind="stable")[:k]
            result.append(
                {
                    "input": name,
                    "prediction": None if reject else classes[int(order[0])],
                    "rejected": bool(reject),
                    "top": [{"class": classes[int(i)], "probability": float(row[i])} for i in order],
                }
            )
        print(json.dumps({"model": str(args.model), "predictions": result}))
        return 0
    for name, row, reject in zip(names, probs, rejected):
        verdict = f"none of the above (top probability below {args.reject_below:g}); " if reject else ""
        print(f"{name}: {verdict}{format_top_k(row, classes, k)}")
    return 0


def _table_rows(args, preprocessing):
    """The rows of the table files given, with the model's columns and categories."""
    import numpy as np

    from ..datasets import read_table_features

    if args.invert is not None:
        raise CLIError("--invert applies to images, and this model was trained on a table")
    rows, names = [], []
    for path in args.inputs:
        try:
            x, row_names = read_table_features(path, preprocessing)
        except FileNotFoundError:
            raise CLIError(f"{path}: no such file") from None
        except (ValueError, ImportError) as exc:
            raise CLIError(f"{path}: {exc}") from None
        rows.append(x)
        names += row_names
    return np.concatenate(rows), names
