"""The protocol of `apga-sim reproduce`: where each stage writes, what it costs, what it took.

A reproduction of scenario ``FILE`` into ``OUT`` has four stages, each skipping complete work:

1. tune (:mod:`apga_sim.tuning`) on ``tune.seeds``: runs in ``OUT/tuning/``, the choice in
   ``OUT/<stem>.tuned.yaml`` and ``OUT/<stem>.tuning.csv``; a tuned file made from this very
   ``FILE`` (its sha256 is in the tuned file's header) is reused without looking at the runs;
2. evaluate the tuned methods on the evaluation seeds: ``OUT/eval/<method>/seed-<seed>/``;
3. summarise and plot ``OUT/eval`` (``summary.parquet``, ``figures/``);
4. the report.

``OUT/protocol.json`` lists every invocation: its command, start time, status and each stage's
real seconds and runs computed.

Cost estimate rule: per method, trajectories, environment steps and real (single-core) seconds
per simulated second, summed over the complete runs of that method anywhere under ``OUT``
(tuning or evaluation runs). A method without any is first probed by its first run, which the
protocol later reuses: the first configuration at the first rung (``budget.time`` times
``min_fraction`` under halving) on the first tuning seed, or, for an untuned method, its first
evaluation run. The remaining runs' simulated seconds times these rates give trajectories,
environment steps and core-hours. A probe measures early training: when episodes grow as the
policy learns (MuJoCo), later runs cost more, so a probe-based estimate is a lower bound that
more complete runs under ``OUT`` make sharper.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from apga_sim import tuning
from apga_sim.runner import RunSpec
from apga_sim.scenario import Scenario, ScenarioError
from apga_sim.trace import find_runs, read_manifest


@dataclass(frozen=True)
class Layout:
    """The files of a reproduction of ``source`` into ``out``."""

    source: Path
    out: Path

    @property
    def tuning(self) -> Path:  # noqa: D102
        return self.out / "tuning"

    @property
    def tuned(self) -> Path:  # noqa: D102
        return self.out / f"{self.source.stem}.tuned.yaml"

    @property
    def evaluation(self) -> Path:  # noqa: D102
        return self.out / "eval"

    @property
    def record(self) -> Path:  # noqa: D102
        return self.out / "protocol.json"

    def reusable_tuned(self) -> bool:
        """Whether the tuned file exists and was made from the current source.

        Raises:
            ScenarioError: a tuned file made from another version of the source.
        """
        if not self.tuned.exists():
            return False
        if tuning.tuned_from(self.tuned) != tuning.digest(self.source):
            raise ScenarioError(
                f"{self.tuned}: made from another version of {self.source}; remove it to tune "
                "again (complete tuning runs are reused) or choose another --out"
            )
        return True


def _base(label: str) -> str:
    return label.split("[", 1)[0]


def _complete(run_dir: Path) -> bool:
    path = run_dir / "manifest.json"
    return path.exists() and read_manifest(run_dir).get("status") == "complete"


@dataclass(frozen=True)
class Rates:
    """Per simulated second of one method: trajectories, env steps and real seconds."""

    runs: int
    trajectories: float
    env_steps: float
    real_seconds: float


def measured_rates(out: Path) -> dict[str, Rates]:
    """Rates of each method (base label) from the complete runs under ``out``."""
    sums: dict[str, list[float]] = {}
    if not out.is_dir():
        return {}
    for run in find_runs(out):
        m = read_manifest(run)
        if m.get("status") != "complete":
            continue
        c = m["counters"]
        total = sums.setdefault(_base(m["method"]), [0, 0.0, 0.0, 0.0, 0.0])
        for k, value in enumerate(
            (
                1,
                c["sim_time"],
                c.get("trajectories_simulated", 0),
                c.get("env_steps", 0),
                c["real_seconds"],
            )
        ):
            total[k] += value
    return {
        label: Rates(int(n), traj / sim, steps / sim, real / sim)
        for label, (n, sim, traj, steps, real) in sums.items()
        if sim > 0
    }


def probe_specs(
    grid: Scenario, seeds: list[int], layout: Layout, rates: dict[str, Rates]
) -> list[RunSpec]:
    """The first run of each method that has no rates yet, which a later stage reuses.

    A tuned method's first configuration at the first rung on the first tuning seed; an untuned
    method's first evaluation run.
    """
    first = tuning.rungs(grid)[0]
    probes = []
    for m in grid.methods:
        if m.display in rates:
            continue
        if m.grids():
            entry = m.expand()[0]
            cell = tuning.rung_scenario(grid, first, [entry])
            where = tuning.rung_dir(layout.tuning, first)
            probes.append(RunSpec(cell, entry, grid.tune.seeds[0], where))
        else:
            probes.append(RunSpec(grid, m, seeds[0], layout.evaluation))
    return probes


def work(
    grid: Scenario, seeds: list[int], layout: Layout, tuned: bool
) -> list[tuple[str, str, int, int, float]]:
    """Every stage's runs: ``(stage, method, runs, runs to do, simulated s to do)``.

    ``grid`` is the scenario with its tuning grids; ``tuned`` says the tuned file is reused,
    which leaves no tuning to do. A halving rung's survivors are not known in advance: its
    complete runs count as done whichever configurations they are.
    """
    budget = float(grid.budget.time)  # type: ignore[arg-type]
    rows = []
    for m in grid.methods:
        if not m.grids():
            continue
        sizes = tuning.rung_sizes(len(m.expand()), grid)
        for fraction, size in zip(tuning.rungs(grid), sizes, strict=True):
            runs = size * len(grid.tune.seeds)
            where = tuning.rung_dir(layout.tuning, fraction)
            done = runs if tuned else _done(where, m.display, grid.tune.seeds)
            rows.append(
                (
                    f"tune {fraction}",
                    m.display,
                    runs,
                    max(0, runs - done),
                    max(0, runs - done) * budget * float(fraction),
                )
            )
    for m in grid.methods:
        run_dirs = [RunSpec(grid, m, seed, layout.evaluation).run_dir for seed in seeds]
        todo = sum(not _complete(d) for d in run_dirs)
        rows.append(("evaluate", m.display, len(seeds), todo, todo * budget))
    return rows


def _done(where: Path, label: str, seeds: list[int]) -> int:
    if not where.is_dir():
        return 0
    return sum(
        _complete(d / f"seed-{seed}")
        for d in where.iterdir()
        if _base(d.name) == label
        for seed in seeds
    )


def estimate(rows: list[tuple[str, str, int, int, float]], rates: dict[str, Rates]) -> pd.DataFrame:
    """The cost of the runs still to do, one row per stage and method (see the module rule)."""
    table = []
    for stage, method, runs, todo, sim in rows:
        r = rates[method]
        table.append(
            {
                "stage": stage,
                "method": method,
                "runs": runs,
                "to do": todo,
                "simulated s": sim,
                "trajectories": sim * r.trajectories,
                "env steps": sim * r.env_steps,
                "core-hours": sim * r.real_seconds / 3600,
            }
        )
    return pd.DataFrame(table)


def read_record(path: Path) -> dict[str, Any]:
    """The invocations recorded in ``protocol.json`` so far (none if it does not exist).

    Raises:
        ScenarioError: the file is not a protocol record.
    """
    if not path.exists():
        return {"invocations": []}
    try:
        data = json.loads(path.read_text())
        if isinstance(data["invocations"], list):
            return data
    except (ValueError, KeyError, TypeError):
        pass
    raise ScenarioError(f"{path}: not a protocol record; choose another --out")


def append_record(path: Path, entry: dict[str, Any]) -> None:
    """Add one invocation to ``protocol.json`` (written through a temporary file)."""
    data = read_record(path)
    data["invocations"].append(entry)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
