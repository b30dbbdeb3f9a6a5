"""Lockstep rollouts: many environments stepped together with batched numpy policy inference.

A rollout depends only on its :class:`RolloutRequest` (reset seed, noise stream, variant, and
parameters) and never on the other requests of its batch or on the process running it: each
trajectory has its own env, its own ``numpy.random.Generator``, and the policy kernel is
row-independent (see :mod:`apga_sim.oracles.mujoco.policy`). Environments are stepped by a
:class:`~apga_sim.oracles.mujoco.lean.BatchStepper`, lean or through gymnasium, with the same
bits either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from apga_sim.oracles.mujoco.envs import EnvBank
from apga_sim.oracles.mujoco.lean import BatchStepper
from apga_sim.oracles.mujoco.policy import NumpyPolicy, PolicyLayout

NOISE_CHUNK = 256
"""Action noise is drawn ``standard_normal((NOISE_CHUNK, act_dim))`` every NOISE_CHUNK steps."""

RESET_TAG = 0
NOISE_TAG = 1
EVAL_TAG = 0x6576616C  # b"eval"


@dataclass(frozen=True)
class RolloutRequest:
    """One trajectory to roll out.

    Attributes:
        theta: Index of the parameter vector in the ``thetas`` list passed with the batch.
        variant: Index of the environment variant.
        reset_seed: Gymnasium reset seed.
        noise_key: Entropy of the action-noise stream, ``default_rng(list(noise_key))``.
        deterministic: Use ``u = mu`` (no noise).
        record: Keep observations and pre-squash actions (needed for a gradient).

    """

    theta: int
    variant: int
    reset_seed: int
    noise_key: tuple[int, ...]
    deterministic: bool = False
    record: bool = True


@dataclass
class Trajectory:
    """A rolled-out trajectory (what crosses process boundaries).

    Attributes:
        obs: ``(T, obs_dim)`` observations ``s_t`` the actions were taken in (None if not
            recorded).
        u: ``(T, act_dim)`` pre-squash Gaussian samples ``u_t`` (None if not recorded).
        rewards: ``(T,)`` rewards ``r_t``.
        terminated: Whether the episode ended before the horizon.

    """

    obs: np.ndarray | None
    u: np.ndarray | None
    rewards: np.ndarray
    terminated: bool

    @property
    def length(self) -> int:
        """Number of steps ``T``."""
        return int(self.rewards.shape[0])

    @property
    def episode_return(self) -> float:
        """Undiscounted return ``sum_t r_t``."""
        return float(self.rewards.sum())


def job_request(seed: int, worker: int, index: int, variant: int, theta: int) -> RolloutRequest:
    """Build the request of gradient job ``(worker, index)`` of scenario seed ``seed``.

    Reset seed and action noise come from the job's logical id only:
    ``SeedSequence([seed, worker, index, 0])`` gives the reset seed and
    ``default_rng([seed, worker, index, 1])`` the noise.
    """
    reset_seed = int(np.random.SeedSequence([seed, worker, index, RESET_TAG]).generate_state(1)[0])
    return RolloutRequest(theta, variant, reset_seed, (seed, worker, index, NOISE_TAG))


def eval_request(eval_seed: int, k: int, variant: int, deterministic: bool) -> RolloutRequest:
    """Build eval episode ``k``: reset seed ``eval_seed + k``, noise key ``(EVAL_TAG, seed)``."""
    return RolloutRequest(
        0, variant, eval_seed + k, (EVAL_TAG, eval_seed + k), deterministic, record=False
    )


def rollout_batch(
    bank: EnvBank,
    layout: PolicyLayout,
    horizon: int,
    requests: Sequence[RolloutRequest],
    thetas: Sequence[np.ndarray],
) -> list[Trajectory]:
    """Roll out all ``requests`` in lockstep, at most ``horizon`` steps each.

    Args:
        bank: Environments (one distinct env per request is taken from it).
        layout: Policy shapes.
        horizon: H.
        requests: The trajectories; ``request.theta`` indexes ``thetas``.
        thetas: Parameter vectors.

    Returns:
        One :class:`Trajectory` per request, in order.

    """
    n = len(requests)
    if n == 0:
        return []
    envs = bank.take([r.variant for r in requests])
    policy = NumpyPolicy(layout, thetas)
    theta_of = np.array([r.theta for r in requests])
    single = bool(np.all(theta_of == theta_of[0]))
    a_dim, o_dim = layout.act_dim, layout.obs_dim
    rngs = [np.random.default_rng(list(r.noise_key)) for r in requests]
    noisy = [not r.deterministic for r in requests]
    center = np.stack([e.center for e in envs])
    half = np.stack([e.half_range for e in envs])
    obs = np.empty((n, o_dim))
    for j, (env, req) in enumerate(zip(envs, requests, strict=True)):
        obs[j] = env.reset(req.reset_seed)
    lengths = np.full(n, horizon)
    terminated = np.zeros(n, dtype=bool)
    noise = np.zeros((n, NOISE_CHUNK, a_dim))
    stepper = BatchStepper(envs)
    # Per lockstep step: active slots, their observations, samples u and rewards. Rows of a
    # slot are gathered at the end (pure copies, so bits are unchanged).
    log_idx: list[np.ndarray] = []
    log_x: list[np.ndarray] = []
    log_u: list[np.ndarray] = []
    log_r: list[np.ndarray] = []
    idx = np.arange(n)
    t = 0
    while idx.size and t < horizon:
        c = t % NOISE_CHUNK
        if c == 0:
            for j in idx.tolist():
                if noisy[j]:
                    noise[j] = rngs[j].standard_normal((NOISE_CHUNK, a_dim))
        x = obs[idx]
        mu, sigma = policy(x, int(theta_of[0]) if single else theta_of[idx])
        u = mu + sigma * noise[idx, c]
        act = center[idx] + half[idx] * np.tanh(u)
        o, r, done = stepper.step(idx, act)
        log_idx.append(idx)
        log_x.append(x)
        log_u.append(u)
        log_r.append(r)
        if done.any():
            lengths[idx[done]] = t + 1
            terminated[idx[done]] = True
            o, idx = o[~done], idx[~done]
        obs[idx] = o
        t += 1
    del obs, noise
    slot = np.concatenate(log_idx)
    order = np.argsort(slot, kind="stable")  # per slot, in time order
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    all_r = np.concatenate(log_r)[order]
    record = any(r.record for r in requests)
    all_x = _gather(log_x, order) if record else None
    all_u = _gather(log_u, order) if record else None
    out = []
    for j, req in enumerate(requests):
        lo, hi = bounds[j], bounds[j + 1]
        out.append(
            Trajectory(
                obs=all_x[lo:hi] if req.record and all_x is not None else None,
                u=all_u[lo:hi] if req.record and all_u is not None else None,
                rewards=all_r[lo:hi],
                terminated=bool(terminated[j]),
            )
        )
    return out


def _gather(chunks: list[np.ndarray], order: np.ndarray) -> np.ndarray:
    """``concatenate(chunks)[order]``, freeing the chunks as early as possible."""
    stacked = np.concatenate(chunks)
    chunks.clear()
    return stacked[order]
