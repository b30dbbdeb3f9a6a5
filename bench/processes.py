"""Benchmark (c): ``parallel: processes`` with 2 processes vs serial on a rollout-bound batch.

20 Hopper-v4 jobs of exactly 1000 steps (``terminate_when_unhealthy=False``) per gradient()
call; both oracles are warmed up first (pool start, env construction), then timed alternately.
Also checks the two gradients are bit-identical. Target speed-up >= 1.7 on 2 cores.
Run: ``python -m bench.processes``.
"""

from __future__ import annotations

import os
import time

import numpy as np

from apga_sim.oracles.base import Job
from apga_sim.oracles.mujoco import MujocoOracle, MujocoOracleConfig

N_JOBS = 20
REPS = 2


def main() -> None:
    base = dict(kind="mujoco", env="Hopper-v4", env_kwargs={"terminate_when_unhealthy": False})
    serial = MujocoOracle(MujocoOracleConfig(**base), n=N_JOBS, seed=0)
    procs = MujocoOracle(MujocoOracleConfig(**base, parallel="processes", processes=2), N_JOBS, 0)
    theta = serial.initial_point()
    for oracle in (serial, procs):  # warm-up
        oracle.gradient([Job(w, 1000, theta, 0) for w in range(1, N_JOBS + 1)], [1.0] * N_JOBS)
    times: dict[str, list[float]] = {"serial": [], "processes": []}
    for rep in range(REPS):
        grads = {}
        for name, oracle in (("serial", serial), ("processes", procs)):
            jobs = [Job(w, rep, theta, 0) for w in range(1, N_JOBS + 1)]
            t0 = time.perf_counter()
            grads[name] = oracle.gradient(jobs, [1.0 / N_JOBS] * N_JOBS)
            times[name].append(time.perf_counter() - t0)
        assert np.array_equal(grads["serial"], grads["processes"]), "results differ"
    steps = N_JOBS * 1000
    t_s, t_p = min(times["serial"]), min(times["processes"])
    print(f"bench (c): {N_JOBS} Hopper-v4 jobs x 1000 steps per gradient(), cpus={os.cpu_count()}")
    print(f"  serial        {t_s:6.2f} s  ({steps / t_s:6.0f} steps/s)")
    print(f"  2 processes   {t_p:6.2f} s  ({steps / t_p:6.0f} steps/s)  gradients bit-identical")
    print(f"  speed-up {t_s / t_p:.2f}x (target >= 1.7)")
    serial.close()
    procs.close()


if __name__ == "__main__":
    main()
