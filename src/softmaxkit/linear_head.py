r"""A linear layer fused with cross-entropy: the loss and gradients of a large-vocabulary output head
without ever holding the ``(N, V)`` logits.

:func:`linear_cross_entropy` computes exactly
``cross_entropy(x @ weight.T + bias, target)`` (PyTorch's ``F.cross_entropy(F.linear(x, weight, bias),
target)``), and :func:`linear_cross_entropy_and_grad` also its gradients with respect to ``x``, ``weight``
and ``bias``, one block of rows at a time::

    for each block B of rows:
        Z = x[B] @ weight.T + bias             # (rows, V), one BLAS call into a reused buffer
        Z = log_softmax(Z)                     # in place; the block's losses are read from it
        G = exp(Z) - (1 - eps) onehot - eps/V  # in place: d loss / d logits of the block
        grad_x[B] = alpha * G @ weight         # one BLAS call
        grad_weight += alpha * G.T @ x[B]      # one BLAS call, accumulated in place (beta = 1)
        grad_bias += alpha * G.T @ 1

A block holds full rows of logits, so the softmax (and so the gradient) is exact, with the same three
matrix products as the materialised computation (``6 N D V`` flops for loss and gradients) and no
recomputation. The extra memory is the block buffer, ``rows * V`` floats, whatever ``N`` is: with the
default block (about 32 MiB of logits, at least 128 rows: :func:`default_chunk_size`) a float32 head
of ``N = 16384`` rows and ``V = 131072`` classes needs a 64 MiB buffer where the materialised logits
alone take 8 GiB (and their gradient as much again).
The outputs themselves (``grad_x`` of ``x``'s shape, ``grad_weight`` of ``weight``'s) are of course
allocated, unless written into ``out=`` arrays.

Semantics follow :func:`softmaxkit.cross_entropy` (so PyTorch's, for integer class labels):
``ignore_index=None`` (the default) ignores nothing (PyTorch's default is ``-100``: pass
``ignore_index=-100`` for it); ignored rows cost nothing (they are left out of the matrix products),
contribute a 0 loss and get a 0 gradient; ``reduction="mean"`` divides by the number of rows not
ignored and is NaN when every row is ignored (the gradients are then 0). NaN or infinite values in
``x``, ``weight`` or ``bias`` are not errors: they give the loss the materialised logits would.

Dtypes: ``x``, ``weight`` and ``bias`` must be floating arrays. They are computed in their common
dtype (``numpy.result_type``; float16 computes in float32, ``longdouble`` in float64): float64 input
computes in float64, float32 in float32 with the reduced loss summed in float64. The loss has the
common dtype; each gradient has the dtype of its argument, as an optimizer updating that parameter in
place expects. ``x`` and ``weight`` are read in place when they are of the compute dtype and
C-contiguous (``weight`` may also be Fortran-contiguous: the transpose of a ``(D, V)`` array, the
layout of :class:`softmaxkit.nn.Dense`); otherwise they are converted once, a copy of their size. Arrays of other libraries (PyTorch tensors, ...) are copied to NumPy arrays
(:func:`softmaxkit._validation.to_numpy`); the results are NumPy arrays.
"""

from __future__ import annotations

import functools

import numpy as np

from ._validation import (
    FRACTION,
    Integer,
    Options,
    OrNone,
    check_labels,
    check_out,
    compute_dtype,
    to_numpy,
    validate,
)
from .kernels import log_softmax

__all__ = ["linear_cross_entropy", "linear_cross_entropy_and_grad", "default_chunk_size"]

_REDUCTIONS = ("mean", "sum", "none")
_CONSTRAINTS = {
    "reduction": Options(*_REDUCTIONS),
    "label_smoothing": FRACTION,
    "ignore_index": OrNone(Integer()),
    "chunk_size": OrNone(Integer(1)),
}

#: The default block holds about this many bytes of logits: big enough that the three matrix products
#: run at the BLAS's full speed, small enough to be a small fraction of any head worth fusing.
_BLOCK_BYTES = 32 * 2**20
#: ... and at least this many rows (fewer slow the matrix products down: at ``D = 512`` a block of 64
#: rows ran them about 20% slower than 128 or more), at most this many.
_MIN_ROWS = 128
_MAX_ROWS = 1024


