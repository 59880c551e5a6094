r"""Split conformal prediction: sets of classes that contain the true class with a chosen probability.

Given a classifier's probabilities on a held-out calibration set, :class:`SplitConformal` finds a
threshold on a non-conformity score such that, for a new test point exchangeable with the
calibration points,

.. math::

    1 - \alpha \;\le\; \Pr\big(y_{\text{test}} \in C(x_{\text{test}})\big)
    \;\le\; 1 - \alpha + \frac{1}{n + 1},

the upper bound holding when the scores have no ties. The guarantee is *marginal* (on average over
test points, not for each one), needs no assumption on the model, and is lost if the model was
trained on the calibration data or the test distribution shifts.

**Dask arrays** (calibration sets larger than memory): :meth:`SplitConformal.fit` takes Dask
probabilities and labels, checks them in one pass over the chunks (the in-memory checks and
messages) and finds the same threshold, bit for bit, by exact selection (four passes that count
the scores' bit patterns block by block; nothing is sorted in one place).
Randomised APS draws each block's uniforms from the generator's one stream, jumped ahead to the
block's first row, so the draws, and the threshold, are those of the in-memory fit with the same
``random_state``. :meth:`SplitConformal.predict_sets` of a Dask array is a lazy boolean Dask array.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ._dask import dask_array, import_dask, is_dask, order_statistics, stand_in
from ._validation import (
    OPEN_FRACTION,
    Boolean,
    Options,
    as_float_array,
    check_label_vector,
    check_labels,
    check_labels_first,
    check_score_matrix,
    to_numpy,
    validate,
)
from .exceptions import NotFittedError

__all__ = ["SplitConformal", "coverage", "average_set_size"]

_CONSTRAINTS = {"score": Options("lac", "aps"), "randomized": Boolean(), "alpha": OPEN_FRACTION}


def _conformal_rank(n: int, alpha: float) -> int:
    r"""``ceil((n + 1) (1 - alpha))`` computed exactly.

    ``alpha`` is read as the decimal it prints as (``0.1`` is 1/10, not the nearest double), so
    e.g. ``n = 19, alpha = 0.7`` gives 6, where floating point gives ``ceil(6.000000000000001) = 7``.
    """
    a = Fraction(repr(float(alpha)))
    return math.ceil((n + 1) * (1 - a))


def _class_scores(p, score, u=None):
    """Score of every candidate class, shape (n, k), in the original class order.

    ``u`` (shape (n, 1)): the uniforms of randomised APS, one per row; None for the plain scores.
    """
    if score == "lac":
        return 1.0 - p
    order = np.argsort(-p, axis=1, kind="stable")  # decreasing, ties by lower index
    p_sorted = np.take_along_axis(p, order, axis=1)
    cum = np.cumsum(p_sorted, axis=1)  # mass at or above each rank
    if u is not None:
        cum = (cum - p_sorted) + u * p_sorted
    scores = np.empty_like(p)
    np.put_along_axis(scores, order, cum, axis=1)
    return scores


class SplitConformal:
    r"""Split conformal prediction sets for a probabilistic classifier.

    Scores (larger means "less like the true class"), for probabilities :math:`p` and a candidate
    class :math:`y`:

    - ``"lac"`` (least ambiguous set-valued classifier, Sadinle et al. 2019):
      :math:`s(x, y) = 1 - p_y`. Sets are :math:`\{y : p_y \ge 1 - \hat q\}`, the smallest sets on
      average; they may be empty for an uncertain input and tend to under-cover hard classes.
    - ``"aps"`` (adaptive prediction sets, Romano et al. 2020): with the classes sorted by
      decreasing probability (ties by lower index), :math:`s(x, y) = \sum_{j \text{ ranked at or
      above } y} p_j`, the mass of the classes ranked at or above :math:`y`. Sets are the top
      classes whose cumulative mass is at most :math:`\hat q`, so they grow with the model's
      uncertainty. With ``randomized=True`` the score is
      :math:`\sum_{j \text{ ranked above } y} p_j + U p_y` with :math:`U \sim \mathrm{Uniform}(0, 1)`
      drawn once per sample: the score is then continuous and coverage is :math:`1 - \alpha` up to
      :math:`1/(n+1)`; the deterministic version can over-cover, mainly when one class takes most of
      the mass, and both can return an empty set when the top class alone exceeds :math:`\hat q`.

    Fitting sorts the ``n`` calibration scores :math:`s_{(1)} \le \dots \le s_{(n)}` of the true
    labels and sets

    .. math::

        \hat q = s_{(k)}, \qquad k = \lceil (n + 1)(1 - \alpha) \rceil,

    the finite-sample-corrected empirical quantile at level :math:`k / n` (what
    ``np.quantile(scores, k / n, method="inverted_cdf")`` returns; ``method="higher"``, often seen,
    picks :math:`s_{(k+1)}`, valid but more conservative). The prediction set of a test input is
    :math:`C(x) = \{y : s(x, y) \le \hat q\}`, so it contains the true class exactly when the true
    class's score is at most :math:`\hat q`; by exchangeability that happens with probability at
    least :math:`k/(n+1) \ge 1 - \alpha` (exactly :math:`k/(n+1)` when scores have no ties). If :math:`k > n` (``alpha < 1/(n+1)``: too few calibration
    points for the requested confidence), :math:`\hat q = \infty` and every set holds all classes.

    Parameters
    ----------
    score : {"lac", "aps"}, default "lac"
    randomized : bool, default False
        Randomise the APS score (``score="aps"`` only).
    random_state : None, int or numpy.random.Generator, optional
        Source of the uniform draws of randomised APS: a ``Generator`` is used as given (and
        advanced), an int seeds a new one at ``fit`` so that a fit followed by the same
        ``predict_sets`` calls is reproducible. Row ``i`` of ``n`` rows gets the ``i``-th of
        ``n`` draws, with Dask arrays too (which need a ``PCG64`` or ``PCG64DXSM`` generator,
        the kind ``numpy.random.default_rng`` makes, whose stream can jump ahead to a block).

    Attributes
    ----------
    qhat_ : float
        The score threshold :math:`\hat q` (``inf`` when ``alpha`` is too small for ``n_calib_``).
    threshold_ : float
        Alias of ``qhat_``.
    alpha_ : float
    n_calib_ : int
    n_classes_ : int
    quantile_level_ : float
        :math:`k / n`; above 1 exactly when ``qhat_`` is infinite.
    rng_ : numpy.random.Generator or None
        The generator of the randomised score (None otherwise).

    References
    ----------
    .. [1] A. N. Angelopoulos, S. Bates, "A gentle introduction to conformal prediction and
       distribution-free uncertainty quantification", 2021.
    .. [2] M. Sadinle, J. Lei, L. Wasserman, "Least ambiguous set-valued classifiers with bounded
       error levels", JASA 2019.
    .. [3] Y. Romano, M. Sesia, E. Candès, "Classification with valid and adaptive coverage",
       NeurIPS 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.conformal import SplitConformal, coverage, average_set_size
    >>> probs_cal = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.5, 0.4, 0.1], [0.2, 0.2, 0.6]])
    >>> cp = SplitConformal("lac").fit(probs_cal, np.array([0, 1, 1, 2]), alpha=0.2)
    >>> round(cp.qhat_, 6)   # k = ceil(5 * 0.8) = 4: the largest of the scores 0.3, 0.4, 0.6, 0.4
    0.6
    >>> sets = cp.predict_sets(np.array([[0.8, 0.15, 0.05], [0.5, 0.42, 0.08]]))  # keeps p >= 0.4
    >>> sets
    array([[ True, False, False],
           [ True,  True, False]])
    >>> coverage(np.array([0, 1]), sets), average_set_size(sets)
    (1.0, 1.5)
    """

    def __init__(self, score: str = "lac", *, randomized: bool = False, random_state=None):
        self.score = score
        self.randomized = randomized
        self.random_state = random_state

    def __repr__(self):
        return (
            f"SplitConformal(score={self.score!r}, randomized={self.randomized!r}, random_state={self.random_state!r})"
        )

    def _validate_params(self, fname):
        validate(fname, _CONSTRAINTS, score=self.score, randomized=self.randomized)
        if self.randomized and self.score != "aps":
            raise ValueError(f"{fname}: randomized=True applies to score='aps' only, got score={self.score!r}")

    def _draws(self):
        """Whether the scores are randomised (and draw from ``rng_``)."""
        return self.score == "aps" and self.randomized

    def _scores(self, p):
        """Score of every candidate class, shape (n, k), in the original class order."""
        u = self.rng_.random((p.shape[0], 1)) if self._draws() else None
        return _class_scores(p, self.score, u)

    def fit(self, probs, labels, *, alpha: float = 0.1):
        """Compute ``qhat_`` from calibration probabilities and their true labels.

        Parameters
        ----------
        probs : array_like or dask.array.Array of shape (n_calib, n_classes)
            Probabilities in [0, 1] from a model that was not trained on these samples.
        labels : array_like or dask.array.Array of int, shape (n_calib,)
        alpha : float in (0, 1), default 0.1
            Target miscoverage: sets contain the true class with probability >= 1 - alpha.

        Returns
        -------
        self

        Notes
        -----
        With Dask arrays the data are checked in one pass, and the :math:`k`-th smallest score is
        found exactly in four more (see the module notes): ``qhat_`` is the in-memory one, bit for
        bit. Every pass recomputes the arrays' graph; persist them first if the cluster holds them.

        Examples
        --------
        >>> import dask.array as da
        >>> rng = np.random.default_rng(0)
        >>> probs, labels = rng.dirichlet(np.ones(3), size=1000), rng.integers(0, 3, size=1000)
        >>> eager = SplitConformal("aps", randomized=True, random_state=7).fit(probs, labels)
        >>> lazy = SplitConformal("aps", randomized=True, random_state=7)
        >>> lazy.fit(da.from_array(probs, chunks=300), da.from_array(labels, chunks=300)).qhat_ == eager.qhat_
        True
        """
        fname = "SplitConformal.fit"
        self._validate_params(fname)
        (alpha,) = validate(fname, _CONSTRAINTS, alpha=alpha)
        if is_dask(probs, labels):
            return self._fit_dask(probs, labels, alpha, fname)
        p = check_score_matrix(probs, fname, "probs", probabilities=True)
        y = check_label_vector(labels, p.shape[0], p.shape[1], fname, "labels")
        self._start_rng(fname)
        n = p.shape[0]
        true_scores = self._scores(p)[np.arange(n), y]
        k = _conformal_rank(n, alpha)
        qhat = float(np.partition(true_scores, k - 1)[k - 1]) if k <= n else math.inf
        return self._record(qhat, k, n, p.shape[1], alpha)

    def _fit_dask(self, probs, labels, alpha, fname):
        da = import_dask(fname)
        p, y = _checked_dask_inputs(probs, labels, fname)
        self._start_rng(fname)
        n = p.shape[0]
        draws = (_uniform_draws(self.rng_, y, fname), "i") if self._draws() else ()
        true_scores = da.blockwise(
            _true_scores,
            "i",
            p,
            "ij",
            y,
            "i",
            *draws,
            score=self.score,
            concatenate=True,
            dtype=np.float64,
            meta=np.empty(0, np.float64),
        )
        k = _conformal_rank(n, alpha)
        qhat = order_statistics(true_scores, [k - 1])[0] if k <= n else math.inf
        return self._record(qhat, k, n, p.shape[1], alpha)

    def _start_rng(self, fname):
        if self.randomized:
            try:
                self.rng_ = np.random.default_rng(self.random_state)
            except (TypeError, ValueError):
                raise TypeError(
                    f"{fname}: random_state must be None, an int or a numpy.random.Generator, got {self.random_state!r}"
                ) from None
        else:
            self.rng_ = None

    def _record(self, qhat, k, n, n_classes, alpha):
        self.qhat_ = qhat
        self.alpha_ = alpha
        self.n_calib_ = n
        self.n_classes_ = n_classes
        self.quantile_level_ = k / n
        return self

    @property
    def threshold_(self) -> float:
        """Alias of ``qhat_``."""
        self._check_fitted("SplitConformal.threshold_")
        return self.qhat_

    def _check_fitted(self, fname):
        if not hasattr(self, "qhat_"):
            raise NotFittedError(f"{fname}: this SplitConformal is not fitted yet; call fit(probs, labels) first")

    def predict_sets(self, probs) -> np.ndarray:
        """Prediction sets as a boolean mask: ``sets[i, j]`` is True when class ``j`` is in the set of sample ``i``.

        Parameters
        ----------
        probs : array_like or dask.array.Array of shape (n_samples, n_classes)
            Probabilities from the same model as at ``fit``.

        Returns
        -------
        ndarray or dask.array.Array of bool, shape (n_samples, n_classes)
            Sets can be empty (see the class notes); all True when ``qhat_`` is infinite. For Dask
            ``probs``, a lazy Dask array (each block's values are checked when it is computed);
            randomised APS takes its draws from ``rng_`` now, as in memory, so computing the result
            twice gives the same sets.
        """
        fname = "SplitConformal.predict_sets"
        self._check_fitted(fname)
        if is_dask(probs):
            return self._predict_sets_dask(probs, fname)
        p = check_score_matrix(probs, fname, "probs", probabilities=True)
        self._check_classes(p.shape[1], fname)
        return self._scores(p) <= self.qhat_

    def _check_classes(self, n_classes, fname):
        if n_classes != self.n_classes_:
            raise ValueError(
                f"{fname}: probs have {n_classes} classes, but the predictor was fitted on {self.n_classes_}"
            )

    def _predict_sets_dask(self, probs, fname):
        da = import_dask(fname)
        p = dask_array(probs, fname, "probs", known_chunks=self._draws())
        _check_matrix_kind(p, fname)
        self._check_classes(p.shape[1], fname)
        p = p.astype(np.float64).rechunk({1: -1})
        draws = (_uniform_draws(self.rng_, p[:, 0], fname), "i") if self._draws() else ()
        return da.blockwise(
            _sets,
            "ij",
            p,
            "ij",
            *draws,
            score=self.score,
            qhat=self.qhat_,
            fname=fname,
            dtype=bool,
            meta=np.empty((0, 0), bool),
        )


# ---- Dask arrays


def _check_matrix_kind(p, fname):
    """The checks of ``check_score_matrix`` that read no value: the dtype and the shape (unknown rows pass)."""
    as_float_array(np.empty(0, p.dtype), fname, "probs")
    shape = p.shape
    if len(shape) != 2 or not shape[0] or not shape[1]:
        check_score_matrix(stand_in(np.float64, shape), fname, "probs", probabilities=True)  # raises
        raise AssertionError(f"{fname}: probs of shape {shape} passed the checks meant to refuse them")


def _checked_dask_inputs(probs, labels, fname):
    """``probs`` and ``labels`` checked as ``check_score_matrix`` and ``check_label_vector`` check them, in
    one pass over the chunks, as float64 and int Dask arrays of the same row chunks."""
    da = import_dask(fname)
    import dask

    p = dask_array(probs, fname, "probs") if is_dask(probs) else to_numpy(probs, fname, "probs")
    _check_matrix_kind(p, fname)
    n, k = p.shape
    y = dask_array(labels, fname, "labels") if is_dask(labels) else to_numpy(labels, fname, "labels")
    labels_fit = y.dtype.kind in "iu" and y.shape == (n,)
    rows = p.chunks[0] if is_dask(p) else y.chunks[0] if labels_fit and is_dask(y) else "auto"
    p = (p if is_dask(p) else da.from_array(p, chunks=(rows, k))).astype(np.float64).rechunk((rows, k))
    rows = p.chunks[0]
    p_blocks = p.to_delayed().ravel()
    y_blocks = [None] * len(rows)
    if labels_fit:
        y = (y if is_dask(y) else da.from_array(y, chunks=(rows,))).rechunk((rows,))
        y_blocks = y.to_delayed()
    summarise = dask.delayed(_summarise, pure=True)
    parts = dask.compute(*(summarise(p_b, y_b) for p_b, y_b in zip(p_blocks, y_blocks, strict=True)))
    # the in-memory checks, in their order, given what they read: whether all is finite, the extremes
    if not all(part[0] for part in parts):
        check_score_matrix(np.array([[np.nan]]), fname, "probs", probabilities=True)
    parts = [part for part in parts if len(part) > 1]  # the blocks with rows
    lo, hi = min(part[1] for part in parts), max(part[2] for part in parts)
    check_score_matrix(np.array([[lo, hi]]), fname, "probs", probabilities=True)
    if not labels_fit:
        check_label_vector(stand_in(y.dtype, y.shape), n, None, fname, "labels")
    check_labels(np.array([min(part[3] for part in parts), max(part[4] for part in parts)]), k, fname, argname="labels")
    return p, y


def _summarise(p, y):
    """What the checks read of a block: ``(all finite, min, max[, min label, max label])``, or less if empty."""
    finite = bool(np.isfinite(p).all())
    if not (finite and p.size):
        return (finite,)
    return (finite, p.min(), p.max()) if y is None else (finite, p.min(), p.max(), y.min(), y.max())


def _uniform_draws(rng, rows, fname):
    """The uniforms ``rng.random(n)`` would draw now, as a lazy Dask array chunked as ``rows`` (a 1-D Dask
    array of n rows, chunk sizes known); ``rng`` is moved past them. Each block jumps ahead in a copy of
    the stream to its first row."""
    bit = rng.bit_generator
    if not isinstance(bit, (np.random.PCG64, np.random.PCG64DXSM)):
        raise TypeError(
            f"{fname}: randomized APS on Dask arrays jumps ahead in the generator's stream to each block, which "
            f"needs a PCG64 or PCG64DXSM bit generator (numpy.random.default_rng's); random_state uses "
            f"{type(bit).__name__}: pass an int seed or a numpy.random.default_rng(...) generator"
        )
    state = bit.state
    draws = rows.map_blocks(_uniform_block, kind=type(bit), state=state, dtype=np.float64, meta=np.empty(0))
    bit.advance(rows.shape[0])
    moved = bit.state
    moved["has_uint32"], moved["uinteger"] = state["has_uint32"], state["uinteger"]  # untouched by doubles
    bit.state = moved
    return draws


def _uniform_block(block, *, kind, state, block_info=None):
    bit = kind(0)
    bit.state = state
    bit.advance(block_info[0]["array-location"][0][0])
    return np.random.Generator(bit).random(block.shape[0])


def _true_scores(p, y, u=None, *, score):
    """The score of each row's true class (``u``: the row's uniform of randomised APS)."""
    y = np.asarray(y).astype(np.intp, copy=False)
    scores = _class_scores(np.asarray(p), score, None if u is None else np.asarray(u)[:, None])
    return scores[np.arange(y.shape[0]), y]


def _sets(p, u=None, *, score, qhat, fname):
    """A block of prediction sets, its values checked first."""
    p = check_score_matrix(p, fname, "probs", probabilities=True, allow_empty=True)
    return _class_scores(p, score, None if u is None else u[:, None]) <= qhat


def _check_sets(sets, fname):
    s = to_numpy(sets, fname, "sets")
    if s.dtype != np.bool_:
        raise TypeError(f"{fname}: sets must be a boolean mask, got dtype {s.dtype}")
    if s.ndim != 2 or s.shape[0] == 0:
        raise ValueError(
            f"{fname}: sets must be 2-D of shape (n_samples, n_classes) with n_samples >= 1, got shape {s.shape}"
        )
    return s


def coverage(y_true, sets) -> float:
    r"""Fraction of samples whose prediction set contains the true class: :math:`\frac1n\sum_i [y_i \in C_i]`.

    Parameters
    ----------
    y_true : array_like of int, shape (n_samples,)
    sets : array_like of bool, shape (n_samples, n_classes)
        As returned by :meth:`SplitConformal.predict_sets`.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.conformal import coverage
    >>> coverage(np.array([1, 0, 0]), np.array([[True, False], [True, True], [False, False]]))
    0.3333333333333333
    """
    fname = "coverage"
    check_labels_first(y_true, sets, fname, "sets")
    s = _check_sets(sets, fname)
    y = check_label_vector(y_true, s.shape[0], s.shape[1], fname, "y_true")
    return float(np.mean(s[np.arange(s.shape[0]), y]))


def average_set_size(sets) -> float:
    r"""Mean number of classes per prediction set: :math:`\frac1n\sum_i |C_i|`.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.conformal import average_set_size
    >>> average_set_size(np.array([[True, False], [True, True], [False, False]]))
    1.0
    """
    s = _check_sets(sets, "average_set_size")
    return float(np.mean(s.sum(axis=1)))
