"""Tuning: choose each method's grid values on the tuning seeds, by a full grid or halving.

A method's configurations are the cartesian product of its grids (its own ``{grid: [...]}``
values, or ``tune.grid`` for hyperparameters it sets to a value), in grid order.
``tune.schedule: grid`` runs every configuration to the full budget and chooses by
``tune.criterion``. ``halving`` is synchronous successive halving: the rungs run at fractions
``reduction^-k`` of ``budget.time`` (``k = K..0``, the smallest ``>= min_fraction``); the first
runs every configuration, and each rung keeps the best ``1/reduction`` (at least one) by the area
under the return-vs-time curve up to its budget (mean over the tuning seeds; ties go to the
earlier grid entry) for the next; the last rung (the full budget) chooses by ``tune.criterion``.
A rung's runs are ordinary runs with that rung's ``budget.time`` (a deterministic run's prefix,
simply recomputed), in ``OUT/fraction-<p>_<q>/``: complete runs are skipped, so a tuning resumes
where it stopped and a rerun gives the same choice and table byte for byte.

Judging a short rung by its area so far favours configurations that learn fast early (large
steps), which a smaller step may overtake later: cutting at budget/9 dropped the full grid's
choice on the benchmark studies (``bench/tuning.py``), hence the defaults: reduction 4 and one
cut at budget/4.

Why not Optuna or Ray Tune: their successive-halving pruners (Optuna's
``SuccessiveHalvingPruner``, Ray Tune's ASHA) are asynchronous: a trial is judged against the
trials that reported before it, so with parallel runs the choice depends on which run finishes
first. A barrier after each rung makes the choice a function of the scenario alone, with any
``--jobs`` or on Ray, for the price of a short schedule written here.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from apga_sim.analysis import time_to_target
from apga_sim.methods import Grid, MethodConfig
from apga_sim.runner import RunSpec
from apga_sim.scenario import Scenario, ScenarioError
from apga_sim.sweep import area_under_curve

Execute = Callable[[list[RunSpec]], Any]
"""Runs specs (skipping complete ones) and returns when all are complete."""

TABLE_COLUMNS = (
    "method",
    "config",
    "rung",
    "fraction",
    "budget",
    "seed",
    "auc",
    "time_to_target",
    "survived",
)


def with_protocol_grid(s: Scenario) -> Scenario:
    """``s`` with ``tune.grid`` given to every method entry that sets those hyperparameters.

    A hyperparameter the entry leaves unset (``None``, e.g. ``M`` of a ``sync_nigt`` with ``b``)
    or gives its own grid is left alone.
    """
    methods = []
    for m in s.methods:
        grids = {
            k: {"grid": g.grid}
            for k, g in s.tune.grid.items()
            if getattr(m, k, None) is not None and not isinstance(getattr(m, k), Grid)
        }
        methods.append(type(m).model_validate(m.model_dump() | grids) if grids else m)
    return s.model_copy(update={"methods": methods})


def rungs(s: Scenario) -> list[Fraction]:
    """The rungs' budget fractions, increasing; the last is 1 (the only one for ``grid``)."""
    out = [Fraction(1)]
    if s.tune.schedule == "halving":
        while out[0] / s.tune.reduction >= s.tune.min_fraction * (1 - 1e-9):
            out.insert(0, out[0] / s.tune.reduction)
    return out


