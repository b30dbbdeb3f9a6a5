"""Figures: return curves, time-to-target, worker timelines and theory comparisons.

Every function builds a :class:`matplotlib.figure.Figure` directly (no pyplot state; PNG goes
through Agg) and returns ``(figure, data)`` where ``data`` is the DataFrame actually plotted, so
tests and notebooks can check the numbers behind a figure. :func:`save` writes PNG and PDF.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from apga_sim import analysis

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.typing import RcKeyType

TIME_LABEL = "simulated time [s]"
RETURN_LABEL = "average return"
#: x column of :func:`curves` -> axis label.
X_LABELS = {"time": TIME_LABEL, "update": "updates (server steps)"}

#: Paper-size style: small figures, fonts readable at column width.
STYLE: dict[RcKeyType, object] = {
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


def cells(df: pd.DataFrame, params: Sequence[str]) -> list[tuple]:
    """The distinct values of ``params`` in ``df``, numbers sorted as numbers; ``[()]`` if none."""
    if not params:
        return [()]
    unique = df[list(params)].drop_duplicates()
    ordered = unique.sort_values(list(params), key=analysis.sort_key, kind="stable")
    return list(ordered.itertuples(index=False, name=None))


def cell_label(params: Sequence[str], values: Sequence[Any]) -> str:
    """``n = 4, h.scale = 0.5``."""
    return ", ".join(f"{p} = {v}" for p, v in zip(params, values, strict=True))


def _in_cell(df: pd.DataFrame, params: Sequence[str], values: Sequence[Any]) -> pd.DataFrame:
    """The rows of ``df`` in one sweep cell."""
    mask = np.ones(len(df), dtype=bool)
    for p, v in zip(params, values, strict=True):
        mask &= (df[p] == v).to_numpy()
    return df[mask]


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
    facet: Sequence[str] = (),
) -> tuple[Figure, pd.DataFrame]:
    """Return against simulated time, one line per method: median over seeds and a quantile band.

    Runs are evaluated at different times, so each run is held step-wise (previous value) on a
    common time grid before the quantiles are taken; a grid point is plotted only where every
    run of the method has data. With ``facet`` (swept parameters), every sweep cell gets its own
    panels: runs of different cells are never pooled.

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
        facet: Swept-parameter columns; one column of panels per cell (their values).

    Returns:
        The figure and a DataFrame with columns ``panel``, the ``facet`` columns, ``<by>, <x>,
        median, lower, upper, runs``.

    """
    columns = list(columns or _return_columns(results_df))
    facet = list(facet)
    if grid is None:
        grid = np.linspace(0.0, float(results_df[x].max()), points)
    grid = np.asarray(grid, dtype=float)
    groups = _order(results_df[by])
    styles = _styles(groups)
    panels = [(column, cell) for column in columns for cell in cells(results_df, facet)]
    rows = []
    for column, cell in panels:
        in_cell = _in_cell(results_df, facet, cell)
        for name in groups:
            wide = step_values(in_cell[in_cell[by] == name], grid, column, x)
            complete = wide.notna().all(axis=1)
            stats = pd.DataFrame(
                {
                    "median": wide.median(axis=1),
                    "lower": wide.quantile(band[0], axis=1),
                    "upper": wide.quantile(band[1], axis=1),
                }
            ).where(complete)
            ident = {"panel": column, **dict(zip(facet, cell, strict=True)), by: name}
            rows.append(stats.reset_index().assign(**ident, runs=wide.shape[1]))
    order = ["panel", *facet, by, x, "median", "lower", "upper", "runs"]
    data = pd.concat(rows, ignore_index=True)[order]
    shape = (len(columns), len(panels) // len(columns)) if facet else (1, len(columns))
    with mpl.rc_context(STYLE):
        size = (max(3.4, 2.6 * shape[1]), 0.4 + 2.0 * shape[0])
        fig = Figure(figsize=size, layout="constrained")
        axes = fig.subplots(*shape, sharey=True, squeeze=False).ravel()
        for ax, (column, cell) in zip(axes, panels, strict=True):
            part_cell = _in_cell(data[data["panel"] == column], facet, cell)
            for k, name in enumerate(groups):
                label, colour = styles[name]
                part = part_cell[part_cell[by] == name]
                # distinct dashes keep identical curves (e.g. Rennala = Synchronous) visible
                ax.plot(part[x], part["median"], color=colour, label=label, ls=DASHES[k % 4])
                ax.fill_between(
                    part[x], part["lower"], part["upper"], color=colour, alpha=0.2, lw=0
                )
            if target is not None:
                ax.axhline(target, color="0.3", lw=0.8, ls=":", label=f"target {target:.4g}")
            ax.set_xlabel(X_LABELS.get(x, x))
            titles = [cell_label(facet, cell)] if facet else []
            if len(columns) > 1:
                titles.append("mean" if column == "return_mean" else column.split("/", 1)[1])
            ax.set_title(", ".join(titles))
        for ax in axes[:: shape[1]]:
            ax.set_ylabel(RETURN_LABEL)
        axes[0].legend(loc="best", frameon=False)
    return fig, data


NOT_REACHED_AT = 1.3
"""Where time-to-target plots draw "not reached": this multiple of the last time they show, far
enough right that its tick label never runs into the last time's."""


