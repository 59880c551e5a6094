"""Calibrators of a classifier's logits: temperature, vector and matrix scaling.

Each calibrator learns a small map :math:`g` of the logits on held-out data (never the training
set) by minimising the negative log-likelihood of the labels, and then predicts
``softmax(g(z))``. They share one interface::

    cal = TemperatureScaling().fit(logits_val, labels_val)
    probs = cal.predict_proba(logits_test)      # calibrated probabilities
    z_cal = cal.transform(logits_test)          # calibrated logits
    d = cal.to_dict()                           # JSON-able; calibrator_from_dict(d) restores it

======================  ==========================  ===========  ================
calibrator              map :math:`g(z)`            parameters   keeps the argmax
======================  ==========================  ===========  ================
``TemperatureScaling``  :math:`z / T`               1            yes
``VectorScaling``       :math:`w \\odot z + b`       2K           no
``MatrixScaling``       :math:`W z + b`             K² + K       no
======================  ==========================  ===========  ================

Temperature scaling is the safe default (Guo et al. 2017); the richer maps can fix class-dependent
miscalibration but need more data, and matrix scaling needs its regulariser.
"""

from __future__ import annotations

import math
import numbers
import reprlib
from typing import ClassVar

import numpy as np
from scipy import optimize

from .._validation import (
    NON_NEGATIVE,
    Integer,
    OrNone,
    as_float_array,
    check_label_vector,
    check_score_matrix,
    validate,
)
from ..exceptions import NotFittedError
from ..kernels import softmax
from ..losses import cross_entropy, cross_entropy_and_grad

__all__ = ["TemperatureScaling", "VectorScaling", "MatrixScaling", "calibrator_from_dict"]

_CONSTRAINTS = {"max_iter": Integer(1), "reg": NON_NEGATIVE, "bias_reg": OrNone(NON_NEGATIVE)}


def _check_logits(logits, fname, n_classes=None):
    """Return ``(float64 logits of shape (n, k), result dtype)``; ``n_classes`` fixes ``k`` (and then
    ``n = 0`` is allowed: transforming no rows gives no rows)."""
    z = check_score_matrix(logits, fname, "logits", probabilities=False, allow_empty=n_classes is not None)
    if n_classes is not None and z.shape[1] != n_classes:
        raise ValueError(f"{fname}: logits have {z.shape[1]} classes, but the calibrator was fitted on {n_classes}")
    return z, as_float_array(logits, fname, "logits")[1]


