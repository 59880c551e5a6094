"""What each named data set is: its files, their SHA-256 digests, its mirror and its class names.

The digests of the MNIST and Fashion-MNIST files are those of the *uncompressed* IDX bytes, so one
digest verifies the official ``.gz`` download, a re-compressed copy (the Debian package strips the
file name from the gzip header, which changes the archive's digest but not its content) and a raw
copy alike. The CIFAR-10 digest is that of the official ``cifar-10-python.tar.gz``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DatasetSpec", "REGISTRY", "get_spec", "normalize_name", "known_size", "DOWNLOADABLE"]

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_SUBDIR = "cifar-10-batches-py"
CIFAR10_BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")
CIFAR10_META = "batches.meta"
CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

FASHION_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


@dataclass(frozen=True)
class DatasetSpec:
    """One downloadable data set.

    Parameters
    ----------
    name : str
        Canonical name, also the subdirectory of the data root (``root/mnist/``).
    kind : {"idx", "cifar"}
        Which reader loads it.
    files : tuple of str
        The files that make it up (IDX: without ``.gz``; CIFAR: the batch files).
    checksums : dict of str to str
        SHA-256 per downloaded file name (IDX: of the uncompressed bytes; CIFAR: of the tarball).
    mirror : str
        Base URL the files are downloaded from (a file's URL is ``mirror + file``).
    downloads : tuple of str
        The file names requested from the mirror.
    class_names : tuple of str
        Names of the labels ``0 .. n_classes - 1`` (CIFAR-10 reads them from ``batches.meta``).
    homepage : str
        Where a user can read about the data and its licence.
    """

    name: str
    kind: str
    files: tuple[str, ...]
    checksums: dict
    mirror: str
    downloads: tuple[str, ...]
    class_names: tuple[str, ...]
    homepage: str


REGISTRY = {
    "mnist": DatasetSpec(
        name="mnist",
        kind="idx",
        files=MNIST_FILES,
        checksums={
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        mirror="https://ossci-datasets.s3.amazonaws.com/mnist/",
        downloads=tuple(f + ".gz" for f in MNIST_FILES),
        class_names=tuple(str(k) for k in range(10)),
        homepage="http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        kind="idx",
        files=MNIST_FILES,
        checksums={
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        mirror="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        downloads=tuple(f + ".gz" for f in MNIST_FILES),
        class_names=FASHION_NAMES,
        homepage="https://github.com/zalandoresearch/fashion-mnist",
    ),
    "cifar10": DatasetSpec(
        name="cifar10",
        kind="cifar",
        files=CIFAR10_BATCHES,
        checksums={CIFAR10_ARCHIVE: "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"},
        mirror="https://www.cs.toronto.edu/~kriz/",
        downloads=(CIFAR10_ARCHIVE,),
        class_names=CIFAR10_NAMES,
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
    ),
}

DOWNLOADABLE = tuple(REGISTRY)

#: Uncompressed size in bytes of each file in :data:`MNIST_FILES` order; MNIST and Fashion-MNIST share
#: the layout (60000 + 10000 images of 28 x 28 bytes after a 16-byte header; labels after 8 bytes).
_MNIST_LAYOUT_SIZES = (16 + 60000 * 28 * 28, 8 + 60000, 16 + 10000 * 28 * 28, 8 + 10000)

# The size of the content with each official digest: a reader stops at it, and a header that
# declares another size is refused before any data is read.
_SIZE_OF_DIGEST = {
    REGISTRY[name].checksums[stem]: size
    for name in ("mnist", "fashion-mnist")
    for stem, size in zip(MNIST_FILES, _MNIST_LAYOUT_SIZES)
}

_ALIASES = {"fashion": "fashion-mnist", "fashionmnist": "fashion-mnist", "cifar-10": "cifar10"}


def normalize_name(name: str) -> str:
    """Canonical spelling of a data set name.

    Examples
    --------
    >>> normalize_name("Fashion_MNIST"), normalize_name("CIFAR-10")
    ('fashion-mnist', 'cifar10')
    """
    key = name.strip().lower().replace("_", "-")
    return _ALIASES.get(key, key)


def get_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of a downloadable data set; ``ValueError`` naming the choices otherwise.

    Examples
    --------
    >>> get_spec("mnist").downloads[0]
    'train-images-idx3-ubyte.gz'
    """
    key = normalize_name(name)
    try:
        return REGISTRY[key]
    except KeyError:
        choices = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown data set {name!r}; downloadable data sets are: {choices}") from None


def known_size(sha256: str | None) -> int | None:
    """The uncompressed size of the official file with digest ``sha256``, or None for any other digest.

    Examples
    --------
    >>> known_size(get_spec("mnist").checksums["t10k-labels-idx1-ubyte"]), known_size("0" * 64)
    (10008, None)
    """
    return _SIZE_OF_DIGEST.get(sha256)
