"""The :class:`Dataset` container returned by :func:`softmaxkit.datasets.load`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Dataset"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A labelled image data set with a fixed train/test split.

    Parameters
    ----------
    x_train : ndarray of shape (n_train, channels, height, width)
        Training images, float32, NCHW. For the built-in data sets the values lie in ``[0, 1]``;
        ``scaling`` says how raw pixels were mapped.
    y_train : ndarray of shape (n_train,)
        Training labels, int64, in ``range(len(class_names))``.
    x_test : ndarray of shape (n_test, channels, height, width)
        Test images, same dtype and layout as ``x_train``.
    y_test : ndarray of shape (n_test,)
        Test labels, int64.
    class_names : tuple of str
        ``class_names[k]`` names label ``k``.
    name : str
        The data set's name (``"mnist"``) or the path of a user ``.npz`` file.
    scaling : str
        How the stored pixels became the float values, e.g. ``"uint8 pixel / 255 -> [0, 1]"``.
    source : dict, optional
        How to load the same data again: ``{"kind": "builtin" | "npz" | "folder" | "table", ...}``
        with the name or path, a ``fingerprint`` of the files where they are the user's, and the
        options the loader was called with (seed, image size, target column, ...).
        :func:`softmaxkit.datasets.load_source` reads it back.
    preprocessing : dict, optional
        How a raw input (an image file, a table row) becomes one sample of ``x``, so that prediction
        applies exactly what training saw: for images ``{"kind": "image", "channels", "size",
        "resize", "invert"}``, for tables ``{"kind": "table", "features", "target", "one_hot"}``.
    skipped : tuple of str, optional
        Files of an image folder that could not be read and were left out (with the reason).

    Examples
    --------
    >>> import numpy as np
    >>> ds = Dataset(np.zeros((2, 1, 2, 2), np.float32), np.array([0, 1]),
    ...              np.zeros((1, 1, 2, 2), np.float32), np.array([1]),
    ...              ("a", "b"), "toy", "none")
    >>> ds.n_classes, ds.image_shape
    (2, (1, 2, 2))
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    name: str
    scaling: str
    source: dict = field(default_factory=dict)
    preprocessing: dict = field(default_factory=dict)
    skipped: tuple[str, ...] = ()

    @property
    def n_classes(self) -> int:
        """Number of classes, ``len(class_names)``."""
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """Shape of one sample, e.g. ``(1, 28, 28)``."""
        return tuple(self.x_train.shape[1:])

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, train={self.x_train.shape}, test={self.x_test.shape}, "
            f"n_classes={self.n_classes}, scaling={self.scaling!r})"
        )
