"""Run the methods x seeds of a scenario and write one trace directory per run.

Layout: ``OUT/<method label>/seed-<seed>/`` (``OUT/<cell>/<method label>/seed-<seed>/`` for a
sweep cell). A complete run directory is skipped, never overwritten, unless ``overwrite``; an
``incomplete`` one (an interrupted run) is recomputed, which loses nothing because runs are
deterministic and an interrupted trace is a prefix of the complete one. A run directory made by a
different scenario is refused.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from apga_sim.analysis import time_to_target
from apga_sim.availability import Schedule
from apga_sim.engine import Budget, Cluster, Engine, Evaluator
from apga_sim.lifecycle import die_with_parent, init_ray
from apga_sim.methods import MethodConfig
from apga_sim.oracles import build_oracle
from apga_sim.oracles.base import Oracle
from apga_sim.scenario import (
    RingAllReduce,
    Scenario,
    ScenarioError,
    TwiceMaxUpload,
    cell_folder,
)
from apga_sim.timing import WorkerTimes
from apga_sim.trace import Recorder, read_manifest, write_run

ProgressFn = Callable[[int, float], None]


@dataclass(frozen=True)
class RunSpec:
    """One run: a method entry of a scenario, one seed, one sweep cell.

    ``method`` may be given as a label of ``scenario``'s entries; it is looked up once, here.
    """

    scenario: Scenario
    method: MethodConfig
    seed: int
    out: Path
    cell: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.method, str):
            object.__setattr__(self, "method", self.scenario.method(self.method))

    @property
    def label(self) -> str:
        """The method entry's label (its folder, its name in tables and plots)."""
        return self.method.display

    @property
    def run_dir(self) -> Path:
        """Where the run's trace goes."""
        cell = cell_folder(self.cell)
        base = self.out / cell if cell else self.out
        return base / self.label / f"seed-{self.seed}"


def build_cluster(s: Scenario, dim: int, seed: int) -> Cluster:
    """The simulated machines of scenario ``s`` for a problem of ``dim`` parameters."""
    times = {q: WorkerTimes(getattr(s, q), q, s.n, dim, seed) for q in ("h", "u", "v")}
    ar = s.aggregation.allreduce
    if isinstance(ar, TwiceMaxUpload):
        allreduce = 2.0 * max(times["u"].time(i, 0) for i in range(1, s.n + 1))
    elif isinstance(ar, RingAllReduce):
        allreduce = 2.0 * (s.n - 1) / s.n * 4.0 * dim / ar.bandwidth + 2.0 * (s.n - 1) * ar.latency
    else:
        allreduce = ar.value
    return Cluster(
        n=s.n,
        **times,
        charge=s.charge,
        mode=s.aggregation.mode,
        server_time=s.aggregation.server_time,
        allreduce_time=allreduce,
        overlap=s.aggregation.overlap,
        availability=None if s.availability is None else Schedule(s.availability, seed),
    )


def build_engine(
    s: Scenario,
    method: MethodConfig,
    seed: int,
    oracle: Oracle,
    recorder: Recorder,
    evaluator: Evaluator | None = None,
) -> Engine:
    """The engine of one run: ``method`` on scenario ``s``'s cluster for ``seed``, with ``oracle``.

    Args:
        s: The resolved scenario (a sweep cell, grids expanded).
        method: One of ``s``'s method entries.
        seed: The run's seed (random time profiles; the oracle is seeded by its maker).
        oracle: The gradient oracle, built for ``s.n`` workers and ``seed``.
        recorder: Where the trace goes.
        evaluator: When and how to measure the iterate (``None``: never).

    """
    aggregator, optimizer = method.build(s.n, oracle.initial_point())
    return Engine(
        build_cluster(s, oracle.dim, seed),
        aggregator,
        optimizer,
        oracle,
        Budget(s.budget.time, s.budget.updates),
        recorder,
        evaluator=evaluator,
    )


