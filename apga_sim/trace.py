"""Traces: what a run did, as Parquet files that pandas reads.

A run directory holds

* ``manifest.json``: the resolved scenario, method, seed, versions, git commit, status
  (``complete`` or ``incomplete``) and counters;
* ``events.parquet``: one row per event, columns :data:`EVENT_COLUMNS`;
* ``evals.parquet``: ``time``, ``update``, ``return_mean``, ``return_std`` (and per-variant
  ``return_mean/<variant>``, ``return_std/<variant>``).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from apga_sim.oracles.base import Job

EVENT_KINDS = (
    "compute_start",
    "compute_end",
    "compute_cancel",
    "compute_discard",
    "compute_lost",
    "upload_start",
    "upload_end",
    "download_start",
    "download_end",
    "allreduce_start",
    "allreduce_end",
    "upload_discard",
    "offline_start",
    "offline_end",
    "update",
)
"""Event kinds. ``compute_lost``: a job whose worker went offline; ``upload_discard``: a streamed
gradient of an ended round, discarded on arrival or dropped from its worker's upload queue;
``offline_start`` / ``offline_end``: a worker's offline period."""

EVENT_COLUMNS: dict[str, pa.DataType] = {
    "time": pa.float64(),  # simulated seconds
    "worker": pa.int32(),  # 1..n, 0 = server
    "kind": pa.string(),  # one of EVENT_KINDS
    "version": pa.int64(),  # parameter version the event belongs to (new version on updates)
    "job": pa.int64(),  # per-worker job index (compute events)
    "round": pa.int64(),  # round index (round-based methods)
    "staleness": pa.int64(),  # versions elapsed since the gradient's point (async updates)
    "gradients": pa.int64(),  # gradients consumed by an update
    "skipped": pa.bool_(),  # update skipped because ||d|| = 0
    "env_steps": pa.int64(),  # steps simulated: a computed job's length (compute_end), or how
    # far a per_step job got before compute_cancel / compute_discard (null: never rolled out)
    "episode_return": pa.float64(),  # undiscounted return of a computed job (compute_end)
}


class Recorder:
    """Collects events in memory, column by column."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in EVENT_COLUMNS}
        self._jobs: list[tuple[int, Job]] = []
        self.evals: list[dict[str, float]] = []

    def event(
        self,
        time: float,
        worker: int,
        kind: str,
        version: int,
        *,
        job: int | None = None,
        round: int | None = None,
        staleness: int | None = None,
        gradients: int | None = None,
        skipped: bool | None = None,
        job_ref: Job | None = None,
    ) -> None:
        """Append one event row."""
        row = len(self.columns["time"])
        for name, value in (
            ("time", float(time)),
            ("worker", worker),
            ("kind", kind),
            ("version", version),
            ("job", job),
            ("round", round),
            ("staleness", staleness),
            ("gradients", gradients),
            ("skipped", skipped),
            ("env_steps", None),
            ("episode_return", None),
        ):
            self.columns[name].append(value)
        if job_ref is not None:
            self._jobs.append((row, job_ref))

    def events_table(self) -> pa.Table:
        """The events as an Arrow table, with the statistics of computed jobs filled in."""
        for row, job in self._jobs:
            if "env_steps" in job.stats:
                self.columns["env_steps"][row] = int(job.stats["env_steps"])
            if "episode_return" in job.stats:
                self.columns["episode_return"][row] = float(job.stats["episode_return"])
        return pa.table(
            {
                name: pa.array(values, type=EVENT_COLUMNS[name])
                for name, values in self.columns.items()
            }
        )

    def evals_table(self) -> pa.Table:
        """The evaluations as an Arrow table."""
        names = list(dict.fromkeys(k for row in self.evals for k in row))
        return pa.table(
            {
                k: pa.array(
                    [row.get(k) for row in self.evals],
                    type=pa.int64() if k == "update" else pa.float64(),
                )
                for k in names
            }
        )


def write_run(run_dir: Path, recorder: Recorder, manifest: dict[str, Any]) -> None:
    """Write a run directory atomically: into a sibling temporary folder, then renamed.

    Temporary folders left by killed processes are removed first, and this one is removed if
    writing fails (a full disk, a vanished folder): no half-written run is ever left.
    """
    run_dir = Path(run_dir)
    remove_stale_tmp(run_dir)
    tmp = run_dir.with_name(f".{run_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        pq.write_table(recorder.events_table(), tmp / "events.parquet")
        pq.write_table(recorder.evals_table(), tmp / "evals.parquet")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if run_dir.exists():
            shutil.rmtree(run_dir)
        os.replace(tmp, run_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_stale_tmp(run_dir: Path) -> None:
    """Remove ``run_dir``'s temporary folders whose writing process no longer exists."""
    for tmp in run_dir.parent.glob(f".{glob.escape(run_dir.name)}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # another user's process
        return True
    return True


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    """The manifest of a run directory."""
    return json.loads((Path(run_dir) / "manifest.json").read_text())


def load_run(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Load one run directory as ``(events, evals, manifest)``."""
    path = Path(path)
    events = pd.read_parquet(path / "events.parquet")
    evals = pd.read_parquet(path / "evals.parquet")
    return events, evals, read_manifest(path)


def find_runs(results_dir: str | Path) -> list[Path]:
    """All run directories below ``results_dir``, sorted."""
    return sorted(
        p.parent
        for p in Path(results_dir).rglob("manifest.json")
        if not p.parent.name.startswith(".")
    )


def load_results(results_dir: str | Path, runs: Iterable[Path] | None = None) -> pd.DataFrame:
    """One tidy DataFrame of the evaluations of every run below ``results_dir`` (or of ``runs``).

    Columns: the evals columns plus ``method``, ``seed``, ``status``, ``run`` and one column per
    swept parameter (from the manifest's ``cell``).
    """
    frames = []
    for run in find_runs(results_dir) if runs is None else runs:
        manifest = read_manifest(run)
        evals = pd.read_parquet(run / "evals.parquet")
        for key, value in manifest.get("cell", {}).items():
            evals[key] = value
        evals["method"] = manifest["method"]
        evals["seed"] = manifest["seed"]
        evals["status"] = manifest["status"]
        evals["run"] = str(run)
        frames.append(evals)
    if not frames:
        raise FileNotFoundError(f"no runs (manifest.json) below {results_dir}")
    return pd.concat(frames, ignore_index=True)
