"""Multi-label images made from single-label ones: two images side by side, or one beside a blank half."""

from __future__ import annotations

import numpy as np

from .._validation import FRACTION, Boolean, Integer, check_rng, validate

__all__ = ["pair_images", "is_half_blank", "pick_examples", "describe_pair"]

_CONSTRAINTS = {"n": Integer(0), "n_classes": Integer(1), "p_single": FRACTION, "allow_same": Boolean()}


def pair_images(
    x, y, *, n: int, rng: np.random.Generator, n_classes: int = 10, allow_same: bool = True, p_single: float = 0.2
):
    r"""Multi-label images: two labelled images side by side, or one beside a blank half.

    Each output image is ``concat([left, right], axis=-1)``. With probability ``p_single`` one half
    (left or right, equally likely) is blank (all zeros) and the label set has one class; otherwise
    both halves hold images drawn uniformly from ``x`` (two different rows) and the label set is
    :math:`\{y_\text{left}, y_\text{right}\}`, a single class when both have the same label. So the
    size of the label set varies between 1 and 2, and a multi-label head has to say "just this one"
    as well as "both". An image never has an empty label set.

    Parameters
    ----------
    x : ndarray of shape (n_images, channels, height, width)
        Source images (NCHW), e.g. ``load("digits").x_test``.
    y : ndarray of shape (n_images,)
        Their integer labels in ``[0, n_classes)``.
    n : int
        Number of pair images to make.
    rng : numpy.random.Generator
        Source of every random choice: the same generator state gives the same images.
    n_classes : int, default 10
        Width of the multi-hot labels.
    allow_same : bool, default True
        Allow both halves to hold the same class (label set of one element). With False the two
        halves of a two-image picture always differ in class.
    p_single : float in [0, 1], default 0.2
        Share of images with one blank half.

    Returns
    -------
    x_pairs : ndarray of shape (n, channels, height, 2 * width), float32
    Y : ndarray of shape (n, n_classes), float32
        Multi-hot label sets: ``Y[i, k] == 1`` when class ``k`` appears in image ``i``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.stack([np.full((1, 2, 2), v, np.float32) for v in (0.1, 0.2, 0.3)])
    >>> xp, Y = pair_images(x, np.array([0, 1, 2]), n=4, n_classes=3, rng=np.random.default_rng(0))
    >>> xp.shape, Y.shape, Y.sum(axis=1).tolist()
    ((4, 1, 2, 4), (4, 3), [2.0, 2.0, 2.0, 2.0])
    """
    fname = "pair_images"
    rng = check_rng(rng, fname)
    n, n_classes, p_single, allow_same = validate(
        fname, _CONSTRAINTS, n=n, n_classes=n_classes, p_single=p_single, allow_same=allow_same
    )
    x = np.asarray(x)
    y = np.asarray(y)
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{fname}: x must be a numeric image array, got dtype {x.dtype}")
    if x.ndim != 4:
        raise ValueError(f"{fname}: x must have shape (n_images, channels, height, width), got {x.shape}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"{fname}: y must hold integer class labels, got dtype {y.dtype}")
    if y.shape != (len(x),):
        raise ValueError(f"{fname}: y must have shape ({len(x)},) (one label per image), got {y.shape}")
    if len(x) < 2:
        raise ValueError(f"{fname}: x must hold at least 2 images, got {len(x)}")
    if y.min() < 0 or y.max() >= n_classes:
        bad = int(y.min() if y.min() < 0 else y.max())
        raise ValueError(f"{fname}: y has label {bad}, expected 0 <= label < n_classes = {n_classes}")
    if not allow_same and p_single < 1 and len(np.unique(y)) < 2:
        raise ValueError(f"{fname}: allow_same=False needs images of at least 2 classes, y has one")

    m = len(x)
    first = rng.integers(m, size=n)
    second = (first + rng.integers(1, m, size=n)) % m  # another row, uniformly
    if not allow_same:
        clash = np.flatnonzero(y[first] == y[second])
        while clash.size:  # rejection: redraw the second image where the classes coincide
            second[clash] = (first[clash] + rng.integers(1, m, size=clash.size)) % m
            clash = clash[y[first[clash]] == y[second[clash]]]
    single = rng.random(n) < p_single
    blank_left = rng.random(n) < 0.5

    left, right = x[first].astype(np.float32), x[second].astype(np.float32)
    left[single & blank_left] = 0.0
    right[single & ~blank_left] = 0.0
    Y = np.zeros((n, n_classes), np.float32)
    rows = np.arange(n)
    Y[rows[~(single & blank_left)], y[first[~(single & blank_left)]]] = 1.0
    Y[rows[~(single & ~blank_left)], y[second[~(single & ~blank_left)]]] = 1.0
    return np.concatenate([left, right], axis=-1), Y


def is_half_blank(img) -> bool:
    """Whether one half (left or right) of a pair image is blank, as :func:`pair_images` makes them."""
    w = img.shape[-1] // 2
    return bool(not np.any(img[..., :w]) or not np.any(img[..., w:]))


def pick_examples(x, Y, n):
    """Indices of ``n`` images to show: mostly two-class ones, plus one beside a blank half when there is one."""
    size = np.asarray(Y).sum(axis=1)
    two = np.flatnonzero(size == 2)
    one = [i for i in np.flatnonzero(size == 1)[:50] if is_half_blank(x[i])]
    k_one = min(len(one), 1 if n > 1 else 0)
    chosen = list(two[: n - k_one]) + list(one[:k_one])
    chosen += [i for i in range(len(size)) if i not in chosen][: n - len(chosen)]
    return sorted(int(i) for i in chosen)


def describe_pair(img, true, names) -> str:
    """What a pair image shows, e.g. ``"1 and 7"``, ``"3 and a blank"``, ``"two 4s"``."""
    if len(true) == 2:
        return f"{names[true[0]]} and {names[true[1]]}"
    if len(true) == 1:
        return f"{names[true[0]]} and a blank" if is_half_blank(img) else f"two {names[true[0]]}s"
    return "nothing"