def _versions() -> dict[str, str]:
    names = ("apga-sim", "numpy", "simpy", "torch", "gymnasium", "mujoco", "pyarrow")
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


NOT_IN_RUN = ("name", "description", "seeds", "methods", "target_return", "tune", "tuned", "sweep")
"""Scenario fields that do not change a run's trace (the run's own method and seed do)."""


def run_identity(scenario: dict[str, Any], method: dict[str, Any]) -> dict[str, Any]:
    """What determines a run's trace, from the JSON dumps of its scenario and method entry."""
    return {k: v for k, v in scenario.items() if k not in NOT_IN_RUN} | {"method": method}


FINAL = ("complete", "failed")
"""Statuses of runs that are done: rerunning them (deterministic) would give the same trace."""


def check_existing(spec: RunSpec, overwrite: bool) -> str:
    """Decide what to do with ``spec``'s directory: ``run`` or ``skip``; refuse a foreign one."""
    manifest_path = spec.run_dir / "manifest.json"
    if not manifest_path.exists():
        if spec.run_dir.exists() and any(spec.run_dir.iterdir()):
            raise ScenarioError(
                f"{spec.run_dir}: exists and is not an apga-sim run; choose another --out"
            )
        return "run"
    if overwrite:
        return "run"
    try:
        manifest = read_manifest(spec.run_dir)
    except (OSError, ValueError) as exc:
        raise ScenarioError(
            f"{manifest_path}: unreadable ({type(exc).__name__}); pass --overwrite to redo the run"
        ) from None
    mine = run_identity(spec.scenario.model_dump(mode="json"), spec.method.model_dump(mode="json"))
    if run_identity(manifest.get("scenario", {}), manifest.get("method_config", {})) != mine:
        raise ScenarioError(
            f"{spec.run_dir}: holds a run of a different scenario; choose "
            "another --out, or pass --overwrite to replace it"
        )
    traces = all((spec.run_dir / f).is_file() for f in ("events.parquet", "evals.parquet"))
    return "skip" if manifest.get("status") in FINAL and traces else "run"


class NonFiniteError(ArithmeticError):
    """A run's parameters or evaluation became non-finite: the run stops, marked failed."""

    def __init__(self, reason: str, update: int) -> None:
        super().__init__(reason, update)  # rebuilt from its args (SimPy re-raises a copy)
        self.reason, self.update = reason, update

    def __str__(self) -> str:
        return f"{self.reason} at update {self.update}"


def run_one(spec: RunSpec, progress: ProgressFn | None = None) -> dict[str, Any]:
    """Simulate one run and write its trace directory; return its manifest."""
    s = spec.scenario
    oracle = build_oracle(s.oracle, s.n, spec.seed)
    recorder = Recorder()
    start = time.perf_counter()
    try:

        def measure(theta: np.ndarray) -> dict[str, float]:
            row = oracle.evaluate(theta)
            returns = [v for k, v in row.items() if k.startswith("return_")]
            if not np.all(np.isfinite(returns)):
                raise NonFiniteError("the evaluation return is not finite", engine.counters.updates)
            return row

        def on_update(e: Engine) -> None:
            if not np.all(np.isfinite(e.opt.theta)):
                raise NonFiniteError(
                    "the parameters are not finite (a non-finite gradient or direction, or a "
                    "step size too large)",
                    e.counters.updates,
                )
            if progress is not None:
                progress(e.counters.updates, float(e.env.now))

        evaluator = Evaluator(measure, s.eval.every_updates, s.eval.every_time)
        engine = build_engine(s, spec.method, spec.seed, oracle, recorder, evaluator)
        engine.on_update = on_update
        status, failure = "incomplete", None
        try:
            engine.run()
            status = "complete"
        except NonFiniteError as exc:
            status, failure = "failed", {"reason": exc.reason, "update": exc.update}
        finally:
            manifest = _manifest(
                spec,
                status,
                engine.counters.__dict__ | oracle.counters(),
                time.perf_counter() - start,
                recorder,
            ) | {"dim": oracle.dim}
            if failure is not None:
                manifest |= {"failure": failure, "final_return": None, "time_to_target": None}
            write_run(spec.run_dir, recorder, manifest)
    finally:
        oracle.close()
    return manifest


