"""Where data sets live: explicit ``root``, then ``$SOFTMAXKIT_DATA``, then ``~/.cache/softmaxkit``."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_VAR", "default_root", "search_roots"]

ENV_VAR = "SOFTMAXKIT_DATA"


def default_root(root=None) -> Path:
    """The data root that :func:`~softmaxkit.datasets.fetch` writes to.

    ``root`` if given, else ``$SOFTMAXKIT_DATA`` if set and non-empty, else ``~/.cache/softmaxkit``.

    Examples
    --------
    >>> str(default_root("/data"))
    '/data'
    """
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "softmaxkit"


def search_roots(root=None) -> list[Path]:
    """The data roots :func:`~softmaxkit.datasets.load` searches, in order, without duplicates.

    Examples
    --------
    >>> search_roots("/data")[0].as_posix()
    '/data'
    """
    roots = []
    if root is not None:
        roots.append(Path(root).expanduser())
    env = os.environ.get(ENV_VAR)
    if env:
        roots.append(Path(env).expanduser())
    roots.append(Path.home() / ".cache" / "softmaxkit")
    unique = []
    for r in roots:
        if r not in unique:
            unique.append(r)
    return unique
