"""Process-pool and Ray rollouts give results bit-identical to serial ones."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from apga_sim.oracles.base import Job
from apga_sim.oracles.mujoco import MujocoOracle, MujocoOracleConfig

BASE = dict(
    kind="mujoco",
    env="Hopper-v4",
    horizon=60,
    hidden=[16, 16],
    eval_episodes=3,
    variants=[
        dict(name="a", workers=[1, 2], obs_append=[0.0]),
        dict(name="b", workers=[3], obs_negate=True, obs_append=[1.0], mass_scale=1.2),
    ],
)


def workload(oracle: MujocoOracle) -> tuple[np.ndarray, np.ndarray, dict[str, float], list]:
    rng = np.random.default_rng(0)
    theta = oracle.initial_point()
    other = theta + 0.05 * rng.standard_normal(oracle.dim)
    jobs = [Job(1 + k % 3, k, theta if k % 2 else other, 0) for k in range(7)]
    first = oracle.gradient(jobs, [1 / 7] * 7)
    per_step = Job(2, 50, other, 0)  # per_step path
    oracle.start(per_step)
    while oracle.advance([per_step])[0] is None:
        pass
    second = oracle.gradient([Job(2, 50, other, 0), Job(3, 51, theta, 0)], [0.3, 0.7])
    stats = [j.stats for j in jobs]
    return first, second, oracle.evaluate(other), stats


@pytest.fixture(scope="module")
def serial():
    oracle = MujocoOracle(MujocoOracleConfig(**BASE), n=3, seed=9)
    out = workload(oracle)
    oracle.close()
    return out


def check_same(serial, other):
    np.testing.assert_array_equal(serial[0], other[0])
    np.testing.assert_array_equal(serial[1], other[1])
    assert serial[2] == other[2]
    assert serial[3] == other[3]


def test_processes_match_serial(serial):
    oracle = MujocoOracle(MujocoOracleConfig(**BASE, parallel="processes", processes=2), 3, 9)
    try:
        check_same(serial, workload(oracle))
    finally:
        oracle.close()


def test_a_batch_cut_short_leaves_the_processes_usable(serial, monkeypatch):
    """Ctrl-C in the middle of a batch (here: after the first process got its share) leaves
    its pipes out of step; the next batch runs on new processes and gives the same bits."""
    oracle = MujocoOracle(MujocoOracleConfig(**BASE, parallel="processes", processes=2), 3, 9)
    try:
        oracle.evaluate(oracle.initial_point())  # the processes are up
        executor = oracle._executor
        first, second = executor._conns
        send = type(second).send

        def interrupted(conn, obj):
            if conn is second:
                raise KeyboardInterrupt
            send(conn, obj)

        monkeypatch.setattr(type(second), "send", interrupted)
        with pytest.raises(KeyboardInterrupt):
            oracle.evaluate(oracle.initial_point())
        monkeypatch.undo()
        assert not executor._procs and first.closed
        check_same(serial, workload(oracle))
    finally:
        oracle.close()


def test_python_exits_with_an_unclosed_process_oracle():
    """The processes ignore SIGTERM, so multiprocessing's exit (terminate, then join) would
    wait for them forever; the executor ends them first."""
    code = (
        "from apga_sim.oracles.mujoco import MujocoOracle, MujocoOracleConfig\n"
        "c = MujocoOracleConfig(kind='mujoco', env='Hopper-v4', horizon=20, eval_episodes=2,"
        " parallel='processes', processes=2)\n"
        "o = MujocoOracle(c, n=2, seed=0)\n"
        "o.evaluate(o.initial_point())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=120, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray not installed")
def test_ray_matches_serial(serial):
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    oracle = MujocoOracle(MujocoOracleConfig(**BASE, parallel="ray", processes=2), 3, 9)
    try:
        check_same(serial, workload(oracle))
    finally:
        oracle.close()
        ray.shutdown()


def test_cli_traces_identical_serial_processes_and_jobs(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from apga_sim.cli import app

    scenario = {
        "n": 3,
        "oracle": {"kind": "mujoco", "env": "Hopper-v4", "horizon": 20, "eval_episodes": 2},
        "h": {"kind": "sqrt"},
        "u": {"kind": "equal", "scale": 0.1},
        "methods": [
            {"name": "rennala_nigt", "alpha": 0.05, "M": 4},
            {"name": "afedpg", "alpha": 0.01},
        ],
        "seeds": [0, 1],
        "budget": {"updates": 3},
        "eval": {"every_updates": 1},
    }
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(scenario))
    runner = CliRunner()
    for name, extra in (
        ("serial", ["--jobs", "1"]),
        ("jobs", ["--jobs", "2"]),
        ("procs", ["--jobs", "1", "--set", "oracle.parallel=processes"]),
    ):
        res = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / name), *extra])
        assert res.exit_code == 0, res.output
    files = sorted((tmp_path / "serial").rglob("*.parquet"))
    assert len(files) == 8
    for f in files:
        rel = f.relative_to(tmp_path / "serial")
        assert f.read_bytes() == (tmp_path / "jobs" / rel).read_bytes()
        assert f.read_bytes() == (tmp_path / "procs" / rel).read_bytes()
