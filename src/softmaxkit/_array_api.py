"""The kernels and losses written once for any array library, through the array-API standard.

:mod:`softmaxkit.kernels` and :mod:`softmaxkit.losses` send a call here when one of its arrays comes
from a library other than NumPy (a PyTorch tensor, a CuPy or JAX array, any array with
``__array_namespace__``). The computation then runs with that library's own operations, on the
array's device, and returns that library's arrays: nothing is copied to the host and no NumPy
function is called. NumPy input never comes here; it keeps the NumPy reference path and the fused
numba kernels, and importing softmaxkit never imports this module or array-api-compat.

Design
------
- **Division of labour.** The public functions check their arguments first, with the ``xp_``
  functions of :mod:`softmaxkit._validation` (same rules and messages as the NumPy path, applied with
  the namespace's operations), then call one function here with checked arrays in the compute dtype.
  This module only computes: it imports nothing of softmaxkit (it sits beside ``_validation`` at the
  bottom of the import layers) and raises nothing of its own.
- **One namespace.** Every function takes ``xp``, the namespace ``array_api_compat.array_namespace``
  gave for the arguments, and uses only the 2023.12 standard through it: no ``take_along_axis`` or
  ``put_along_axis`` (a one-hot mask picks a label's entry, exactly: the other entries are replaced by
  zeros before the sum), Python scalars only as operands of arithmetic (``where``, ``minimum`` and
  creation functions get 0-d arrays of the right dtype on the array's device). array-api-strict runs
  the tests in 2023.12 mode, without data-dependent shapes.
- **Same semantics as the NumPy reference path**, formula for formula: the max shift, ``log1p`` of
  the sum with one maximal entry left out (so a probability near 1 keeps its relative accuracy),
  ``+inf`` entries sharing the mass, ``-inf`` entries 0, NaN rows NaN, rows of only ``-inf`` NaN
  (``logsumexp`` ``-inf``), masks, the overflow-safe temperature, float16 computed in float32,
  PyTorch's cross-entropy semantics. Where the NumPy path silences a floating-point warning the
  formulas here avoid the invalid operation instead (``log`` of 0, ``0 * inf``), so that libraries
  that warn (array-api-strict, which runs on NumPy) stay quiet in ordinary use.
- **No host round trips.** Data-dependent decisions are made with ``xp.where`` on the device, never
  with a Python ``if`` on an array, so a call never waits for the device (the argument checks that
  read values are the documented exception). The price is a few elementwise passes the NumPy path
  skips when it finds nothing to do (the ``+inf`` limit and the temperature's overflow fallback are
  always computed and selected with ``where``).

Differences from the NumPy path (documented in :mod:`softmaxkit.kernels` and
:mod:`softmaxkit.losses`): integers promote to the library's default float dtype (float32 for
PyTorch); reductions return 0-d arrays of the library rather than NumPy scalars; sums are the
library's own, so results agree with the NumPy path to a few ulps rather than bit for bit (PyTorch
sums in a cascade, about as accurately as NumPy's pairwise sums; along a strided axis NumPy, and so
array-api-strict, adds one term at a time, which the NumPy path avoids by making the class axis
contiguous first, a layout the standard has no way to ask for); libraries that warn on
floating-point overflow (NumPy underneath array-api-strict) may warn where a temperature overflows a
logit, a case the NumPy path silences.
"""

from __future__ import annotations

import math

import array_api_compat

__all__ = [
    "softmax",
    "logsumexp",
    "sigmoid",
    "log_sigmoid",
    "softmax_backward",
    "log_softmax_backward",
    "sigmoid_backward",
    "cross_entropy",
    "cross_entropy_from_probs",
    "binary_cross_entropy",
    "finish",
]


def _const(xp, value, like):
    """``value`` as a 0-d array of ``like``'s dtype on its device (for ``where`` and ``minimum``).

    Made with ``full``, which fills on the device: ``asarray`` of a Python number would copy it from the
    host, and a host-to-device copy waits for the device to finish its queue (PyTorch on CUDA).
    """
    return xp.full((), value, dtype=like.dtype, device=array_api_compat.device(like))


