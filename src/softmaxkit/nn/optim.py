"""Optimizers (SGD, Adam, AdamW) and learning-rate schedules.

The update equations are PyTorch's (``torch.optim.SGD``, ``Adam``, ``AdamW``), so the same settings
give the same trajectories. Each optimizer has one method, ``step(model)``, which updates every
parameter of ``model`` in place from the gradients its last ``backward`` left in ``grads``; ``lr`` is a
plain attribute that a schedule may set before each step. All arithmetic stays in the parameters'
dtype: the learning rate and other constants are cast to it, so a Python or float64 scalar never
upcasts a float32 step. With numba installed, SGD updates each parameter in one fused pass (the same
equations; the NumPy code path is the fallback and is used for Adam, where it is faster).

Weight decay: :class:`SGD` and :class:`Adam` add ``weight_decay * param`` to the gradient (L2, as in
PyTorch); :class:`AdamW` decays the weights directly, ``param *= 1 - lr * weight_decay`` (decoupled, as in
``torch.optim.AdamW``). It applies to every parameter, biases included, as PyTorch does by default.
"""

from __future__ import annotations

import math

import numpy as np

from . import _kernels

__all__ = ["SGD", "Adam", "AdamW", "CosineSchedule", "StepSchedule"]


def _check_nonneg(value, argname: str, fname: str) -> float:
    value = float(value)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{fname}: {argname} must be a finite number >= 0, got {value}")
    return value


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
        self._lr = _check_nonneg(value, "lr", type(self).__name__)

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
    return _kernels.get()


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
        self.momentum = _check_nonneg(momentum, "momentum", "SGD")
        self.nesterov = bool(nesterov)
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay", "SGD")
        if self.nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")

    def _update(self, param, grad, name):
        t = param.dtype.type
        slots = self._slots(name, param, "buf")
        fast = _fast_path(param, grad)
        if fast is not None:
            first = not slots.get("started")
            slots["started"] = True
            fast["sgd_update"](param.reshape(-1), grad.reshape(-1), slots["buf"].reshape(-1), t(self.lr),
                               t(self.momentum), t(self.weight_decay), self.nesterov, first)
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
        b1, b2 = (float(b) for b in betas)
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {betas}")
        self.betas = (b1, b2)
        self.eps = _check_nonneg(eps, "eps", type(self).__name__)
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay", type(self).__name__)

    def _update(self, param, grad, name):
        t = param.dtype.type
        b1, b2 = self.betas
        slots = self._slots(name, param, "m", "v")
        slots["t"] = step = slots.get("t", 0) + 1
        scratch, m, v = slots["scratch"], slots["m"], slots["v"]
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


class CosineSchedule:
    r"""Linear warm-up then cosine decay: ``schedule(step) -> lr`` (steps count from 0).

    For ``step < warmup_steps``: ``base_lr * (step + 1) / warmup_steps``. Afterwards
    :math:`\text{min\_lr} + \tfrac12(\text{base\_lr} - \text{min\_lr})(1 + \cos(\pi p))` with
    :math:`p = (\text{step} - \text{warmup}) / (\text{total} - \text{warmup})`, clipped to 1.

    Examples
    --------
    >>> s = CosineSchedule(0.1, 100, warmup_steps=10)
    >>> round(s(0), 4), round(s(9), 4), round(s(55), 4), s(100)
    (0.01, 0.1, 0.05, 0.0)
    """

    def __init__(self, base_lr: float, total_steps: int, *, warmup_steps: int = 0, min_lr: float = 0.0):
        self.base_lr = _check_nonneg(base_lr, "base_lr", "CosineSchedule")
        self.min_lr = _check_nonneg(min_lr, "min_lr", "CosineSchedule")
        self.total_steps, self.warmup_steps = int(total_steps), int(warmup_steps)
        if self.total_steps < 1 or not 0 <= self.warmup_steps <= self.total_steps:
            raise ValueError(
                f"CosineSchedule: need total_steps >= 1 and 0 <= warmup_steps <= total_steps, got "
                f"{total_steps} and {warmup_steps}"
            )

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.base_lr * (step + 1) / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps))
        return self.min_lr + 0.5 * (self.base_lr - self.min_lr) * (1.0 + math.cos(math.pi * progress))


class StepSchedule:
    """Multiply the learning rate by ``gamma`` every ``step_size`` steps: ``base_lr * gamma ** (step // step_size)``.

    Examples
    --------
    >>> s = StepSchedule(0.1, 10, gamma=0.5)
    >>> s(0), s(10), s(25)
    (0.1, 0.05, 0.025)
    """

    def __init__(self, base_lr: float, step_size: int, *, gamma: float = 0.1):
        self.base_lr = _check_nonneg(base_lr, "base_lr", "StepSchedule")
        self.step_size = int(step_size)
        if self.step_size < 1:
            raise ValueError(f"StepSchedule: step_size must be >= 1, got {step_size}")
        self.gamma = _check_nonneg(gamma, "gamma", "StepSchedule")

    def __call__(self, step: int) -> float:
        return self.base_lr * self.gamma ** (step // self.step_size)
