"""Cross-entropy losses: from logits (stable, with a fused gradient), from probabilities, and binary.

Semantics of ``weight``, ``ignore_index``, ``label_smoothing`` and ``reduction`` follow
``torch.nn.functional.cross_entropy`` / ``binary_cross_entropy_with_logits``; the class axis is
``axis=-1`` by default (PyTorch uses dimension 1).

Every array argument (logits, probabilities, targets, weights) goes through
:func:`softmaxkit._validation.to_numpy`, as in :mod:`softmaxkit.kernels`: ndarray subclasses such as
``np.matrix`` are viewed as plain ndarrays (results are plain ndarrays), and masked arrays are
refused with a ``TypeError`` (their mask would be ignored; leave rows out with ``ignore_index`` or
``weight``, or convert deliberately with ``.filled(value)`` or ``np.asarray``).

The class axis is moved last and made C-contiguous once (:func:`_prepare`), so every sum over the
classes is NumPy's pairwise sum along the contiguous axis, as accurate for ``axis=0`` as for the
last axis.

Arrays of other libraries (PyTorch tensors, CuPy and JAX arrays, any array-API array) are computed
with their own library and device, as in :mod:`softmaxkit.kernels` (see there): the loss is a 0-d
array of that library (or its per-row array for ``reduction="none"``) and the gradient an array of
it, with PyTorch's semantics for every option. Every array argument must be of the logits' library
and device (lists and Python scalars are converted; NumPy arrays are refused with a ``TypeError``).
Checks that look at values (labels in range, finite weights and targets, probabilities in [0, 1])
read one boolean from the device, which waits for it: the price of an error instead of a silent
wrong answer.

Dask arrays (logits and/or target; a NumPy one beside them is wrapped, chunked like the Dask one)
go to :func:`cross_entropy`'s lazy Dask path: the result is a Dask array and nothing is computed
until asked. With the class axis in one chunk, each block runs the in-memory loss (per-row losses
bit for bit when the block takes the whole array's path); split across chunks, the log-softmax is
computed exactly by a two-pass logsumexp. ``"sum"`` and ``"mean"`` add per-block sums; labels out
of range and non-finite targets raise the in-memory errors when computed. The other losses of this
module take Dask arrays through the array-API path.
"""

from __future__ import annotations

import numpy as np

from . import _dask_kernels
from ._dask import is_dask
from ._numba import dispatch as _fused
from ._validation import (
    FRACTION,
    Integer,
    Options,
    as_float_array,
    broadcasts_to,
    check_finite,
    check_labels,
    normalize_axis,
    to_numpy,
    uses_array_api,
    validate,
    xp_arguments,
    xp_as_float_array,
    xp_check_finite,
    xp_check_labels,
)
from .kernels import log_sigmoid, log_softmax

__all__ = [
    "cross_entropy",
    "cross_entropy_and_grad",
    "cross_entropy_from_probs",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_and_grad",
]

_REDUCTIONS = ("mean", "sum", "none")
_CONSTRAINTS = {"reduction": Options(*_REDUCTIONS), "label_smoothing": FRACTION, "ignore_index": Integer()}


class _Target:
    """A validated target, class axis moved last. ``labels`` (int) or ``probs`` (float) is set."""

    def __init__(self, labels=None, active=None, probs=None):
        self.labels = labels  # integer labels, ignored entries replaced by 0
        self.active = active  # bool, False where target == ignore_index
        self.probs = probs  # probability targets (label smoothing applied)


def _check_options(weight, label_smoothing, reduction, n_classes, dtype, fname):
    validate(fname, _CONSTRAINTS, reduction=reduction, label_smoothing=label_smoothing)
    if weight is None:
        return None
    w = to_numpy(weight, fname, "weight")
    if w.dtype.kind not in "fiu":
        raise TypeError(f"{fname}: weight must be a numeric array, got dtype {w.dtype}")
    if w.shape != (n_classes,):
        raise ValueError(f"{fname}: weight must have shape ({n_classes},) (one per class), got {w.shape}")
    return check_finite(w.astype(dtype), fname, "weight")


