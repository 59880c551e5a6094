"""Optimizers: SGD, Adam, AdamW (learning-rate schedules: :mod:`.schedules`).

The update equations are PyTorch's (``torch.optim.SGD``, ``Adam``, ``AdamW``), so the same settings
give the same trajectories. Each optimizer has one method, ``step(model)``, which updates every
parameter of ``model`` in place from the gradients its last ``backward`` left in ``grads``; ``lr`` is a
plain attribute that a schedule may set before each step. All arithmetic stays in the parameters'
dtype: the learning rate and other constants are cast to it, so a Python or float64 scalar never
upcasts a float32 step. With numba installed, each parameter is updated in one fused pass (the same
equations in the same order; the NumPy code path is the fallback).

Weight decay: :class:`SGD` and :class:`Adam` add ``weight_decay * param`` to the gradient (L2, as in
PyTorch); :class:`AdamW` decays the weights directly, ``param *= 1 - lr * weight_decay`` (decoupled, as in
``torch.optim.AdamW``). It applies to every parameter, biases included, as PyTorch does by default.
"""

from __future__ import annotations

import math

import numpy as np

from .._numba.dispatch import nn_kernels
from .._validation import HALF_OPEN_FRACTION, NON_NEGATIVE, Boolean, validate

__all__ = ["SGD", "Adam", "AdamW"]


_CONSTRAINTS = {
    "lr": NON_NEGATIVE,
    "momentum": NON_NEGATIVE,
    "nesterov": Boolean(),
    "weight_decay": NON_NEGATIVE,
    "eps": NON_NEGATIVE,
}


class _Optimizer:
    def __init__(self, lr):
        self.lr = lr
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self.steps = 0

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        (self._lr,) = validate(type(self).__name__, _CONSTRAINTS, lr=value)

    def _slots(self, name: str, param: np.ndarray, *keys: str) -> dict:
        slots = self.state.get(name)
        if slots is None or slots["scratch"].shape != param.shape or slots["scratch"].dtype != param.dtype:
            slots = {key: np.zeros_like(param) for key in ("scratch", *keys)}
            self.state[name] = slots
        return slots

    def step(self, model) -> None:
        """Update every parameter of ``model`` in place from its gradients."""
        self.steps += 1
        for param, grad, name in model.parameters():
            self._update(param, grad, name)


def _fast_path(param: np.ndarray, grad: np.ndarray):
    """The numba kernels when they can update ``param`` in one fused pass, else None (NumPy path)."""
    if param.dtype != grad.dtype or not (param.flags.c_contiguous and grad.flags.c_contiguous):
        return None
    return nn_kernels()


