"""Figures: return curves, time-to-target, worker timelines and theory comparisons.

Every function builds a :class:`matplotlib.figure.Figure` directly (no pyplot state; PNG goes
through Agg) and returns ``(figure, data)`` where ``data`` is the DataFrame actually plotted, so
tests and notebooks can check the numbers behind a figure. :func:`save` writes PNG and PDF.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from apga_sim import analysis

TIME_LABEL = "simulated time [s]"
RETURN_LABEL = "average return"
#: x column of :func:`curves` -> axis label.
X_LABELS = {"time": TIME_LABEL, "update": "updates (server steps)"}

#: Paper-size style: small figures, fonts readable at column width.
STYLE: dict[str, object] = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.3,
}

#: Method name -> (label, colour); other methods get the remaining colours in order.
METHODS: dict[str, tuple[str, str]] = {
    "rennala_nigt": ("Rennala NIGT", "C3"),
    "malenia_nigt": ("Malenia NIGT", "C1"),
    "sync_nigt": ("Synchronized NIGT", "C0"),
    "afedpg": ("AFedPG", "C2"),
    "rennala_pg": ("Rennala PG", "C4"),
    "malenia_pg": ("Malenia PG", "C5"),
    "sync_pg": ("Synchronous PG", "C7"),
    "async_pg": ("Asynchronous PG", "C8"),
}
_EXTRA_COLOURS = ("C9", "C6", "#1b9e77", "#d95f02", "#7570b3", "#e7298a")

DASHES = ("-", "--", "-.", ":")

#: Timeline state -> colour.
STATE_COLOURS: dict[str, str] = {
    "compute": "#3a7dc9",
    "cancelled": "#d7301f",
    "discarded": "#fc8d59",
    "upload": "#1a9850",
    "download": "#91cf60",
    "allreduce": "#7b3294",
    "lost": "#fdbf6f",
    "offline": "#525252",
    "idle": "#e6e6e6",
}


def _styles(names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Label and colour of every group name, stable for the known methods."""
    extra = iter(_EXTRA_COLOURS * (1 + len(names) // len(_EXTRA_COLOURS)))
    return {name: METHODS.get(name) or (str(name), next(extra)) for name in names}


def _order(values: pd.Series) -> list:
    """Group names: known methods in :data:`METHODS` order, then the others as they appear."""
    present = list(dict.fromkeys(values))
    return [m for m in METHODS if m in present] + [v for v in present if v not in METHODS]


def step_values(
    results_df: pd.DataFrame, grid: np.ndarray, column: str, x: str = "time"
) -> pd.DataFrame:
    """Each run's ``column`` on ``grid``, held from each evaluation to the next.

    A grid point before a run's first or after its last evaluation is NaN (no data there).

    Args:
        results_df: Tidy results.
        grid: Values of ``x``.
        column: Return column.
        x: Column the grid runs over (``time``, or ``update`` for the update count).

    Returns:
        Index ``grid`` (named ``x``), one column per run (its run keys joined by ``|``).

    """
    out = {}
    for key, run in results_df.groupby(analysis.run_keys(results_df), sort=False):
        run = run.dropna(subset=[column]).sort_values("time", kind="stable")  # x grows with time
        times, values = run[x].to_numpy(dtype=float), run[column].to_numpy(dtype=float)
        held = out["|".join(map(str, key))] = np.full(len(grid), np.nan)
        if len(times):
            idx = np.searchsorted(times, grid, side="right") - 1
            inside = (idx >= 0) & (grid <= times[-1])
            held[inside] = values[idx[inside]]
    return pd.DataFrame(out, index=pd.Index(grid, name=x))


def _return_columns(results_df: pd.DataFrame) -> list[str]:
    """Panels: every ``return_mean/<variant>`` then ``return_mean``, or just ``return_mean``."""
    variants = sorted(c for c in results_df.columns if c.startswith("return_mean/"))
    return [*variants, "return_mean"]


def curves(
    results_df: pd.DataFrame,
    columns: Sequence[str] | None = None,
    grid: np.ndarray | None = None,
    points: int = 200,
    band: tuple[float, float] = (0.2, 0.8),
    by: str = "method",
    x: str = "time",
    target: float | None = None,
) -> tuple[Figure, pd.DataFrame]:
    """Return against simulated time, one line per method: median over seeds and a quantile band.

    Runs are evaluated at different times, so each run is held step-wise (previous value) on a
    common time grid before the quantiles are taken; a grid point is plotted only where every
    run of the method has data.

    Args:
        results_df: Tidy results (evals rows with ``method``, ``seed``, ``run``).
        columns: Return columns, one panel each; default: each ``return_mean/<variant>`` and
            ``return_mean`` (titled "mean").
        grid: Common time grid; default ``points`` points from 0 to the last evaluation.
        points: Grid size when ``grid`` is not given.
        band: Lower and upper quantiles of the band.
        by: Column naming the lines.
        x: Horizontal axis: ``time``, or ``update`` (return against the update count, which
            separates what an update achieves from how long it takes).
        target: Target return, drawn as a dotted line.

    Returns:
        The figure and a DataFrame with columns ``panel, <by>, <x>, median, lower, upper, runs``.

    """
    columns = list(columns or _return_columns(results_df))
    if grid is None:
        grid = np.linspace(0.0, float(results_df[x].max()), points)
    grid = np.asarray(grid, dtype=float)
    groups = _order(results_df[by])
    styles = _styles(groups)
    rows = []
    for column in columns:
        for name in groups:
            wide = step_values(results_df[results_df[by] == name], grid, column, x)
            complete = wide.notna().all(axis=1)
            stats = pd.DataFrame(
                {
                    "median": wide.median(axis=1),
                    "lower": wide.quantile(band[0], axis=1),
                    "upper": wide.quantile(band[1], axis=1),
                }
            ).where(complete)
            rows.append(stats.reset_index().assign(panel=column, **{by: name}, runs=wide.shape[1]))
    data = pd.concat(rows, ignore_index=True)[["panel", by, x, "median", "lower", "upper", "runs"]]
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(max(3.4, 2.6 * len(columns)), 2.4), layout="constrained")
        axes = fig.subplots(1, len(columns), sharey=True, squeeze=False)[0]
        for ax, column in zip(axes, columns, strict=True):
            for k, name in enumerate(groups):
                label, colour = styles[name]
                part = data[(data["panel"] == column) & (data[by] == name)]
                # distinct dashes keep identical curves (e.g. Rennala = Synchronous) visible
                ax.plot(part[x], part["median"], color=colour, label=label, ls=DASHES[k % 4])
                ax.fill_between(
                    part[x], part["lower"], part["upper"], color=colour, alpha=0.2, lw=0
                )
            if target is not None:
                ax.axhline(target, color="0.3", lw=0.8, ls=":", label=f"target {target:.4g}")
            ax.set_xlabel(X_LABELS.get(x, x))
            if len(columns) > 1:
                ax.set_title("mean" if column == "return_mean" else column.split("/", 1)[1])
        axes[0].set_ylabel(RETURN_LABEL)
        axes[0].legend(loc="best", frameon=False)
    return fig, data


def ttt(
    results_df: pd.DataFrame,
    target: float,
    column: str = "return_mean",
    by: str = "method",
) -> tuple[Figure, pd.DataFrame]:
    """Time-to-target of every run, one row per method, seeds as points.

    The bar marks the median and the line the 20%-80% range over seeds (runs that never reach
    the target count as infinitely slow). Runs that never reach the target are drawn as crosses
    at the right edge, at the tick labelled "not reached", with their count.

    Returns:
        The figure and the per-run table of :func:`apga_sim.analysis.per_run` plus ``reached``.

    """
    data = analysis.per_run(results_df, target, column=column)
    data["reached"] = data["time_to_target"].notna()
    groups = _order(data[by])
    styles = _styles(groups)
    finite = data.loc[data["reached"], "time_to_target"]
    horizon = float(finite.max()) if len(finite) else float(results_df["time"].max())
    edge = 1.12 * horizon if horizon > 0 else 1.0
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(3.6, 0.9 + 0.45 * len(groups)), layout="constrained")
        ax = fig.subplots()
        for y, name in enumerate(groups):
            label, colour = styles[name]
            group = data[data[by] == name].reset_index(drop=True)
            jitter = np.linspace(-0.15, 0.15, len(group)) if len(group) > 1 else np.zeros(1)
            x = group["time_to_target"].fillna(edge).to_numpy()
            reached = group["reached"].to_numpy()
            ax.scatter(x[reached], y + jitter[reached], s=14, color=colour, alpha=0.8, lw=0)
            ax.scatter(x[~reached], y + jitter[~reached], s=18, color=colour, marker="x")
            times = group["time_to_target"].to_numpy()
            lo, mid, hi = (analysis.quantile(times, q) for q in (0.2, 0.5, 0.8))
            ax.plot([min(lo, edge), min(hi, edge)], [y, y], color=colour, lw=1.0)
            if np.isfinite(mid):
                ax.plot([mid, mid], [y - 0.3, y + 0.3], color=colour, lw=2.0)
            if (~reached).any():
                ax.annotate(
                    f"{(~reached).sum()}/{len(group)}",
                    (edge, y),
                    xytext=(7, 0),
                    textcoords="offset points",
                    va="center",
                )
        ax.axvline(edge, color="0.6", lw=0.8, ls=":")
        ticks = [t for t in MaxNLocator(5).tick_values(0, horizon) if 0 <= t <= horizon]
        ax.set_xticks([*ticks, edge], [f"{t:g}" for t in ticks] + ["not\nreached"])
        ax.set_xlim(0, edge * 1.15)
        ax.set_yticks(range(len(groups)), [styles[g][0] for g in groups])
        ax.set_ylim(len(groups) - 0.5, -0.5)
        ax.set_xlabel(TIME_LABEL)
        ax.set_title(f"time to {column} >= {target:g}")
    return fig, data


