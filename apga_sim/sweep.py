"""Sweeps over scenario parameters, and the area under a return curve.

A scenario's ``sweep: {n: [5, 10, 20]}`` runs every cell (a full scenario with that value) for
every method and seed; cells are independent runs, so an interrupted sweep resumes by skipping the
complete ones. Tuning grid values lives in :mod:`apga_sim.tuning`.
"""

from __future__ import annotations

import copy
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from apga_sim.limits import MAX_CELLS
from apga_sim.runner import RunSpec, cell_folder
from apga_sim.scenario import Scenario, ScenarioError, parse_scenario, set_path

MAX_CELL_FOLDER = 200
"""Longest folder name of a sweep cell (file systems allow 255 bytes)."""


def cells(s: Scenario) -> list[tuple[dict[str, Any], Scenario]]:
    """The sweep's cells as ``(values, scenario)``; one cell ``({}, s)`` without a sweep."""
    if not s.sweep:
        return [({}, s)]
    count = math.prod(len(v) for v in s.sweep.values())
    if count > MAX_CELLS:
        raise ScenarioError(f"sweep: {count} cells; at most {MAX_CELLS} (split the scenario)")
    base = s.model_dump(mode="json", exclude={"sweep"})
    out = []
    for combo in itertools.product(*s.sweep.values()):
        values = dict(zip(s.sweep, combo, strict=True))
        if len(folder := cell_folder(values)) > MAX_CELL_FOLDER:
            raise ScenarioError(
                f"sweep: the cell folder {folder[:40]!r}... is longer than {MAX_CELL_FOLDER} "
                "characters; use shorter values"
            )
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
