"""Malenia(M): stop once every M_i >= 1 and ((1/n) sum_i 1/M_i)^-1 >= M/n.

The result g = (1/n) sum_i s_i / M_i weighs every worker's environment 1/n, whatever its speed.

Absent workers: the rule always ranges over all n workers, online or not. Gradients a worker
delivered before going offline still count, and a worker with none blocks the round until it is
back and delivers one: every environment must be in the average. (Synchronous(b) likewise waits
for every worker's b gradients; Rennala, which only counts gradients, goes on without it.)
"""

from __future__ import annotations

from fractions import Fraction

from apga_sim.algorithms.rennala import Rennala


class Malenia(Rennala):
    """Malenia(M, M_init) aggregator (heterogeneous); same round life as Rennala."""

    def done(self) -> bool:  # noqa: D102
        m = self.counts[1:]
        if min(m) < 1:
            return False
        # (n / sum_i 1/M_i) >= M / n, in exact rational arithmetic (floats miss equality)
        return self.target * sum(Fraction(1, mi) for mi in m) <= self.n * self.n

    def weights(self):  # noqa: D102
        jobs = self.consumed()
        return jobs, [1.0 / (self.n * self.counts[job.worker]) for job in jobs]
