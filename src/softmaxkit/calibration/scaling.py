r"""Calibrators of a classifier's scores: temperature, vector and matrix scaling.

Each calibrator learns a small map :math:`g` of the scores on held-out data (never the training
set) by minimising the (weighted) negative log-likelihood of the labels, and then predicts
``softmax(g(s))``. They share one interface, scikit-learn's estimator protocol::

    cal = TemperatureScaling().fit(logits_val, y_val)      # y: integer class indices
    probs = cal.predict_proba(logits_test)                 # calibrated probabilities
    z_cal = cal.transform(logits_test)                     # calibrated logits
    d = cal.to_dict()                                      # JSON-able; calibrator_from_dict(d) restores it

======================  ==========================  ===========  ================
calibrator              map :math:`g(s)`            parameters   keeps the argmax
======================  ==========================  ===========  ================
``TemperatureScaling``  :math:`s / T`               1            yes
``VectorScaling``       :math:`w \odot s + b`       2K           no
``MatrixScaling``       :math:`W s + b`             K² + K       no
======================  ==========================  ===========  ================

Temperature scaling is the safe default (Guo et al. 2017); the richer maps can fix class-dependent
miscalibration but need more data, and matrix scaling needs its regulariser.

**Scores.** ``inputs="logits"`` (the default): the scores :math:`s` are a softmax model's logits
:math:`z`. ``inputs="probabilities"``: they are the model's probabilities :math:`p`, and the map
works on :math:`s = \log p`; ``transform`` and ``predict_proba`` then take probabilities too. For a
softmax model :math:`\log p = z - \operatorname{logsumexp}(z)\,\mathbf 1`, the logits shifted by a
per-row constant:

- temperature scaling ignores such a shift (:math:`(z + c\mathbf 1)/T = z/T + (c/T)\mathbf 1` and
  softmax ignores per-row shifts), so ``TemperatureScaling(inputs="probabilities")`` fitted on
  ``softmax(z)`` finds the temperature ``TemperatureScaling()`` finds on ``z``;
- vector and matrix scaling do not: :math:`W(z + c\mathbf 1) + b = Wz + b + c\,W\mathbf 1` is a
  per-row shift only when every row of :math:`W` has the same sum (for vector scaling, when all
  :math:`w_k` are equal, i.e. temperature scaling). Fitted on probabilities they are another model,
  the one of Dirichlet calibration (Kull et al. 2019): :math:`\operatorname{softmax}(W \log p + b)`,
  which depends on the probabilities alone, where the logit version also depends on how the network
  happens to offset its logits. Fitting them on probabilities is the same as fitting them on
  ``log_softmax(z)`` with ``inputs="logits"``.

Probabilities exactly 0 give :math:`\log 0 = -\infty`. Temperature scaling maps it exactly
(:math:`-\infty / T = -\infty`, probability 0 stays 0); a label whose probability is 0 makes the NLL
infinite at every temperature, so ``fit`` refuses such rows. Vector and matrix scaling refuse zeros:
:math:`w \cdot (-\infty)` is :math:`\pm\infty` or NaN (for :math:`w = 0`) and :math:`W s` mixes it
into every class. Probabilities are never clipped: pass logits, or use temperature scaling.

**Labels** are integer class indices in ``[0, n_classes)``: column ``k`` of the scores belongs to
class ``k`` (use :class:`sklearn.preprocessing.LabelEncoder` for other labels).

**Sample weights.** ``fit(scores, y, sample_weight=w)`` minimises the weighted mean NLL
:math:`\sum_i w_i \ell_i / \sum_i w_i`, as :func:`sklearn.metrics.log_loss` weights it: an integer
weight counts a row that many times, a zero weight drops it.

**Dask arrays** (held-out sets larger than memory). ``fit`` takes Dask arrays of scores, labels
and weights (any of them; the others may be NumPy): one pass over the chunks checks them, with the
in-memory messages, and each evaluation of the objective is one more pass, in which every block
computes its share of the NLL and its gradient with NumPy; the optimiser runs on those sums as in
memory, so the fit is the in-memory one up to the rounding of the sums. ``transform`` and
``predict_proba`` of a Dask array return lazy Dask arrays. Everything else (a fitted calibrator, its
JSON form) is the same.

**scikit-learn.** The calibrators follow the estimator protocol without importing scikit-learn
(which would double the start-up time of every command that loads a model file): ``get_params``,
``set_params`` and :func:`sklearn.base.clone` work; parameters are stored as given and checked in
``fit``; fitted attributes end in ``_``; :func:`sklearn.utils.validation.check_is_fitted` and the
estimator tags (``__sklearn_tags__``, and ``_more_tags`` for scikit-learn < 1.6) are supported; a
method called before ``fit`` raises :class:`softmaxkit.exceptions.NotFittedError`, which is also
scikit-learn's ``NotFittedError`` once scikit-learn has been imported.
"""

