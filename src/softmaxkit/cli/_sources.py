"""Which data a command scores: the source a model file records, another one given by flags, and
inputs from none of the model's classes (``evaluate --ood``), all read the way the model was trained."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from ._common import CLIError, load_data

__all__ = ["evaluation_data", "out_of_distribution_inputs", "model_preprocessing"]


def model_preprocessing(model) -> dict:
    """How the model's inputs were made: its recorded preprocessing, or (older files) what its input shape implies."""
    recorded = model.metadata.get("preprocessing")
    if isinstance(recorded, dict) and recorded.get("kind") in ("image", "table"):
        return recorded
    shape = tuple(model.input_shape or ())
    if len(shape) == 3:
        return {"kind": "image", "channels": shape[0], "size": list(shape[1:]), "resize": "stretch", "invert": "auto"}
    return {}


def evaluation_data(args, model):
    """The data ``evaluate`` tests on.

    * no ``--data``: the source the model file records, loaded with its recorded options (the same
      test split); models from before sources were recorded name a built-in data set;
    * ``--data`` naming the recorded source: the same;
    * another image folder: read with the model's image size and channels; its ``test/`` subfolder
      if it has one, else all of it is the test set;
    * another table: read with the model's target and columns; all of it is the test set;
    * a built-in data set or ``.npz``: its test split.
    """
    from ..datasets import source_kind

    recorded = model.metadata.get("data_source")
    if args.data is None:
        if isinstance(recorded, dict) and recorded.get("kind") == "arrays":
            accuracy = model.metadata.get("test_accuracy")
            score = (
                f" (its held-out test accuracy, {accuracy:.2%}, is in the model file)" if accuracy is not None else ""
            )
            raise CLIError(
                f"the model was trained on arrays streamed from {recorded.get('path')}{score}; to score them out "
                "of core, pass --data ARRAY --labels LABELS"
            )
        if isinstance(recorded, dict) and recorded:
            return _load_recorded(args, recorded)
        name = model.metadata.get("dataset")
        if not name:
            raise CLIError("the model file does not record its data; pass --data")
        return load_data(name, args.root)
    kind = source_kind(args.data)
    if isinstance(recorded, dict) and recorded.get("path") and kind != "builtin":
        if Path(args.data).resolve() == Path(recorded["path"]) and kind == recorded.get("kind"):
            return _load_recorded(args, recorded)
    if kind == "folder":
        return _whole_folder(args, model)
    if kind == "table":
        return _whole_table(args, model)
    if getattr(args, "target", None) is not None or getattr(args, "strict", False):
        raise CLIError(f"--target and --strict apply to tables and image folders, not to --data {args.data}")
    return load_data(args.data, args.root)


def _load_recorded(args, source: dict):
    from ..datasets import load_source

    try:
        data = load_source(_with_flags(args, source), root=args.root)
    except FileNotFoundError as exc:
        raise CLIError(f"{exc} (the data the model was trained on; pass --data to test on other data)") from None
    except (ValueError, ImportError) as exc:
        raise CLIError(f"cannot load the model's data {source.get('path') or source.get('name')}: {exc}") from None
    before = source.get("fingerprint")
    if before and data.source.get("fingerprint") != before:
        print(
            f"warning: {data.name} has changed since the model was trained (its files differ); "
            "the test split may hold samples the model was trained on",
            file=sys.stderr,
        )
    return data


def _with_flags(args, source: dict) -> dict:
    options = dict(source.get("options") or {})
    if source.get("kind") == "folder" and getattr(args, "strict", False):
        options["strict"] = True
    target = getattr(args, "target", None)
    if source.get("kind") == "table" and target is not None and target != options.get("target"):
        raise CLIError(f"--target {target}: the model was trained on column {options.get('target')!r}")
    return {**source, "options": options}


def _whole_folder(args, model):
    """Another image folder, read as the model reads images: its test/ part, or all of it."""

    pre = model_preprocessing(model)
    if pre.get("kind") != "image":
        raise CLIError(f"--data {args.data} is an image folder, but the model takes rows of a table")
    options = {"image_size": pre["size"], "channels": pre["channels"], "strict": getattr(args, "strict", False)}
    has_split = (Path(args.data) / "train").is_dir() and (Path(args.data) / "test").is_dir()
    data = load_data(args.data, None, **options, **({} if has_split else {"test_fraction": 0.0}))
    if not has_split:  # everything is test data: the model was not trained on it
        data = dataclasses.replace(data, x_test=data.x_train, y_test=data.y_train, x_train=data.x_train[:0],
                                   y_train=data.y_train[:0])  # fmt: skip
    return _same_classes(data, model)


def _whole_table(args, model):
    """Another table, read with the model's columns and categories: all of its rows are test data."""
    from ..datasets import Dataset, read_labelled_rows

    pre = model_preprocessing(model)
    if pre.get("kind") != "table":
        raise CLIError(f"--data {args.data} is a table, but the model takes images")
    try:
        x, y = read_labelled_rows(args.data, pre, model.class_names or (), target=getattr(args, "target", None))
    except FileNotFoundError as exc:
        raise CLIError(str(exc)) from None
    except (ValueError, ImportError) as exc:
        raise CLIError(f"cannot load data {args.data!r}: {exc}") from None
    source = {"kind": "table", "path": str(Path(args.data).resolve())}
    return Dataset(x[:0], y[:0], x, y, tuple(model.class_names), str(args.data), "as the model's table", source, pre)


def _same_classes(data, model):
    """``data`` with its labels renumbered to the model's classes (found by name)."""
    import numpy as np

    names = [str(c) for c in (model.class_names or ())]
    if not names or list(data.class_names) == names:
        return data
    unknown = [c for c in data.class_names if c not in names]
    if unknown:
        raise CLIError(f"{data.name} has classes the model does not know: {', '.join(unknown[:10])}")
    mapping = np.array([names.index(c) for c in data.class_names], dtype=np.int64)
    return dataclasses.replace(
        data, y_train=mapping[data.y_train], y_test=mapping[data.y_test], class_names=tuple(names)
    )


def out_of_distribution_inputs(args, model):
    """The inputs of ``--ood OTHER`` as the model reads them, and a name for them.

    A built-in data set gives its test split; an image folder all its images (any layout, class
    subfolders or not); a table all its rows; a ``.npz`` all its arrays.
    """
    import numpy as np

    from ..datasets import read_images, read_table_features, source_kind

    other = args.ood
    kind = source_kind(other)
    pre = model_preprocessing(model)
    try:
        if kind == "folder":
            if pre.get("kind") != "image":
                raise CLIError(f"--ood {other} is an image folder, but the model takes rows of a table")
            x, _, _ = read_images([other], pre, strict=getattr(args, "strict", False), progress=False)
        elif kind == "table":
            if pre.get("kind") != "table":
                raise CLIError(f"--ood {other} is a table, but the model takes images")
            x, _ = read_table_features(other, pre)
        else:
            data = load_data(other, args.root)
            x = data.x_test if kind == "builtin" else np.concatenate([data.x_train, data.x_test])
    except FileNotFoundError as exc:
        raise CLIError(f"--ood {other}: {exc}") from None
    except (ValueError, ImportError) as exc:
        raise CLIError(f"--ood {other}: {exc}") from None
    expected = tuple(model.input_shape or x.shape[1:])
    if tuple(x.shape[1:]) != expected:
        raise CLIError(f"--ood {other}: the model takes inputs of shape {expected}, but {other} has {x.shape[1:]}")
    if len(x) == 0:
        raise CLIError(f"--ood {other}: no inputs to score")
    return x, str(other)