class _LogitCalibrator:
    """Shared plumbing: validation, ``predict_proba``, NLL bookkeeping and (de)serialisation.

    Subclasses set ``kind`` and ``_fitted_names`` (fitted attributes without the trailing ``_``)
    and implement ``_fit(z, y)`` (setting those attributes), ``_apply(z)`` and ``_params()``.
    """

    kind = ""
    _fitted_names: tuple = ()
    #: Dimensions of each fitted attribute (0: a float), for restoring it from JSON.
    _fitted_ndims: ClassVar[dict] = {}

    def fit(self, logits, labels):
        """Learn the map from held-out logits and their true labels by minimising the NLL.

        Parameters
        ----------
        logits : array_like of shape (n_samples, n_classes)
            Finite logits of data the model was not trained on (a validation split).
        labels : array_like of int, shape (n_samples,)
            True classes in ``[0, n_classes)``.

        Returns
        -------
        self
        """
        fname = f"{type(self).__name__}.fit"
        self._validate_params(fname)
        z, _ = _check_logits(logits, fname)
        y = check_label_vector(labels, z.shape[0], z.shape[1], fname, "labels")
        self._fit(z, y)
        self.n_classes_ = z.shape[1]
        self.nll_before_ = float(cross_entropy(z, y))
        self.nll_after_ = float(cross_entropy(self._apply(z), y))
        return self

    def transform(self, logits):
        """Calibrated logits :math:`g(z)`, of the same shape and float dtype as ``logits`` (n_samples, n_classes)."""
        fname = f"{type(self).__name__}.transform"
        self._check_fitted(fname)
        z, result_dtype = _check_logits(logits, fname, self.n_classes_)
        return self._apply(z).astype(result_dtype, copy=False)

    def predict_proba(self, logits):
        """Calibrated probabilities ``softmax(transform(logits))`` of shape (n_samples, n_classes)."""
        fname = f"{type(self).__name__}.predict_proba"
        self._check_fitted(fname)
        z, result_dtype = _check_logits(logits, fname, self.n_classes_)
        return softmax(self._apply(z)).astype(result_dtype, copy=False)

    # ---- state

    def _is_fitted(self):
        return hasattr(self, "n_classes_")

    def _check_fitted(self, fname):
        if not self._is_fitted():
            raise NotFittedError(
                f"{fname}: this {type(self).__name__} is not fitted yet; call fit(logits, labels) first"
            )

    def _validate_params(self, fname):
        pass

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"

    def to_dict(self) -> dict:
        """A JSON-able description: ``{"kind", "params", "fitted"}`` (``fitted`` is None before fit)."""
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
        says what is wrong.
        """
        fname = f"{cls.__name__}.from_dict"
        _check_keys(d, {"kind", "params", "fitted"}, fname, "d")
        if d["kind"] != cls.kind:
            raise ValueError(f"{fname}: d describes kind {_short(d['kind'])}, expected {cls.kind!r}")
        obj = cls._from_params(d["params"], fname)
        fitted = d["fitted"]
        if fitted is None:
            return obj
        _check_keys(fitted, {"n_classes", "nll_before", "nll_after", *obj._fitted_names}, fname, "d['fitted']")
        k = fitted["n_classes"]
        if not (_is_integer(k) and k >= 1):
            raise TypeError(f"{fname}: d['fitted']['n_classes'] must be a positive integer, got {_short(k)}")
        obj.n_classes_ = int(k)
        obj.nll_before_ = _restored_number(fitted["nll_before"], fname, "nll_before")
        obj.nll_after_ = _restored_number(fitted["nll_after"], fname, "nll_after")
        for name, ndim in obj._fitted_ndims.items():
            setattr(obj, name + "_", _restored_array(fitted[name], ndim, fname, name))
        obj._check_restored(fname)
        return obj

    @classmethod
    def _from_params(cls, params, fname):
        """A new calibrator from the ``params`` of :meth:`to_dict`, validated as :meth:`fit` would."""
        if not isinstance(params, dict):
            raise TypeError(f"{fname}: d['params'] must be a dict, got {_short(params)}")
        params = dict(params)
        if isinstance(params.get("bounds"), list):
            params["bounds"] = tuple(params["bounds"])
        try:
            obj = cls(**params)
        except TypeError as exc:
            raise ValueError(f"{fname}: bad params {_short(params)}: {exc}") from None
        obj._validate_params(fname)
        return obj

    def _check_restored(self, fname):
        pass


class TemperatureScaling(_LogitCalibrator):
    r"""Temperature scaling: divide all logits by one learned temperature :math:`T > 0`.

    .. math::

        \hat T = \operatorname*{argmin}_{T} \; -\frac1n \sum_{i=1}^n
            \log \operatorname{softmax}(z_i / T)_{y_i}

    The minimisation runs over :math:`\log T` with a bounded scalar minimiser
    (:func:`scipy.optimize.minimize_scalar`, ``method="bounded"``), so :math:`T` stays positive and
    finite. The NLL is convex in :math:`1/T`, hence unimodal in :math:`\log T`: the bounded search
    finds the global minimum. Dividing by a positive number never changes the argmax, so accuracy
    is untouched; :math:`T > 1` softens over-confident probabilities, :math:`T < 1` sharpens them.

    Parameters
    ----------
    bounds : tuple of float, default (1e-3, 1e3)
        Search interval for :math:`T`. A fitted temperature at a bound means the data want a more
        extreme one (e.g. perfectly separated logits drive :math:`T \to 0`).

    Attributes
    ----------
    temperature_ : float
        The fitted temperature.
    n_classes_ : int
    nll_before_, nll_after_ : float
        Mean NLL of the fitting data before and after scaling.

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On calibration of modern neural networks",
       ICML 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.calibration import TemperatureScaling
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(0.0, 3.0, size=(5000, 4))
    >>> p = np.exp(z / 2) / np.exp(z / 2).sum(axis=1, keepdims=True)   # labels follow softmax(z / 2)
    >>> y = (p.cumsum(axis=1) < rng.random((5000, 1))).sum(axis=1)
    >>> ts = TemperatureScaling().fit(z, y)
    >>> round(ts.temperature_, 1)
    2.0
    >>> bool(ts.nll_after_ < ts.nll_before_)
    True
    >>> np.array_equal(ts.predict_proba(z).argmax(axis=1), z.argmax(axis=1))
    True
    """

    kind = "temperature"
    _fitted_names = ("temperature",)
    _fitted_ndims: ClassVar[dict] = {"temperature": 0}

    def __init__(self, *, bounds=(1e-3, 1e3)):
        self.bounds = bounds

    def _params(self):
        return {"bounds": [float(b) for b in self.bounds]}

    def _validate_params(self, fname):
        b = self.bounds
        if not (isinstance(b, (tuple, list)) and len(b) == 2):
            raise TypeError(f"{fname}: bounds must be a pair (t_min, t_max), got {b!r}")
        if not all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in b):
            raise TypeError(f"{fname}: bounds must hold two real numbers, got {b!r}")
        lo, hi = (float(v) for v in b)
        if not (0 < lo < hi < math.inf):
            raise ValueError(f"{fname}: bounds must satisfy 0 < t_min < t_max < inf, got {b!r}")

    def _fit(self, z, y):
        lo, hi = (math.log(float(v)) for v in self.bounds)

        def objective(log_t):
            return float(cross_entropy(z * math.exp(-log_t), y))

        res = optimize.minimize_scalar(objective, bounds=(lo, hi), method="bounded", options={"xatol": 1e-7})
        self.temperature_ = float(math.exp(res.x))

    def _apply(self, z):
        return z / self.temperature_

    def _check_restored(self, fname):
        if not (self.temperature_ > 0 and math.isfinite(self.temperature_)):
            raise ValueError(f"{fname}: temperature must be positive and finite, got {self.temperature_!r}")


class _LBFGSCalibrator(_LogitCalibrator):
    """Calibrators fitted by L-BFGS-B on the (regularised) NLL with an analytic gradient."""

    def _minimise(self, fun_and_grad, theta0):
        res = optimize.minimize(
            fun_and_grad,
            theta0,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": int(self.max_iter), "gtol": 1e-9, "ftol": 1e-12},
        )
        self.n_iter_ = int(res.nit)
        return res.x


class VectorScaling(_LBFGSCalibrator):
    r"""Vector scaling: a per-class scale and bias of the logits, :math:`g(z) = w \odot z + b`.

    Fitted by minimising the mean NLL with L-BFGS-B from :math:`w = 1, b = 0` (the identity). With
    :math:`G = \partial\,\mathrm{NLL} / \partial g` (``probs - onehot`` over ``n``, from
    :func:`softmaxkit.cross_entropy_and_grad`) the gradient is

    .. math::

        \frac{\partial\,\mathrm{NLL}}{\partial w_k} = \sum_i G_{ik} z_{ik}, \qquad
        \frac{\partial\,\mathrm{NLL}}{\partial b_k} = \sum_i G_{ik}.

    It has :math:`2K` parameters and can change the predicted class (a bias shifts the argmax).

    Parameters
    ----------
    max_iter : int, default 1000
        Maximum L-BFGS iterations.

    Attributes
    ----------
    scale_, bias_ : ndarray of shape (n_classes,)
    n_classes_ : int
    n_iter_ : int
        L-BFGS iterations used (not restored by :meth:`from_dict`).
    nll_before_, nll_after_ : float

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On calibration of modern neural networks",
       ICML 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.calibration import VectorScaling
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(2000, 3))
    >>> y = (z + rng.normal(size=(2000, 3))).argmax(axis=1)
    >>> vs = VectorScaling().fit(3 * z, y)          # over-confident logits
    >>> bool(np.all(vs.scale_ < 0.6))               # shrinks every class's logits
    True
    >>> bool(vs.nll_after_ < vs.nll_before_)
    True
    """

    kind = "vector"
    _fitted_names = ("scale", "bias")
    _fitted_ndims: ClassVar[dict] = {"scale": 1, "bias": 1}

    def __init__(self, *, max_iter: int = 1000):
        self.max_iter = max_iter

    def _params(self):
        return {"max_iter": int(self.max_iter)}

    def _validate_params(self, fname):
        validate(fname, _CONSTRAINTS, max_iter=self.max_iter)

    def _loss_and_grad(self, theta, z, y):
        """Objective and gradient at the packed parameters ``theta = [w, b]``."""
        k = z.shape[1]
        w, b = theta[:k], theta[k:]
        loss, g = cross_entropy_and_grad(z * w + b, y)
        return float(loss), np.concatenate([np.sum(g * z, axis=0), np.sum(g, axis=0)])

    def _fit(self, z, y):
        k = z.shape[1]
        theta = self._minimise(lambda t: self._loss_and_grad(t, z, y), np.concatenate([np.ones(k), np.zeros(k)]))
        self.scale_, self.bias_ = theta[:k].copy(), theta[k:].copy()

    def _apply(self, z):
        return z * self.scale_ + self.bias_

    def _check_restored(self, fname):
        shape = (self.n_classes_,)
        if self.scale_.shape != shape or self.bias_.shape != shape:
            raise ValueError(f"{fname}: scale and bias must have shape {shape}")


class MatrixScaling(_LBFGSCalibrator):
    r"""Matrix scaling with off-diagonal and intercept regularisation (ODIR): :math:`g(z) = W z + b`.

    Minimises, with L-BFGS-B from :math:`W = I, b = 0`,

    .. math::

        \mathrm{NLL}(W, b) + \frac{\lambda}{K(K-1)} \sum_{j \ne k} W_{jk}^2
            + \frac{\mu}{K} \sum_k b_k^2,

    the off-diagonal and intercept regulariser of Kull et al. (2019) (the penalty terms are means,
    so ``reg`` does not need rescaling with :math:`K`). Unregularised matrix scaling has
    :math:`K^2 + K` parameters and over-fits a validation set of modest size; ODIR shrinks only
    the cross-class terms, leaving the diagonal free, so a very large ``reg`` tends to vector
    scaling (without the bias when ``bias_reg`` is large too), never to "no calibration".
    The gradient is :math:`G^\top Z` plus the penalty's, with :math:`G` from
    :func:`softmaxkit.cross_entropy_and_grad`.

    Parameters
    ----------
    reg : float, default 1e-2
        :math:`\lambda`, the weight of the off-diagonal penalty (>= 0).
    bias_reg : float, optional
        :math:`\mu`, the weight of the bias penalty; defaults to ``reg``.
    max_iter : int, default 1000

    Attributes
    ----------
    weight_ : ndarray of shape (n_classes, n_classes)
    bias_ : ndarray of shape (n_classes,)
    n_classes_ : int
    n_iter_ : int
        L-BFGS iterations used (not restored by :meth:`from_dict`).
    nll_before_, nll_after_ : float
        Plain (unregularised) NLL of the fitting data.

    References
    ----------
    .. [1] M. Kull, M. Perello-Nieto, M. Kängsepp, T. Silva Filho, H. Song, P. Flach, "Beyond
       temperature scaling: obtaining well-calibrated multiclass probabilities with Dirichlet
       calibration", NeurIPS 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.calibration import MatrixScaling
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(2000, 3))
    >>> y = (z + rng.normal(size=(2000, 3))).argmax(axis=1)
    >>> ms = MatrixScaling(reg=1e-2).fit(3 * z, y)
    >>> ms.weight_.shape, ms.bias_.shape
    ((3, 3), (3,))
    >>> bool(ms.nll_after_ < ms.nll_before_)
    True
    """

    kind = "matrix"
    _fitted_names = ("weight", "bias")
    _fitted_ndims: ClassVar[dict] = {"weight": 2, "bias": 1}

    def __init__(self, *, reg: float = 1e-2, bias_reg=None, max_iter: int = 1000):
        self.reg = reg
        self.bias_reg = bias_reg
        self.max_iter = max_iter

    def _params(self):
        return {
            "reg": float(self.reg),
            "bias_reg": None if self.bias_reg is None else float(self.bias_reg),
            "max_iter": int(self.max_iter),
        }

    def _validate_params(self, fname):
        validate(fname, _CONSTRAINTS, reg=self.reg, bias_reg=self.bias_reg, max_iter=self.max_iter)

    def _loss_and_grad(self, theta, z, y):
        """Regularised objective and gradient at the packed parameters ``theta = [W.ravel(), b]``."""
        k = z.shape[1]
        lam = float(self.reg) / (k * (k - 1)) if k > 1 else 0.0
        mu = float(self.reg if self.bias_reg is None else self.bias_reg) / k
        w, b = theta[: k * k].reshape(k, k), theta[k * k :]
        loss, g = cross_entropy_and_grad(z @ w.T + b, y)
        w_off = w - np.diag(np.diag(w))
        loss = float(loss) + lam * np.sum(w_off * w_off) + mu * np.sum(b * b)
        grad_w = g.T @ z + 2 * lam * w_off
        grad_b = g.sum(axis=0) + 2 * mu * b
        return loss, np.concatenate([grad_w.ravel(), grad_b])

    def _fit(self, z, y):
        k = z.shape[1]
        theta0 = np.concatenate([np.eye(k).ravel(), np.zeros(k)])
        theta = self._minimise(lambda t: self._loss_and_grad(t, z, y), theta0)
        self.weight_ = theta[: k * k].reshape(k, k).copy()
        self.bias_ = theta[k * k :].copy()

    def _apply(self, z):
        return z @ self.weight_.T + self.bias_

    def _check_restored(self, fname):
        k = self.n_classes_
        if self.weight_.shape != (k, k) or self.bias_.shape != (k,):
            raise ValueError(f"{fname}: weight must have shape ({k}, {k}) and bias ({k},)")


_REGISTRY = {cls.kind: cls for cls in (TemperatureScaling, VectorScaling, MatrixScaling)}


def calibrator_from_dict(d):
    """Rebuild any calibrator from its :meth:`to_dict` output, dispatching on ``d["kind"]``.

    Examples
    --------
    >>> import json
    >>> import numpy as np
    >>> from softmaxkit.calibration import TemperatureScaling, calibrator_from_dict
    >>> z = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]])
    >>> ts = TemperatureScaling().fit(z, np.array([0, 1, 1, 1]))
    >>> restored = calibrator_from_dict(json.loads(json.dumps(ts.to_dict())))
    >>> restored.temperature_ == ts.temperature_
    True
    """
    fname = "calibrator_from_dict"
    if not isinstance(d, dict):
        raise TypeError(f"{fname}: d must be a dict, got {type(d).__name__}")
    kind = d.get("kind")
    if not isinstance(kind, str) or kind not in _REGISTRY:
        options = " | ".join(repr(k) for k in _REGISTRY)
        raise ValueError(f"{fname}: d['kind'] must be one of {options}, got {_short(kind)}")
    return _REGISTRY[kind].from_dict(d)


# ---- restoring from JSON that may come from an untrusted file


def _check_keys(d, keys: set, fname: str, argname: str) -> None:
    """``d`` is a dict with exactly ``keys``."""
    if not isinstance(d, dict):
        raise TypeError(f"{fname}: {argname} must be a dict, got {_short(d)}")
    missing, unknown = keys - set(d), set(d) - keys
    if missing:
        raise ValueError(f"{fname}: {argname} is missing key(s) {sorted(missing)}")
    if unknown:
        raise ValueError(f"{fname}: {argname} has unknown key(s) {_short(sorted(unknown, key=str))}")


def _is_integer(value) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _restored_number(value, fname: str, name: str) -> float:
    """A bookkeeping number (an NLL): any real number, NaN included (files of softmaxkit 0.1 hold NaN)."""
    if not _is_real(value):
        raise TypeError(f"{fname}: d['fitted'][{name!r}] must be a number, got {_short(value)}")
    return float(value)


def _restored_array(value, ndim: int, fname: str, name: str):
    """A fitted parameter: a finite float (``ndim`` 0) or nested lists of finite numbers, as an ndarray."""
    if not _nested_reals(value, ndim):
        expected = "a number" if ndim == 0 else f"a {ndim}-D list of numbers"
        raise TypeError(f"{fname}: d['fitted'][{name!r}] must be {expected}, got {_short(value)}")
    try:
        arr = np.array(value, dtype=np.float64)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{fname}: d['fitted'][{name!r}] is not a rectangular array ({exc})") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{fname}: {name} must be finite, got {_short(value)}")
    return float(arr) if ndim == 0 else arr


def _nested_reals(value, ndim: int) -> bool:
    if ndim == 0:
        return _is_real(value)
    return isinstance(value, (list, tuple, np.ndarray)) and all(_nested_reals(v, ndim - 1) for v in value)


def _short(value) -> str:
    """A short ``repr(value)`` (messages quote values read from untrusted files)."""
    return _REPR.repr(value)


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 60
