"""Interfaces between the engine and the algorithms.

An :class:`Optimizer` knows nothing about workers or time: it says at which point it wants
gradients (:meth:`Optimizer.query`) and takes a step with their aggregate (:meth:`Optimizer.step`).

An :class:`Aggregator` knows nothing about momentum: a round-based one (``rounds = True``) decides
after each completed gradient whether the worker goes on and whether the round stops, and gives
the weights of the consumed jobs; the asynchronous one (``rounds = False``) applies every
gradient on arrival.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from apga_sim.oracles.base import Job


class Optimizer:
    """Base optimizer: holds ``theta`` and counts its versions (one per step)."""

    def __init__(self, theta0: np.ndarray, alpha: float) -> None:
        self.theta = np.array(theta0, dtype=np.float64)
        self.alpha = alpha
        self.version = 0

    def query(self) -> np.ndarray:
        """The point at which the next gradients must be computed."""
        return self.theta.copy()

    def step(self, g: np.ndarray, delay: int = 0) -> bool:
        """Apply aggregated gradient ``g`` (computed ``delay`` versions ago); False if skipped."""
        raise NotImplementedError


class Aggregator:
    """Base of every aggregator."""

    rounds: bool = True
    """True for round-based aggregators (all gradients of a round at one point)."""
    on_stop: str = "cancel"
    """``cancel`` or ``ignore``: what happens to work in progress when a round stops."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.round = -1
        self.counts = [0] * (n + 1)  # counts[i] = M_i, index 0 unused
        self.jobs: list[list[Job]] = [[] for _ in range(n + 1)]

    def begin_round(self) -> None:
        """Start a new round: reset the per-worker sums."""
        self.round += 1
        self.counts = [0] * (self.n + 1)
        self.jobs = [[] for _ in range(self.n + 1)]

    def add(self, job: Job) -> None:
        """Add a completed gradient job of this round to its worker's sum ``s_i``."""
        self.counts[job.worker] += 1
        self.jobs[job.worker].append(job)

    def wants_more(self, worker: int, computed: int) -> bool:
        """Whether ``worker``, having computed ``computed`` jobs at the point, starts another.

        ``computed`` counts completions, which may differ from ``counts`` (arrivals) when
        gradients are streamed.
        """
        return True

    def done(self) -> bool:
        """The stop rule of the round."""
        raise NotImplementedError

    def weights(self) -> tuple[Sequence[Job], Sequence[float]]:
        """The round's consumed jobs and their weights: ``g = sum_j w_j g_j``."""
        raise NotImplementedError

    def consumed(self) -> list[Job]:
        """All jobs added this round, in (worker, index) order."""
        return [job for per_worker in self.jobs for job in per_worker]
