"""AFedPG (Lan et al. 2025) as decided in docs/methods.md.

The server holds theta_k, theta_{k-1}, d_{k-1}. A worker that received (theta_k, theta_{k-1})
computes at the lookahead theta~ = theta_k + ((1 - eta)/eta)(theta_k - theta_{k-1}) (NIGT's query
point). When its gradient g arrives while the server is at theta_K (K >= k):
d_K = (1 - eta) d_{K-1} + eta g, theta_{K+1} = theta_K + alpha d_K / ||d_K||; the first arrival
initialises d. ``delay_adaptive`` replaces eta by eta / (1 + K - k) in both places of the
momentum update (the lookahead is fixed before the delay is known).
"""

from __future__ import annotations

import numpy as np

from apga_sim.algorithms.nigt import NIGT


class AFedPG(NIGT):
    """NIGT-style server update for asynchronous arrivals, optionally delay-adaptive."""

    def __init__(
        self, theta0: np.ndarray, alpha: float, eta: float, delay_adaptive: bool = False
    ) -> None:
        super().__init__(theta0, alpha, eta)
        self.delay_adaptive = delay_adaptive

    def momentum_weight(self, delay: int) -> float:  # noqa: D102
        return self.eta / (1 + delay) if self.delay_adaptive else self.eta
