"""Rennala(M): all workers compute at the point until sum_i M_i = M; g = (sum_i s_i) / M."""

from __future__ import annotations

from apga_sim.algorithms.base import Aggregator


class Rennala(Aggregator):
    """Rennala(M, M_init) aggregator (homogeneous); the first round gathers M_init gradients."""

    def __init__(self, n: int, M: int, M_init: int, on_stop: str = "cancel") -> None:
        super().__init__(n)
        self.M, self.M_init, self.on_stop = M, M_init, on_stop

    @property
    def target(self) -> int:
        """Gradients this round: M_init in the first round, then M."""
        return self.M_init if self.round == 0 else self.M

    def done(self) -> bool:  # noqa: D102
        return sum(self.counts) >= self.target

    def weights(self):  # noqa: D102
        jobs = self.consumed()
        return jobs, [1.0 / self.target] * len(jobs)
