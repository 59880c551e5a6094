"""What the three calibrators share: the estimator protocol, scores as logits or probabilities, sample
weights, fitting bookkeeping and the JSON form (the maths of each calibrator is in :mod:`.scaling`).

:class:`Calibrator` implements scikit-learn's estimator protocol without importing scikit-learn; the
module docstring of :mod:`softmaxkit.calibration.scaling` says what it promises.
"""

from __future__ import annotations

import inspect
import numbers
import reprlib
import sys
from typing import ClassVar

import numpy as np

from .._dask import is_dask
from .._validation import (
    NON_NEGATIVE,
    Integer,
    Options,
    OrNone,
    as_float_array,
    check_label_vector,
    check_score_matrix,
)
from ..exceptions import NotFittedError
from ..kernels import softmax
from ..losses import cross_entropy, cross_entropy_and_grad
from ._checks import (
    check_probabilities,
    check_sample_weight,
    impossible_labels_error,
    labels_required_error,
    zero_probabilities_error,
)
from ._dask import fit_blocks, transform_blocks

__all__ = ["Calibrator", "CONSTRAINTS", "INPUTS", "mean_nll", "nll_and_grad", "short"]

#: What ``inputs`` accepts: the scores a calibrator is fitted on and then transforms.
INPUTS = ("logits", "probabilities")

CONSTRAINTS = {
    "max_iter": Integer(1),
    "reg": NON_NEGATIVE,
    "bias_reg": OrNone(NON_NEGATIVE),
    "inputs": Options(*INPUTS),
}


