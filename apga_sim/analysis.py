"""Pandas helpers on simulation traces (``events``, ``evals``) and on tidy results tables.

Conventions:

* A run that never reaches the target has time-to-target ``None`` (:func:`time_to_target`) or
  NaN (tables); quantiles over seeds count such runs as infinitely slow, so a quantile that
  falls on a run that did not reach the target is ``inf`` ("not reached"), never a made-up time.
* Worker-time shares (utilisation, communication share) are fractions of ``span``, the
  simulated time from 0 to the last event of the trace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

#: Interval states, in drawing order.
STATES: tuple[str, ...] = (
    "compute",
    "cancelled",
    "discarded",
    "upload",
    "download",
    "allreduce",
    "lost",
    "offline",
)
#: States that are communication.
COMM_STATES: tuple[str, ...] = ("upload", "download", "allreduce")

_COMPUTE_END = {
    "compute_end": "compute",
    "compute_cancel": "cancelled",
    "compute_discard": "discarded",
    "compute_lost": "lost",
}
_RUN_COLUMNS = ("method", "seed", "run", "status")


def time_to_target(evals: pd.DataFrame, target: float, column: str = "return_mean") -> float | None:
    """First simulated time at which ``evals[column] >= target``.

    Args:
        evals: Evaluation rows of one run (``time`` and ``column``).
        target: Return to reach.
        column: Return column (``return_mean`` or ``return_mean/<variant>``).

    Returns:
        The time, or ``None`` if the run never reaches the target.

    """
    ordered = evals.sort_values("time", kind="stable")
    hit = ordered.loc[ordered[column] >= target, "time"]
    return float(hit.iloc[0]) if len(hit) else None


def quantile(values: Sequence[float] | np.ndarray, q: float) -> float:
    """Linear-interpolation quantile where NaN counts as ``+inf`` (not reached).

    The result is ``inf`` whenever the interpolation touches a run that did not reach the target.
    """
    x = np.asarray(values, dtype=float)
    x = np.sort(np.where(np.isnan(x), np.inf, x))  # (nan_to_num would also turn inf finite)
    if x.size == 0:
        return float("nan")
    pos = q * (x.size - 1)
    lo, hi = int(np.floor(pos)), int(np.ceil(pos))
    if lo == hi or np.isinf(x[hi]):
        return float(x[hi])
    return float(x[lo] + (pos - lo) * (x[hi] - x[lo]))


def param_columns(results_df: pd.DataFrame) -> list[str]:
    """Swept-parameter columns of a results table.

    These are the columns other than ``method``, ``seed``, ``run``, ``status``, ``time``,
    ``update`` and ``return_*`` that are constant within every run (checked when there is a
    ``run`` column).
    """
    evals_columns = {"time", "update", "episode_length_mean"}  # measured, never swept
    candidates = [
        c
        for c in results_df.columns
        if c not in _RUN_COLUMNS and c not in evals_columns and not c.startswith("return_")
    ]
    if "run" not in results_df.columns or not candidates:
        return candidates
    constant = results_df.groupby("run")[candidates].nunique(dropna=False).max() <= 1
    return [c for c in candidates if constant[c]]


def sort_key(values: pd.Series) -> pd.Series:
    """Sort key of a column of swept values: numbers as numbers (4 < 16), others as text."""
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers if numbers.notna().all() else values.astype(str)


def run_keys(results_df: pd.DataFrame) -> list[str]:
    """Columns identifying one run: ``run`` if present, else method, seed and parameters."""
    if "run" in results_df.columns:
        return ["run"]
    return ["method", "seed", *param_columns(results_df)]


def worker_intervals(events: pd.DataFrame) -> pd.DataFrame:
    """Busy intervals of every worker, from paired start/end events.

    A compute job (``compute_start``) ends with ``compute_end``, ``compute_cancel``,
    ``compute_discard`` or ``compute_lost`` of the same worker and job (state ``compute``,
    ``cancelled``, ``discarded``, ``lost``). Upload, download, allreduce and offline starts are
    paired with the next end of the same kind on the same worker. An interval still open at the
    end of the trace ends at the last event time and has ``open = True``.

    Returns:
        Columns ``worker, start, end, state, job, version, open``, sorted by worker then start.

    """
    t_end = float(events["time"].max()) if len(events) else 0.0
    parts = [_compute_intervals(events, t_end)]
    parts += [_paired_intervals(events, state, t_end) for state in (*COMM_STATES, "offline")]
    out = pd.concat(parts, ignore_index=True)
    out["job"] = out["job"].astype("Int64")
    out["version"] = out["version"].astype("Int64")
    return out.sort_values(["worker", "start", "end"], kind="stable").reset_index(drop=True)


def _compute_intervals(events: pd.DataFrame, t_end: float) -> pd.DataFrame:
    """Intervals of compute jobs, keyed by (worker, job)."""
    starts = events.loc[events["kind"] == "compute_start", ["worker", "job", "time", "version"]]
    ends = events.loc[events["kind"].isin(list(_COMPUTE_END)), ["worker", "job", "time", "kind"]]
    for name, frame in (("compute_start", starts), ("compute end", ends)):
        if frame.duplicated(["worker", "job"]).any():
            raise ValueError(f"duplicate {name} events for one (worker, job)")
    merged = starts.merge(
        ends, on=["worker", "job"], how="outer", suffixes=("_start", "_end"), indicator=True
    )
    if (merged["_merge"] == "right_only").any():
        raise ValueError("a compute job ends without a compute_start")
    is_open = merged["time_end"].isna()
    return pd.DataFrame(
        {
            "worker": merged["worker"].astype(int),
            "start": merged["time_start"].astype(float),
            "end": merged["time_end"].fillna(t_end).astype(float),
            "state": merged["kind"].map(_COMPUTE_END).fillna("compute"),
            "job": merged["job"],
            "version": merged["version"],
            "open": is_open,
        }
    )


def _paired_intervals(events: pd.DataFrame, state: str, t_end: float) -> pd.DataFrame:
    """Intervals of one kind (a transfer, offline): the k-th start pairs with the k-th end."""
    paired = []
    for suffix in ("start", "end"):
        rows = events.loc[events["kind"] == f"{state}_{suffix}", ["worker", "time", "version"]]
        paired.append(rows.assign(k=rows.groupby("worker").cumcount()))
    merged = paired[0].merge(
        paired[1], on=["worker", "k"], how="outer", suffixes=("_start", "_end"), indicator=True
    )
    bad = (merged["_merge"] == "right_only") | (merged["time_end"] < merged["time_start"])
    if bad.any():
        raise ValueError(f"{state}_end without a matching {state}_start")
    is_open = merged["time_end"].isna()
    return pd.DataFrame(
        {
            "worker": merged["worker"].astype(int),
            "start": merged["time_start"].astype(float),
            "end": merged["time_end"].fillna(t_end).astype(float),
            "state": state,
            "job": pd.array([pd.NA] * len(merged), dtype="Int64"),
            "version": merged["version_start"],
            "open": is_open,
        }
    )


def idle_intervals(intervals: pd.DataFrame, workers: Sequence[int], span: float) -> pd.DataFrame:
    """Gaps in ``[0, span]`` covered by no interval, for each of ``workers`` (state ``idle``)."""
    rows = []
    for worker in workers:
        cursor = 0.0
        group = intervals[intervals["worker"] == worker].sort_values("start")
        for start, end in group[["start", "end"]].itertuples(index=False):
            if start > cursor:
                rows.append((worker, cursor, start))
            cursor = max(cursor, end)
        if span > cursor:
            rows.append((worker, cursor, span))
    idle = pd.DataFrame(rows, columns=["worker", "start", "end"])
    return idle.assign(state="idle").astype({"worker": int, "start": float, "end": float})


def workers_of(events: pd.DataFrame) -> list[int]:
    """Worker numbers appearing in a trace, server (0) excluded."""
    return sorted(int(w) for w in events["worker"].unique() if w != 0)


def utilisation(events: pd.DataFrame) -> pd.DataFrame:
    """Worker-time per state, per worker (server excluded).

    Returns:
        Indexed by worker: seconds in each of :data:`STATES` and ``idle`` (time covered by no
        interval), ``span``, ``utilisation`` (share of ``span`` spent on compute jobs whose
        gradient was delivered) and ``comm_share`` (share of ``span`` spent communicating).

    """
    intervals = worker_intervals(events)
    span = float(events["time"].max())
    seconds = (
        intervals.assign(duration=intervals["end"] - intervals["start"])
        .pivot_table(index="worker", columns="state", values="duration", aggfunc="sum")
        .reindex(columns=list(STATES), fill_value=0.0)
        .fillna(0.0)
    )
    workers = workers_of(events)
    seconds = seconds.reindex(workers, fill_value=0.0)
    idle = idle_intervals(intervals, workers, span)
    seconds["idle"] = (idle["end"] - idle["start"]).groupby(idle["worker"]).sum()
    seconds["idle"] = seconds["idle"].fillna(0.0)
    seconds["span"] = span
    seconds["utilisation"] = seconds["compute"] / span
    seconds["comm_share"] = seconds[list(COMM_STATES)].sum(axis=1) / span
    seconds.columns.name = None
    seconds.index.name = "worker"
    return seconds


def staleness(events: pd.DataFrame) -> pd.DataFrame:
    """Staleness of every update that records one (asynchronous methods).

    Returns:
        Columns ``time, worker, version, staleness`` of the ``update`` rows with a staleness.

    """
    updates = events.loc[(events["kind"] == "update") & events["staleness"].notna()]
    return updates[["time", "worker", "version", "staleness"]].reset_index(drop=True)


#: Manifest counter -> :func:`run_stats` column.
MANIFEST_COUNTERS = {
    "updates": "updates",
    "gradients_consumed": "gradients_used",
    "jobs_cancelled": "gradients_cancelled",
    "jobs_discarded": "gradients_discarded",
}


def run_stats(
    evals: pd.DataFrame,
    events: pd.DataFrame | None = None,
    target: float | None = None,
    column: str = "return_mean",
    manifest: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Per-run statistics: time-to-target, final return and counters.

    The counters come from the events if given, else from the manifest counters if given; without
    either, ``updates`` is the last evaluated update and the other counters are NaN.
    ``comm_share`` needs the events.

    Returns:
        ``time_to_target`` (NaN if not reached or no target), ``final_return``, ``updates``,
        ``gradients_used``, ``gradients_cancelled``, ``gradients_discarded``, ``comm_share``
        (communication share of the workers' time).

    """
    ordered = evals.sort_values("time", kind="stable")
    ttt = time_to_target(ordered, target, column) if target is not None else None
    stats = {
        "time_to_target": np.nan if ttt is None else ttt,
        "final_return": float(ordered[column].iloc[-1]),
        "updates": float(ordered["update"].max()),
        "gradients_used": np.nan,
        "gradients_cancelled": np.nan,
        "gradients_discarded": np.nan,
        "comm_share": np.nan,
    }
    if manifest is not None:
        stats |= {
            stat: float(manifest[key]) for key, stat in MANIFEST_COUNTERS.items() if key in manifest
        }
    if events is not None:
        kind = events["kind"]
        use = utilisation(events)
        stats |= {
            "updates": float((kind == "update").sum()),
            "gradients_used": float(events.loc[kind == "update", "gradients"].sum()),
            "gradients_cancelled": float((kind == "compute_cancel").sum()),
            "gradients_discarded": float((kind == "compute_discard").sum()),
            "comm_share": float(use[list(COMM_STATES)].to_numpy().sum() / use["span"].sum()),
        }
    return stats


