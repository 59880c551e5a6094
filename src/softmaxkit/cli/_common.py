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
    "add_source_options",
    "source_options",
]

#: The options of user data, by loader argument: the flag that sets it and the kinds of data it applies to.
_SOURCE_FLAGS = {
    "target": ("--target", "table"),
    "one_hot": ("--one-hot", "table"),
    "test": ("--test", "table"),
    "image_size": ("--image-size", "folder"),
    "strict": ("--strict", "folder"),
}
_KIND_NAMES = {"table": "tables (.csv, .parquet)", "folder": "image folders"}


def load_data(name, root=None, **options):
    """``softmaxkit.datasets.load(name, root=root, **options)``, its errors turned into :class:`CLIError`."""
    from .. import datasets

    try:
        if datasets.source_kind(name) in ("folder", "table"):
            return datasets.load(name, **options)
        return datasets.load(name, root=root, **options)
    except FileNotFoundError as exc:
        raise CLIError(str(exc)) from None
    except (ValueError, ImportError) as exc:
        message = str(exc).replace("pass one_hot=True", "pass --one-hot")  # the library's hint, as a flag
        raise CLIError(f"cannot load data {name!r}: {message}") from None


def add_source_options(parser) -> None:
    """The flags that say how to read a user's image folder or table."""
    group = parser.add_argument_group("image folders and tables")
    group.add_argument(
        "--image-size",
        default=None,
        metavar="HxW",
        help="image folders: resize (keeping the aspect ratio) to HxW (default: the most common size, at most 64)",
    )
    group.add_argument(
        "--strict", action="store_true", help="image folders: stop at an unreadable file instead of skipping it"
    )
    group.add_argument("--target", default=None, metavar="COLUMN", help="tables: the label column (default label)")
    group.add_argument("--one-hot", action="store_true", help="tables: one-hot encode non-numeric columns")
    group.add_argument("--test", default=None, metavar="FILE", help="tables: a second table to test on")


def source_options(args, *, for_training: bool) -> dict:
    """The loader options ``args`` give for ``args.data``; a :class:`CLIError` for a flag that does not apply.

    Training also passes its seed (the test split) and, for image folders, the progress bar.
    """
    from ..datasets import source_kind

    kind = source_kind(args.data)
    options = {key: getattr(args, key) for key in _SOURCE_FLAGS if getattr(args, key, None) not in (None, False)}
    wrong = [_SOURCE_FLAGS[key][0] for key in options if _SOURCE_FLAGS[key][1] != kind]
    if wrong:
        applies = sorted({_KIND_NAMES[_SOURCE_FLAGS[key][1]] for key in options if _SOURCE_FLAGS[key][1] != kind})
        raise CLIError(f"{', '.join(wrong)} applies to {' and '.join(applies)} only, not to --data {args.data}")
    if kind in ("folder", "table") and for_training:
        options["seed"] = args.seed
    if kind == "folder":
        options["progress"] = not getattr(args, "no_progress", True)
    return options


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
