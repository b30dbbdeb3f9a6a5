"""Benchmark (e): steps simulated under ``charge: per_step``, lazy against eager.

Walker2d-v5, n = 37 workers with per-job lognormal per-step times (a straggler-heavy cluster),
Rennala NIGT with ``on_stop: cancel``. A per_step job is rolled out step by step as simulated
time passes, so a cancelled job stops at its cancel instant. The benchmark checks that bound on
every cancelled row, and prints the steps simulated per step of a completed job, against what
rolling every started job out in full when it starts (the former eager behaviour) would
simulate: the cancelled jobs' full lengths are measured by rolling them out afterwards.
Run: ``python -m bench.per_step_waste``.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pandas as pd

from apga_sim.oracles.base import Job
from apga_sim.oracles.mujoco import MujocoOracle
from apga_sim.runner import RunSpec, build_cluster, run_one
from apga_sim.scenario import parse_scenario

SCENARIO = {
    "name": "per_step_waste",
    "n": 37,
    "oracle": {"kind": "mujoco", "env": "Walker2d-v5", "horizon": 200, "eval_episodes": 1},
    "h": {"kind": "random", "dist": "lognormal", "mu_log": 0.0, "sigma_log": 1.0, "per": "job"},
    "u": {"kind": "sqrt", "scale": 5.0},
    "charge": "per_step",
    "methods": [{"name": "rennala_nigt", "alpha": 0.05, "M": 40}],
    "budget": {"time": 3000},
    "eval": {"every_updates": None, "every_time": 1000},
}


def main() -> None:
    s = parse_scenario(SCENARIO)
    cancelled: list[Job] = []
    abandon = MujocoOracle.abandon

    def record(self: MujocoOracle, job: Job) -> int:
        cancelled.append(job)
        return abandon(self, job)

    MujocoOracle.abandon = record  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = RunSpec(s, "rennala_nigt", 0, Path(tmp)).run_dir
            run_one(RunSpec(s, "rennala_nigt", 0, Path(tmp)))
            events = pd.read_parquet(run_dir / "events.parquet")
            counters = json.loads((run_dir / "manifest.json").read_text())["counters"]
    finally:
        MujocoOracle.abandon = abandon  # type: ignore[method-assign]
    h = build_cluster(s, 1, 0).h
    starts = events[events.kind == "compute_start"].set_index(["worker", "job"]).time
    stops = events[events.kind == "compute_cancel"]
    over = 0
    for row in stops.itertuples():
        step = h.time(int(row.worker), int(row.job))
        allowed = math.ceil((row.time - starts[(row.worker, row.job)]) / step - 1e-9)
        over += int(row.env_steps > allowed)
    completed = int(events.loc[events.kind == "compute_end", "env_steps"].sum())
    partial = sum(job.stats["env_steps"] for job in cancelled)
    full = MujocoOracle(s.oracle, s.n, 0).rollout(cancelled)
    eager = counters["env_steps"] - partial + sum(t.length for t in full)
    print(
        f"(e) Walker2d-v5 n=37 per_step, {len(stops)} cancelled jobs: steps simulated / steps "
        f"of completed jobs = {counters['env_steps'] / completed:.2f} lazy, "
        f"{eager / completed:.2f} eager (full rollouts at start); cancelled rows over their "
        f"bound ceil((t_c - t_start) / h): {over} (target 0)"
    )


if __name__ == "__main__":
    main()
