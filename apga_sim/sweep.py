"""Sweeps over scenario parameters, and step-size tuning on grids.

A scenario's ``sweep: {n: [5, 10, 20]}`` runs every cell (a full scenario with that value) for
every method and seed; cells are independent runs, so an interrupted sweep resumes by skipping the
complete ones. ``tune`` runs the grid values of each method on the tuning seeds and keeps the best.
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from apga_sim.analysis import time_to_target
from apga_sim.runner import RunSpec
from apga_sim.scenario import Scenario, ScenarioError, parse_scenario, set_path


def cells(s: Scenario) -> list[tuple[dict[str, Any], Scenario]]:
    """The sweep's cells as ``(values, scenario)``; one cell ``({}, s)`` without a sweep."""
    if not s.sweep:
        return [({}, s)]
    base = s.model_dump(mode="json", exclude={"sweep"})
    out = []
    for combo in itertools.product(*s.sweep.values()):
        values = dict(zip(s.sweep, combo, strict=True))
        data = copy.deepcopy(base)
        for path, value in values.items():
            set_path(data, path, value, "sweep")
        label = ", ".join(f"{k}={v}" for k, v in values.items())
        try:
            out.append((values, parse_scenario(data, f"sweep cell {label}")))
        except ScenarioError as exc:
            raise ScenarioError(f"sweep: {exc}") from None
    return out


def specs(
    s: Scenario, out: str | Path, seeds: list[int] | None = None, methods: list[str] | None = None
) -> list[RunSpec]:
    """Every run of a scenario: cells x methods (grids expanded) x seeds."""
    out = Path(out)
    runs = []
    for values, cell in cells(s):
        cell = cell.expanded()
        for m in cell.methods:
            base = m.display.split("[", 1)[0]
            if methods and m.display not in methods and base not in methods:
                continue
            runs.extend(RunSpec(cell, m.display, seed, out, values) for seed in seeds or cell.seeds)
    return runs


def area_under_curve(evals: pd.DataFrame, horizon: float) -> float:
    """Time-average of the step-wise evaluation return over ``[0, horizon]``."""
    t = np.append(evals["time"].to_numpy(), horizon)
    r = evals["return_mean"].to_numpy()
    keep = t[:-1] < horizon
    widths = np.diff(np.minimum(t, horizon))[keep]
    return float(np.sum(widths * r[keep]) / horizon)


def choose(results: pd.DataFrame, s: Scenario) -> dict[str, dict[str, Any]]:
    """Pick, for each method, the grid entry with the best score (``s.tune.criterion``)."""
    horizon = s.budget.time or float(results["time"].max())
    scores = []
    for (label, seed), run in results.groupby(["method", "seed"], sort=True):
        run = run.sort_values("time")
        ttt = None if s.target_return is None else time_to_target(run, s.target_return)
        scores.append(
            {
                "label": label,
                "seed": seed,
                "auc": area_under_curve(run, horizon),
                "ttt": np.inf if ttt is None else ttt,
            }
        )
    table = pd.DataFrame(scores).groupby("label").agg(auc=("auc", "mean"), ttt=("ttt", "median"))
    chosen: dict[str, dict[str, Any]] = {}
    for m in s.methods:
        if not m.grids():
            continue
        entries = {e.display: e for e in m.expand()}
        sub = table.loc[[label for label in entries if label in table.index]]
        if s.tune.criterion == "time_to_target":
            best = sub.sort_values(["ttt", "auc"], ascending=[True, False]).index[0]
        else:
            best = sub["auc"].idxmax()
        chosen[m.display] = {
            "values": {k: getattr(entries[best], k) for k in m.grids()},
            "criterion": s.tune.criterion,
            "scores": {
                label: {
                    "auc": float(row.auc),
                    "time_to_target": None if np.isinf(row.ttt) else float(row.ttt),
                }
                for label, row in sub.iterrows()
            },
        }
    return chosen


def tuned_yaml(source: Path, chosen: dict[str, dict[str, Any]]) -> str:
    """The scenario file with each grid replaced by its chosen value, the choice recorded."""
    data = yaml.safe_load(source.read_text())
    for method in data["methods"]:
        label = method.get("label") or method["name"]
        if label in chosen:
            method.update(chosen[label]["values"])
    data["tuned"] = chosen
    header = f"# Tuned from {source.name} by `apga-sim tune`; see `tuned` for the scores.\n"
    return header + yaml.safe_dump(data, sort_keys=False)