from __future__ import annotations

import math
import numbers
from typing import ClassVar

import numpy as np

from .._validation import validate
from ..kernels import softmax
from ._base import CONSTRAINTS, Calibrator, nll_and_grad, short

__all__ = ["TemperatureScaling", "VectorScaling", "MatrixScaling", "calibrator_from_dict"]


class TemperatureScaling(Calibrator):
    r"""Temperature scaling: divide all scores by one learned temperature :math:`T > 0`.

    With scores :math:`s_i` (logits, or :math:`\log p_i`), labels :math:`y_i` and weights
    :math:`w_i` (default 1),

    .. math::

        \hat T = \operatorname*{argmin}_{T} \; \frac{\sum_i w_i \ell_i(T)}{\sum_i w_i}, \qquad
        \ell_i(T) = -\log \operatorname{softmax}(s_i / T)_{y_i}.

    The NLL is convex in :math:`\beta = 1/T`, with derivative

    .. math::

        \frac{\partial\,\mathrm{NLL}}{\partial \beta} = \frac{\sum_i w_i \big(
            \mathbb E_{\operatorname{softmax}(\beta s_i)}[s_i] - s_{i y_i}\big)}{\sum_i w_i},

    which increases with :math:`\beta`: the fit finds its zero with Brent's method on :math:`\log T`
    within ``bounds`` (:func:`scipy.optimize.brentq`, to about 1e-12 relative), or the bound it points
    to when it keeps one sign there (when it is zero throughout, as with one class, :math:`T = 1`).
    So :math:`T` stays positive and finite, and the optimum is global and precise beyond what a
    search on the NLL's values can resolve. Dividing by a positive number never changes the argmax,
    so accuracy is untouched; :math:`T > 1` softens over-confident probabilities, :math:`T < 1`
    sharpens them.

    The expectation and :math:`s_{iy_i}` do not change when :math:`s_i` is shifted by a constant, so
    the temperature fitted on probabilities (:math:`s = \log p`) is the one fitted on the logits.
    Probabilities exactly 0 are exact here: :math:`-\infty / T = -\infty`.

    Parameters
    ----------
    bounds : tuple of float, default (1e-3, 1e3)
        Search interval for :math:`T`. A fitted temperature at a bound means the data want a more
        extreme one (e.g. perfectly separated logits drive :math:`T \to 0`).
    inputs : {"logits", "probabilities"}, default "logits"
        What ``fit``, ``transform`` and ``predict_proba`` take (see the module notes).

    Attributes
    ----------
    temperature_ : float
        The fitted temperature.
    n_classes_ : int
        The number of classes (columns of the scores); ``n_features_in_`` is the same number.
    nll_before_, nll_after_ : float
        Weighted mean NLL of the fitting data before and after scaling.

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On calibration of modern neural networks",
       ICML 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit import softmax
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

    Fitted on the model's probabilities instead, it finds the same temperature:

    >>> tp = TemperatureScaling(inputs="probabilities").fit(softmax(z), y)
    >>> bool(abs(tp.temperature_ / ts.temperature_ - 1) < 1e-10)
    True
    """

    kind = "temperature"
    _fitted_names = ("temperature",)
    _fitted_ndims: ClassVar[dict] = {"temperature": 0}
    _maps_zero_probabilities = True

    def __init__(self, *, bounds=(1e-3, 1e3), inputs="logits"):
        self.bounds = bounds
        self.inputs = inputs

    def _params(self):
        return {"bounds": [float(b) for b in self.bounds], "inputs": self.inputs}

    def _validate_params(self, fname):
        validate(fname, CONSTRAINTS, inputs=self.inputs)
        b = self.bounds
        if not (isinstance(b, (tuple, list)) and len(b) == 2):
            raise TypeError(f"{fname}: bounds must be a pair (t_min, t_max), got {b!r}")
        if not all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in b):
            raise TypeError(f"{fname}: bounds must hold two real numbers, got {b!r}")
        lo, hi = (float(v) for v in b)
        if not (0 < lo < hi < math.inf):
            raise ValueError(f"{fname}: bounds must satisfy 0 < t_min < t_max < inf, got {b!r}")

    @staticmethod
    def _slope_terms(s, y):
        """What the slope reads of the scores: each row centred on its (finite) maximum, that with -inf
        replaced by 0 (p = 0 adds 0 * -inf := 0), and the centred score of the label."""
        centred = s - s.max(axis=1, keepdims=True)  # nothing changes but the size of the numbers
        at_label = centred[np.arange(s.shape[0]), y]
        finite = np.where(np.isfinite(centred), centred, 0.0)
        return centred, finite, at_label

    @staticmethod
    def _slope_rows(beta, centred, finite, at_label):
        """Each row's E_softmax(beta s)[s] - s_y, whose weighted mean is d NLL / d beta."""
        return np.sum(softmax(beta * centred) * finite, axis=1) - at_label

    @classmethod
    def _slope_block(cls, s, y, w, *, betas):
        """A block's share of the slope at each of ``betas`` (``w``: its rows' shares of the mean)."""
        terms = cls._slope_terms(s, y)
        return [w @ cls._slope_rows(beta, *terms) for beta in betas]

    def _fit(self, s, y, w):
        terms = self._slope_terms(s, y)

        def slopes(betas):
            """d NLL / d beta = weighted mean of E_softmax(beta s)[s] - s_y (increasing in beta) at each of ``betas``."""
            per_row = (self._slope_rows(beta, *terms) for beta in betas)
            return [float(np.mean(r)) if w is None else float(w @ r) for r in per_row]

        self._solve(slopes)

    def _fit_blocks(self, blocks):
        def slopes(betas):  # one pass over the chunks, however many betas
            return [float(v) for v in blocks.total(self._slope_block, len(betas), betas=tuple(betas))]

        self._solve(slopes)

    def _solve(self, slopes):
        """Set ``temperature_`` to the zero of the slope in beta = 1/T; ``slopes(betas)`` lists it at ``betas``."""
        t_min, t_max = (float(v) for v in self.bounds)
        at_t_min, at_t_max = slopes([1 / t_min, 1 / t_max])
        if at_t_min == 0 and at_t_max == 0:  # flat: the scores say nothing about T
            temperature = min(max(1.0, t_min), t_max)
        elif at_t_min <= 0:  # the NLL still falls at the largest beta
            temperature = t_min
        elif at_t_max >= 0:  # and here it already rises at the smallest
            temperature = t_max
        else:
            from scipy import optimize  # lazy: scipy.optimize takes most of a second to import

            log_t = optimize.brentq(
                lambda u: slopes([math.exp(-u)])[0],
                math.log(t_min),
                math.log(t_max),
                xtol=1e-13,
                rtol=4 * np.finfo(float).eps,
            )
            temperature = math.exp(log_t)
        self.temperature_ = float(temperature)

    def _apply(self, s):
        return s / self.temperature_

    def _check_restored(self, fname):
        if not (self.temperature_ > 0 and math.isfinite(self.temperature_)):
            raise ValueError(f"{fname}: temperature must be positive and finite, got {self.temperature_!r}")