def _check_target(target, logits_shape, axis, n_classes, ignore_index, label_smoothing, dtype, fname):
    t = to_numpy(target, fname, "target")
    batch_shape = logits_shape[:axis] + logits_shape[axis + 1 :]
    if t.dtype.kind in "iu":
        if t.shape != batch_shape:
            raise ValueError(
                f"{fname}: integer target must have shape {batch_shape} (the logits' shape without the "
                f"class axis), got {t.shape}; for probability targets pass a float array of shape "
                f"{tuple(logits_shape)}"
            )
        if ignore_index is not None:
            validate(fname, _CONSTRAINTS, ignore_index=ignore_index)
        check_labels(t, n_classes, fname, ignore_index=ignore_index)
        active = np.ones(t.shape, bool) if ignore_index is None else t != ignore_index
        return _Target(labels=np.where(active, t, 0).astype(np.intp), active=active)
    if t.dtype.kind == "f":
        if ignore_index is not None:
            raise ValueError(f"{fname}: ignore_index applies to integer class labels, not probability targets")
        if t.shape != tuple(logits_shape):
            raise ValueError(
                f"{fname}: probability target must have the logits' shape {tuple(logits_shape)}, got "
                f"{t.shape}; for class labels pass an integer array of shape {batch_shape}"
            )
        # class axis last and C-contiguous, like the logits (see _prepare): the class sums are pairwise
        p = check_finite(np.ascontiguousarray(np.moveaxis(t, axis, -1), dtype=dtype), fname, "target")
        if label_smoothing:
            p = p * dtype.type(1.0 - label_smoothing) + dtype.type(label_smoothing / n_classes)
        return _Target(probs=p)
    raise TypeError(f"{fname}: target must be integer class labels or float probabilities, got dtype {t.dtype}")


