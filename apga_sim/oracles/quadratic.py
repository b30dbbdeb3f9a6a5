"""The synthetic oracle: a noisy quadratic with a known optimum (see :class:`QuadraticConfig`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from apga_sim.oracles.base import Job
from apga_sim.oracles.config import QuadraticConfig

STREAM_INIT, STREAM_OPTIMA, STREAM_NOISE = 21, 22, 23


class QuadraticOracle:
    """Noisy quadratic objective; every call is logged in ``call_log``."""

    def __init__(self, config: QuadraticConfig, n: int, seed: int) -> None:
        self.config, self.n, self.seed = config, n, seed
        self.dim = config.dim
        self.variants = ["all"]
        self.a = np.geomspace(config.mu, config.L, config.dim)
        center = np.zeros(config.dim)
        z = np.random.default_rng([seed, STREAM_OPTIMA]).standard_normal((n, config.dim))
        self.optima = center + config.heterogeneity * (z - z.mean(axis=0))
        self.optimum = self.optima.mean(axis=0)  # argmax of the mean objective (same a_k)
        direction = np.random.default_rng([seed, STREAM_INIT]).standard_normal(config.dim)
        self.x0 = self.optimum + config.init_distance * direction / np.linalg.norm(direction)
        self.call_log: list[tuple[int, int]] = []
        self._started: dict[tuple[int, int], int] = {}

    def initial_point(self) -> np.ndarray:  # noqa: D102
        return self.x0.copy()

    def start(self, job: Job) -> None:  # noqa: D102
        self._started[job.key] = 0

    def advance(self, jobs: Sequence[Job]) -> list[int | None]:  # noqa: D102
        out: list[int | None] = []
        for job in jobs:
            self._started[job.key] += 1
            ended = self._started[job.key] == self.config.steps_per_job
            out.append(self._started.pop(job.key) if ended else None)
        return out

    def abandon(self, job: Job) -> int:  # noqa: D102
        steps = self._started.pop(job.key)
        job.stats = {"env_steps": steps}
        return steps

    def prefetch(self, jobs: Sequence[Job]) -> None:  # noqa: D102
        pass  # a quadratic gradient costs the same alone or batched

    def exact_gradient(self, worker: int, x: np.ndarray) -> np.ndarray:
        """Grad J_i(x) without noise."""
        return -self.a * (x - self.optima[worker - 1])

    def gradient(self, jobs: Sequence[Job], weights: Sequence[float]) -> np.ndarray:  # noqa: D102
        total = np.zeros(self.dim)
        for job, w in zip(jobs, weights, strict=True):
            noise = np.random.default_rng([self.seed, STREAM_NOISE, job.worker, job.index])
            g = self.exact_gradient(job.worker, job.point)
            g = g + self.config.sigma * noise.standard_normal(self.dim)
            job.stats = {
                "env_steps": self.config.steps_per_job,
                "episode_return": self.value(job.point),
            }
            self.call_log.append(job.key)
            total += w * g
        return total

    def value(self, x: np.ndarray) -> float:
        """J(x) - J*: 0 at the optimum, negative elsewhere."""
        return float(-0.5 * np.sum(self.a * (x - self.optimum) ** 2))

    def evaluate(self, theta: np.ndarray) -> dict[str, float]:  # noqa: D102
        return {"return_mean": self.value(theta), "return_std": 0.0}

    def counters(self) -> dict[str, int]:  # noqa: D102
        k = len(self.call_log)
        return {
            "trajectories_simulated": k,
            "trajectories_consumed": k,
            "env_steps": k * self.config.steps_per_job,
        }

    def close(self) -> None:  # noqa: D102
        pass