class _LBFGSCalibrator(Calibrator):
    """Calibrators fitted by L-BFGS-B on the (regularised) weighted NLL with an analytic gradient."""

    def _minimise(self, fun_and_grad, theta0):
        from scipy import optimize  # lazy: scipy.optimize takes most of a second to import

        res = optimize.minimize(
            fun_and_grad,
            theta0,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": int(self.max_iter), "gtol": 1e-9, "ftol": 1e-12},
        )
        self.n_iter_ = int(res.nit)
        return res.x

    # Subclasses define the map ``_map(theta, s)``, ``_data_grad(s, g)`` (the gradient of the NLL with
    # respect to theta, from ``g``, its gradient with respect to the map's output, linear in ``g``),
    # ``_penalised(theta, k, loss, grad)`` (adding any regulariser), ``_start(k)`` and ``_set(theta, k)``.

    @classmethod
    def _data_term(cls, s, y, w, *, theta):
        """The weighted mean NLL at ``theta`` and its gradient (``w``: row weights or None; or a block's shares)."""
        loss, g = nll_and_grad(cls._map(theta, s), y, w)
        return loss, cls._data_grad(s, g)

    def _loss_and_grad(self, theta, s, y, w=None):
        """Objective and gradient at the packed parameters ``theta`` (``w``: row weights or None)."""
        return self._penalised(theta, s.shape[1], *self._data_term(s, y, w, theta=theta))

    def _fit(self, s, y, w):
        k = s.shape[1]
        self._set(self._minimise(lambda t: self._loss_and_grad(t, s, y, w), self._start(k)), k)

    def _fit_blocks(self, blocks):
        k = blocks.n_classes

        def fun_and_grad(theta):  # one pass over the chunks
            total = blocks.total(self._data_term, theta.size + 1, theta=theta)
            return self._penalised(theta, k, float(total[0]), total[1:])

        self._set(self._minimise(fun_and_grad, self._start(k)), k)


