"""The gradient-oracle interface shared by the synthetic and the MuJoCo oracles.

The engine never computes a gradient itself. It creates :class:`Job` objects (one per gradient
job: worker ``i`` computing one stochastic gradient at one point) and asks the oracle for

* :meth:`Oracle.start`, :meth:`Oracle.advance`, :meth:`Oracle.abandon` -- only under
  ``charge: per_step``, where the simulated compute time is ``h_i * T``: the engine starts a
  job's trajectory, advances it one step at a time as simulated time passes until it ends
  (which gives ``T``), or abandons it when the job is cancelled, so no step is simulated that
  starts after the job's cancellation;
* :meth:`Oracle.prefetch` -- a hint that some jobs will certainly be consumed later: their
  points are fixed, so an oracle may compute them together with the next request (asynchronous
  methods use it to batch the rollouts of the jobs in flight);
* :meth:`Oracle.gradient` -- the weighted sum ``sum_j w_j g(job_j)`` of the jobs an update
  consumes. This is the only place where a gradient is computed, so cancelled or discarded
  jobs are never computed (laziness), and jobs consumed together are computed together.

Every random stream of a job is derived from ``(seed, worker, index)``, never from the order of
calls, so results do not depend on batching or on the process that computed them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(eq=False)
class Job:
    """One gradient job: worker ``worker`` computes its ``index``-th gradient at ``point``.

    Attributes:
        worker: Worker number, 1..n.
        index: Per-worker job counter, 0, 1, 2, ... (a logical id, independent of timing ties).
        point: The parameter vector the gradient is taken at (float64, length ``d``).
        version: The optimizer version that produced ``point``.
        stats: Filled by the oracle once the job is rolled out: ``env_steps`` and
            ``episode_return`` (the synthetic oracle reports ``env_steps=1``).
    """

    worker: int
    index: int
    point: np.ndarray
    version: int
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def key(self) -> tuple[int, int]:
        """The job's logical id ``(worker, index)``."""
        return (self.worker, self.index)


@runtime_checkable
class Oracle(Protocol):
    """What the engine needs from a gradient oracle. Objectives are MAXIMISED."""

    dim: int
    """Number of parameters ``d``."""

    variants: list[str]
    """Names of the environment variants; one per distinct worker objective (``["all"]`` if
    homogeneous). Evaluation reports ``return_mean`` and, with several variants,
    ``return_mean/<variant>``."""

    def initial_point(self) -> np.ndarray:
        """The initial parameters, a function of the scenario seed only."""
        ...

    def start(self, job: Job) -> None:
        """Begin ``job``'s trajectory (``charge: per_step``); no step is simulated yet."""
        ...

    def advance(self, jobs: Sequence[Job]) -> list[int | None]:
        """Simulate one more step of each started job; its length ``T`` if it ended, else None."""
        ...

    def abandon(self, job: Job) -> int:
        """Stop a started job that was cancelled; return the steps it simulated.

        Also records them as ``job.stats["env_steps"]``.
        """
        ...

    def prefetch(self, jobs: Sequence[Job]) -> None:
        """Hint: ``jobs`` will be consumed by a later :meth:`gradient` call (may be ignored)."""
        ...

    def gradient(self, jobs: Sequence[Job], weights: Sequence[float]) -> np.ndarray:
        """Return ``sum_j weights[j] * g(jobs[j])``, each gradient taken at its job's own point."""
        ...

    def evaluate(self, theta: np.ndarray) -> dict[str, float]:
        """Measure the policy/point ``theta`` on fixed evaluation seeds.

        Returns at least ``return_mean`` and ``return_std``; with several variants also
        ``return_mean/<variant>`` and ``return_std/<variant>``.
        """
        ...

    def counters(self) -> dict[str, int]:
        """Oracle counters merged into the manifest (e.g. ``trajectories_simulated``)."""
        ...

    def close(self) -> None:
        """Release processes or other resources."""
        ...
