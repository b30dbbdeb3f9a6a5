"""From a results directory to tables and figures (what ``apga-sim summary/plot/figures`` do)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from apga_sim import __version__, analysis, plots, theory
from apga_sim.scenario import Scenario, ScenarioError
from apga_sim.timing import WorkerTimes
from apga_sim.trace import find_runs, load_results, read_manifest

KINDS = ("curves", "ttt", "gantt", "theory")


def manifests(
    results_dir: str | Path, runs: Iterable[Path] | None = None
) -> dict[str, dict[str, Any]]:
    """Every run's manifest (or ``runs``'), keyed by run directory (``load_results``' ``run``)."""
    chosen = find_runs(results_dir) if runs is None else runs
    return {str(run): read_manifest(run) for run in chosen}


def target_of(ms: dict[str, dict[str, Any]]) -> float | None:
    """The scenario's target return (the first run's)."""
    return next(iter(ms.values()), {}).get("target_return")


def made_from(results: pd.DataFrame, results_dir: str | Path, **params: Any) -> dict[str, Any]:
    """What a table or figure was made from: ``params`` plus the runs, methods and seeds."""
    return {
        "results_dir": str(results_dir),
        **params,
        "runs": int(results["run"].nunique()),
        "methods": list(dict.fromkeys(results["method"])),
        "seeds": sorted(int(s) for s in results["seed"].unique()),
        "apga_sim": __version__,
    }


def summary(
    results_dir: str | Path, target: float | None = None, runs: list[Path] | None = None
) -> pd.DataFrame:
    """The per-method table (:func:`apga_sim.analysis.summary`) that `run` and `summary` print.

    It covers every run below ``results_dir``, or ``runs`` only. Its ``attrs`` (kept in the
    parquet file) record what made it: :func:`made_from` with the target and the return column.
    """
    runs = find_runs(results_dir) if runs is None else runs  # found once for both readers
    results, ms = load_results(results_dir, runs), manifests(results_dir, runs)
    events = {run: pd.read_parquet(Path(run) / "events.parquet") for run in ms}
    target = target if target is not None else target_of(ms)
    table = analysis.summary(
        results,
        target,
        events,
        manifests_by_run={run: m["counters"] for run, m in ms.items()},
    )
    table.attrs = made_from(results, results_dir, target=target, column="return_mean")
    return table


def predictor(
    ms: dict[str, dict[str, Any]], param: str, eps: float
) -> Callable[[str, float], float]:
    """``predict(method, value)``: the section-7 time complexity of a sweep cell.

    ``h`` and ``kappa`` (the largest upload time) are the cell's nominal per-worker times.
    """
    cells: dict[tuple[str, Any], float] = {}
    for m in ms.values():
        key = (m["method"], m["cell"].get(param))
        if key in cells:
            continue
        s = Scenario.model_validate(m["scenario"])
        formula = theory.COMPLEXITY.get(m["method_config"]["name"])
        h = WorkerTimes(s.h, "h", s.n, m["dim"], m["seed"]).nominal()
        u = WorkerTimes(s.u, "u", s.n, m["dim"], m["seed"]).nominal()
        if formula is None or h is None or u is None:
            cells[key] = np.nan
        else:
            cells[key] = formula(h, eps, float(u.max())).total
    return lambda method, value: cells.get((method, value), np.nan)


def _run_dir(results_dir: str | Path, run: str) -> Path:
    """The run directory ``run`` names: as given, or relative to ``results_dir``."""
    for candidate in (Path(run), Path(results_dir) / run):
        if (candidate / "events.parquet").is_file():
            return candidate
    raise ScenarioError(f"--run: no run {run!r} here or under {results_dir} (no events.parquet)")


def figure(
    results_dir: str | Path,
    kind: str,
    *,
    run: str | None = None,
    param: str | None = None,
    eps: float = 0.1,
    target: float | None = None,
    t_range: tuple[float, float] | None = None,
) -> tuple[Figure, pd.DataFrame]:
    """Make one figure of ``kind`` from a results directory; returns ``(fig, data)``.

    Sweeps are never pooled: curves get one panel per sweep cell, ttt one row per cell and
    method. Failed runs (non-finite values) are left out; ``data.attrs["failed"]`` lists them.
    ``data.attrs`` records what made the figure (:func:`made_from`, plus the run and
    time range of a gantt), for :func:`apga_sim.plots.save` to store in the files.
    """
    if kind == "gantt":
        run_dir = _run_dir(results_dir, run) if run else find_runs(results_dir)[0]
        events = pd.read_parquet(run_dir / "events.parquet")
        span = float(events["time"].max())
        if t_range is not None and not t_range[0] < min(t_range[1], span):
            raise ScenarioError(
                f"--t0/--t1: the window [{t_range[0]:g}, {t_range[1]:g}] s holds nothing of the "
                f"run, whose events span 0 to {span:g} s"
            )
        fig, data = plots.gantt(events, t_range, title=f"run {run_dir}")
        data.attrs = {"kind": kind, "run": str(run_dir), "t_range": t_range}
        return fig, data
    results, ms = load_results(results_dir), manifests(results_dir)
    target = target if target is not None else target_of(ms)
    failed = analysis.failed_runs(results)
    results = results[~results["run"].isin(failed)]
    if results.empty:
        raise ScenarioError(f"{results_dir}: every run failed (status: failed); nothing to plot")
    swept = analysis.param_columns(results)
    if kind == "curves":
        fig, data = plots.curves(results, target=target, facet=swept)
    elif target is None:
        raise ScenarioError(
            f"--kind {kind} needs a target return (scenario target_return or --target)"
        )
    elif kind == "ttt":
        fig, data = plots.ttt(results, target, facet=swept)
    else:
        param = param or (swept[0] if swept else None)
        if param is None:
            raise ScenarioError("--kind theory needs a sweep (a swept parameter such as n)")
        if param not in swept:
            raise ScenarioError(f"--param: {param!r} is not swept here; swept: {', '.join(swept)}")
        measured = analysis.per_run(results, target)
        fig, data = plots.theory(measured, param, predictor(ms, param, eps))
        swept = [param]
    data.attrs = made_from(results, results_dir, kind=kind, target=target, sweep=swept)
    data.attrs["failed"] = sorted(failed)
    return fig, data


def all_figures(results_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """curves, ttt and the first run's gantt (plus theory for sweeps) as PNG and PDF."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    has_sweep = bool(analysis.param_columns(load_results(results_dir)))
    for kind in KINDS:
        if kind == "theory" and not has_sweep:
            continue
        try:
            fig, data = figure(results_dir, kind)
        except ValueError:
            continue
        written.extend(plots.save(fig, out_dir / kind, data.attrs))
    return written
