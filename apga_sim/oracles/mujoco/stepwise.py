"""Rollouts advanced step by step as simulated time passes (``charge: per_step``).

Under ``per_step`` a job's simulated compute time is ``h * T``, so the engine must learn the
trajectory length ``T`` before the job completes, but a job may be cancelled before that. The
engine therefore advances the jobs in progress one environment step at a time, in simulated
time order, and never simulates a step that starts after the job could have been cancelled.
:class:`StepwiseRollouts` holds those partial rollouts; a finished one is bit-identical to the
same job rolled out by :func:`~apga_sim.oracles.mujoco.rollout.rollout_batch` (same env reset,
noise stream and row-independent inference).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from apga_sim.oracles.mujoco.envs import VariantEnv, VariantSpec
from apga_sim.oracles.mujoco.policy import NumpyPolicy, PolicyLayout
from apga_sim.oracles.mujoco.rollout import NOISE_CHUNK, RolloutRequest, Trajectory


@dataclass(eq=False)
class _Partial:
    """One job's rollout so far."""

    env: VariantEnv
    policy: NumpyPolicy
    rng: np.random.Generator
    obs: np.ndarray
    noise: np.ndarray
    xs: list[np.ndarray] = field(default_factory=list)
    us: list[np.ndarray] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)

    @property
    def t(self) -> int:
        return len(self.rewards)


class StepwiseRollouts:
    """Partial rollouts keyed by job id, each on an environment of its own.

    Args:
        specs: The variants.
        layout: Policy shapes.
        horizon: H.

    """

    def __init__(self, specs: Sequence[VariantSpec], layout: PolicyLayout, horizon: int) -> None:
        self.specs, self.layout, self.horizon = list(specs), layout, horizon
        self._free: list[list[VariantEnv]] = [[] for _ in self.specs]
        self._rows: dict[tuple[int, int], tuple[int, _Partial]] = {}

    def start(self, key: tuple[int, int], request: RolloutRequest, theta: np.ndarray) -> None:
        """Reset an environment for job ``key`` (no step simulated yet)."""
        pool = self._free[request.variant]
        env = pool.pop() if pool else VariantEnv(self.specs[request.variant])
        obs = np.array(env.reset(request.reset_seed), dtype=np.float64)
        rng = np.random.default_rng(list(request.noise_key))
        noise = np.empty((NOISE_CHUNK, self.layout.act_dim))
        partial = _Partial(env, NumpyPolicy(self.layout, [theta]), rng, obs, noise)
        self._rows[key] = (request.variant, partial)

    def advance(self, keys: Sequence[tuple[int, int]]) -> list[Trajectory | None]:
        """Simulate one more step of each job; return its trajectory if it just ended."""
        rows = [self._rows[k][1] for k in keys]
        for row in rows:
            if row.t % NOISE_CHUNK == 0:
                row.noise = row.rng.standard_normal((NOISE_CHUNK, self.layout.act_dim))
        out: list[Trajectory | None] = []
        for key, row in zip(keys, rows, strict=True):
            x = row.obs[None, :]
            mu, sigma = row.policy(x)
            u = mu + sigma * row.noise[row.t % NOISE_CHUNK]
            env = row.env
            act = env.center + env.half_range * np.tanh(u)
            obs, reward, done = env.step(act[0])
            row.xs.append(x[0])
            row.us.append(u[0])
            row.rewards.append(reward)
            if done or row.t == self.horizon:
                out.append(self._finish(key, terminated=bool(done)))
            else:
                row.obs = np.array(obs, dtype=np.float64)
                out.append(None)
        return out

    def abandon(self, key: tuple[int, int]) -> int:
        """Stop job ``key``'s rollout (cancelled); return the steps it simulated."""
        variant, row = self._rows.pop(key)
        self._free[variant].append(row.env)
        return row.t

    def close(self) -> None:
        """Close every environment."""
        for variant, row in self._rows.values():
            self._free[variant].append(row.env)
        self._rows.clear()
        for pool in self._free:
            for env in pool:
                env.close()
            pool.clear()

    def _finish(self, key: tuple[int, int], terminated: bool) -> Trajectory:
        variant, row = self._rows.pop(key)
        self._free[variant].append(row.env)
        return Trajectory(
            obs=np.stack(row.xs),
            u=np.stack(row.us),
            rewards=np.asarray(row.rewards, dtype=np.float64),
            terminated=terminated,
        )