def per_run(
    results_df: pd.DataFrame,
    target: float | None = None,
    events_by_run: Mapping[str, pd.DataFrame] | None = None,
    column: str = "return_mean",
    manifests_by_run: Mapping[str, Mapping[str, float]] | None = None,
) -> pd.DataFrame:
    """One row of :func:`run_stats` per run of a tidy results table.

    Args:
        results_df: Evals of every run with ``method``, ``seed``, swept parameters and ``run``.
        target: Return to reach (``None``: no time-to-target).
        events_by_run: Optional ``run`` -> events DataFrame, for the counters and ``comm_share``.
        column: Return column.
        manifests_by_run: Optional ``run`` -> manifest counters (a cheaper source of counters).

    Returns:
        Columns ``method, seed``, the parameters, ``run`` (if present), then the statistics.

    """
    keys = run_keys(results_df)
    by_run = (events_by_run, manifests_by_run)
    if any(m is not None for m in by_run) and keys != ["run"]:
        raise ValueError("events_by_run and manifests_by_run need a 'run' column in results_df")
    labels = [c for c in ("method", "seed", *param_columns(results_df)) if c not in keys]
    rows = []
    for key, evals in results_df.groupby(keys, sort=False, dropna=False):
        events, manifest = (None if m is None else m.get(str(key[0])) for m in by_run)
        ident = dict(zip(keys, key, strict=True)) | evals[labels].iloc[0].to_dict()
        rows.append(ident | run_stats(evals, events, target, column, manifest))
    table = pd.DataFrame(rows)
    front = [c for c in ("method", "seed", *param_columns(results_df), "run") if c in table]
    return table[front + [c for c in table.columns if c not in front]]


