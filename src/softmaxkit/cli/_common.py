"""What several commands share: loading data and models as one-line errors, and where output goes.

Command modules import from here (and from the library), never from each other.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..exceptions import CLIError

__all__ = [
    "CLIError",
    "load_data",
    "load_model",
    "plots_dir",
    "output_file",
    "output_dir",
    "check_input_shape",
    "data_name",
]


def load_data(name, root=None):
    """``softmaxkit.datasets.load(name, root=root)``, its errors turned into :class:`CLIError`."""
    from .. import datasets

    try:
        return datasets.load(name, root=root)
    except FileNotFoundError as exc:
        raise CLIError(str(exc)) from None
    except ValueError as exc:
        raise CLIError(f"cannot load data {name!r}: {exc}") from None


def load_model(path):
    """A model file as the network, or as a calibrated model when it holds a calibrator."""
    from ..calibration import load_model as load

    try:
        return load(path)
    except FileNotFoundError:
        raise CLIError(f"{path}: no such model file") from None
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def plots_dir(args, anchor: Path) -> Path:
    """``--plots`` if given, else the directory of ``anchor`` (the model file), ready to write into."""
    return output_dir(args.plots, "--plots") if args.plots else output_dir(anchor.parent, "the model's directory")


def output_dir(path, flag: str) -> Path:
    """``path`` as a directory this process can write into, created if missing; a :class:`CLIError` otherwise.

    Checked before any work is done, so that a long run does not fail at its last step.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CLIError(f"{flag} {path}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):  # the only reliable test (permissions, read-only mounts, root)
            pass
    except OSError as exc:
        raise CLIError(f"{flag} {path}: cannot write there ({exc.strerror or exc})") from None
    return path


def output_file(path, flag: str) -> Path:
    """``path`` as a file this process can write (its directory created if missing); a :class:`CLIError` otherwise."""
    path = Path(path)
    if path.is_dir():
        raise CLIError(f"{flag} {path}: is a directory; give a file name such as {path / 'model.skm'}")
    output_dir(path.parent, flag)
    return path


def data_name(args, model) -> str:
    """``--data`` if given, else the data set the model was trained on."""
    name = args.data or model.metadata.get("dataset")
    if not name:
        raise CLIError("the model does not record its data set; pass --data NAME")
    return name


def check_input_shape(model, data, name) -> None:
    """The model must take ``data``'s images and predict its classes, and ``data`` must have a test split."""
    if len(data.y_test) == 0:
        raise CLIError(f"{name} has no test split (x_test, y_test) to evaluate on")
    expected = tuple(model.input_shape) if model.input_shape is not None else None
    got = tuple(data.x_test.shape[1:])
    if expected is not None and expected != got:
        raise CLIError(f"the model takes inputs of shape {expected}, but {name} has {got}")
    if len(data.class_names) != len(model.class_names or data.class_names):
        raise CLIError(f"the model has {len(model.class_names)} classes, but {name} has {len(data.class_names)}")
