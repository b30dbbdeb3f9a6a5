"""The runs of a scenario's sweep, and the area under a return curve.

A scenario's ``sweep: {n: [5, 10, 20]}`` runs every cell (a full scenario with that value, see
:func:`apga_sim.scenario.cells`) for every method and seed; cells are independent runs, so an
interrupted sweep resumes by skipping the complete ones. Tuning grid values lives in
:mod:`apga_sim.tuning`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from apga_sim.runner import RunSpec
from apga_sim.scenario import Scenario, cells


def specs(
    s: Scenario, out: str | Path, seeds: list[int] | None = None, methods: list[str] | None = None
) -> list[RunSpec]:
    """Every run of a scenario: cells x methods (grids expanded) x seeds."""
    out = Path(out)
    runs: list[RunSpec] = []
    for values, cell in cells(s):
        cell = cell.expanded()
        for m in cell.methods:
            base = m.display.split("[", 1)[0]
            if methods and m.display not in methods and base not in methods:
                continue
            runs.extend(RunSpec(cell, m, seed, out, values) for seed in seeds or cell.seeds)
    return runs


def area_under_curve(evals: pd.DataFrame, horizon: float) -> float:
    """Time-average of the step-wise evaluation return over ``[0, horizon]``."""
    t = np.append(evals["time"].to_numpy(), horizon)
    r = evals["return_mean"].to_numpy()
    keep = t[:-1] < horizon
    widths = np.diff(np.minimum(t, horizon))[keep]
    return float(np.sum(widths * r[keep]) / horizon)