def _size(a) -> int:
    return math.prod(a.shape)


def _one_hot(xp, index, n: int, axis: int, ndim: int):
    """Boolean mask, True where the position along ``axis`` (of ``n``) equals ``index`` (keepdims)."""
    shape = [1] * ndim
    shape[axis] = n
    positions = xp.reshape(xp.arange(n, dtype=index.dtype, device=array_api_compat.device(index)), tuple(shape))
    return positions == index


def finish(xp, result, result_dtype, out):
    """Cast to the result dtype and deliver into ``out`` (checked writable) if given.

    ``result`` is a fresh array, so writing ``out`` last is right even when ``out`` shares memory with
    the inputs.
    """
    if result.dtype != result_dtype:
        result = xp.astype(result, result_dtype)
    if out is None:
        return result
    out[...] = result
    return out


# --------------------------------------------------------------------------------------------------
# the softmax family


def _divide_by_temperature(xp, z, t: float, axis: int):
    """``z / t``; if that overflows a finite logit anywhere, ``(z - row max) / t`` everywhere.

    As the NumPy path: softmax is unchanged by a shift along the class axis, so subtracting each
    row's largest finite logit keeps the result exact when ``|z| / t`` exceeds the floating-point
    range. Both are computed and one is selected on the device (no host round trip).
    """
    tt = _const(xp, t, z)
    scaled = z / tt
    finite = xp.isfinite(z)
    overflow = xp.any(xp.isinf(scaled) & finite)
    finite_max = xp.max(xp.where(finite, z, _const(xp, -math.inf, z)), axis=axis, keepdims=True)
    shift = xp.where(xp.isfinite(finite_max), finite_max, _const(xp, 0.0, z))
    return xp.where(overflow, (z - shift) / tt, scaled)


def _shifted_parts(xp, z, axis: int, mask):
    """``(d, e, m, rest, dead)`` exactly as :func:`softmaxkit.kernels._shifted_parts` returns them.

    ``d = z - m`` (shift 0 where the row maximum ``m`` is infinite; rows holding ``+inf`` replaced by
    their limit, 0 at the ``+inf`` entries and ``-inf`` elsewhere), ``e = exp(d)``, ``rest`` the sum of
    ``e`` without the first maximal entry, ``dead`` the rows with no finite mass.
    """
    zero, neg_inf = _const(xp, 0.0, z), _const(xp, -math.inf, z)
    if mask is not None:
        z = xp.where(mask, z, neg_inf)
    m = xp.max(z, axis=axis, keepdims=True)
    posinf = m == math.inf
    z = xp.where(posinf, xp.where(z == math.inf, zero, neg_inf), z)
    dead = m == -math.inf
    d = z - xp.where(dead | posinf, zero, m)
    e = xp.exp(d)
    first_max = _one_hot(xp, xp.argmax(d, axis=axis, keepdims=True), z.shape[axis], axis, z.ndim)
    rest = xp.where(dead, zero, xp.sum(xp.where(first_max, zero, e), axis=axis, keepdims=True))
    return d, e, m, rest, dead


def softmax(xp, z, axis: int, *, temperature: float, mask, log: bool):
    """Softmax (``log=False``) or log-softmax of the checked float array ``z`` along ``axis``."""
    if _size(z) == 0:
        return xp.empty(z.shape, dtype=z.dtype, device=array_api_compat.device(z))
    if temperature != 1.0:
        z = _divide_by_temperature(xp, z, temperature, axis)
    d, e, _, rest, dead = _shifted_parts(xp, z, axis, mask)
    y = d - xp.log1p(rest) if log else e / (1.0 + rest)
    y = xp.where(dead, _const(xp, math.nan, y), y)
    if mask is not None:
        fully_masked = ~xp.any(mask, axis=axis, keepdims=True)
        y = xp.where(fully_masked, _const(xp, -math.inf if log else 0.0, y), y)
    return y


