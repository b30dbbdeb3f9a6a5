"""Benchmark (a'): an asynchronous method end to end against raw ``mujoco.mj_step``.

AFedPG on the figure 1b setting (Humanoid-v4, n = 10, h_i = u_i = sqrt(i)) for 300 simulated
seconds: the CPU time of the whole run (engine, batched rollouts, backward passes, NIGT steps,
trace) against the CPU time of raw ``mj_step`` replaying the same trajectories, one after the
other (target >= 0.8). Then the same for 60 simulated seconds of figure 1a (h_i = 1, no
communication), whose batches are 10 jobs at 10 distinct points. Evaluation is reduced to one
episode at the start and the end.
Run: ``python -m bench.async_end_to_end``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from apga_sim.oracles.base import Job
from apga_sim.oracles.mujoco import MujocoOracle
from apga_sim.oracles.mujoco.envs import VariantEnv, variant_specs
from apga_sim.oracles.mujoco.rollout import Trajectory
from apga_sim.runner import RunSpec, run_one
from apga_sim.scenario import load_scenario
from bench.mujoco_steps import raw_sequential

SCENARIO = Path(__file__).parent.parent / "scenarios" / "paper"
TARGET = 0.8
CASES = {
    "fig1b": (SCENARIO / "fig1b_humanoid_n10_h-sqrt_comm-sqrt.yaml", 300, f"target >= {TARGET}"),
    "fig1a": (
        SCENARIO / "fig1a_humanoid_n10_h-equal_comm-none.yaml",
        60,
        "equal times: 10 jobs at 10 points",
    ),
}
"""Case: (scenario, simulated seconds, what the ratio is set against)."""


def measure(name: str) -> None:
    """Run AFedPG on case ``name``; print its ratio to raw mj_step."""
    file, seconds, against = CASES[name]
    s = load_scenario(
        file, {"budget.time": seconds, "eval.every_time": 1e6, "oracle.eval_episodes": 1}
    )
    rolled: list[tuple[Job, Trajectory]] = []
    store = MujocoOracle._store

    def record(self: MujocoOracle, job: Job, traj: Trajectory) -> None:
        rolled.append((job, traj))
        store(self, job, traj)

    MujocoOracle._store = record  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.process_time()
            counters = run_one(RunSpec(s, "afedpg", 0, Path(tmp)))["counters"]
            run_cpu = time.process_time() - start
    finally:
        MujocoOracle._store = store  # type: ignore[method-assign]
    env = VariantEnv(variant_specs(s.oracle)[0])
    jobs, trajs = [j for j, _ in rolled], [t for _, t in rolled]
    raw = raw_sequential(0, env, jobs, trajs)
    steps = sum(t.length for t in trajs)
    print(
        f"(a') AFedPG {name} {seconds:g} s: {counters['updates']} updates, {steps} env steps in "
        f"{counters['rollout_batches']} rollout batches; run {run_cpu:.1f} s CPU, raw mj_step "
        f"replay {raw:.1f} s -> {raw / run_cpu:.2f} of raw mj_step ({against})"
    )


def main() -> None:
    for name in CASES:
        measure(name)


if __name__ == "__main__":
    main()
