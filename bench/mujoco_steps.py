"""Benchmark (a): the MuJoCo oracle's env steps/s vs raw ``mujoco.mj_step`` on the same model.

For each task, ``gradient()`` of a batch of jobs is timed (lockstep rollout with numpy policy
inference + the batched torch backward). The same trajectories are then replayed with raw
``mj_step(model, data, nstep=frame_skip)`` from the same initial states and with the same
actions, so both sides simulate exactly the same physics. Ratio = raw time / oracle time
(target >= 0.6). Run: ``python -m bench.mujoco_steps``.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time

import mujoco
import numpy as np

from apga_sim.oracles.base import Job
from apga_sim.oracles.mujoco import MujocoOracle, MujocoOracleConfig
from apga_sim.oracles.mujoco.envs import VariantEnv, variant_specs
from apga_sim.oracles.mujoco.rollout import job_request

CASES = [
    ("Hopper-v4", {}, 40),
    ("Hopper-v4", {"terminate_when_unhealthy": False}, 10),
    ("Humanoid-v4", {}, 40),
    ("Humanoid-v4", {"terminate_when_unhealthy": False}, 4),
]


def raw_replay(oracle: MujocoOracle, jobs: list[Job], trajs: list) -> float:
    """Seconds of raw mj_step for the same trajectories (reset not timed)."""
    env = VariantEnv(variant_specs(oracle.config)[0])
    model, data, frame_skip = env.env.model, env.env.data, env.env.frame_skip
    total = 0.0
    for job, traj in zip(jobs, trajs, strict=True):
        env.reset(job_request(oracle.seed, job.worker, job.index, 0, 0).reset_seed)
        actions = env.center + env.half_range * np.tanh(traj.u)
        t0 = time.perf_counter()
        for a in actions:
            data.ctrl[:] = a
            mujoco.mj_step(model, data, nstep=frame_skip)
        total += time.perf_counter() - t0
    return total


def run_case(env_id: str, env_kwargs: dict, n_jobs: int, reps: int = 3) -> float:
    """Interleave ``reps`` (oracle batch, raw replay of it); report the median ratio."""
    cfg = MujocoOracleConfig(kind="mujoco", env=env_id, env_kwargs=env_kwargs)
    oracle = MujocoOracle(cfg, n=1, seed=0)
    theta = oracle.initial_point()
    warm = [Job(1, 10_000 + k, theta, 0) for k in range(n_jobs)]
    oracle.gradient(warm, [1.0] * n_jobs)  # warm-up: build the env pool, torch kernels
    ratios, rows = [], []
    for rep in range(reps):
        jobs = [Job(1, rep * n_jobs + k, theta, 0) for k in range(n_jobs)]
        t0 = time.perf_counter()
        trajs = oracle.rollout(jobs)
        t_roll = time.perf_counter() - t0
        oracle.gradient(jobs, [1.0 / n_jobs] * n_jobs)
        t_total = time.perf_counter() - t0
        steps = sum(t.length for t in trajs)
        t_raw = raw_replay(oracle, jobs, trajs)
        ratios.append(t_raw / t_total)
        rows.append((steps, t_total, t_roll, t_raw))
    k = int(np.argsort(ratios)[len(ratios) // 2])
    steps, t_total, t_roll, t_raw = rows[k]
    label = f"{env_id} {env_kwargs or ''}".strip()
    print(
        f"{label:48s} jobs={n_jobs:3d} steps={steps:6d} oracle {steps / t_total:6.0f} steps/s "
        f"(rollout {t_roll:.2f}s + backward {t_total - t_roll:.2f}s)  raw {steps / t_raw:6.0f} "
        f"steps/s  ratio {ratios[k]:.2f} (reps {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    if ratios[k] < 0.6:
        profile(oracle, theta, n_jobs)
    oracle.close()
    return ratios[k]


def profile(oracle: MujocoOracle, theta: np.ndarray, n_jobs: int) -> None:
    """Print where one more gradient() call spends its time."""
    prof = cProfile.Profile()
    jobs = [Job(1, 20_000 + k, theta, 0) for k in range(n_jobs)]
    prof.enable()
    oracle.gradient(jobs, [1.0 / n_jobs] * n_jobs)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(8)
    print("  below target; where the time goes (cProfile, tottime):")
    print("\n".join("  " + line for line in out.getvalue().splitlines()[6:18] if line.strip()))


def main() -> None:
    print("bench (a): oracle env steps/s (rollout + gradient, 1 process) vs raw mj_step")
    ratios = [run_case(*case) for case in CASES]
    print(f"min ratio {min(ratios):.2f} (target >= 0.6)")


if __name__ == "__main__":
    main()