def default_chunk_size(n_classes: int, dtype=np.float32) -> int:
    """Rows per block when ``chunk_size=None``: about 32 MiB of logits, between 128 and 1024 rows.

    Parameters
    ----------
    n_classes : int
        ``V``, the width of a row of logits.
    dtype : dtype, default float32
        The dtype the head computes in.

    Examples
    --------
    >>> default_chunk_size(32768), default_chunk_size(131072), default_chunk_size(10)
    (256, 128, 1024)
    """
    row_bytes = max(int(n_classes), 1) * np.dtype(dtype).itemsize
    return int(min(max(_BLOCK_BYTES // row_bytes, _MIN_ROWS), _MAX_ROWS))


@functools.cache
def _blas(dtype: np.dtype):
    """SciPy's ``(gemm, gemv)`` for ``dtype``, imported on first use (``import softmaxkit`` stays fast)."""
    from scipy.linalg import blas

    return (blas.sgemm, blas.sgemv) if dtype == np.float32 else (blas.dgemm, blas.dgemv)


def _float_matrix(a, fname, argname, ndim):
    arr = to_numpy(a, fname, argname)
    if arr.dtype.kind != "f":
        raise TypeError(f"{fname}: {argname} must be a floating-point array, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        shape = {"x": "(n_samples, n_features)", "weight": "(n_classes, n_features)", "bias": "(n_classes,)"}[argname]
        raise ValueError(f"{fname}: {argname} must be {ndim}-d of shape {shape}, got shape {arr.shape}")
    return arr


def _own_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype of a gradient: its argument's, float64 for the floats NumPy computes no BLAS in."""
    return dtype if dtype in (np.float16, np.float32, np.float64) else np.dtype(np.float64)


class _Head:
    """Checked arguments of one call, in the compute dtype and C-contiguous."""

    def __init__(self, x, weight, bias, target, ignore_index, label_smoothing, reduction, chunk_size, fname):
        self.reduction, self.eps, self.ignore_index, chunk_size = validate(
            fname,
            _CONSTRAINTS,
            reduction=reduction,
            label_smoothing=label_smoothing,
            ignore_index=ignore_index,
            chunk_size=chunk_size,
        )
        xa = _float_matrix(x, fname, "x", 2)
        wa = _float_matrix(weight, fname, "weight", 2)
        n, d = xa.shape
        if wa.shape[1] != d:
            raise ValueError(
                f"{fname}: weight must have shape (n_classes, {d}) (x has {d} features, and weight is laid "
                f"out as torch.nn.Linear's), got {wa.shape}"
            )
        v = wa.shape[0]
        if v == 0:
            raise ValueError(f"{fname}: weight must have at least one row (one per class), got shape {wa.shape}")
        ba = None
        if bias is not None:
            ba = _float_matrix(bias, fname, "bias", 1)
            if ba.shape != (v,):
                raise ValueError(f"{fname}: bias must have shape ({v},) (one per class), got {ba.shape}")
        t = to_numpy(target, fname, "target")
        if t.dtype.kind not in "iu":
            raise TypeError(f"{fname}: target must hold integer class labels, got dtype {t.dtype}")
        if t.shape != (n,):
            raise ValueError(f"{fname}: target must have shape ({n},) (one label per row of x), got {t.shape}")
        check_labels(t, v, fname, ignore_index=self.ignore_index)

        result = np.result_type(*(a.dtype for a in (xa, wa, ba) if a is not None))
        self.result_dtype = _own_dtype(result)
        self.dtype = compute_dtype(self.result_dtype)
        self.grad_dtypes = tuple(None if a is None else _own_dtype(a.dtype) for a in (xa, wa, ba))
        self.x = np.ascontiguousarray(xa, dtype=self.dtype)
        # the weight is read in place in either memory order: (V, D) C-contiguous as torch.nn.Linear's,
        # or Fortran-contiguous, the transpose of a C-contiguous (D, V) array (Dense's layout)
        if wa.dtype == self.dtype and wa.flags.f_contiguous and not wa.flags.c_contiguous:
            self.weight = wa
        else:
            self.weight = np.ascontiguousarray(wa, dtype=self.dtype)
        self.bias = None if ba is None else np.ascontiguousarray(ba, dtype=self.dtype)
        if self.ignore_index is None:
            self.rows = None  # every row is active
            self.labels = t.astype(np.intp, copy=False)
        else:
            self.rows = np.flatnonzero(t != self.ignore_index)
            if self.rows.size == n:
                self.rows = None
            self.labels = (t if self.rows is None else t[self.rows]).astype(np.intp, copy=False)
        self.n, self.d, self.v = n, d, v
        self.n_active = n if self.rows is None else self.rows.size
        self.chunk = default_chunk_size(v, self.dtype) if chunk_size is None else chunk_size

    def weight_operand(self, transposed: bool):
        """``(a, trans)`` for BLAS, Fortran order, such that ``op(a)`` is ``W`` (V, D) or ``W.T`` (D, V)."""
        w = self.weight
        if w.flags.c_contiguous:  # w.T is the Fortran-contiguous (D, V) array
            return w.T, not transposed
        return w, transposed


def _check_grad_output(grad_output, head: _Head, fname):
    """``(alpha, row_factors)``: the scalar that scales every gradient, and per-row factors or None."""
    if grad_output is None:
        scale = 1.0
        factors = None
    elif head.reduction == "none":
        g = to_numpy(grad_output, fname, "grad_output")
        if g.dtype.kind not in "fiu":
            raise TypeError(f"{fname}: grad_output must be a real array, got dtype {g.dtype}")
        if g.shape != (head.n,):
            raise ValueError(
                f"{fname}: with reduction='none', grad_output must have shape ({head.n},) (one value per "
                f"row loss), got {g.shape}"
            )
        scale = 1.0
        factors = g.astype(head.dtype)
        if head.rows is not None:
            factors = factors[head.rows]
    else:
        g = to_numpy(grad_output, fname, "grad_output")
        if g.dtype.kind not in "fiu" or g.shape != ():
            raise TypeError(
                f"{fname}: with reduction={head.reduction!r}, grad_output must be a real scalar, got "
                f"{'dtype ' + str(g.dtype) if g.dtype.kind not in 'fiu' else 'shape ' + str(g.shape)}"
            )
        scale = float(g)
        factors = None
    if head.reduction == "mean" and head.n_active:
        scale /= head.n_active
    return scale, factors


def _check_outs(out, head: _Head, fname):
    """The arrays to write the gradients into: ``out``'s (checked) or None to allocate."""
    if out is None:
        return None, None, None
    if not isinstance(out, tuple) or len(out) != 3:
        raise TypeError(f"{fname}: out must be a tuple (grad_x, grad_weight, grad_bias) of arrays or None")
    shapes = ((head.n, head.d), (head.v, head.d), (head.v,))
    names = ("grad_x", "grad_weight", "grad_bias")
    checked = []
    for arr, shape, dtype, name in zip(out, shapes, head.grad_dtypes, names):
        if arr is not None and dtype is None:
            raise ValueError(f"{fname}: out has a {name} array, but there is no bias")
        checked.append(None if arr is None else check_out(arr, shape, dtype, f"{fname}: {name}"))
    given = [(name, a) for name, a in zip(names, checked) if a is not None]
    for i, (name, a) in enumerate(given):
        for other, b in given[i + 1 :]:
            if np.may_share_memory(a, b):
                raise ValueError(f"{fname}: the out arrays for {name} and {other} share memory")
    return tuple(checked)


def _work_array(out, shape, dtype, inputs):
    """``(array, direct)``: ``out`` itself when the products may write it directly (compute dtype,
    C-contiguous, sharing no memory with an input that is read later), else a new array."""
    if (
        out is not None
        and out.dtype == dtype
        and out.flags.c_contiguous
        and not any(a is not None and np.may_share_memory(out, a) for a in inputs)
    ):
        return np.asarray(out), True
    return np.empty(shape, dtype), False


def _deliver(work, direct, out, dtype):
    """The gradient in its argument's dtype, written into ``out`` when given (returned as given)."""
    if out is None:
        return work.astype(dtype, copy=False)
    if not direct:
        np.copyto(out, work, casting="unsafe")
    return out


def _row_losses(logp, labels, eps, keep, uniform):
    """Each row's loss from its log-probabilities: ``(1 - eps) (-log p_y) + eps / V * sum_c (-log p_c)``."""
    picked = logp[np.arange(len(labels)), labels]
    with np.errstate(invalid="ignore"):  # 0 * inf when eps is 1 and the label has probability 0, as in PyTorch
        loss = 0.0 - picked  # 0.0 - x: a sure hit costs +0, as in losses.py
        if eps:
            loss = keep * loss - uniform * logp.sum(axis=-1)  # pairwise sums along the contiguous rows
    return loss.astype(logp.dtype, copy=False)


def _softmax_grad_in_place(logp, labels, eps, keep, uniform, factors):
    """Turn log-probabilities into ``d loss / d logits = p - (1 - eps) onehot - eps / V``, in place,
    each row times its factor when ``factors`` is given."""
    np.exp(logp, out=logp)
    logp[np.arange(len(labels)), labels] -= keep
    if eps:
        logp -= uniform
    if factors is not None:
        logp *= factors[:, None]


def _run(head: _Head, *, need_grad: bool, scale=1.0, factors=None, outs=(None, None, None)):
    """Loss (reduced as asked) and, with ``need_grad``, the three gradients: the blocked loop."""
    dtype, n, d, v = head.dtype, head.n, head.d, head.v
    x, b, rows = head.x, head.bias, head.rows
    w_op, w_trans = head.weight_operand(transposed=False)  # op = W (V, D)
    wt_op, wt_trans = head.weight_operand(transposed=True)  # op = W.T (D, V)
    eps = head.eps
    per_row = np.zeros(n, dtype) if head.reduction == "none" else None
    total = 0.0  # the reduced loss, summed in float64
    step = max(1, min(head.chunk, head.n_active))
    buf = np.empty((step, v), dtype) if head.n_active else None
    gemm, gemv = _blas(dtype)
    gx = gw = gb = None
    direct = (False, False, False)
    if need_grad:
        inputs = (x, head.weight, b)
        (gx, dx), (gw, dw) = _work_array(outs[0], (n, d), dtype, inputs), _work_array(outs[1], (v, d), dtype, inputs)
        gb, db = (None, False) if b is None else _work_array(outs[2], (v,), dtype, inputs)
        direct = (dx, dw, db)
        if rows is not None or not head.n_active:
            gx[...] = 0  # ignored rows: a zero gradient; the others are overwritten below
        if not head.n_active:
            gw[...] = 0
            if gb is not None:
                gb[...] = 0
    if rows is not None:
        x_block = np.empty((step, d), dtype)
        gx_block = np.empty((step, d), dtype) if need_grad else None
    ones = np.ones(step, dtype) if gb is not None else None  # grad_bias = z.T @ 1, one vector for every block
    keep = dtype.type(1.0 - eps)
    uniform = dtype.type(eps / v)
    for first, lo in enumerate(range(0, head.n_active, step)):
        hi = min(lo + step, head.n_active)
        m = hi - lo
        if rows is None:
            xb = x[lo:hi]
        else:
            xb = np.take(x, rows[lo:hi], axis=0, out=x_block[:m])
        labels = head.labels[lo:hi]
        z = buf[:m]
        # logits: z.T (V, m) = weight (V, D) @ xb.T (D, m), Fortran views of the C-contiguous arrays
        if b is not None:
            z[...] = b
        gemm(1.0, w_op, xb.T, beta=0.0 if b is None else 1.0, c=z.T, trans_a=w_trans, overwrite_c=True)
        log_softmax(z, out=z)
        loss = _row_losses(z, labels, eps, keep, uniform)
        if per_row is not None:
            if rows is None:
                per_row[lo:hi] = loss
            else:
                per_row[rows[lo:hi]] = loss
        else:
            total += float(loss.sum(dtype=np.float64))
        if not need_grad:
            continue
        _softmax_grad_in_place(z, labels, eps, keep, uniform, None if factors is None else factors[lo:hi])
        if d:  # (without features, grad_x and grad_weight are empty)
            # grad_x[B] = scale * z @ weight:  (D, m) = weight.T (D, V) @ z.T (V, m)
            gxb = gx[lo:hi] if rows is None else gx_block[:m]
            gemm(scale, wt_op, z.T, c=gxb.T, trans_a=wt_trans, overwrite_c=True)
            if rows is not None:
                gx[rows[lo:hi]] = gxb
            # grad_weight += scale * z.T @ xb:  (D, V) += xb.T (D, m) @ z (m, V)
            gemm(scale, xb.T, z.T, beta=0.0 if first == 0 else 1.0, c=gw.T, trans_b=True, overwrite_c=True)
        if gb is not None:  # grad_bias += scale * z.T @ 1
            gemv(scale, z.T, ones[:m], beta=0.0 if first == 0 else 1.0, y=gb, overwrite_y=True)
    with np.errstate(over="ignore"):  # a float16 result beyond its range is inf
        if per_row is not None:
            result = per_row.astype(head.result_dtype, copy=False)
        elif head.reduction == "sum":
            result = head.result_dtype.type(total)
        elif head.n_active == 0:  # nothing to average: NaN, as in PyTorch (and losses.py)
            result = head.result_dtype.type(np.nan)
        else:
            result = head.result_dtype.type(total / head.n_active)
    if not need_grad:
        return result
    grads = tuple(
        None if work is None else _deliver(work, was_direct, out, dtype)
        for work, was_direct, out, dtype in zip((gx, gw, gb), direct, outs, head.grad_dtypes)
    )
    return (result, *grads)


def linear_cross_entropy(
    x,
    weight,
    target,
    *,
    bias=None,
    ignore_index=None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    chunk_size=None,
):
    r"""Cross-entropy of the logits ``x @ weight.T + bias`` against integer labels, without forming them.

    Equal to ``cross_entropy(x @ weight.T + bias, target, ...)`` (and to PyTorch's
    ``F.cross_entropy(F.linear(x, weight, bias), target, ...)``): with
    :math:`z_i = W x_i + b` and smoothing :math:`\varepsilon`, the loss of row ``i`` is

    .. math::

        \ell_i = (1 - \varepsilon)\big(-\log p_{i, y_i}\big)
                 + \frac{\varepsilon}{V} \sum_{c} \big(-\log p_{i, c}\big),
        \qquad \log p_i = \operatorname{log\_softmax}(z_i),

    and 0 for rows whose label is ``ignore_index``. The logits are computed ``chunk_size`` rows at a
    time (see :mod:`softmaxkit.linear_head`): the extra memory is one block of ``chunk_size * V``
    floats, whatever the number of rows.

    Parameters
    ----------
    x : array_like of shape (n_samples, n_features)
        Floating-point inputs of the head.
    weight : array_like of shape (n_classes, n_features)
        The head's weights, laid out as ``torch.nn.Linear.weight``.
    target : array_like of int, shape (n_samples,)
        Class labels in ``[0, n_classes)`` (or ``ignore_index``).
    bias : array_like of shape (n_classes,), optional
    ignore_index : int, optional
        Label value whose rows contribute nothing. None (the default) ignores nothing, as in
        :func:`softmaxkit.cross_entropy`; PyTorch's default is ``-100``.
    label_smoothing : float in [0, 1], default 0
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"mean"`` divides the sum by the number of rows not ignored (NaN when all are);
        ``"none"`` returns the per-row losses.
    chunk_size : int, optional
        Rows per block; None chooses :func:`default_chunk_size` (about 32 MiB of logits).

    Returns
    -------
    float or ndarray
        A scalar of the common floating dtype of ``x``, ``weight`` and ``bias``, or the per-row losses
        of shape (n_samples,) for ``reduction="none"``.

    Raises
    ------
    TypeError
        ``x``, ``weight`` or ``bias`` is not a floating-point array, ``target`` not integers, or an option
        of the wrong type.
    ValueError
        Shapes that do not fit together (the message says which), a label out of range, or an option
        out of range.

    See Also
    --------
    linear_cross_entropy_and_grad : the loss and its gradients, in the same blocked pass.
    softmaxkit.cross_entropy : the loss of materialised logits.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit import cross_entropy, linear_cross_entropy
    >>> rng = np.random.default_rng(0)
    >>> x, w, b = rng.standard_normal((5, 3)), rng.standard_normal((7, 3)), rng.standard_normal(7)
    >>> y = np.array([0, 6, 2, 2, 1])
    >>> fused = linear_cross_entropy(x, w, y, bias=b, chunk_size=2)
    >>> bool(np.isclose(fused, cross_entropy(x @ w.T + b, y), rtol=1e-14))
    True

    The logits never overflow, however large:

    >>> float(linear_cross_entropy(np.array([[1e3]]), np.array([[1.0], [0.0]]), np.array([1])))
    1000.0
    """
    fname = "linear_cross_entropy"
    head = _Head(x, weight, bias, target, ignore_index, label_smoothing, reduction, chunk_size, fname)
    return _run(head, need_grad=False)


def linear_cross_entropy_and_grad(
    x,
    weight,
    target,
    *,
    bias=None,
    ignore_index=None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    chunk_size=None,
    grad_output=None,
    out=None,
):
    r""":func:`linear_cross_entropy` and its gradients with respect to ``x``, ``weight`` and ``bias``.

    With :math:`G = \partial L / \partial z` (the fused softmax gradient
    :math:`p_i - (1-\varepsilon) e_{y_i} - \varepsilon / V` of each row, 0 for ignored rows, scaled
    as the reduction is), the gradients are

    .. math::

        \frac{\partial L}{\partial x} = G W, \qquad
        \frac{\partial L}{\partial W} = G^\top x, \qquad
        \frac{\partial L}{\partial b} = G^\top \mathbf{1},

    computed block by block with the block's full rows of logits, so exactly: three matrix products
    in all (as many as the materialised computation), the weight's gradient accumulated in place.

    Parameters
    ----------
    x, weight, target, bias, ignore_index, label_smoothing, reduction, chunk_size
        As for :func:`linear_cross_entropy`.
    grad_output : float or array_like of shape (n_samples,), optional
        The gradient of the final objective with respect to the returned loss, as
        ``loss.backward(grad_output)`` takes it in PyTorch: a scalar for ``"mean"`` and ``"sum"``
        (default 1), one value per row for ``"none"``. Without it, ``"none"`` gives the gradient of
        ``loss.sum()`` (as :func:`softmaxkit.cross_entropy_and_grad` does); per-row values weight the
        rows (sample weights: ``grad_output=w / w.sum()`` gives the gradient of the weighted mean).
    out : tuple (grad_x, grad_weight, grad_bias), optional
        Arrays to write the gradients into (each may be None, ``grad_bias`` must be None without a
        bias), of the shapes and dtypes returned; a ``weight``-shaped array of the compute dtype is
        then accumulated in place, with no temporary. Returned as given.

    Returns
    -------
    loss : float or ndarray
        Exactly what :func:`linear_cross_entropy` returns.
    grad_x : ndarray of shape (n_samples, n_features)
        ``x``'s dtype; 0 in ignored rows.
    grad_weight : ndarray of shape (n_classes, n_features)
        ``weight``'s dtype.
    grad_bias : ndarray of shape (n_classes,) or None
        ``bias``'s dtype; None without a bias.

    Notes
    -----
    With ``reduction="mean"`` and every row ignored, the loss is NaN and every gradient 0 (as
    PyTorch gives). NaN in the inputs propagates to the loss and gradients; it is not an error.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit import cross_entropy_and_grad, linear_cross_entropy_and_grad
    >>> rng = np.random.default_rng(0)
    >>> x, w = rng.standard_normal((5, 3)), rng.standard_normal((7, 3))
    >>> y = np.array([0, 6, 2, 2, 1])
    >>> loss, gx, gw, gb = linear_cross_entropy_and_grad(x, w, y, chunk_size=2)
    >>> _, g = cross_entropy_and_grad(x @ w.T, y)
    >>> bool(np.allclose(gx, g @ w, rtol=1e-13)), bool(np.allclose(gw, g.T @ x, rtol=1e-13)), gb
    (True, True, None)
    """
    fname = "linear_cross_entropy_and_grad"
    head = _Head(x, weight, bias, target, ignore_index, label_smoothing, reduction, chunk_size, fname)
    scale, factors = _check_grad_output(grad_output, head, fname)
    outs = _check_outs(out, head, fname)
    return _run(head, need_grad=True, scale=scale, factors=factors, outs=outs)
