"""SGD (plain policy-gradient ascent): theta_{t+1} = theta_t + alpha * g_t."""

from __future__ import annotations

import numpy as np

from apga_sim.algorithms.base import Optimizer


class SGD(Optimizer):
    """Plain gradient ascent; the query point is theta itself."""

    def step(self, g: np.ndarray, delay: int = 0) -> bool:  # noqa: D102
        self.theta = self.theta + self.alpha * g
        self.version += 1
        return True