def ttt(
    results_df: pd.DataFrame,
    target: float,
    column: str = "return_mean",
    by: str = "method",
    facet: Sequence[str] = (),
) -> tuple[Figure, pd.DataFrame]:
    """Time-to-target of every run, one row per method (and sweep cell), seeds as points.

    The bar marks the median and the line the 20%-80% range over seeds (runs that never reach
    the target count as infinitely slow). Runs that never reach the target are drawn as crosses
    at the right edge, at the tick labelled "not reached", with the count "k/N not reached".

    Args:
        results_df: Tidy results.
        target: Return to reach.
        column: Return column.
        by: Column naming the methods.
        facet: Swept-parameter columns: one row per cell and method, cells never pooled.

    Returns:
        The figure and the per-run table of :func:`apga_sim.analysis.per_run` plus ``reached``.

    """
    data = analysis.per_run(results_df, target, column=column)
    data["reached"] = data["time_to_target"].notna()
    facet = list(facet)
    methods = _order(data[by])
    styles = _styles(methods)
    rows = [(cell, name) for cell in cells(data, facet) for name in methods]
    rows = [r for r in rows if len(_in_cell(data[data[by] == r[1]], facet, r[0]))]
    finite = data.loc[data["reached"], "time_to_target"]
    horizon = float(finite.max()) if len(finite) else float(results_df["time"].max())
    edge = NOT_REACHED_AT * horizon if horizon > 0 else 1.0
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(3.6, 0.9 + 0.45 * len(rows)), layout="constrained")
        ax = fig.subplots()
        for y, (cell, name) in enumerate(rows):
            colour = styles[name][1]
            group = _in_cell(data[data[by] == name], facet, cell).reset_index(drop=True)
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
                    f"{(~reached).sum()}/{len(group)} not reached",
                    (edge, y),
                    xytext=(7, 0),
                    textcoords="offset points",
                    va="center",
                )
        ax.axvline(edge, color="0.6", lw=0.8, ls=":")
        ticks = [t for t in MaxNLocator(5).tick_values(0, horizon) if 0 <= t <= horizon]
        ax.set_xticks([*ticks, edge], [f"{t:g}" for t in ticks] + ["not\nreached"])
        ax.set_xlim(0, edge * 1.15)
        labels = [
            styles[name][0] + (f", {cell_label(facet, cell)}" if facet else "")
            for cell, name in rows
        ]
        ax.set_yticks(range(len(rows)), labels)
        ax.set_ylim(len(rows) - 0.5, -0.5)
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
    edge = NOT_REACHED_AT * budget
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
        _mark(left, budget, "budget")
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
            _mark(right, 1.0, "about equal")
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


def _mark(ax: Axes, x: float, label: str) -> None:
    """Name a vertical line or band at ``x`` just above the panel."""
    ax.text(
        x,
        1.0,
        label,
        transform=ax.get_xaxis_transform(),
        ha="center",
        va="bottom",
        fontsize=7,
        color="0.4",
    )


#: Pixel columns of a Gantt row: the timeline is drawn at this resolution.
GANTT_PIXELS = 1000


