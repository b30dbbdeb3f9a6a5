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


@pytest.mark.slow
def test_rennala_nigt_learns_inverted_pendulum_end_to_end(tmp_path):
    from apga_sim.runner import RunSpec, run_one
    from apga_sim.scenario import parse_scenario
    from apga_sim.trace import load_run

    s = parse_scenario(
        {
            "n": 4,
            "oracle": {
                "kind": "mujoco",
                "env": "InvertedPendulum-v4",
                "horizon": 200,
                "eval_episodes": 5,
            },
            "h": {"kind": "sqrt"},
            "methods": [{"name": "rennala_nigt", "alpha": 0.02, "eta": 0.1, "M": 10}],
            "budget": {"updates": 60},
            "eval": {"every_updates": 20},
        }
    )
    manifest = run_one(RunSpec(s, s.methods[0], 0, tmp_path))
    events, evals, _ = load_run(tmp_path / "rennala_nigt" / "seed-0")
    initial, final = evals.return_mean.iloc[0], evals.return_mean.iloc[-1]
    assert initial < 10
    assert final > 30 and final > 4 * initial, evals
    c = manifest["counters"]
    assert c["trajectories_simulated"] == c["trajectories_consumed"] == c["jobs_computed"] == 600
    ends = events[events.kind == "compute_end"]
    assert ends.env_steps.sum() == c["env_steps"]
    assert ends.episode_return.notna().all()