class SGD(_Optimizer):
    r"""Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay.

    As ``torch.optim.SGD`` (no dampening): :math:`g \leftarrow g + \lambda\theta`;
    :math:`b \leftarrow \mu b + g` (:math:`b = g` on the first step);
    :math:`\theta \leftarrow \theta - \eta (g + \mu b)` with Nesterov, else :math:`\theta - \eta b`.

    Parameters
    ----------
    lr : float
    momentum : float, default 0.0
    nesterov : bool, default False
    weight_decay : float, default 0.0

    Examples
    --------
    >>> import numpy as np
    >>> from softmaxkit.nn import Sequential, Dense
    >>> model = Sequential([Dense(2, 1, rng=np.random.default_rng(0))])
    >>> _ = model.forward(np.ones((1, 2)), training=True); model.backward(np.ones((1, 1)))
    >>> before = model.layers[0].params["bias"].copy()
    >>> SGD(0.1).step(model)
    >>> model.layers[0].params["bias"] - before
    array([-0.1], dtype=float32)
    """

    def __init__(self, lr, *, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(lr)
        self.momentum, self.nesterov, self.weight_decay = validate(
            "SGD", _CONSTRAINTS, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay
        )
        if self.nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")

    def _update(self, param, grad, name):
        t = param.dtype.type
        slots = self._slots(name, param, "buf")
        fast = _fast_path(param, grad)
        if fast is not None:
            first = not slots.get("started")
            slots["started"] = True
            fast.sgd_update(
                param.reshape(-1),
                grad.reshape(-1),
                slots["buf"].reshape(-1),
                t(self.lr),
                t(self.momentum),
                t(self.weight_decay),
                self.nesterov,
                first,
            )
            return
        scratch = slots["scratch"]
        g = grad
        if self.weight_decay:
            g = np.multiply(param, t(self.weight_decay), out=scratch)
            g += grad
        if self.momentum:
            buf = slots["buf"]
            if slots.get("started"):
                buf *= t(self.momentum)
                buf += g
            else:  # PyTorch starts the buffer at the first gradient
                np.copyto(buf, g)
                slots["started"] = True
            if self.nesterov:
                nesterov = np.multiply(buf, t(self.momentum))
                nesterov += g
                g = nesterov
            else:
                g = buf
        np.multiply(g, t(self.lr), out=scratch)
        param -= scratch


class Adam(_Optimizer):
    r"""Adam with L2 weight decay added to the gradient (``torch.optim.Adam``).

    :math:`m \leftarrow \beta_1 m + (1-\beta_1) g`, :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`,
    :math:`\theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t} \frac{m}{\sqrt{v}/\sqrt{1-\beta_2^t} + \epsilon}`.
    For decoupled weight decay use :class:`AdamW`.

    Parameters
    ----------
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 0.0

    Examples
    --------
    >>> opt = Adam(1e-3)
    >>> opt.lr = 5e-4   # e.g. set by a schedule
    >>> opt.lr
    0.0005
    """

    _decoupled = False

    def __init__(self, lr=1e-3, *, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(lr)
        fname = type(self).__name__
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"{fname}: betas must be a pair (beta1, beta2) in [0, 1), got {betas!r}")
        self.betas = tuple(HALF_OPEN_FRACTION.check(b, f"betas[{i}]", fname) for i, b in enumerate(betas))
        self.eps, self.weight_decay = validate(fname, _CONSTRAINTS, eps=eps, weight_decay=weight_decay)

    def _update(self, param, grad, name):
        t = param.dtype.type
        b1, b2 = self.betas
        slots = self._slots(name, param, "m", "v")
        slots["t"] = step = slots.get("t", 0) + 1
        scratch, m, v = slots["scratch"], slots["m"], slots["v"]
        fast = _fast_path(param, grad)
        if fast is not None:
            fast.adam_update(
                param.reshape(-1),
                grad.reshape(-1),
                m.reshape(-1),
                v.reshape(-1),
                t(self.lr / (1.0 - b1**step)),
                t(b1),
                t(b2),
                t(1.0 - b1),
                t(1.0 - b2),
                t(self.eps),
                t(1.0 / math.sqrt(1.0 - b2**step)),
                t(0.0 if self._decoupled else self.weight_decay),
                self._decoupled and bool(self.weight_decay),
                t(1.0 - self.lr * self.weight_decay),
            )
            return
        g = grad
        if self.weight_decay:
            if self._decoupled:
                param *= t(1.0 - self.lr * self.weight_decay)
            else:
                g = np.multiply(param, t(self.weight_decay), out=scratch)
                g += grad
        m *= t(b1)
        m += t(1.0 - b1) * g
        v *= t(b2)
        np.multiply(g, g, out=scratch)
        scratch *= t(1.0 - b2)
        v += scratch
        # denom = sqrt(v) / sqrt(1 - b2^t) + eps;  param -= lr / (1 - b1^t) * m / denom
        np.sqrt(v, out=scratch)
        scratch *= t(1.0 / math.sqrt(1.0 - b2**step))
        scratch += t(self.eps)
        np.divide(m, scratch, out=scratch)
        scratch *= t(self.lr / (1.0 - b1**step))
        param -= scratch


class AdamW(Adam):
    r"""Adam with decoupled weight decay (``torch.optim.AdamW``): ``param *= 1 - lr * weight_decay`` before
    the Adam update. Same parameters as :class:`Adam`, with ``weight_decay`` defaulting to 0.01.

    Examples
    --------
    >>> AdamW(1e-3).weight_decay
    0.01
    """

    _decoupled = True

    def __init__(self, lr=1e-3, *, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(lr, betas=betas, eps=eps, weight_decay=weight_decay)