def _time_in_bins(starts: np.ndarray, ends: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Seconds each bin ``[edges[k], edges[k + 1])`` spends inside the intervals ``[start, end)``.

    ``C(t) = sum_j clip(t - start_j, 0, end_j - start_j)`` is the time covered up to ``t``;
    a bin holds ``C(edges[k + 1]) - C(edges[k])``.
    """
    starts, ends = np.sort(starts), np.sort(ends)
    sum_starts = np.concatenate([[0.0], np.cumsum(starts)])
    sum_ends = np.concatenate([[0.0], np.cumsum(ends)])
    begun = np.searchsorted(starts, edges, side="right")
    over = np.searchsorted(ends, edges, side="right")
    covered = begun * edges - sum_starts[begun] - (over * edges - sum_ends[over])
    return np.diff(covered)


def _pixel_states(shares: np.ndarray) -> np.ndarray:
    """The state shown by each pixel, so that every state gets as many pixels as it has time.

    A state present in a pixel is owed that pixel's share of it; each pixel shows the present
    state owed most (error diffusion). Intervals thinner than a pixel thus keep their total
    width instead of each taking a whole pixel.

    Args:
        shares: ``(rows, states, pixels)`` fractions of each pixel's time in each state.

    Returns:
        ``(rows, pixels)`` state indices, -1 where no state is present.

    """
    rows, _, pixels = shares.shape
    owed = np.zeros(shares.shape[:2])
    shown = np.full((rows, pixels), -1)
    everyone = np.arange(rows)
    for k in range(pixels):
        share = shares[:, :, k]
        owed += share
        pick = np.where(share > 0, owed, -np.inf).argmax(axis=1)
        some = (share > 0).any(axis=1)
        shown[some, k] = pick[some]
        owed[everyone[some], pick[some]] -= 1.0
    return shown


def gantt(
    events: pd.DataFrame,
    t_range: tuple[float, float] | None = None,
    title: str | None = None,
) -> tuple[Figure, pd.DataFrame]:
    """Timeline of one run: one row per worker, states coloured apart, updates on a server row.

    Each row is drawn as :data:`GANTT_PIXELS` pixels across the window, every state taking as
    many pixels as it has time (see :func:`_pixel_states`): thin bars do not smear. Narrow the
    window to see single jobs.

    Args:
        events: One run's events.
        t_range: Time window ``(t0, t1)`` to show (default: the whole run); ``t1`` is cut at
            the run's last event.
        title: Figure title, e.g. the run's directory.

    Returns:
        The figure and the intervals in the window (``worker, start, end, state``, idle
        included, clipped to the window).

    """
    span = float(events["time"].max())
    t0, t1 = t_range or (0.0, span)
    t1 = min(t1, span)  # nothing happens after the last event
    if not t0 < t1:
        raise ValueError(f"time range: need t0 < t1, got {t0:g}, {t1:g}")
    busy = analysis.worker_intervals(events)
    workers = analysis.workers_of(events)
    data = pd.concat(
        [busy[["worker", "start", "end", "state"]], analysis.idle_intervals(busy, workers, span)],
        ignore_index=True,
    )
    data = data[(data["end"] > t0) & (data["start"] < t1)].assign(
        start=lambda d: d["start"].clip(lower=t0), end=lambda d: d["end"].clip(upper=t1)
    )
    data = data.sort_values(["worker", "start"], kind="stable", ignore_index=True)
    states = ["idle", *analysis.STATES]
    edges = np.linspace(t0, t1, GANTT_PIXELS + 1)
    shares = np.zeros((len(workers), len(states), GANTT_PIXELS))
    for (worker, state), group in data.groupby(["worker", "state"]):
        seconds = _time_in_bins(group["start"].to_numpy(), group["end"].to_numpy(), edges)
        shares[workers.index(worker), states.index(state)] = seconds / np.diff(edges)
    colours = np.array([to_rgba(STATE_COLOURS[s]) for s in [*states, "idle"]])
    colours[-1] = 0.0  # index -1: nothing (after the run's end)
    image = colours[_pixel_states(shares)]
    times = events["time"]
    updates = times[(events["kind"] == "update") & (times >= t0) & (times <= t1)].to_numpy()
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(6.0, 0.9 + min(0.2 * (len(workers) + 1), 7.0)), layout="constrained")
        ax = fig.subplots()
        for k in range(len(workers)):
            ax.imshow(
                image[k][np.newaxis],
                extent=(t0, t1, k + 1.4, k + 0.6),
                aspect="auto",
                interpolation="nearest",
            )
        ax.vlines(updates, -0.35, 0.35, color="black", lw=0.6)
        labels = ["server", *(f"worker {w}" for w in workers)]
        step = max(1, len(labels) // 25)
        ax.set_yticks(range(0, len(labels), step), labels[::step])
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_xlim(t0, t1)
        ax.set_xlabel(TIME_LABEL)
        present = [s for s in states if s in set(data["state"])]
        handles: list[Artist] = [Patch(color=STATE_COLOURS[s], label=s) for s in present]
        if len(updates):
            handles.append(Line2D([], [], color="black", lw=0.8, label="update"))
        fig.legend(handles=handles, loc="outside upper center", ncols=len(handles), frameon=False)
        if title:
            ax.set_title(title, loc="left", fontsize=7)
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
        predicted`` (normalised as plotted; ``inf`` = not reached at that quantile; NaN
        predicted: no formula, or no reached point to scale it to; the figure says which).

    Raises:
        ValueError: Nothing to draw: no median reached the target.

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
    groups = _order(data[by])
    styles = _styles(groups)
    per_method = data.groupby(by)
    formula = per_method["predicted"].apply(lambda p: bool(np.isfinite(p).any()))
    reached = per_method["median"].apply(lambda m: bool(np.isfinite(m).any()))
    if not reached.any():
        raise ValueError(
            "nothing to draw: no median time-to-target reached the target (try a lower --target)"
        )
    for _, group in per_method:
        ok = group[np.isfinite(group["median"])]
        if ok.empty:  # nothing measured to scale the theory to
            data.loc[group.index, "predicted"] = np.nan
        elif normalise == "first":
            ref = ok.iloc[0]
            data.loc[group.index, ["median", "lower", "upper"]] /= ref["median"]
            data.loc[group.index, "predicted"] /= ref["predicted"]
        else:
            scale = np.exp(np.mean(np.log(ok["median"]) - np.log(ok["predicted"])))
            data.loc[group.index, "predicted"] *= scale
    has_theory = formula & reached
    how = {
        "first": "measured and theory both normalised to 1 at the first reached point",
        "lsq": "theory scaled per method to the measurements (least squares, log scale)",
    }
    note = f"{how[normalise]} (the theory's constants are free)"
    for why, names in (
        ("no formula (times that vary per job have none)", ~formula),
        ("no reached point to scale it to", formula & ~reached),
    ):
        if names.any():
            listed = ", ".join(styles[g][0] for g in groups if names[g])
            note += f"; no theory curve for {listed}: {why}"
    note = textwrap.fill(note, 60)
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=(3.6, 2.6), layout="constrained")
        ax = fig.subplots()
        handles: list[Artist] = []
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
            if has_theory[name]:
                ax.plot(part[param], part["predicted"], color=colour, ls="--", lw=1.0)
            missing = int((part["runs"] - part["reached"]).sum())
            suffix = f" ({missing} run{'s' * (missing > 1)} not reached)" if missing else ""
            handles.append(Patch(color=colour, label=label + suffix))
        handles.append(
            Line2D([], [], color="0.3", marker="o", ms=3, label="measured (median, 20-80%)")
        )
        if has_theory.any():
            handles.append(Line2D([], [], color="0.3", ls="--", label="theory"))
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


#: PNG text key (and PDF ``Subject``) holding the parameters a figure was made with, as JSON.
METADATA_KEY = "apga-sim"


def save(
    fig: Figure, path_stem: str | Path, params: Mapping[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write ``<path_stem>.png`` (200 dpi) and ``<path_stem>.pdf``; create the directory.

    Args:
        fig: The figure.
        path_stem: Path without suffix.
        params: What made the figure (kind, target, runs, seeds...), stored as JSON in the PNG
            text chunk :data:`METADATA_KEY` and the PDF ``Subject``.

    """
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = (Path(f"{stem}.png"), Path(f"{stem}.pdf"))
    text = json.dumps(dict(params or {}), default=str, sort_keys=True)
    fig.savefig(paths[0], dpi=200, metadata={METADATA_KEY: text})
    fig.savefig(paths[1], metadata={"Subject": text})
    return paths
