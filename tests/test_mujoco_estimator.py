"""The REINFORCE estimator against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from apga_sim.oracles.base import Job
from apga_sim.oracles.mujoco import MujocoOracle, MujocoOracleConfig
from apga_sim.oracles.mujoco.estimator import (
    leave_one_out_baseline,
    log_likelihood,
    log_prob,
    rewards_to_go,
)


@pytest.fixture(scope="module")
def hopper():
    cfg = MujocoOracleConfig(kind="mujoco", env="Hopper-v4", horizon=40, hidden=[16, 16])
    oracle = MujocoOracle(cfg, n=2, seed=3)
    yield oracle
    oracle.close()


def independent_logp(oracle: MujocoOracle, theta: torch.Tensor, s: torch.Tensor, u: torch.Tensor):
    """log pi written from scratch with torch.distributions (one step)."""
    lay = oracle.layout
    pos, tensors = 0, []
    for shape in lay.shapes:
        size = int(np.prod(shape))
        tensors.append(theta[pos : pos + size].reshape(shape))
        pos += size
    w1, b1, w2, b2, wm, bm, ws, bs = tensors
    h = torch.tanh(torch.tanh(s @ w1 + b1) @ w2 + b2)
    mu = h @ wm + bm
    sigma = torch.nn.functional.softplus(h @ ws + bs) + 1e-6
    return torch.distributions.Normal(mu, sigma).log_prob(u).sum()


def test_rewards_to_go():
    r = np.array([1.0, 2.0, -1.0, 0.5])
    g = 0.9
    start = [sum(g**h * r[h] for h in range(t, 4)) for t in range(4)]
    step = [sum(g ** (h - t) * r[h] for h in range(t, 4)) for t in range(4)]
    np.testing.assert_allclose(rewards_to_go(r, g, "from_start"), start, rtol=1e-14)
    np.testing.assert_allclose(rewards_to_go(r, g, "from_step"), step, rtol=1e-14)


def test_estimator_matches_per_step_autograd(hopper):
    theta = hopper.initial_point() + 0.05 * np.random.default_rng(0).standard_normal(hopper.dim)
    job = Job(2, 7, theta, 0)
    traj = hopper.rollout([job])[0]
    assert traj.length >= 5
    gamma, r, T = hopper.config.gamma, traj.rewards, traj.length
    expected = np.zeros(hopper.dim)
    for t in range(T):
        th = torch.tensor(theta, requires_grad=True)
        lp = independent_logp(hopper, th, torch.tensor(traj.obs[t]), torch.tensor(traj.u[t]))
        (grad,) = torch.autograd.grad(lp, th)
        expected += sum(gamma**h * r[h] for h in range(t, T)) * grad.numpy()
    got = hopper.gradient([job], [1.0])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())
    assert np.linalg.norm(got) > 0


def test_rollout_is_consistent_with_policy_and_streams(hopper):
    """u_t = mu + sigma * eps_t with eps from the job's own stream; env replay gives the rewards."""
    from apga_sim.oracles.mujoco.envs import VariantEnv, variant_specs
    from apga_sim.oracles.mujoco.policy import NumpyPolicy
    from apga_sim.oracles.mujoco.rollout import job_request

    theta = hopper.initial_point()
    job = Job(1, 4, theta, 0)
    traj = hopper.rollout([job])[0]
    mu, sigma = NumpyPolicy(hopper.layout, [theta])(traj.obs)
    eps = np.random.default_rng([3, 1, 4, 1]).standard_normal((256, hopper.layout.act_dim))
    np.testing.assert_array_equal(traj.u, mu + sigma * eps[: traj.length])
    env = VariantEnv(variant_specs(hopper.config)[0])
    np.testing.assert_array_equal(env.reset(job_request(3, 1, 4, 0, 0).reset_seed), traj.obs[0])
    rewards = []
    for t in range(traj.length):
        obs, rew, done = env.step(env.half_range * np.tanh(traj.u[t]))
        rewards.append(rew)
        if t + 1 < traj.length:
            np.testing.assert_array_equal(obs, traj.obs[t + 1])
    np.testing.assert_array_equal(rewards, traj.rewards)
    assert done == traj.terminated
    hopper.discard([job])


def test_score_matches_finite_differences(hopper):
    rng = np.random.default_rng(1)
    theta = hopper.initial_point() + 0.1 * rng.standard_normal(hopper.dim)
    job = Job(1, 11, theta, 0)
    traj = hopper.rollout([job])[0]
    th = torch.tensor(theta, requires_grad=True)
    lp = log_prob(hopper.layout, th, torch.tensor(traj.obs), torch.tensor(traj.u)).sum()
    (score,) = torch.autograd.grad(lp, th)
    eps = 1e-6
    for _ in range(5):
        v = rng.standard_normal(hopper.dim)
        fd = (
            log_likelihood(hopper.layout, theta + eps * v, traj)
            - log_likelihood(hopper.layout, theta - eps * v, traj)
        ) / (2 * eps)
        assert fd == pytest.approx(float(score.numpy() @ v), rel=1e-6, abs=1e-6)
    hopper.discard([job])


def test_leave_one_out_baseline():
    a, b, c = np.array([1.0, 2.0, 3.0]), np.array([3.0, 4.0]), np.array([5.0])
    out = leave_one_out_baseline([a, b, c])
    np.testing.assert_allclose(out[0], [4.0, 4.0, 0.0])
    np.testing.assert_allclose(out[1], [3.0, 2.0])
    np.testing.assert_allclose(out[2], [2.0])
    np.testing.assert_array_equal(leave_one_out_baseline([a])[0], np.zeros(3))


def test_baseline_option_keeps_lone_job_and_changes_batch():
    base = dict(kind="mujoco", env="InvertedPendulum-v4", horizon=30, hidden=[8])
    plain = MujocoOracle(MujocoOracleConfig(**base), n=1, seed=0)
    mean = MujocoOracle(MujocoOracleConfig(**base, baseline="mean"), n=1, seed=0)
    theta = plain.initial_point()
    one = [Job(1, 0, theta, 0)]
    np.testing.assert_array_equal(plain.gradient(one, [1.0]), mean.gradient(one, [1.0]))
    batch = [Job(1, k, theta, 0) for k in range(1, 5)]
    assert not np.allclose(plain.gradient(batch, [0.25] * 4), mean.gradient(batch, [0.25] * 4))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_rows_with_their_own_parameters_have_the_bits_of_each_row_alone(activation):
    from apga_sim.oracles.mujoco.policy import NumpyPolicy, PolicyLayout

    layout = PolicyLayout(obs_dim=376, act_dim=17, activation=activation)
    rng = np.random.default_rng(0)
    thetas = [layout.initial(seed) + 0.1 * rng.standard_normal(layout.dim) for seed in range(3)]
    x = rng.standard_normal((40, 376))
    for which in (rng.integers(0, 3, 40), np.arange(3)):  # any rows; every vector in order
        mu, sigma = NumpyPolicy(layout, thetas)(x[: which.size], which)
        for b, k in enumerate(which):
            alone_mu, alone_sigma = NumpyPolicy(layout, [thetas[k]])(x[b : b + 1])
            np.testing.assert_array_equal(mu[b], alone_mu[0])
            np.testing.assert_array_equal(sigma[b], alone_sigma[0])