def ttt_intervals(
    medians: pd.DataFrame,
    speedups: pd.DataFrame,
    budget: float,
    focus: str,
    margin: float | None = None,
) -> tuple[Figure, pd.DataFrame]:
    """Median time-to-target per method and the speed-up ratios of ``focus``, with intervals.

    A median that did not reach the target is a cross at "not reached"; a ratio known only as a
    bound is a triangle pointing the open way (``>`` at least, ``<`` at most); intervals running
    to 0 or infinity are cut at the panel's edge.

    Args:
        medians: One row per ``method`` with ``low, high, ci_low, ci_high``: bounds of the median
            time-to-target (``high = inf``: not reached) and its interval.
        speedups: One row per ``baseline``, same columns: median time-to-target of the baseline
            over that of ``focus`` (above 1: ``focus`` is faster).
        budget: Simulated time budget (censoring point).
        focus: Method whose speed-ups are shown.
        margin: If given, the band ``[1 / margin, margin]`` ("about equal") is shaded.

    Returns:
        The figure and both tables stacked, with ``panel`` (``ttt`` or ``speedup``) and ``row``.

    """
    groups = _order(medians["method"])
    baselines = _order(speedups["baseline"])
    styles = _styles([*groups, *baselines])
    edge = 1.12 * budget
    finite = speedups[["low", "high", "ci_low", "ci_high"]].to_numpy(dtype=float).ravel()
    finite = finite[np.isfinite(finite) & (finite > 0)]
    span = [1 / (margin or 1.0), margin or 1.0, *finite]
    lims = (min(span) / 2, max(span) * 2)
    with mpl.rc_context(STYLE):
        height = 0.9 + 0.4 * max(len(groups), len(baselines))
        fig = Figure(figsize=(6.4, height), layout="constrained")
        left, right = fig.subplots(1, 2)
        for y, name in enumerate(groups):
            row = medians[medians["method"] == name].iloc[0]
            colour = styles[name][1]
            left.plot([row["ci_low"], min(row["ci_high"], edge)], [y, y], color=colour, lw=1.2)
            if np.isfinite(row["high"]):
                left.plot(row["high"], y, "o", color=colour, ms=4)
            else:
                left.plot(edge, y, "x", color=colour, ms=6)
        left.axvline(budget, color="0.6", lw=0.8, ls=":")
        ticks = [t for t in MaxNLocator(4).tick_values(0, budget) if 0 <= t <= budget]
        left.set_xticks([*ticks, edge], [f"{t:g}" for t in ticks] + ["not\nreached"])
        left.set_xlim(0, edge * 1.08)
        left.set_yticks(range(len(groups)), [styles[g][0] for g in groups])
        left.set_ylim(len(groups) - 0.5, -0.5)
        left.set_xlabel(f"median time to target, {TIME_LABEL}")
        for y, name in enumerate(baselines):
            row = speedups[speedups["baseline"] == name].iloc[0]
            colour = styles[name][1]
            ci = np.clip([row["ci_low"], row["ci_high"]], *lims)
            right.plot(ci, [y, y], color=colour, lw=1.2)
            if row["low"] == row["high"]:
                right.plot(np.clip(row["low"], *lims), y, "o", color=colour, ms=4)
            elif np.isinf(row["high"]) and row["low"] > 0:
                right.plot(np.clip(row["low"], *lims), y, ">", color=colour, ms=5)
            elif row["low"] == 0 and np.isfinite(row["high"]):
                right.plot(np.clip(row["high"], *lims), y, "<", color=colour, ms=5)
        if margin:
            right.axvspan(1 / margin, margin, color="0.9", lw=0)
        right.axvline(1.0, color="0.4", lw=0.8)
        right.set_xscale("log")
        right.set_xlim(*lims)
        right.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        right.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        right.xaxis.set_minor_formatter(NullFormatter())
        right.set_yticks(range(len(baselines)), [f"vs {styles[b][0]}" for b in baselines])
        right.set_ylim(len(baselines) - 0.5, -0.5)
        right.set_xlabel(f"speed-up of {styles[focus][0]}\n(> 1: faster)")
    data = pd.concat(
        [
            medians.assign(panel="ttt", row=medians["method"]),
            speedups.assign(panel="speedup", row=speedups["baseline"]),
        ],
        ignore_index=True,
    )
    return fig, data


