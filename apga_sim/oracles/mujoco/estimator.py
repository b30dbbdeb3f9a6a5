"""The REINFORCE estimator g_H (docs/estimator.md), one batched torch backward.

``g_H(tau, theta) = sum_t R_t grad log N(u_t; mu(s_t), sigma(s_t))`` with
``R_t = sum_{h>=t} gamma^h r_h`` (``discount="from_start"``, the default) or
``sum_{h>=t} gamma^(h-t) r_h`` (``"from_step"``). The tanh squash does not depend on theta, so
the score of the pre-squash Gaussian sample ``u_t`` is the score of the action.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from apga_sim.oracles.mujoco.policy import STD_FLOOR, PolicyLayout
from apga_sim.oracles.mujoco.rollout import Trajectory

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def rewards_to_go(rewards: np.ndarray, gamma: float, discount: str = "from_start") -> np.ndarray:
    """``R_t`` for every step t of one trajectory (float64).

    Args:
        rewards: ``(T,)`` rewards.
        gamma: Discount factor.
        discount: ``"from_start"`` (``gamma^h``) or ``"from_step"`` (``gamma^(h-t)``).

    """
    rewards = np.asarray(rewards, dtype=np.float64)
    if discount == "from_start":
        weighted = np.power(gamma, np.arange(rewards.shape[0], dtype=np.float64)) * rewards
        return np.cumsum(weighted[::-1])[::-1].copy()
    if discount != "from_step":
        raise ValueError(f"unknown discount {discount!r}")
    out = np.empty_like(rewards)
    acc = 0.0
    for t in range(rewards.shape[0] - 1, -1, -1):
        acc = rewards[t] + gamma * acc
        out[t] = acc
    return out


def leave_one_out_baseline(returns: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per-time-step mean of the OTHER trajectories' ``R_t`` (0 where no other is alive).

    Leaving the trajectory itself out keeps the estimator unbiased, and a lone job gets no
    baseline (so asynchronous methods are unaffected).
    """
    if not returns:
        return []
    t_max = max(r.shape[0] for r in returns)
    total = np.zeros(t_max)
    count = np.zeros(t_max)
    for r in returns:
        total[: r.shape[0]] += r
        count[: r.shape[0]] += 1
    out = []
    for r in returns:
        T = r.shape[0]
        others = count[:T] - 1
        out.append(np.where(others > 0, (total[:T] - r) / np.maximum(others, 1), 0.0))
    return out


def torch_params(layout: PolicyLayout, theta: torch.Tensor) -> list[torch.Tensor]:
    """Split a flat torch parameter vector into views shaped like :attr:`PolicyLayout.shapes`."""
    out, pos = [], 0
    for shape in layout.shapes:
        size = math.prod(shape)
        out.append(theta[pos : pos + size].view(shape))
        pos += size
    return out


def log_prob(
    layout: PolicyLayout, theta: torch.Tensor, obs: torch.Tensor, u: torch.Tensor
) -> torch.Tensor:
    """``log N(u_t; mu(s_t), diag sigma(s_t)^2)`` per row, differentiable in ``theta``."""
    tensors = torch_params(layout, theta)
    n_hidden = len(layout.hidden)
    act = torch.tanh if layout.activation == "tanh" else torch.relu
    h = obs
    for k in range(n_hidden):
        h = act(h @ tensors[2 * k] + tensors[2 * k + 1])
    w_mu, b_mu, w_sig, b_sig = tensors[2 * n_hidden :]
    mu = h @ w_mu + b_mu
    sigma = torch.logaddexp(h @ w_sig + b_sig, torch.zeros((), dtype=h.dtype)) + STD_FLOOR
    z = (u - mu) / sigma
    return (-0.5 * z * z - torch.log(sigma) - _HALF_LOG_2PI).sum(dim=-1)


def log_likelihood(layout: PolicyLayout, theta: np.ndarray, traj: Trajectory) -> float:
    """``sum_t log N(u_t; mu(s_t), sigma(s_t))`` of a recorded trajectory (for checks)."""
    with torch.no_grad():
        lp = log_prob(
            layout,
            torch.from_numpy(np.array(theta)),
            torch.from_numpy(traj.obs),
            torch.from_numpy(traj.u),
        )
    return float(lp.sum())


def weighted_gradient(
    layout: PolicyLayout,
    thetas: Sequence[np.ndarray],
    theta_of: Sequence[int],
    trajectories: Sequence[Trajectory],
    coefficients: Sequence[np.ndarray],
) -> np.ndarray:
    """``sum_j sum_t c_{j,t} grad log pi_{theta_j}(u_{j,t} | s_{j,t})`` in one backward.

    Args:
        layout: Policy shapes.
        thetas: Distinct parameter vectors.
        theta_of: For each trajectory, the index of its parameters in ``thetas``.
        trajectories: Recorded trajectories (with ``obs`` and ``u``).
        coefficients: Per trajectory, ``(T,)`` step weights ``w_j * (R_t - b_t)``.

    Returns:
        The float64 gradient, summed over all parameter vectors.

    """
    leaves = [torch.tensor(np.asarray(th, dtype=np.float64), requires_grad=True) for th in thetas]
    total = torch.zeros((), dtype=torch.float64)
    for g, leaf in enumerate(leaves):
        members = [j for j, tj in enumerate(theta_of) if tj == g]
        if not members:
            continue
        obs = torch.from_numpy(np.concatenate([trajectories[j].obs for j in members]))
        u = torch.from_numpy(np.concatenate([trajectories[j].u for j in members]))
        coef = torch.from_numpy(np.concatenate([coefficients[j] for j in members]))
        total = total + (coef * log_prob(layout, leaf, obs, u)).sum()
    if not total.requires_grad:
        return np.zeros(layout.dim)
    total.backward()
    grad = np.zeros(layout.dim)
    for leaf in leaves:
        if leaf.grad is not None:
            grad += leaf.grad.numpy()
    return grad
