"""Export one run's timeline as Chrome/Perfetto ``trace_event`` JSON.

Open the file at https://ui.perfetto.dev (or chrome://tracing). One microsecond of the trace is
one microsecond of *simulated* time. Every worker is a thread (``tid`` = worker number, named
"worker i"); its intervals are complete ("X") events named by state (compute, cancelled,
discarded, lost, upload, download, allreduce, offline). The server is ``tid`` 0 ("server");
each optimizer update is an instant event named "update" on it, so all updates group together;
its ``args`` carry the version (``skipped: true`` when the step was skipped, ``||d|| = 0``).
Times are microseconds rounded to 1e-3 us, the simulator's own 1e-9 s resolution, so no float
noise shows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from apga_sim import analysis

PID = 1
_US = 1e6
_DIGITS = 3
"""Decimals kept in microseconds: 1e-3 us = 1e-9 s, the engine's time resolution."""


def _us(seconds: float) -> float:
    """Simulated seconds as microseconds at the engine's time resolution."""
    return round(seconds * _US, _DIGITS)


def _args(row: dict, names: tuple[str, ...]) -> dict[str, int]:
    """Pick the non-missing integer fields ``names`` of an events or intervals record."""
    return {name: int(row[name]) for name in names if name in row and pd.notna(row[name])}


def to_trace_events(events: pd.DataFrame) -> dict:
    """Trace-event JSON object (``{"traceEvents": [...]}``) of one run's events."""
    intervals = analysis.worker_intervals(events)
    updates = events[events["kind"] == "update"]
    threads = [(0, "server")] if len(updates) else []
    threads += [(w, f"worker {w}") for w in analysis.workers_of(events)]
    trace: list[dict] = [
        {"ph": "M", "name": "process_name", "pid": PID, "tid": 0, "args": {"name": "apga-sim"}}
    ]
    for tid, name in threads:
        trace.append(
            {"ph": "M", "name": "thread_name", "pid": PID, "tid": tid, "args": {"name": name}}
        )
        trace.append(
            {
                "ph": "M",
                "name": "thread_sort_index",
                "pid": PID,
                "tid": tid,
                "args": {"sort_index": tid},
            }
        )
    for row in intervals.to_dict("records"):
        trace.append(
            {
                "ph": "X",
                "name": row["state"],
                "cat": row["state"],
                "pid": PID,
                "tid": int(row["worker"]),
                "ts": _us(row["start"]),
                "dur": _us(row["end"] - row["start"]),
                "args": _args(row, ("job", "version")) | ({"open": True} if row["open"] else {}),
            }
        )
    for row in updates.to_dict("records"):
        trace.append(
            {
                "ph": "i",
                "s": "t",
                "name": "update",
                "cat": "update",
                "pid": PID,
                "tid": 0,
                "ts": _us(row["time"]),
                "args": _args(row, ("version", "worker", "gradients", "staleness", "round"))
                | ({"skipped": True} if row.get("skipped") is True else {}),
            }
        )
    return {"traceEvents": trace, "displayTimeUnit": "ms"}


def write(events: pd.DataFrame, path: str | Path) -> Path:
    """Write :func:`to_trace_events` of ``events`` to ``path`` (JSON) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_trace_events(events)))
    return path