def logsumexp(xp, z, axis: int, *, keepdims: bool, mask):
    """``log(sum(exp(z)))`` of the checked float array ``z`` along ``axis``."""
    if _size(z) == 0:  # an empty axis sums to 0: -inf (other empty arrays have no values to fill)
        shape = list(z.shape)
        if keepdims:
            shape[axis] = 1
        else:
            del shape[axis]
        return xp.full(tuple(shape), -math.inf, dtype=z.dtype, device=array_api_compat.device(z))
    _, _, m, rest, _ = _shifted_parts(xp, z, axis, mask)
    infinite = xp.isinf(m)
    lse = xp.where(infinite, m, xp.where(infinite, _const(xp, 0.0, m), m) + xp.log1p(rest))
    return lse if keepdims else xp.squeeze(lse, axis=axis)


def sigmoid(xp, z):
    """``1 / (1 + exp(-z))`` evaluating ``exp`` only at ``-|z|``."""
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def log_sigmoid(xp, z):
    """``min(z, 0) - log1p(exp(-|z|))``."""
    return xp.minimum(z, _const(xp, 0.0, z)) - xp.log1p(xp.exp(-xp.abs(z)))


def softmax_backward(xp, y, g, axis: int):
    """``y * (g - sum(y * g))`` along ``axis``."""
    return y * (g - xp.sum(y * g, axis=axis, keepdims=True))


def log_softmax_backward(xp, y, g, axis: int):
    """``g - exp(y) * sum(g)`` along ``axis``."""
    return g - xp.exp(y) * xp.sum(g, axis=axis, keepdims=True)


def sigmoid_backward(xp, y, g):
    """``g * y * (1 - y)``."""
    return g * y * (1 - y)


# --------------------------------------------------------------------------------------------------
# losses (class axis last: the callers move it)


def _times_or_zero(xp, coef, value):
    """``coef * value``, but exactly 0 where ``coef`` is 0 (``0 * inf`` and ``0 * nan`` are 0, as in PyTorch)."""
    zero = _const(xp, 0.0, coef)
    is_zero = coef == 0
    return xp.where(is_zero, zero, coef * xp.where(is_zero, zero, value))


def _safe_log(xp, p):
    """``log(p)`` with ``log(0) = -inf``, without evaluating the log of 0 (no divide-by-zero warning)."""
    is_zero = p == 0
    return xp.where(is_zero, _const(xp, -math.inf, p), xp.log(xp.where(is_zero, _const(xp, 1.0, p), p)))


def _picked_weights(xp, labels, active, weight, dtype):
    """``weight[labels]`` (1 without weights), 0 on ignored rows."""
    if weight is None:
        w_y = xp.ones(labels.shape, dtype=dtype, device=array_api_compat.device(labels))
    else:
        w_y = xp.reshape(xp.take(weight, xp.reshape(labels, (-1,)), axis=0), labels.shape)
    return xp.where(active, w_y, xp.zeros_like(w_y))


def _loss_from_log_probs(xp, logp, labels, active, probs, weight, label_smoothing: float):
    """Per-row losses and the mean's denominator, as :func:`softmaxkit.losses._loss_from_log_probs`.

    Returns ``(loss, denom, one_hot)``; ``one_hot`` marks each row's label (None for probability targets).
    """
    n_classes = logp.shape[-1]
    zero = _const(xp, 0.0, logp)
    if labels is None:
        tw = probs if weight is None else probs * weight
        terms = _times_or_zero(xp, tw, logp)  # 0 * log 0 = 0
        loss = 0.0 - xp.sum(terms, axis=-1)
        return loss, _const(xp, _size(loss), loss), None
    one_hot = _one_hot(xp, xp.expand_dims(labels, axis=-1), n_classes, -1, logp.ndim)
    picked = xp.sum(xp.where(one_hot, logp, zero), axis=-1)  # one entry and zeros: exactly that entry
    w_y = _picked_weights(xp, labels, active, weight, logp.dtype)
    loss = xp.where(active, 0.0 - w_y * xp.where(active, picked, zero), zero)  # 0.0 - x: a sure hit costs +0
    if label_smoothing:
        eps = _const(xp, label_smoothing, logp)
        smooth = -xp.sum(logp if weight is None else logp * weight, axis=-1)  # a zero weight times log 0 is NaN
        loss = (1 - eps) * loss + (eps / n_classes) * xp.where(active, smooth, zero)
    return loss, xp.sum(w_y), one_hot


