"""Synchronous(b): every worker computes exactly b gradients at the point; g = mean of all n*b."""

from __future__ import annotations

from apga_sim.algorithms.base import Aggregator


class Synchronous(Aggregator):
    """Synchronous(b) aggregator."""

    def __init__(self, n: int, b: int) -> None:
        super().__init__(n)
        self.b = b

    def wants_more(self, worker: int, computed: int) -> bool:  # noqa: D102
        return computed < self.b

    def done(self) -> bool:  # noqa: D102
        return all(m == self.b for m in self.counts[1:])

    def weights(self):  # noqa: D102
        jobs = self.consumed()
        return jobs, [1.0 / (self.n * self.b)] * len(jobs)