class VectorScaling(_LBFGSCalibrator):
    r"""Vector scaling: a per-class scale and bias of the scores, :math:`g(s) = w \odot s + b`.

    Fitted by minimising the weighted mean NLL with L-BFGS-B from :math:`w = 1, b = 0` (the
    identity). With :math:`G = \partial\,\mathrm{NLL} / \partial g` (``probs - onehot``, each row times
    :math:`w_i / \sum_j w_j`, from :func:`softmaxkit.cross_entropy_and_grad`) the gradient is

    .. math::

        \frac{\partial\,\mathrm{NLL}}{\partial w_k} = \sum_i G_{ik} s_{ik}, \qquad
        \frac{\partial\,\mathrm{NLL}}{\partial b_k} = \sum_i G_{ik}.

    It has :math:`2K` parameters and can change the predicted class (a bias shifts the argmax).

    Scores shifted by a per-row constant :math:`c_i` change the result (:math:`w \odot (s + c\mathbf 1)
    = w \odot s + c\,w`, a shift only if all :math:`w_k` are equal), so fitting on probabilities
    (:math:`s = \log p`) is a different model from fitting on logits: the diagonal form of Dirichlet
    calibration. A shift common to all rows is absorbed by the bias. Probabilities exactly 0 are
    refused (see the module notes).

    Parameters
    ----------
    max_iter : int, default 1000
        Maximum L-BFGS iterations.
    inputs : {"logits", "probabilities"}, default "logits"
        What ``fit``, ``transform`` and ``predict_proba`` take.

    Attributes
    ----------
    scale_, bias_ : ndarray of shape (n_classes,)
    n_classes_ : int
        The number of classes (columns of the scores); ``n_features_in_`` is the same number.
    n_iter_ : int
        L-BFGS iterations used (not restored by :meth:`from_dict`).
    nll_before_, nll_after_ : float
        Weighted mean NLL of the fitting data before and after scaling.

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
    _map_text = "w * log(p) + b"

    def __init__(self, *, max_iter: int = 1000, inputs="logits"):
        self.max_iter = max_iter
        self.inputs = inputs

    def _params(self):
        return {"max_iter": int(self.max_iter), "inputs": self.inputs}

    def _validate_params(self, fname):
        validate(fname, CONSTRAINTS, max_iter=self.max_iter, inputs=self.inputs)

    # theta = [w, b]

    @staticmethod
    def _map(theta, s):
        k = s.shape[1]
        return s * theta[:k] + theta[k:]

    @staticmethod
    def _data_grad(s, g):
        return np.concatenate([np.sum(g * s, axis=0), np.sum(g, axis=0)])

    def _penalised(self, theta, k, loss, grad):
        return loss, grad

    def _start(self, k):
        return np.concatenate([np.ones(k), np.zeros(k)])

    def _set(self, theta, k):
        self.scale_, self.bias_ = theta[:k].copy(), theta[k:].copy()

    def _apply(self, s):
        return s * self.scale_ + self.bias_

    def _check_restored(self, fname):
        shape = (self.n_classes_,)
        if self.scale_.shape != shape or self.bias_.shape != shape:
            raise ValueError(f"{fname}: scale and bias must have shape {shape}")


class MatrixScaling(_LBFGSCalibrator):
    r"""Matrix scaling with off-diagonal and intercept regularisation (ODIR): :math:`g(s) = W s + b`.

    Minimises, with L-BFGS-B from :math:`W = I, b = 0`,

    .. math::

        \frac{\sum_i w_i \ell_i(W, b)}{\sum_i w_i} + \frac{\lambda}{K(K-1)} \sum_{j \ne k} W_{jk}^2
            + \frac{\mu}{K} \sum_k b_k^2,

    the off-diagonal and intercept regulariser of Kull et al. (2019) (the penalty terms are means,
    so ``reg`` does not need rescaling with :math:`K`, and a weighted mean NLL keeps them in
    proportion however the rows are weighted). Unregularised matrix scaling has :math:`K^2 + K`
    parameters and over-fits a validation set of modest size; ODIR shrinks only the cross-class
    terms, leaving the diagonal free, so a very large ``reg`` tends to vector scaling (without the
    bias when ``bias_reg`` is large too), never to "no calibration". The gradient is
    :math:`G^\top S` plus the penalty's, with :math:`G` from :func:`softmaxkit.cross_entropy_and_grad`.

    Scores shifted by a per-row constant :math:`c_i` give :math:`W s + b + c_i W \mathbf 1`, a
    per-row shift (which softmax ignores) only when every row of :math:`W` has the same sum; the
    fitted :math:`W` has no reason to, so fitting on probabilities (:math:`s = \log p`) is another
    model than fitting on logits: with probabilities, this is Dirichlet calibration with ODIR
    exactly (Kull et al. 2019). A shift common to all rows is absorbed by the bias when ``bias_reg``
    is 0. Probabilities exactly 0 are refused (see the module notes).

    Parameters
    ----------
    reg : float, default 1e-2
        :math:`\lambda`, the weight of the off-diagonal penalty (>= 0).
    bias_reg : float, optional
        :math:`\mu`, the weight of the bias penalty; defaults to ``reg``.
    max_iter : int, default 1000
        Maximum L-BFGS iterations.
    inputs : {"logits", "probabilities"}, default "logits"
        What ``fit``, ``transform`` and ``predict_proba`` take.

    Attributes
    ----------
    weight_ : ndarray of shape (n_classes, n_classes)
    bias_ : ndarray of shape (n_classes,)
    n_classes_ : int
        The number of classes (columns of the scores); ``n_features_in_`` is the same number.
    n_iter_ : int
        L-BFGS iterations used (not restored by :meth:`from_dict`).
    nll_before_, nll_after_ : float
        Plain (unregularised) weighted mean NLL of the fitting data.

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

    On probabilities it is Dirichlet calibration: the same fit as on ``log_softmax`` of the logits,
    and not the fit on the logits, since the rows of ``W`` need not sum alike:

    >>> from softmaxkit import log_softmax, softmax
    >>> dirichlet = MatrixScaling(inputs="probabilities").fit(softmax(3 * z), y)
    >>> same = MatrixScaling().fit(log_softmax(3 * z), y)
    >>> bool(np.allclose(dirichlet.weight_, same.weight_, rtol=0, atol=1e-9))
    True
    >>> ms.weight_.sum(axis=1).round(2), dirichlet.weight_.sum(axis=1).round(2)
    (array([0.44, 0.47, 0.42]), array([0.44, 0.43, 0.45]))
    >>> float(abs(dirichlet.predict_proba(softmax(3 * z)) - ms.predict_proba(3 * z)).max().round(2))
    0.05
    """

    kind = "matrix"
    _fitted_names = ("weight", "bias")
    _fitted_ndims: ClassVar[dict] = {"weight": 2, "bias": 1}
    _map_text = "W log(p) + b"

    def __init__(self, *, reg: float = 1e-2, bias_reg=None, max_iter: int = 1000, inputs="logits"):
        self.reg = reg
        self.bias_reg = bias_reg
        self.max_iter = max_iter
        self.inputs = inputs

    def _params(self):
        return {
            "reg": float(self.reg),
            "bias_reg": None if self.bias_reg is None else float(self.bias_reg),
            "max_iter": int(self.max_iter),
            "inputs": self.inputs,
        }

    def _validate_params(self, fname):
        validate(fname, CONSTRAINTS, reg=self.reg, bias_reg=self.bias_reg, max_iter=self.max_iter, inputs=self.inputs)

    # theta = [W.ravel(), b]

    @staticmethod
    def _map(theta, s):
        k = s.shape[1]
        return s @ theta[: k * k].reshape(k, k).T + theta[k * k :]

    @staticmethod
    def _data_grad(s, g):
        return np.concatenate([(g.T @ s).ravel(), g.sum(axis=0)])

    def _penalised(self, theta, k, loss, grad):
        """The NLL's ``loss`` and ``grad`` plus the off-diagonal and bias penalties and theirs."""
        lam = float(self.reg) / (k * (k - 1)) if k > 1 else 0.0
        mu = float(self.reg if self.bias_reg is None else self.bias_reg) / k
        weight, b = theta[: k * k].reshape(k, k), theta[k * k :]
        w_off = weight - np.diag(np.diag(weight))
        loss = loss + lam * np.sum(w_off * w_off) + mu * np.sum(b * b)
        return float(loss), grad + np.concatenate([(2 * lam * w_off).ravel(), 2 * mu * b])

    def _start(self, k):
        return np.concatenate([np.eye(k).ravel(), np.zeros(k)])

    def _set(self, theta, k):
        self.weight_ = theta[: k * k].reshape(k, k).copy()
        self.bias_ = theta[k * k :].copy()

    def _apply(self, s):
        return s @ self.weight_.T + self.bias_

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
        raise ValueError(f"{fname}: d['kind'] must be one of {options}, got {short(kind)}")
    return _REGISTRY[kind].from_dict(d)


# ---- the objective