def _pick(a: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``a[..., labels]`` entry by entry along the last (class) axis: shape ``labels.shape``."""
    if a.ndim == 2:  # the common layout: plain indexing, several times cheaper than take_along_axis
        return a[np.arange(a.shape[0]), labels]
    return np.take_along_axis(a, labels[..., None], axis=-1)[..., 0]


def _put(a: np.ndarray, labels: np.ndarray, values: np.ndarray) -> None:
    """Set ``a[..., labels] = values`` entry by entry along the last (class) axis, in place."""
    if a.ndim == 2:
        a[np.arange(a.shape[0]), labels] = values
    else:
        np.put_along_axis(a, labels[..., None], values[..., None], axis=-1)


def _loss_from_log_probs(logp, tgt, weight, label_smoothing, reduction):
    """Per-row losses and the 'mean' denominator from log-probabilities (class axis last).

    Index targets: ``l_i = (1 - eps) w_{y_i} (-log p_{i,y_i}) + (eps / C) sum_c w_c (-log p_{i,c})``,
    zero where ignored; the mean divides by ``sum_i w_{y_i}`` over non-ignored rows.
    Probability targets: ``l_i = -sum_c w_c t_{i,c} log p_{i,c}``; the mean divides by the number of rows.
    ``logp`` and the targets are C-contiguous (see :func:`_prepare`), so the sums over the last axis
    are NumPy's pairwise sums.
    """
    n_classes = logp.shape[-1]
    dtype = logp.dtype
    if tgt.labels is not None:
        picked = _pick(logp, tgt.labels)
        w_y = np.ones(tgt.labels.shape, dtype) if weight is None else weight[tgt.labels]
        with np.errstate(invalid="ignore"):  # ignored rows may hold 0 * -inf; they are masked to 0 here
            loss = np.where(tgt.active, 0.0 - w_y * picked, 0).astype(dtype)  # 0.0 - x: a sure hit costs +0
        w_y = np.where(tgt.active, w_y, 0).astype(dtype)
        if label_smoothing:
            eps = dtype.type(label_smoothing)
            with np.errstate(invalid="ignore"):  # a zero weight times log 0 is NaN, as in PyTorch
                smooth = -(logp if weight is None else logp * weight).sum(axis=-1)  # pairwise, unlike a BLAS dot
            smooth = np.where(tgt.active, smooth, 0).astype(dtype)
            loss = (1 - eps) * loss + (eps / n_classes) * smooth
        denom = w_y.sum(dtype=dtype)
    else:
        tw = tgt.probs if weight is None else tgt.probs * weight
        with np.errstate(invalid="ignore"):
            terms = np.where(tw == 0, 0, tw * logp)  # 0 * log 0 = 0
        loss = (0.0 - terms.sum(axis=-1)).astype(dtype)
        denom = dtype.type(loss.size)
    return loss, denom


def _reduce(loss, denom, reduction):
    if reduction == "none":
        return loss
    total = loss.sum(dtype=loss.dtype)
    if reduction == "sum":
        return total
    if denom == 0:  # nothing to average (every row ignored or of zero weight): NaN, as in PyTorch
        return loss.dtype.type(np.nan)
    with np.errstate(invalid="ignore", over="ignore"):
        return loss.dtype.type(total / denom)


def _mean_grad(grad, denom, active):
    """Scale per-row gradients (class axis last) for ``reduction="mean"``, as PyTorch does.

    Rows are divided by the mean's denominator; ignored rows (``active`` False) keep an exact 0 gradient,
    also when every row is ignored. A zero denominator makes the loss ``0/0``, and the other rows NaN.
    """
    if denom == 0:
        grad = np.full_like(grad, np.nan)
    else:
        grad = grad / denom
    if active is None:
        return grad
    return np.where(active[..., None], grad, 0).astype(grad.dtype, copy=False)


def _cast_loss(loss, result_dtype):
    if isinstance(loss, np.ndarray):
        return loss.astype(result_dtype, copy=False)
    return result_dtype.type(loss)


def _prepare(logits, target, axis, weight, ignore_index, label_smoothing, reduction, fname, argname="logits"):
    """Checked arguments, with the logits' class axis moved last and made C-contiguous.

    NumPy sums pairwise only along the contiguous axis (along a strided one the error grows with the
    number of classes), and the fused kernels need this layout anyway: copying here (only when the
    class axis is not already last and contiguous) costs no more than their own copy would.
    """
    z, result_dtype = as_float_array(logits, fname, argname)
    ax = normalize_axis(axis, z.ndim, fname, argname)
    n_classes = z.shape[ax]
    w = _check_options(weight, label_smoothing, reduction, n_classes, z.dtype, fname)
    tgt = _check_target(target, z.shape, ax, n_classes, ignore_index, label_smoothing, z.dtype, fname)
    zl = z if ax == z.ndim - 1 else np.moveaxis(z, ax, -1)
    zl = zl if zl.flags.c_contiguous else np.ascontiguousarray(zl)
    return zl, ax, w, tgt, result_dtype


def cross_entropy(
    logits,
    target,
    *,
    axis: int = -1,
    weight=None,
    ignore_index=None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
):
    r"""Cross-entropy between ``softmax(logits)`` and a target, computed stably from the logits.

    With integer labels ``y`` (shape of ``logits`` without ``axis``), class weights ``w``
    (default 1), smoothing ``eps`` and ``C`` classes, the loss of row ``i`` is

    .. math::

        \ell_i = (1 - \varepsilon)\, w_{y_i} \big(-\log p_{i, y_i}\big)
                 + \frac{\varepsilon}{C} \sum_{c} w_c \big(-\log p_{i, c}\big),
        \qquad \log p_i = \operatorname{log\_softmax}(z_i),

    and 0 for rows whose label equals ``ignore_index``. ``reduction="mean"`` divides the sum by
    :math:`\sum_{i \text{ not ignored}} w_{y_i}` (the number of non-ignored rows when unweighted), so it
    is NaN when every row is ignored; ``"sum"`` returns the sum, ``"none"`` the per-row losses.

    With probability targets ``t`` (a float array of the logits' shape), smoothing first replaces ``t``
    by ``(1 - eps) t + eps / C``, then :math:`\ell_i = -\sum_c w_c t_{i,c} \log p_{i,c}` and ``"mean"``
    divides by the number of rows (not by the weights). Both match ``torch.nn.functional.cross_entropy``.

    Integer labels cost one ``logsumexp`` per row: :math:`-\log p_{y} = \operatorname{logsumexp}(z) - z_y`.

    Parameters
    ----------
    logits : array_like
        Unnormalised scores; ``axis`` is the class axis.
    target : array_like
        Integer class labels, or float probabilities of the logits' shape.
    axis : int, default -1
        The class axis of ``logits``.
    weight : array_like of shape (n_classes,), optional
        Per-class weights.
    ignore_index : int, optional
        Label value whose rows contribute nothing (integer targets only).
    label_smoothing : float in [0, 1], default 0
        Mix the target with the uniform distribution.
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    float or ndarray
        A scalar of the logits' float dtype, or per-row losses for ``reduction="none"``.

    See Also
    --------
    cross_entropy_and_grad : the loss and its gradient in one pass.
    cross_entropy_from_probs : the same from probabilities (less stable).

    Notes
    -----
    PyTorch tensors, CuPy and JAX arrays (any array-API arrays, all of one library and device) are
    computed with their own library, which the results are arrays of (see :mod:`softmaxkit.losses`).
    Dask logits or targets give a lazy Dask array (``weight`` must then be a NumPy array).

    ``logits``, ``target`` and ``weight`` may be any array-like; ``np.matrix`` and other ndarray
    subclasses are treated as plain arrays, and masked arrays are refused with a ``TypeError`` (leave
    rows out with ``ignore_index`` or a zero ``weight``, or convert deliberately with ``.filled(value)``).

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit import cross_entropy
    >>> logits = np.array([[1.6, 3.1, 0.5], [1000.0, 0.0, 0.0]])
    >>> cross_entropy(logits, np.array([1, 0]), reduction="none").round(6)
    array([0.260365, 0.      ])
    >>> round(float(cross_entropy(logits, np.array([1, 0]), label_smoothing=0.1)), 6)
    33.531849
    """
    fname = "cross_entropy"
    if uses_array_api(logits, target, weight):  # Dask arrays too: one check on the NumPy path
        if is_dask(logits, target, weight):
            return _dask_kernels.cross_entropy(
                logits,
                target,
                axis=axis,
                weight=weight,
                ignore_index=ignore_index,
                label_smoothing=label_smoothing,
                reduction=reduction,
                fname=fname,
                kernel=cross_entropy,
                check_options=_check_options,
            )
        return _cross_entropy_array_api(
            logits, target, axis, weight, ignore_index, label_smoothing, reduction, fname, need_grad=False
        )
    zl, _, w, tgt, result_dtype = _prepare(
        logits, target, axis, weight, ignore_index, label_smoothing, reduction, fname
    )
    if tgt.labels is not None and not label_smoothing and zl.size:
        fast = _fused.cross_entropy_rows(zl, tgt.labels, tgt.active)
        if fast is not None:
            w_y = np.ones(tgt.labels.shape, zl.dtype) if w is None else w[tgt.labels]
            w_y = np.where(tgt.active, w_y, 0).astype(zl.dtype)
            loss = (fast * w_y).astype(zl.dtype)
            return _cast_loss(_reduce(loss, w_y.sum(dtype=zl.dtype), reduction), result_dtype)
    logp = log_softmax(zl, axis=-1)
    loss, denom = _loss_from_log_probs(logp, tgt, w, label_smoothing, reduction)
    return _cast_loss(_reduce(loss, denom, reduction), result_dtype)


def cross_entropy_and_grad(
    logits,
    target,
    *,
    axis: int = -1,
    weight=None,
    ignore_index=None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
):
    r""":func:`cross_entropy` and its gradient with respect to the logits, in one fused pass.

    The gradient never forms a Jacobian. For integer labels,

    .. math::

        \frac{\partial \ell_i}{\partial z_{i,j}} = (1-\varepsilon) w_{y_i} (p_{i,j} - [j = y_i])
            + \frac{\varepsilon}{C}\Big(p_{i,j} \sum_c w_c - w_j\Big),

    which is the familiar ``probs - onehot`` without weights or smoothing. For probability targets
    :math:`\partial \ell_i / \partial z_{i,j} = p_{i,j} \sum_c w_c t_{i,c} - w_j t_{i,j}`. The per-row
    gradients are then scaled as the reduction is: divided by the same denominator for ``"mean"``;
    for ``"none"`` the gradient returned is that of ``loss.sum()``. Ignored rows get a zero gradient, also
    when every row is ignored and the mean is NaN (as in PyTorch).

    Arguments are those of :func:`cross_entropy`, checked the same way (masked arrays are refused).

    Returns
    -------
    loss : float or ndarray
        Exactly what :func:`cross_entropy` returns.
    grad : ndarray
        ``d loss / d logits``, of the logits' shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit import cross_entropy_and_grad
    >>> loss, grad = cross_entropy_and_grad(np.array([[1.6, 3.1, 0.5]]), np.array([1]))
    >>> round(float(loss), 6), grad.round(6)
    (0.260365, array([[ 0.171982, -0.22923 ,  0.057248]]))
    """
    fname = "cross_entropy_and_grad"
    if uses_array_api(logits, target, weight):
        return _cross_entropy_array_api(
            logits, target, axis, weight, ignore_index, label_smoothing, reduction, fname, need_grad=True
        )
    zl, ax, w, tgt, result_dtype = _prepare(
        logits, target, axis, weight, ignore_index, label_smoothing, reduction, fname
    )
    dtype = zl.dtype
    n_classes = zl.shape[-1]
    if tgt.labels is not None and w is None and not label_smoothing and zl.size:
        denom = dtype.type(tgt.active.sum())
        scale = 1.0 / float(denom) if reduction == "mean" and denom != 0 else 1.0  # applied in the kernel
        fast = _fused.cross_entropy_grad_rows(zl, tgt.labels, tgt.active, scale=scale)
        if fast is not None:
            loss, grad = fast
            if reduction == "mean" and denom == 0:
                grad = _mean_grad(grad, denom, tgt.active)
            out = _reduce(loss.astype(dtype), denom, reduction)
            return _cast_loss(out, result_dtype), np.moveaxis(grad, -1, ax).astype(result_dtype, copy=False)
    logp = log_softmax(zl, axis=-1)
    loss, denom = _loss_from_log_probs(logp, tgt, w, label_smoothing, reduction)
    p = np.exp(logp)
    eps = dtype.type(label_smoothing)
    if tgt.labels is not None:
        w_y = np.ones(tgt.labels.shape, dtype) if w is None else w[tgt.labels]
        w_y = np.where(tgt.active, w_y, 0).astype(dtype)
        grad = p * ((1 - eps) * w_y)[..., None]
        _put(grad, tgt.labels, _pick(grad, tgt.labels) - (1 - eps) * w_y)
        if label_smoothing:
            w_sum = dtype.type(n_classes) if w is None else w.sum(dtype=dtype)
            w_vec = np.ones(n_classes, dtype) if w is None else w
            smooth = (eps / n_classes) * (p * w_sum - w_vec)
            grad += np.where(tgt.active[..., None], smooth, 0).astype(dtype)
    else:
        tw = tgt.probs if w is None else tgt.probs * w
        grad = p * tw.sum(axis=-1, keepdims=True) - tw
    if reduction == "mean":
        grad = _mean_grad(grad, denom, tgt.active)
    out = _reduce(loss, denom, reduction)
    return _cast_loss(out, result_dtype), np.moveaxis(grad.astype(dtype), -1, ax).astype(result_dtype, copy=False)


def cross_entropy_from_probs(
    probs,
    target,
    *,
    axis: int = -1,
    weight=None,
    ignore_index=None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
):
    r"""The textbook cross-entropy :math:`E = -\sum_i d_i \log y_i` from probabilities ``y``.

    Same target forms, options and reductions as :func:`cross_entropy`, with ``log p = log(probs)``.
    Prefer :func:`cross_entropy` on logits when you have them: a probability that rounded to 0 gives
    an infinite loss here, where the logits still hold the exact answer. Probabilities are not
    clipped: an impossible event (``y = 0`` with ``d > 0``) honestly costs ``inf``.

    Parameters
    ----------
    probs : array_like
        Probabilities in [0, 1] (no NaN), rows along ``axis`` summing to 1.
    target : array_like
        Integer labels, or float target probabilities ``d`` of the same shape as ``probs``.

    Notes
    -----
    PyTorch tensors, CuPy and JAX arrays (any array-API arrays, all of one library and device) are
    computed with their own library, which the results are arrays of (see :mod:`softmaxkit.losses`).

    ``probs``, ``target`` and ``weight`` may be any array-like; ``np.matrix`` and other ndarray
    subclasses are treated as plain arrays, and masked arrays are refused with a ``TypeError`` (leave
    rows out with ``ignore_index`` or a zero ``weight``, or convert deliberately with ``.filled(value)``).

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit import cross_entropy_from_probs
    >>> y = np.array([0.17198205, 0.77077009, 0.05724785])
    >>> round(float(cross_entropy_from_probs(y, np.array(1))), 6)
    0.260365
    >>> float(cross_entropy_from_probs(np.array([[1.0, 0.0]]), np.array([1])))
    inf
    """
    fname = "cross_entropy_from_probs"
    if uses_array_api(probs, target, weight):
        return _cross_entropy_from_probs_array_api(
            probs, target, axis, weight, ignore_index, label_smoothing, reduction, fname
        )
    p, _, w, tgt, result_dtype = _prepare(
        probs, target, axis, weight, ignore_index, label_smoothing, reduction, fname, argname="probs"
    )
    check_finite(p, fname, "probs")
    if p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError(f"{fname}: probs must lie in [0, 1]; got values in [{p.min():g}, {p.max():g}]")
    with np.errstate(divide="ignore"):
        logp = np.log(p)
    loss, denom = _loss_from_log_probs(logp, tgt, w, label_smoothing, reduction)
    return _cast_loss(_reduce(loss, denom, reduction), result_dtype)


def _bce_prepare(logits, target, weight, pos_weight, reduction, fname):
    z, result_dtype = as_float_array(logits, fname, "logits")
    validate(fname, _CONSTRAINTS, reduction=reduction)
    t = to_numpy(target, fname, "target")
    if t.dtype.kind not in "fiub":
        raise TypeError(f"{fname}: target must be numeric (0/1 or probabilities), got dtype {t.dtype}")
    if t.shape != z.shape:
        raise ValueError(f"{fname}: target must have the logits' shape {z.shape}, got {t.shape}")
    t = check_finite(t.astype(z.dtype), fname, "target")
    extras = []
    for name, arr in (("weight", weight), ("pos_weight", pos_weight)):
        if arr is None:
            extras.append(None)
            continue
        a = to_numpy(arr, fname, name)
        if a.dtype.kind not in "fiu":
            raise TypeError(f"{fname}: {name} must be a numeric array, got dtype {a.dtype}")
        try:
            np.broadcast_shapes(a.shape, z.shape)
            if np.broadcast_shapes(a.shape, z.shape) != z.shape:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"{fname}: {name} of shape {a.shape} cannot be broadcast to the logits' shape {z.shape}"
            ) from None
        extras.append(check_finite(a.astype(z.dtype), fname, name))
    return z, t, extras[0], extras[1], result_dtype


def _softplus(x):
    """``log(1 + exp(x))`` without overflow."""
    return -log_sigmoid(-x)


def binary_cross_entropy_with_logits(logits, target, *, weight=None, pos_weight=None, reduction="mean"):
    r"""Binary cross-entropy of ``sigmoid(logits)`` against ``target``, for multi-label classification.

    Each entry is an independent yes/no decision (classes are not exclusive):

    .. math::

        \ell = -w \big[\, p_w\, t \log \sigma(z) + (1 - t) \log(1 - \sigma(z)) \big]
             = w \big[\, p_w\, t \operatorname{softplus}(-z) + (1 - t) \operatorname{softplus}(z) \big],

    with ``weight`` ``w`` broadcast to the logits and ``pos_weight`` ``p_w`` (the weight of positive
    examples, usually one per class on the last axis). Matches
    ``torch.nn.functional.binary_cross_entropy_with_logits``; ``"mean"`` averages over every element.
    Terms with a zero coefficient contribute exactly 0, so ``z = +inf, t = 1`` costs 0 (not NaN).

    Notes
    -----
    PyTorch tensors, CuPy and JAX arrays (any array-API arrays, all of one library and device) are
    computed with their own library, which the results are arrays of (see :mod:`softmaxkit.losses`).

    ``logits``, ``target``, ``weight`` and ``pos_weight`` may be any array-like; ``np.matrix`` and
    other ndarray subclasses are treated as plain arrays, and masked arrays are refused with a
    ``TypeError`` (a zero ``weight`` leaves an entry out; or convert deliberately with
    ``.filled(value)``).

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit import binary_cross_entropy_with_logits
    >>> z = np.array([[3.0, -2.0, 0.0]])
    >>> t = np.array([[1.0, 0.0, 1.0]])
    >>> binary_cross_entropy_with_logits(z, t, reduction="none").round(6)
    array([[0.048587, 0.126928, 0.693147]])
    """
    fname = "binary_cross_entropy_with_logits"
    return _binary_cross_entropy(logits, target, weight, pos_weight, reduction, fname, need_grad=False)


def binary_cross_entropy_with_logits_and_grad(logits, target, *, weight=None, pos_weight=None, reduction="mean"):
    r""":func:`binary_cross_entropy_with_logits` and its gradient with respect to the logits.

    .. math::

        \frac{\partial \ell}{\partial z} = w\big[(1 + (p_w - 1)t)\,\sigma(z) - p_w t\big]

    which is ``sigmoid(z) - t`` without weights; divided by the number of elements for ``"mean"``, and
    for ``"none"`` the gradient of ``loss.sum()``. Arguments are checked as for
    :func:`binary_cross_entropy_with_logits` (masked arrays are refused).

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit import binary_cross_entropy_with_logits_and_grad
    >>> loss, grad = binary_cross_entropy_with_logits_and_grad(np.array([0.0]), np.array([1.0]))
    >>> round(float(loss), 6), grad
    (0.693147, array([-0.5]))
    """
    fname = "binary_cross_entropy_with_logits_and_grad"
    return _binary_cross_entropy(logits, target, weight, pos_weight, reduction, fname, need_grad=True)


def _binary_cross_entropy(logits, target, weight, pos_weight, reduction, fname, *, need_grad):
    """The loss of :func:`binary_cross_entropy_with_logits`, and its gradient when ``need_grad``."""
    if uses_array_api(logits, target, weight, pos_weight):
        return _binary_cross_entropy_array_api(
            logits, target, weight, pos_weight, reduction, fname, need_grad=need_grad
        )
    z, t, w, pw, result_dtype = _bce_prepare(logits, target, weight, pos_weight, reduction, fname)
    pos_coef = t if pw is None else pw * t
    neg_coef = 1 - t
    with np.errstate(invalid="ignore"):
        loss = np.where(pos_coef == 0, 0, pos_coef * _softplus(-z)) + np.where(
            neg_coef == 0, 0, neg_coef * _softplus(z)
        )
    if w is not None:
        loss = loss * w
    loss = loss.astype(z.dtype)
    n = z.dtype.type(loss.size)
    out = _cast_loss(_reduce(loss, n, reduction), result_dtype)
    if not need_grad:
        return out
    sig = np.exp(log_sigmoid(z))
    grad = (pos_coef + neg_coef) * sig - pos_coef
    if w is not None:
        grad = grad * w
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            grad = grad * (z.dtype.type(1) / n)
    return out, grad.astype(z.dtype).astype(result_dtype, copy=False)


# --------------------------------------------------------------------------------------------------
# arrays of other libraries: checked here with the namespace's operations, computed in _array_api


def _numeric_array_api(xp, a, fname, argname):
    if not xp.isdtype(a.dtype, ("real floating", "integral")):
        raise TypeError(f"{fname}: {argname} must be a numeric array, got dtype {a.dtype}")
    return a


def _check_target_array_api(xp, t, logits_shape, axis, n_classes, ignore_index, label_smoothing, dtype, fname):
    """:func:`_check_target` for another library's arrays (class axis moved last)."""
    batch_shape = logits_shape[:axis] + logits_shape[axis + 1 :]
    if xp.isdtype(t.dtype, "integral"):
        if tuple(t.shape) != batch_shape:
            raise ValueError(
                f"{fname}: integer target must have shape {batch_shape} (the logits' shape without the "
                f"class axis), got {tuple(t.shape)}; for probability targets pass a float array of shape "
                f"{logits_shape}"
            )
        active = None
        if ignore_index is not None:
            validate(fname, _CONSTRAINTS, ignore_index=ignore_index)
            info = xp.iinfo(t.dtype)
            # a value outside the dtype's range equals no label (and some libraries refuse the comparison)
            active = t != ignore_index if info.min <= ignore_index <= info.max else xp.ones_like(t, dtype=xp.bool)
        xp_check_labels(xp, t, n_classes, fname, active=active)
        if active is None:
            active = xp.ones_like(t, dtype=xp.bool)
        index_dtype = xp.__array_namespace_info__().default_dtypes()["indexing"]
        return _Target(labels=xp.astype(xp.where(active, t, xp.zeros_like(t)), index_dtype), active=active)
    if xp.isdtype(t.dtype, "real floating"):
        if ignore_index is not None:
            raise ValueError(f"{fname}: ignore_index applies to integer class labels, not probability targets")
        if tuple(t.shape) != logits_shape:
            raise ValueError(
                f"{fname}: probability target must have the logits' shape {logits_shape}, got "
                f"{tuple(t.shape)}; for class labels pass an integer array of shape {batch_shape}"
            )
        p = xp_check_finite(xp, xp.astype(xp.moveaxis(t, axis, -1), dtype), fname, "target")
        if label_smoothing:
            p = p * (1.0 - label_smoothing) + label_smoothing / n_classes
        return _Target(probs=p)
    raise TypeError(f"{fname}: target must be integer class labels or float probabilities, got dtype {t.dtype}")


def _prepare_array_api(logits, target, axis, weight, ignore_index, label_smoothing, reduction, fname, argname="logits"):
    """:func:`_prepare` for another library's arrays: ``(xp, zl, axis, weight, target, label_smoothing,
    result_dtype)`` with the class axis of ``zl`` moved last."""
    xp, logits, target, weight = xp_arguments(fname, **{argname: logits, "target": target, "weight": weight})
    z, result_dtype = xp_as_float_array(xp, logits, fname, argname)
    ax = normalize_axis(axis, z.ndim, fname, argname)
    n_classes = z.shape[ax]
    _, label_smoothing = validate(fname, _CONSTRAINTS, reduction=reduction, label_smoothing=label_smoothing)
    w = None
    if weight is not None:
        weight = _numeric_array_api(xp, weight, fname, "weight")
        if tuple(weight.shape) != (n_classes,):
            raise ValueError(
                f"{fname}: weight must have shape ({n_classes},) (one per class), got {tuple(weight.shape)}"
            )
        w = xp_check_finite(xp, xp.astype(weight, z.dtype), fname, "weight")
    tgt = _check_target_array_api(
        xp, target, tuple(z.shape), ax, n_classes, ignore_index, label_smoothing, z.dtype, fname
    )
    return xp, xp.moveaxis(z, ax, -1), ax, w, tgt, label_smoothing, result_dtype


def _cross_entropy_array_api(
    logits, target, axis, weight, ignore_index, label_smoothing, reduction, fname, *, need_grad
):
    """:func:`cross_entropy` (or with ``need_grad`` :func:`cross_entropy_and_grad`) with the arrays' library."""
    from . import _array_api

    xp, zl, ax, w, tgt, smoothing, result_dtype = _prepare_array_api(
        logits, target, axis, weight, ignore_index, label_smoothing, reduction, fname
    )
    result = _array_api.cross_entropy(
        xp,
        zl,
        labels=tgt.labels,
        active=tgt.active,
        probs=tgt.probs,
        weight=w,
        label_smoothing=smoothing,
        reduction=reduction,
        need_grad=need_grad,
    )
    if not need_grad:
        return _array_api.finish(xp, result, result_dtype, None)
    loss, grad = result
    return _array_api.finish(xp, loss, result_dtype, None), _array_api.finish(
        xp, xp.moveaxis(grad, -1, ax), result_dtype, None
    )


def _cross_entropy_from_probs_array_api(probs, target, axis, weight, ignore_index, label_smoothing, reduction, fname):
    """:func:`cross_entropy_from_probs` with the arrays' library."""
    from . import _array_api

    xp, p, _, w, tgt, smoothing, result_dtype = _prepare_array_api(
        probs, target, axis, weight, ignore_index, label_smoothing, reduction, fname, argname="probs"
    )
    xp_check_finite(xp, p, fname, "probs")
    if bool(xp.any((p < 0) | (p > 1))):  # a scalar read, as every value check
        lo, hi = float(xp.min(p)), float(xp.max(p))
        raise ValueError(f"{fname}: probs must lie in [0, 1]; got values in [{lo:g}, {hi:g}]")
    loss = _array_api.cross_entropy_from_probs(
        xp,
        p,
        labels=tgt.labels,
        active=tgt.active,
        probs=tgt.probs,
        weight=w,
        label_smoothing=smoothing,
        reduction=reduction,
    )
    return _array_api.finish(xp, loss, result_dtype, None)


def _binary_cross_entropy_array_api(logits, target, weight, pos_weight, reduction, fname, *, need_grad):
    """:func:`_binary_cross_entropy` with the arrays' library, checked as :func:`_bce_prepare` checks."""
    from . import _array_api

    xp, logits, t, weight, pos_weight = xp_arguments(
        fname, logits=logits, target=target, weight=weight, pos_weight=pos_weight
    )
    z, result_dtype = xp_as_float_array(xp, logits, fname, "logits")
    validate(fname, _CONSTRAINTS, reduction=reduction)
    shape = tuple(z.shape)
    if not xp.isdtype(t.dtype, ("real floating", "integral", "bool")):
        raise TypeError(f"{fname}: target must be numeric (0/1 or probabilities), got dtype {t.dtype}")
    if tuple(t.shape) != shape:
        raise ValueError(f"{fname}: target must have the logits' shape {shape}, got {tuple(t.shape)}")
    t = xp_check_finite(xp, xp.astype(t, z.dtype), fname, "target")
    extras = []
    for name, a in (("weight", weight), ("pos_weight", pos_weight)):
        if a is not None:
            a = _numeric_array_api(xp, a, fname, name)
            if not broadcasts_to(a.shape, shape):
                raise ValueError(
                    f"{fname}: {name} of shape {tuple(a.shape)} cannot be broadcast to the logits' shape {shape}"
                )
            a = xp_check_finite(xp, xp.astype(a, z.dtype), fname, name)
        extras.append(a)
    result = _array_api.binary_cross_entropy(
        xp, z, t, weight=extras[0], pos_weight=extras[1], reduction=reduction, need_grad=need_grad
    )
    if not need_grad:
        return _array_api.finish(xp, result, result_dtype, None)
    loss, grad = result
    return _array_api.finish(xp, loss, result_dtype, None), _array_api.finish(xp, grad, result_dtype, None)
