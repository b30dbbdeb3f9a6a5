"""NIGT: normalized SGD with implicit gradient transport (docs/methods.md).

    init:   d_0 = g(theta_0);  theta_1 = theta_0 + alpha * d_0 / ||d_0||
    t >= 1: theta~_t    = theta_t + ((1 - eta) / eta) * (theta_t - theta_{t-1})
            d_t         = (1 - eta) * d_{t-1} + eta * g(theta~_t)
            theta_{t+1} = theta_t + alpha * d_t / ||d_t||

If ||d_t|| = 0 the step is skipped: theta_{t+1} = theta_t (and step() returns False).
"""

from __future__ import annotations

import numpy as np

from apga_sim.algorithms.base import Optimizer


class NIGT(Optimizer):
    """NIGT optimizer; ``eta`` is the weight of the new gradient, ``alpha`` the step length."""

    def __init__(self, theta0: np.ndarray, alpha: float, eta: float) -> None:
        super().__init__(theta0, alpha)
        self.eta = eta
        self.prev = self.theta.copy()
        self.d: np.ndarray | None = None

    def query(self) -> np.ndarray:
        """The extrapolated point theta~_t (theta_0 before the first step)."""
        return self.theta + ((1.0 - self.eta) / self.eta) * (self.theta - self.prev)

    def momentum_weight(self, delay: int) -> float:
        """The weight of the new gradient in d_t."""
        return self.eta

    def step(self, g: np.ndarray, delay: int = 0) -> bool:  # noqa: D102
        if self.d is None:
            self.d = np.array(g, dtype=np.float64)
        else:
            e = self.momentum_weight(delay)
            self.d = (1.0 - e) * self.d + e * g
        norm = float(np.linalg.norm(self.d))
        self.prev = self.theta
        self.version += 1
        if norm == 0.0:
            return False
        self.theta = self.theta + self.alpha * self.d / norm
        return True
