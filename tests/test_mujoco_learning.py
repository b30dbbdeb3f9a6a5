"""Learning smoke test: normalized gradient ascent with the oracle balances the pendulum."""

from __future__ import annotations

import numpy as np
import pytest

from apga_sim.oracles.base import Job
from apga_sim.oracles.mujoco import MujocoOracle, MujocoOracleConfig


@pytest.mark.slow
def test_normalized_gradient_ascent_learns_inverted_pendulum():
    cfg = MujocoOracleConfig(kind="mujoco", env="InvertedPendulum-v4", horizon=200)
    oracle = MujocoOracle(cfg, n=1, seed=0)
    theta = oracle.initial_point()
    initial = oracle.evaluate(theta)["return_mean"]
    batch, alpha = 10, 0.05
    for it in range(60):
        jobs = [Job(1, it * batch + k, theta, it) for k in range(batch)]
        g = oracle.gradient(jobs, [1 / batch] * batch)
        theta = theta + alpha * g / np.linalg.norm(g)
    final = oracle.evaluate(theta)["return_mean"]
    assert initial < 10
    assert final > 30 and final > 4 * initial, (initial, final)
    assert oracle.counters()["trajectories_consumed"] == 600