def failed_runs(results_df: pd.DataFrame) -> set[str]:
    """The ``run`` of every run whose status is ``failed`` (it stopped on a non-finite value)."""
    if "status" not in results_df.columns or "run" not in results_df.columns:
        return set()
    return set(results_df.loc[results_df["status"] == "failed", "run"])


def summary(
    results_df: pd.DataFrame,
    target: float | None = None,
    events_by_run: Mapping[str, pd.DataFrame] | None = None,
    column: str = "return_mean",
    manifests_by_run: Mapping[str, Mapping[str, float]] | None = None,
) -> pd.DataFrame:
    """Per-method (and per swept parameter) table over seeds; each method's cells in order.

    Time-to-target columns: ``reached`` (runs reaching the target), ``ttt_median``, ``ttt_q20``,
    ``ttt_q80`` (:func:`quantile`, ``inf`` = not reached). The other columns are medians over
    seeds of :func:`run_stats`. Failed runs (:func:`failed_runs`) count in ``runs`` and, when
    there are any, in a ``failed`` column, never in a statistic.

    Args:
        results_df: Tidy results (see :func:`per_run`).
        target: Return to reach; ``None`` omits the time-to-target columns.
        events_by_run: Optional ``run`` -> events DataFrame, for the counters and ``comm_share``.
        column: Return column.
        manifests_by_run: Optional ``run`` -> manifest counters.

    """
    runs = per_run(results_df, target, events_by_run, column, manifests_by_run)
    failed = failed_runs(results_df)
    groups = ["method", *param_columns(results_df)]
    rows = []
    for key, all_runs in runs.groupby(groups, sort=False, dropna=False):
        row = dict(zip(groups, key, strict=True))
        row["runs"] = len(all_runs)
        group = all_runs[~all_runs["run"].isin(failed)] if failed else all_runs
        if failed:
            row["failed"] = len(all_runs) - len(group)
        if target is not None:
            ttt = group["time_to_target"].to_numpy()
            row |= {
                "reached": int(np.isfinite(ttt).sum()),
                "ttt_median": quantile(ttt, 0.5),
                "ttt_q20": quantile(ttt, 0.2),
                "ttt_q80": quantile(ttt, 0.8),
            }
        for stat in (
            "final_return",
            "updates",
            "gradients_used",
            "gradients_cancelled",
            "gradients_discarded",
            "comm_share",
        ):
            row[stat] = group[stat].median()
        rows.append(row)
    table = pd.DataFrame(rows)
    if len(groups) == 1:
        return table
    first = {m: k for k, m in enumerate(dict.fromkeys(table["method"]))}

    def order(values: pd.Series) -> pd.Series:
        return values.map(first) if values.name == "method" else sort_key(values)

    return table.sort_values(groups, key=order, kind="stable", ignore_index=True)