def _manifest(
    spec: RunSpec, status: str, counters: dict[str, Any], seconds: float, recorder: Recorder
) -> dict[str, Any]:
    s = spec.scenario
    evals = recorder.evals
    counters = counters | {"real_seconds": seconds}
    return {
        "scenario_name": s.name,
        "scenario": s.model_dump(mode="json"),
        "method": spec.label,
        "method_config": spec.method.model_dump(mode="json"),
        "seed": spec.seed,
        "cell": spec.cell,
        "status": status,
        "counters": counters,
        "target_return": s.target_return,
        "time_to_target": None
        if s.target_return is None or not evals
        else time_to_target(pd.DataFrame(evals), s.target_return),
        "final_return": evals[-1]["return_mean"] if evals else None,  # stopped before one
        "versions": _versions(),
        "git_commit": _git_commit(),
    }


def _run_quiet(spec: RunSpec) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    return run_one(spec)


def _run_on_ray(
    specs: list[RunSpec], address: str, on_done: Callable[[RunSpec, dict[str, Any]], None] | None
) -> None:
    try:
        init_ray(None if address == "local" else address)
    except ConnectionError as exc:
        raise ScenarioError(f"--ray: {exc}") from None
    import ray

    remote = ray.remote(num_cpus=1)(_run_quiet)
    pending = {remote.remote(spec): spec for spec in specs}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        spec = pending.pop(done[0])
        manifest = ray.get(done[0])
        if on_done:
            on_done(spec, manifest)


def run_many(
    specs: list[RunSpec],
    jobs: int = 1,
    ray: str | None = None,
    on_start: Callable[[RunSpec], ProgressFn | None] | None = None,
    on_done: Callable[[RunSpec, dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run ``specs`` serially, in ``jobs`` local processes, or as Ray tasks; return manifests.

    Serial runs (``jobs == 1``) report per-update progress; ``ray`` is an address or ``"local"``.
    Results are identical either way: each run depends only on its scenario, method and seed.
    """
    manifests: dict[int, dict[str, Any]] = {}

    def done(spec: RunSpec, manifest: dict[str, Any]) -> None:
        manifests[id(spec)] = manifest
        if on_done:
            on_done(spec, manifest)

    if ray is not None:
        _run_on_ray(specs, ray, done)
    elif jobs <= 1 or len(specs) <= 1:
        for spec in specs:
            done(spec, run_one(spec, on_start(spec) if on_start else None))
    else:
        ctx = mp.get_context("spawn")
        others = set(mp.active_children())
        pool = cf.ProcessPoolExecutor(
            max_workers=jobs, mp_context=ctx, initializer=die_with_parent, initargs=(os.getpid(),)
        )
        try:
            futures = {pool.submit(_run_quiet, spec): spec for spec in specs}
            for future in cf.as_completed(futures):
                done(futures[future], future.result())
        except BaseException:
            _stop(pool, others)
            raise
        pool.shutdown()
    return [manifests[id(spec)] for spec in specs]


def _stop(pool: cf.ProcessPoolExecutor, others: set[mp.process.BaseProcess]) -> None:
    """End ``pool`` now (Ctrl-C or an error): queued runs never start, running ones are killed.

    Its workers are this process's children that are not in ``others`` (those it had before).

    Waiting for them could take hours in a study. A killed run leaves only its temporary
    folder, which the next run of it removes, so the same command resumes.
    """
    pool.shutdown(wait=False, cancel_futures=True)
    for process in set(mp.active_children()) - others:
        process.kill()
