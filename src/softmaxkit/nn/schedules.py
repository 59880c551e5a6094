"""Learning-rate schedules: ``schedule(step) -> lr``, set on an optimizer before each step."""

from __future__ import annotations

import math

from .._validation import NON_NEGATIVE, Integer, validate

__all__ = ["CosineSchedule", "StepSchedule"]

_CONSTRAINTS = {
    "base_lr": NON_NEGATIVE,
    "min_lr": NON_NEGATIVE,
    "gamma": NON_NEGATIVE,
    "total_steps": Integer(1),
    "warmup_steps": Integer(0),
    "step_size": Integer(1),
}


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
        fname = "CosineSchedule"
        self.base_lr, self.min_lr, self.total_steps, self.warmup_steps = validate(
            fname, _CONSTRAINTS, base_lr=base_lr, min_lr=min_lr, total_steps=total_steps, warmup_steps=warmup_steps
        )
        if self.warmup_steps > self.total_steps:
            raise ValueError(f"{fname}: warmup_steps must be <= total_steps, got {warmup_steps} > {total_steps}")

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
        self.base_lr, self.step_size, self.gamma = validate(
            "StepSchedule", _CONSTRAINTS, base_lr=base_lr, step_size=step_size, gamma=gamma
        )

    def __call__(self, step: int) -> float:
        return self.base_lr * self.gamma ** (step // self.step_size)
