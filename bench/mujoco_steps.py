"""Benchmark (a): env steps/s of the oracle's rollout path vs raw ``mujoco.mj_step``.

For each task (default kwargs: episodes terminate as the paper runs them), ``rollout()`` of a
batch of jobs is timed in one process (lockstep stepping + numpy policy inference), with
``stepping: lean`` and with ``stepping: gymnasium``. The same trajectories are then replayed
with raw ``mj_step(model, data, nstep=frame_skip)`` from the same initial states with the same
actions, so every side simulates exactly the same physics: one trajectory after the other
(``raw``, the target's basis) and in the rollout's lockstep order. Ratio = lean steps/s / raw
steps/s (target >= 0.9). Times are CPU times of this process; repetitions interleave the sides
(new jobs each time) and each ratio is the median over repetitions of the ratio within one
repetition, since CPU time still varies with the load of the other core (the rates shown are
each side's best). Run: ``python -m bench.mujoco_steps``.
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
from apga_sim.oracles.mujoco.lean import BatchStepper, Outcome
from apga_sim.oracles.mujoco.rollout import Trajectory, job_request

CASES = [("Hopper-v4", 64), ("Walker2d-v4", 64), ("Reacher-v4", 64), ("Humanoid-v4", 32)]
TARGET = 0.9
STEPPINGS = ("lean", "gymnasium")


def raw_sequential(seed: int, env: VariantEnv, jobs: list[Job], trajs: list[Trajectory]) -> float:
    """CPU seconds of raw mj_step replaying ``trajs`` one after the other (resets not timed)."""
    model, data, frame_skip = env.env.model, env.env.data, env.env.frame_skip
    sequential = 0.0
    for job, traj in zip(jobs, trajs, strict=True):
        env.reset(job_request(seed, job.worker, job.index, 0, 0).reset_seed)
        actions = env.center + env.half_range * np.tanh(traj.u)
        t0 = time.process_time()
        for a in actions:
            data.ctrl[:] = a
            mujoco.mj_step(model, data, nstep=frame_skip)
        sequential += time.process_time() - t0
    return sequential


def raw_replays(
    oracle: MujocoOracle, envs: list[VariantEnv], jobs: list[Job], trajs: list[Trajectory]
) -> tuple[float, float]:
    """CPU seconds of raw mj_step for the same trajectories (resets not timed).

    Returns:
        ``(sequential, lockstep)``: one trajectory after the other in one env (the target's
        basis), and every env one step in turn as a rollout steps them (one shared model).

    """
    sequential = raw_sequential(oracle.seed, envs[0], jobs, trajs)
    model, frame_skip = envs[0].env.model, envs[0].env.frame_skip
    seeds = [job_request(oracle.seed, j.worker, j.index, 0, 0).reset_seed for j in jobs]
    actions = [envs[0].center + envs[0].half_range * np.tanh(t.u) for t in trajs]
    for env, seed in zip(envs, seeds, strict=True):
        env.reset(seed)
    datas = [env.env.data for env in envs]
    t0 = time.process_time()
    for t in range(max(len(a) for a in actions)):
        for data, acts in zip(datas, actions, strict=True):
            if t < len(acts):
                data.ctrl[:] = acts[t]
                mujoco.mj_step(model, data, nstep=frame_skip)
    return sequential, time.process_time() - t0


def timed_rollout(oracle: MujocoOracle, jobs: list[Job]) -> tuple[list[Trajectory], float, float]:
    """Roll ``jobs`` out; return them, the CPU seconds, and those inside ``BatchStepper.step``."""
    step = BatchStepper.step
    inside = 0.0

    def timed(self: BatchStepper, slots: np.ndarray, act: np.ndarray) -> Outcome:
        nonlocal inside
        t0 = time.process_time()
        out = step(self, slots, act)
        inside += time.process_time() - t0
        return out

    BatchStepper.step = timed  # type: ignore[method-assign]
    try:
        t0 = time.process_time()
        trajs = oracle.rollout(jobs)
        total = time.process_time() - t0
    finally:
        BatchStepper.step = step  # type: ignore[method-assign]
    return trajs, total, inside


def run_case(env_id: str, n_jobs: int, reps: int = 7) -> float:
    """Interleave ``reps`` (rollout per stepping, raw replays); print the best rates' row."""
    oracles = {
        s: MujocoOracle(MujocoOracleConfig(kind="mujoco", env=env_id, stepping=s), n=1, seed=0)
        for s in STEPPINGS
    }
    theta = oracles["lean"].initial_point()
    for oracle in oracles.values():  # warm-up: build the env pools
        oracle.rollout([Job(1, 10_000 + k, theta, 0) for k in range(n_jobs)])
    envs = [VariantEnv(variant_specs(oracles["lean"].config)[0]) for _ in range(n_jobs)]
    rows = []
    for rep in range(reps):
        jobs = [Job(1, rep * n_jobs + k, theta, 0) for k in range(n_jobs)]
        seconds = {}
        for stepping, oracle in oracles.items():
            trajs, seconds[stepping], seconds[f"{stepping} step"] = timed_rollout(oracle, jobs)
        seconds["raw"], seconds["lockstep"] = raw_replays(oracles["lean"], envs, jobs, trajs)
        rows.append((sum(t.length for t in trajs), seconds))
    ratios = [s["raw"] / s["lean"] for _, s in rows]
    rate = {k: max(steps / s[k] for steps, s in rows) for k in rows[0][1]}
    # Paired: each repetition's sides ran back to back under the same load.
    paired = {k: float(np.median([s["raw"] / s[k] for _, s in rows])) for k in rows[0][1]}
    ratio = paired["lean"]
    steps = sum(steps for steps, _ in rows)
    print(
        f"{env_id:12s} {n_jobs:5d} {steps:7d} {rate['raw']:8.0f} {rate['lean']:8.0f} "
        f"{rate['gymnasium']:8.0f} {ratio:9.2f} {paired['gymnasium']:8.2f} "
        f"{paired['lean step']:9.2f} {paired['lockstep']:9.2f}  "
        f"{'ok' if ratio >= TARGET else 'MISSED'} (reps {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    if ratio < TARGET:
        profile(oracles["lean"], theta, n_jobs)
    for oracle in oracles.values():
        oracle.close()
    return ratio


PARTS = {
    "mj_step": "mujoco._functions.mj_step>",
    "stepping (with mj_step)": "lean.py:step",
    "policy": "policy.py:__call__",
    "resets": "envs.py:reset",
}
"""Parts of the rollout summarised by the profile: ``file:function`` suffixes (outermost)."""


def profile(oracle: MujocoOracle, theta: np.ndarray, n_jobs: int) -> None:
    """Print where one more lean rollout spends its time (cProfile)."""
    prof = cProfile.Profile()
    jobs = [Job(1, 20_000 + k, theta, 0) for k in range(n_jobs)]
    prof.enable()
    oracle.rollout(jobs)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(6)
    rows = stats.stats  # type: ignore[attr-defined]
    cumulative = {f"{file}:{func}": row[3] for (file, _, func), row in rows.items()}
    total = max(cumulative.values())
    shares = {
        name: max((ct for key, ct in cumulative.items() if key.endswith(part)), default=0.0)
        for name, part in PARTS.items()
    }
    print(
        "  below target; cumulative shares of the lean rollout: "
        + ", ".join(f"{k} {v / total:.0%}" for k, v in shares.items())
        + "; top tottime:"
    )
    print("\n".join("  " + line for line in out.getvalue().splitlines()[6:16] if line.strip()))


def main() -> None:
    print("bench (a): env steps/s (CPU time) of the oracle's rollout, 1 process, vs raw mj_step")
    print(
        f"{'task':12s} {'jobs':>5s} {'steps':>7s} {'raw/s':>8s} {'lean/s':>8s} {'gym/s':>8s} "
        f"{'lean/raw':>9s} {'gym/raw':>8s} {'step/raw':>9s} {'lockstep':>9s}  "
        f"target lean/raw >= {TARGET}"
    )
    ratios = [run_case(*case) for case in CASES]
    print(
        f"min lean/raw {min(ratios):.2f} (target >= {TARGET}; ratios are medians of paired "
        "repetitions). step/raw: raw time / time inside "
        "the lean BatchStepper.step (physics + lean arithmetic, without policy, resets and "
        "bookkeeping); lockstep: raw time / raw mj_step in the rollout's order (every env one "
        "step in turn), the physics' own cost of lockstep (cache)."
    )


if __name__ == "__main__":
    main()