def rung_sizes(configs: int, s: Scenario) -> list[int]:
    """How many configurations each rung runs, starting from ``configs``."""
    sizes = [configs]
    for _ in rungs(s)[1:]:
        sizes.append(max(1, sizes[-1] // s.tune.reduction))
    return sizes


def rung_dir(out: Path, fraction: Fraction) -> Path:
    """Where a rung's runs go: ``OUT/fraction-1_9``, ..., ``OUT/fraction-1``."""
    tag = f"{fraction.numerator}" if fraction.denominator == 1 else str(fraction)
    return out / f"fraction-{tag.replace('/', '_')}"


def rung_scenario(s: Scenario, fraction: Fraction, entries: list[MethodConfig]) -> Scenario:
    """The scenario a rung runs: ``budget.time`` scaled by ``fraction``, methods ``entries``."""
    budget = s.budget
    if fraction != 1:
        time = float(Fraction(s.budget.time) * fraction)  # type: ignore[arg-type]
        budget = s.budget.model_copy(update={"time": time})
    return s.model_copy(update={"budget": budget, "methods": entries})


def check(s: Scenario, eval_seeds: list[int]) -> Scenario:
    """Validate a tuning of ``s`` evaluated on ``eval_seeds``; return ``s`` with its grids.

    Raises:
        ScenarioError: nothing to tune, a sweep, tuning seeds among the evaluation seeds, or
            halving without ``budget.time``.
    """
    grid = with_protocol_grid(s)
    if not grid.has_grids():
        raise ScenarioError(
            f"{s.name}: nothing to tune; give tune.grid (e.g. {{alpha: [2^-6, 2^-5]}}) or a "
            "method grid (e.g. alpha: {grid: [0.01, 0.1]})"
        )
    if s.sweep:
        raise ScenarioError(f"{s.name}: sweep: tune a scenario without a sweep")
    shared = sorted(set(s.tune.seeds) & set(eval_seeds))
    if shared:
        raise ScenarioError(
            f"tune.seeds: {shared} are also evaluation seeds {eval_seeds}; tuning seeds must be "
            "disjoint from them (e.g. tune: {seeds: [1000, 1001]})"
        )
    if len(rungs(s)) > 1 and s.budget.time is None:
        raise ScenarioError("tune.schedule: halving needs budget.time (rungs are fractions of it)")
    return grid


def rank(scores: list[tuple[float, float]], criterion: str) -> list[int]:
    """Configuration indices, best first, from ``(mean auc, median time-to-target)`` pairs.

    ``auc``: largest area first; ``time_to_target``: earliest first, then largest area. Ties keep
    grid order.
    """
    if criterion == "time_to_target":
        return sorted(range(len(scores)), key=lambda i: (scores[i][1], -scores[i][0], i))
    return sorted(range(len(scores)), key=lambda i: (-scores[i][0], i))


def tune(
    s: Scenario,
    out: Path,
    execute: Execute,
    eval_seeds: list[int] | None = None,
    report: Callable[[str], Any] = lambda _: None,
) -> tuple[dict[str, dict[str, Any]], pd.DataFrame]:
    """Run the schedule of ``s.tune`` into ``out``; return the choice and the tidy score table.

    ``report`` gets one line as each rung starts (its runs) and one as it ends (what it keeps,
    or at the last rung what it chose and by which criterion).

    The choice maps each tuned method's label to ``values`` (the chosen hyperparameters),
    ``criterion``, ``schedule`` and ``rungs`` (each rung's fraction, budget, per-configuration
    scores and the configurations kept). The table has one row per method, configuration, rung
    and seed (:data:`TABLE_COLUMNS`).
    """
    s = check(s, s.seeds if eval_seeds is None else eval_seeds)
    fractions = rungs(s)
    alive: dict[str, Sequence[MethodConfig]] = {
        m.display: m.expand() for m in s.methods if m.grids()
    }
    history: dict[str, list[dict[str, Any]]] = {label: [] for label in alive}
    rows = []
    for k, fraction in enumerate(fractions):
        last = k == len(fractions) - 1
        cell = rung_scenario(s, fraction, [e for es in alive.values() for e in es])
        where = rung_dir(out, fraction)
        runs = {
            e.display: [RunSpec(cell, e, seed, where) for seed in s.tune.seeds]
            for es in alive.values()
            for e in es
        }
        rung = f"tuning rung {k + 1} of {len(fractions)}"
        share = "the full budget" if last else f"{fraction} of the budget"
        report(f"{rung} ({share}): {sum(map(len, runs.values()))} runs")
        execute([sp for specs in runs.values() for sp in specs])
        evals = {
            sp.run_dir: pd.read_parquet(sp.run_dir / "evals.parquet")
            for specs in runs.values()
            for sp in specs
        }
        horizon = cell.budget.time or max(float(e["time"].max()) for e in evals.values())
        for label, entries in alive.items():
            per_seed = [
                [_scores(evals[sp.run_dir], horizon, s.target_return) for sp in runs[e.display]]
                for e in entries
            ]
            means = [
                (float(np.mean([a for a, _ in x])), float(np.median([t for _, t in x])))
                for x in per_seed
            ]
            keep = 1 if last else max(1, len(entries) // s.tune.reduction)
            kept = sorted(rank(means, s.tune.criterion if last else "auc")[:keep])
            for i, e in enumerate(entries):
                for seed, (auc, ttt) in zip(s.tune.seeds, per_seed[i], strict=True):
                    rows.append(
                        (label, e.display, k, float(fraction), horizon, seed, auc, ttt, i in kept)
                    )
            history[label].append(
                {
                    "fraction": str(fraction),
                    "budget": horizon,
                    "scores": {
                        e.display: {"auc": a, "time_to_target": None if math.isinf(t) else t}
                        for e, (a, t) in zip(entries, means, strict=True)
                    },
                    "kept": [entries[i].display for i in kept],
                }
            )
            alive[label] = [entries[i] for i in kept]
        kept_now = "; ".join(", ".join(e.display for e in es) for es in alive.values())
        verb = f"chose by {s.tune.criterion}" if last else "keeps"
        report(f"{rung} {verb}: {kept_now}")
    chosen = {
        label: {
            "values": {key: getattr(best, key) for key in s.method(label).grids()},
            "criterion": s.tune.criterion,
            "schedule": s.tune.schedule,
            "rungs": history[label],
        }
        for label, (best,) in alive.items()
    }
    return chosen, pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def _scores(evals: pd.DataFrame, horizon: float, target: float | None) -> tuple[float, float]:
    """A run's area under the return curve up to ``horizon`` and its time-to-target (inf)."""
    ttt = None if target is None else time_to_target(evals, target)
    return area_under_curve(evals, horizon), math.inf if ttt is None else float(ttt)


def digest(source: Path) -> str:
    """The sha256 of a scenario file, recorded in the header of its tuned file."""
    return hashlib.sha256(source.read_bytes()).hexdigest()


def tuned_from(tuned: Path) -> str | None:
    """The digest of the source a tuned file was made from (``None`` if it records none)."""
    match = re.match(r"# Tuned from .* \(sha256 ([0-9a-f]{64})\)", tuned.read_text())
    return match.group(1) if match else None


def tuned_yaml(source: Path, chosen: dict[str, dict[str, Any]]) -> str:
    """The scenario file with each tuned value replaced by its choice, the choice recorded."""
    data = yaml.safe_load(source.read_text())
    for method in data["methods"]:
        label = method.get("label") or method["name"]
        if label in chosen:
            method.update(chosen[label]["values"])
    data["tuned"] = chosen
    header = (
        f"# Tuned from {source.name} (sha256 {digest(source)}) by apga-sim; the choice and "
        "every rung's scores are under `tuned`.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False)


def table_path(tuned: Path) -> Path:
    """The score table beside a tuned file: ``<stem>.tuning.csv`` for ``<stem>.tuned.yaml``."""
    stem = tuned.name.removesuffix(".yaml").removesuffix(".tuned")
    return tuned.with_name(f"{stem}.tuning.csv")


def write(source: Path, dest: Path, chosen: dict[str, dict[str, Any]], table: pd.DataFrame) -> None:
    """Write the tuned file ``dest`` and its score table, each through a temporary file."""
    for path, text in (
        (table_path(dest), table.to_csv(index=False)),
        (dest, tuned_yaml(source, chosen)),
    ):
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, path)