class Calibrator:
    """Shared plumbing: the estimator protocol, checks of the scores, NLL bookkeeping, (de)serialisation.

    Subclasses set ``kind``, ``_fitted_names`` (fitted attributes without the trailing ``_``) and
    ``_fitted_ndims``, and implement ``_fit(s, y, w)`` (setting those attributes; ``w`` is None or
    weights summing to 1), ``_fit_blocks(blocks)`` (the same fit of Dask arrays, whose objective
    ``blocks.total`` sums over the chunks: see :mod:`._dask`), ``_apply(s)``, ``_params()`` and
    ``_validate_params(fname)``.
    """

    kind = ""
    _fitted_names: tuple = ()
    #: Dimensions of each fitted attribute (0: a float), for restoring it from JSON.
    _fitted_ndims: ClassVar[dict] = {}
    #: Whether probabilities exactly 0 (log p = -inf) can be transformed; if not, the map in words.
    _maps_zero_probabilities = False
    _map_text = ""

    # ---- fitting and using

    def fit(self, scores, y, sample_weight=None):
        """Learn the map from held-out scores and their true labels by minimising the weighted mean NLL.

        Parameters
        ----------
        scores : array_like or dask.array.Array of shape (n_samples, n_classes)
            Logits (``inputs="logits"``: finite) or probabilities (``inputs="probabilities"``: in
            [0, 1], rows summing to 1) of data the model was not trained on (a validation split).
        y : array_like or dask.array.Array of int, shape (n_samples,)
            True classes, as column indices in ``[0, n_classes)``.
        sample_weight : array_like or dask.array.Array of shape (n_samples,), optional
            Non-negative finite weights with a positive sum; the objective is
            :math:`\\sum_i w_i \\ell_i / \\sum_i w_i`. Rows of weight 0 are dropped (their scores
            are still checked). None weighs every row equally.

        Returns
        -------
        self

        Notes
        -----
        If any of ``scores``, ``y``, ``sample_weight`` is a Dask array (data larger than memory), the
        data are checked in one pass over the chunks (the same checks and messages as in memory), and
        every evaluation of the objective and its gradient is one more pass: each block's NLL sum and
        gradient sum are computed with NumPy and only those small sums travel. The optimiser runs
        here as in memory, from the same start, so the fit differs from the in-memory one only by
        the rounding of the sums: the temperature by 1e-12 relative at most; vector and matrix
        scaling as far as L-BFGS-B's stopping rule lets two runs on the same objective stop apart
        (well under 1e-7 on well-conditioned data; on an ill-conditioned objective, at equal values
        of the objective but not at equal points). Each pass recomputes the arrays' graph: persist
        them first if the cluster can hold them.

        Examples
        --------
        >>> import dask.array as da
        >>> from softmaxkit.calibration import TemperatureScaling
        >>> rng = np.random.default_rng(0)
        >>> z, y = 3 * rng.normal(size=(1000, 4)), rng.integers(0, 4, size=1000)
        >>> lazy = TemperatureScaling().fit(da.from_array(z, chunks=300), da.from_array(y, chunks=300))
        >>> bool(abs(lazy.temperature_ / TemperatureScaling().fit(z, y).temperature_ - 1) < 1e-12)
        True
        >>> probs = lazy.predict_proba(da.from_array(z, chunks=300))   # lazy: nothing computed yet
        >>> type(probs).__name__, probs.shape, probs.compute().shape
        ('Array', (1000, 4), (1000, 4))
        """
        fname = f"{type(self).__name__}.fit"
        self._validate_params(fname)
        if is_dask(scores, y, sample_weight):
            return self._fit_dask(scores, y, sample_weight, fname)
        s, _ = self._scores(scores, fname)
        n, k = s.shape
        if y is None:
            raise labels_required_error(fname)
        y = check_label_vector(y, n, k, fname, "labels")
        w = check_sample_weight(sample_weight, n, fname)
        rows = None  # the rows kept, when rows of weight 0 are dropped
        if w is not None:
            keep = w > 0
            if not keep.all():
                rows = np.flatnonzero(keep)
                s, y, w = s[rows], y[rows], w[rows]
            # equal weights are no weights: the same objective, computed the same way
            w = None if np.all(w == w[0]) else w / w.sum()
        self._check_fit_scores(s, y, fname, rows)
        self._fit(s, y, w)
        self.n_classes_ = k
        self.n_features_in_ = k
        self.nll_before_ = mean_nll(s, y, w)
        self.nll_after_ = mean_nll(self._apply(s), y, w)
        return self

    def _fit_dask(self, scores, y, sample_weight, fname):
        """:meth:`fit` of Dask arrays: one pass of checks, one per evaluation of the objective, one for the NLLs."""
        blocks = fit_blocks(self, scores, y, sample_weight, fname)
        self._fit_blocks(blocks)
        self.n_classes_ = blocks.n_classes
        self.n_features_in_ = blocks.n_classes
        before, after = blocks.total(self._nll_before_and_after, 2)
        self.nll_before_, self.nll_after_ = float(before), float(after)
        return self

    def _nll_before_and_after(self, s, y, w):
        """A block's share of ``nll_before_`` and ``nll_after_`` (``w``: its rows' shares of the mean)."""
        return mean_nll(s, y, w), mean_nll(self._apply(s), y, w)

    def transform(self, scores):
        """Calibrated logits :math:`g(s)`, of the same shape and float dtype as ``scores`` (n_samples, n_classes).

        ``scores`` are of the kind ``fit`` took (``inputs``); with probabilities, :math:`s = \\log p`.
        A Dask array gives a lazy Dask array, computed block by block (bad values in a block raise
        when it is computed).
        """
        fname = f"{type(self).__name__}.transform"
        if is_dask(scores):
            return self._transform_dask(scores, fname, proba=False)
        s, result_dtype = self._fitted_scores(scores, fname)
        return self._apply(s).astype(result_dtype, copy=False)

    def fit_transform(self, scores, y, sample_weight=None):
        """``fit(scores, y, sample_weight).transform(scores)``: the calibrated logits of the fitting data."""
        return self.fit(scores, y, sample_weight).transform(scores)

    def predict_proba(self, scores):
        """Calibrated probabilities ``softmax(transform(scores))`` of shape (n_samples, n_classes).

        A Dask array gives a lazy Dask array, as :meth:`transform` does.
        """
        fname = f"{type(self).__name__}.predict_proba"
        if is_dask(scores):
            return self._transform_dask(scores, fname, proba=True)
        s, result_dtype = self._fitted_scores(scores, fname)
        return softmax(self._apply(s)).astype(result_dtype, copy=False)

    def _transform_dask(self, scores, fname, *, proba):
        self._check_fitted(fname)
        self._validate_params(fname)
        return transform_blocks(self, scores, fname, proba=proba)

    # ---- checking the scores

    def _fitted_scores(self, scores, fname):
        self._check_fitted(fname)
        self._validate_params(fname)
        s, result_dtype = self._scores(scores, fname, n_classes=self.n_classes_)
        if not self._maps_zero_probabilities:
            self._refuse_zero_probabilities(s, fname, None)
        return s, result_dtype

    def _scores(self, scores, fname, n_classes=None):
        """``(float64 array s of shape (n, k), result dtype)``: the logits, or log p for probabilities.

        ``n_classes`` fixes ``k`` (and then ``n = 0`` is allowed: transforming no rows gives no rows).
        """
        argname = "logits" if self.inputs == "logits" else "probabilities"
        arr, result_dtype = as_float_array(scores, fname, argname)
        s = check_score_matrix(arr, fname, argname, probabilities=False, allow_empty=n_classes is not None)
        if n_classes is not None and s.shape[1] != n_classes:
            raise ValueError(
                f"{fname}: {argname} have {s.shape[1]} classes, but the calibrator was fitted on {n_classes}"
            )
        if self.inputs == "probabilities":
            check_probabilities(s, result_dtype, fname)
            with np.errstate(divide="ignore"):
                s = np.log(s)
        return s, result_dtype

    def _check_fit_scores(self, s, y, fname, rows):
        """Refuse what cannot be fitted: labels of probability 0 (an infinite NLL), or zeros the map cannot take.

        ``rows`` (None: all) numbers the rows of ``s`` in the caller's array, for the messages.
        """
        if self.inputs != "probabilities":
            return
        if not self._maps_zero_probabilities:
            self._refuse_zero_probabilities(s, fname, rows)
        impossible = np.flatnonzero(np.isneginf(s[np.arange(s.shape[0]), y]))
        if impossible.size:
            first = impossible[0] if rows is None else rows[impossible[0]]
            raise impossible_labels_error(fname, impossible.size, first)

    def _refuse_zero_probabilities(self, s, fname, rows):
        zeros = np.isneginf(s)
        if zeros.any():
            i, j = np.argwhere(zeros)[0]
            i = i if rows is None else rows[i]
            raise zero_probabilities_error(self, fname, zeros.sum(), i, j)

    # ---- state

    def _is_fitted(self):
        return hasattr(self, "n_classes_")

    def _check_fitted(self, fname):
        if not self._is_fitted():
            raise not_fitted(f"{fname}: this {type(self).__name__} is not fitted yet; call fit(scores, y) first")

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ---- scikit-learn's estimator protocol

    @classmethod
    def _get_param_names(cls):
        """The constructor's keyword-only parameters, sorted (as :class:`sklearn.base.BaseEstimator` lists them)."""
        params = inspect.signature(cls.__init__).parameters.values()
        return sorted(p.name for p in params if p.kind == p.KEYWORD_ONLY)

    def get_params(self, deep=True):
        """The constructor's parameters as stored (``deep`` is accepted; no parameter is an estimator).

        Returns
        -------
        dict of str to object
        """
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Set constructor parameters (checked by the next ``fit``, as scikit-learn does); returns ``self``.

        Raises
        ------
        ValueError
            For a name that is not a parameter (nothing is set then).
        """
        valid = self._get_param_names()
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise ValueError(
                f"{type(self).__name__}.set_params: invalid parameter(s) {unknown}; valid parameters are {valid}"
            )
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __sklearn_is_fitted__(self):
        return self._is_fitted()

    def __sklearn_tags__(self):
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type=None,
            target_tags=TargetTags(required=True),
            transformer_tags=TransformerTags(preserves_dtype=["float64", "float32"]),
            input_tags=InputTags(positive_only=self.inputs == "probabilities"),
        )

    def _more_tags(self):  # scikit-learn < 1.6
        return {
            "requires_y": True,
            "requires_positive_X": self.inputs == "probabilities",
            "preserves_dtype": [np.float64, np.float32],
        }

    # ---- serialisation

    def to_dict(self) -> dict:
        """A JSON-able description: ``{"kind", "params", "fitted"}`` (``fitted`` is None before fit).

        ``params`` holds every constructor parameter, ``inputs`` included; :meth:`from_dict` reads
        dicts written before ``inputs`` existed as ``inputs="logits"``.
        """
        fitted = None
        if self._is_fitted():
            fitted = {"n_classes": int(self.n_classes_), "nll_before": self.nll_before_, "nll_after": self.nll_after_}
            for name in self._fitted_names:
                value = getattr(self, name + "_")
                fitted[name] = value.tolist() if isinstance(value, np.ndarray) else float(value)
        return {"kind": self.kind, "params": self._params(), "fitted": fitted}

    @classmethod
    def from_dict(cls, d):
        """Rebuild a calibrator from :meth:`to_dict`'s output (e.g. after a JSON round trip).

        ``d`` may come from an untrusted file: its keys, the types of its params and fitted numbers
        (finite, of the shapes ``n_classes`` implies) are checked, and a TypeError or ValueError
        says what is wrong. A missing ``params["inputs"]`` (files written before it existed) means
        ``"logits"``.
        """
        fname = f"{cls.__name__}.from_dict"
        check_keys(d, {"kind", "params", "fitted"}, fname, "d")
        if d["kind"] != cls.kind:
            raise ValueError(f"{fname}: d describes kind {short(d['kind'])}, expected {cls.kind!r}")
        obj = cls._from_params(d["params"], fname)
        fitted = d["fitted"]
        if fitted is None:
            return obj
        check_keys(fitted, {"n_classes", "nll_before", "nll_after", *obj._fitted_names}, fname, "d['fitted']")
        k = fitted["n_classes"]
        if not (is_integer(k) and k >= 1):
            raise TypeError(f"{fname}: d['fitted']['n_classes'] must be a positive integer, got {short(k)}")
        obj.nll_before_ = restored_number(fitted["nll_before"], fname, "nll_before")
        obj.nll_after_ = restored_number(fitted["nll_after"], fname, "nll_after")
        for name, ndim in obj._fitted_ndims.items():
            setattr(obj, name + "_", restored_array(fitted[name], ndim, fname, name))
        obj.n_classes_ = obj.n_features_in_ = int(k)
        obj._check_restored(fname)
        return obj

    @classmethod
    def _from_params(cls, params, fname):
        """A new calibrator from the ``params`` of :meth:`to_dict`, validated as :meth:`fit` would."""
        if not isinstance(params, dict):
            raise TypeError(f"{fname}: d['params'] must be a dict, got {short(params)}")
        params = dict(params)
        inputs = params.get("inputs", "logits")
        if not (isinstance(inputs, str) and inputs in INPUTS):  # checked here to quote a hostile value briefly
            raise ValueError(f"{fname}: inputs must be {CONSTRAINTS['inputs'].describe()}, got {short(inputs)}")
        if isinstance(params.get("bounds"), list):
            params["bounds"] = tuple(params["bounds"])
        try:
            obj = cls(**params)
        except TypeError as exc:
            raise ValueError(f"{fname}: bad params {short(params)}: {exc}") from None
        obj._validate_params(fname)
        return obj

    def _check_restored(self, fname):
        pass


def mean_nll(g, y, w) -> float:
    """Mean NLL of the labels under ``softmax(g)``, weighted by ``w`` (summing to 1) unless None."""
    if w is None:
        return float(cross_entropy(g, y))
    return float(w @ cross_entropy(g, y, reduction="none"))


def nll_and_grad(g, y, w):
    """:func:`mean_nll` and its gradient with respect to ``g`` (``probs - onehot`` times each row's share)."""
    if w is None:
        loss, grad = cross_entropy_and_grad(g, y)
        return float(loss), grad
    losses, grad = cross_entropy_and_grad(g, y, reduction="none")  # the gradient of losses.sum()
    return float(w @ losses), grad * w[:, None]


# ---- checks of arrays and errors


def not_fitted(message):
    """A :class:`~softmaxkit.exceptions.NotFittedError` that is also scikit-learn's when that is imported.

    Code that can name ``sklearn.exceptions.NotFittedError`` has imported it, so this never imports
    scikit-learn (whose import would double the start-up time of every command).
    """
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    if sklearn_exceptions is None:
        return NotFittedError(message)
    return both_not_fitted(sklearn_exceptions.NotFittedError)(message)


_BOTH: dict = {}


def both_not_fitted(sklearn_class):
    if sklearn_class not in _BOTH:
        _BOTH[sklearn_class] = type(
            "NotFittedError",
            (NotFittedError, sklearn_class),
            {"__module__": __name__, "__reduce__": lambda self: (NotFittedError, self.args)},
        )
    return _BOTH[sklearn_class]


# ---- restoring from JSON that may come from an untrusted file


def check_keys(d, keys: set, fname: str, argname: str) -> None:
    """``d`` is a dict with exactly ``keys``."""
    if not isinstance(d, dict):
        raise TypeError(f"{fname}: {argname} must be a dict, got {short(d)}")
    missing, unknown = keys - set(d), set(d) - keys
    if missing:
        raise ValueError(f"{fname}: {argname} is missing key(s) {sorted(missing)}")
    if unknown:
        raise ValueError(f"{fname}: {argname} has unknown key(s) {short(sorted(unknown, key=str))}")


def is_integer(value) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def restored_number(value, fname: str, name: str) -> float:
    """A bookkeeping number (an NLL): any real number, NaN included (files of softmaxkit 0.1 hold NaN)."""
    if not is_real(value):
        raise TypeError(f"{fname}: d['fitted'][{name!r}] must be a number, got {short(value)}")
    return float(value)


def restored_array(value, ndim: int, fname: str, name: str):
    """A fitted parameter: a finite float (``ndim`` 0) or nested lists of finite numbers, as an ndarray."""
    if not nested_reals(value, ndim):
        expected = "a number" if ndim == 0 else f"a {ndim}-D list of numbers"
        raise TypeError(f"{fname}: d['fitted'][{name!r}] must be {expected}, got {short(value)}")
    try:
        arr = np.array(value, dtype=np.float64)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{fname}: d['fitted'][{name!r}] is not a rectangular array ({exc})") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{fname}: {name} must be finite, got {short(value)}")
    return float(arr) if ndim == 0 else arr


def nested_reals(value, ndim: int) -> bool:
    if ndim == 0:
        return is_real(value)
    return isinstance(value, (list, tuple, np.ndarray)) and all(nested_reals(v, ndim - 1) for v in value)


def short(value) -> str:
    """A short ``repr(value)`` (messages quote values read from untrusted files)."""
    return _REPR.repr(value)


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 60