def _reduce(xp, loss, denom, reduction: str):
    if reduction == "none":
        return loss
    total = xp.sum(loss)
    if reduction == "sum":
        return total
    empty = denom == 0  # nothing to average: NaN, as in PyTorch
    return xp.where(empty, _const(xp, math.nan, total), total / xp.where(empty, _const(xp, 1.0, denom), denom))


def _mean_grad(xp, grad, denom, active):
    """Rows divided by the mean's denominator (all NaN when it is 0); ignored rows an exact 0."""
    empty = denom == 0
    grad = xp.where(empty, _const(xp, math.nan, grad), grad / xp.where(empty, _const(xp, 1.0, denom), denom))
    return grad if active is None else xp.where(xp.expand_dims(active, axis=-1), grad, xp.zeros_like(grad))


def cross_entropy(xp, zl, *, labels, active, probs, weight, label_smoothing: float, reduction: str, need_grad: bool):
    """Cross-entropy of the logits ``zl`` (class axis last); ``(loss, grad)`` when ``need_grad``.

    Exactly one of ``labels`` (integer, with ``active`` False on ignored rows, whose label is 0) and
    ``probs`` (smoothing applied) is given; ``weight`` is per class or None.
    """
    logp = softmax(xp, zl, -1, temperature=1.0, mask=None, log=True)
    loss, denom, one_hot = _loss_from_log_probs(xp, logp, labels, active, probs, weight, label_smoothing)
    out = _reduce(xp, loss, denom, reduction)
    if not need_grad:
        return out
    p = xp.exp(logp)
    if labels is None:
        tw = probs if weight is None else probs * weight
        grad = p * xp.sum(tw, axis=-1, keepdims=True) - tw
    else:
        eps = _const(xp, label_smoothing, zl)
        coef = xp.expand_dims((1 - eps) * _picked_weights(xp, labels, active, weight, zl.dtype), axis=-1)
        grad = p * coef - xp.where(one_hot, coef, xp.zeros_like(coef))
        if label_smoothing:
            n_classes = zl.shape[-1]
            w_sum = _const(xp, n_classes, zl) if weight is None else xp.sum(weight)
            w_vec = _const(xp, 1.0, zl) if weight is None else weight
            smooth = (eps / n_classes) * (p * w_sum - w_vec)
            grad = grad + xp.where(xp.expand_dims(active, axis=-1), smooth, xp.zeros_like(smooth))
    if reduction == "mean":
        grad = _mean_grad(xp, grad, denom, None if labels is None else active)
    return out, grad


def cross_entropy_from_probs(xp, p, *, labels, active, probs, weight, label_smoothing: float, reduction: str):
    """The textbook cross-entropy ``-sum d log p`` from checked probabilities ``p`` (class axis last)."""
    loss, denom, _ = _loss_from_log_probs(xp, _safe_log(xp, p), labels, active, probs, weight, label_smoothing)
    return _reduce(xp, loss, denom, reduction)


def binary_cross_entropy(xp, z, t, *, weight, pos_weight, reduction: str, need_grad: bool):
    """Binary cross-entropy with logits, as :func:`softmaxkit.losses._binary_cross_entropy`."""
    pos_coef = t if pos_weight is None else pos_weight * t
    neg_coef = 1 - t
    # softplus(-z) = -log_sigmoid(z) and softplus(z) = -log_sigmoid(-z)
    loss = _times_or_zero(xp, pos_coef, -log_sigmoid(xp, z)) + _times_or_zero(xp, neg_coef, -log_sigmoid(xp, -z))
    if weight is not None:
        loss = loss * weight
    n = _size(loss)
    out = _reduce(xp, loss, _const(xp, n, loss), reduction)
    if not need_grad:
        return out
    grad = (pos_coef + neg_coef) * xp.exp(log_sigmoid(xp, z)) - pos_coef
    if weight is not None:
        grad = grad * weight
    if reduction == "mean":
        grad = grad * (1 / _const(xp, max(n, 1), grad))  # as the NumPy path: times the reciprocal
    return out, grad