def gantt(
    events: pd.DataFrame, t_range: tuple[float, float] | None = None
) -> tuple[Figure, pd.DataFrame]:
    """Timeline of one run: one row per worker, states coloured apart, updates on a server row.

    Args:
        events: One run's events.
        t_range: Time window to show (default: the whole run).

    Returns:
        The figure and the intervals drawn (``worker, start, end, state``, idle included).

    """
    span = float(events["time"].max())
    busy = analysis.worker_intervals(events)
    workers = analysis.workers_of(events)
    data = pd.concat(
        [busy[["worker", "start", "end", "state"]], analysis.idle_intervals(busy, workers, span)],
        ignore_index=True,
    ).sort_values(["worker", "start"], kind="stable", ignore_index=True)
    row = {w: i + 1 for i, w in enumerate(workers)}
    updates = events.loc[events["kind"] == "update", "time"].to_numpy()
    edges = {"edgecolor": "white", "linewidth": 0.3} if len(data) < 3000 else {}
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(6.0, 0.9 + min(0.2 * (len(workers) + 1), 7.0)), layout="constrained")
        ax = fig.subplots()
        states = ["idle", *analysis.STATES]
        for state in states:
            part = data[data["state"] == state]
            for worker, group in part.groupby("worker"):
                spans = np.column_stack([group["start"], group["end"] - group["start"]])
                ax.broken_barh(spans, (row[worker] - 0.4, 0.8), color=STATE_COLOURS[state], **edges)
        ax.vlines(updates, -0.35, 0.35, color="black", lw=0.6)
        labels = ["server", *(f"worker {w}" for w in workers)]
        step = max(1, len(labels) // 25)
        ax.set_yticks(range(0, len(labels), step), labels[::step])
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_xlim(*(t_range or (0.0, span)))
        ax.set_xlabel(TIME_LABEL)
        present = [s for s in states if s in set(data["state"])]
        handles = [Patch(color=STATE_COLOURS[s], label=s) for s in present]
        if len(updates):
            handles.append(Line2D([], [], color="black", lw=0.8, label="update"))
        fig.legend(handles=handles, loc="outside upper center", ncols=len(handles), frameon=False)
    return fig, data


def theory(
    measured_df: pd.DataFrame,
    param: str,
    predict: Callable[[str, float], float],
    normalise: str = "first",
    column: str = "time_to_target",
    by: str = "method",
    log: bool = False,
) -> tuple[Figure, pd.DataFrame]:
    """Measured time-to-target against a theory formula over a swept parameter.

    The formulas drop constants, so each method's curves are normalised, and the figure says how:

    * ``"first"``: measured and predicted are both divided by their value at the smallest
      ``param`` value where the method's median reached the target;
    * ``"lsq"``: measured values are kept in seconds and the prediction is scaled by the factor
      that fits the measured medians best in least squares on a log scale.

    Args:
        measured_df: One row per run with ``by``, ``param`` and ``column`` (NaN = not reached),
            e.g. :func:`apga_sim.analysis.per_run`.
        param: Swept parameter column (n, a heterogeneity or a communication scale).
        predict: ``predict(method, value)`` -> theory time, e.g. built from
            :data:`apga_sim.theory.COMPLEXITY`.
        normalise: ``"first"`` or ``"lsq"``.
        column: Measured time column.
        by: Column naming the methods.
        log: Log scale on both axes.

    Returns:
        The figure and a DataFrame ``<by>, <param>, runs, reached, median, lower, upper,
        predicted`` (normalised as plotted; ``inf`` = not reached at that quantile).

    """
    if normalise not in ("first", "lsq"):
        raise ValueError(f"normalise must be 'first' or 'lsq', not {normalise!r}")
    rows = []
    for (name, value), group in measured_df.groupby([by, param], sort=True):
        times = group[column].to_numpy(dtype=float)
        rows.append(
            {
                by: name,
                param: value,
                "runs": len(times),
                "reached": int(np.isfinite(times).sum()),
                "median": analysis.quantile(times, 0.5),
                "lower": analysis.quantile(times, 0.2),
                "upper": analysis.quantile(times, 0.8),
                "predicted": float(predict(name, value)),
            }
        )
    data = pd.DataFrame(rows)
    for _, group in data.groupby(by):
        ok = group[np.isfinite(group["median"])]
        if ok.empty:
            continue
        if normalise == "first":
            ref = ok.iloc[0]
            data.loc[group.index, ["median", "lower", "upper"]] /= ref["median"]
            data.loc[group.index, "predicted"] /= ref["predicted"]
        else:
            scale = np.exp(np.mean(np.log(ok["median"]) - np.log(ok["predicted"])))
            data.loc[group.index, "predicted"] *= scale
    how = {
        "first": "measured and theory both normalised to 1 at the first reached point",
        "lsq": "theory scaled per method to the measurements (least squares, log scale)",
    }
    note = textwrap.fill(f"{how[normalise]} (the theory's constants are free)", 60)
    groups = _order(data[by])
    styles = _styles(groups)
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(3.6, 2.6), layout="constrained")
        ax = fig.subplots()
        handles = []
        for name in groups:
            label, colour = styles[name]
            part = data[data[by] == name]
            finite = part[np.isfinite(part["median"])]
            err = np.vstack(
                [
                    finite["median"] - finite["lower"],
                    np.nan_to_num(finite["upper"] - finite["median"], posinf=0.0),
                ]
            )
            ax.errorbar(
                finite[param],
                finite["median"],
                yerr=err,
                color=colour,
                marker="o",
                ms=3,
                lw=1.0,
                capsize=2,
            )
            ax.plot(part[param], part["predicted"], color=colour, ls="--", lw=1.0)
            missing = int((part["runs"] - part["reached"]).sum())
            suffix = f" ({missing} run{'s' * (missing > 1)} not reached)" if missing else ""
            handles.append(Patch(color=colour, label=label + suffix))
        handles += [
            Line2D([], [], color="0.3", marker="o", ms=3, label="measured (median, 20-80%)"),
            Line2D([], [], color="0.3", ls="--", label="theory"),
        ]
        ax.legend(handles=handles, frameon=False)
        if log:
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 3, 5)))
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
                axis.set_minor_formatter(NullFormatter())
        if data[param].nunique() <= 12:
            ax.set_xticks(sorted(data[param].unique()))
        ax.set_xlabel(param)
        ax.set_ylabel(
            "time to target (normalised)"
            if normalise == "first"
            else f"time to target, {TIME_LABEL}"
        )
        ax.set_title(note, fontsize=6.5, style="italic")
    return fig, data


def save(fig: Figure, path_stem: str | Path) -> tuple[Path, Path]:
    """Write ``<path_stem>.png`` (200 dpi) and ``<path_stem>.pdf``; create the directory."""
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = (Path(f"{stem}.png"), Path(f"{stem}.pdf"))
    for path in paths:
        fig.savefig(path, dpi=200)
    return paths
