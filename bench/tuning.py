"""Benchmark (f): successive halving against the full grid, where the full grid is affordable.

Tunes alpha of Rennala NIGT, synchronized NIGT (b = 1) and AFedPG over the paper grid
2^-10, ..., 2^-1 on two tuning seeds, once with ``schedule: grid`` and once with ``schedule:
halving`` (the paper files' reduction 4 and min_fraction 1/4 unless given: rungs at B/4 and B),
and prints for each method whether halving picks the grid's value (else its rank and score on
the grid's full-budget scores), and the cost of halving as a ratio of the grid's: trajectories
simulated and real seconds, summed from the counters of the runs each schedule uses (target:
same pick at <= 50%). The full-budget runs are shared (halving's last rung reuses the grid's
runs, skipped as complete), which changes neither schedule's measured cost.

Cases: ``quadratic`` (the quick noisy quadratic, n = 10, h_i = sqrt(i), 1000 simulated s; a few
minutes) and ``hopper`` (the quick Hopper-v4 scenario's cluster, H = 200, 150 simulated s; about
ten minutes on 2 free cores). Run: ``python -m bench.tuning`` (both) or
``python -m bench.tuning CASE [REDUCTION MIN_FRACTION]``, e.g. ``hopper 3 1/9``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from apga_sim.runner import RunSpec, check_existing, run_many
from apga_sim.scenario import Scenario, load_scenario, parse_scenario
from apga_sim.trace import read_manifest
from apga_sim.tuning import Execute, tune

QUICK = Path(__file__).parent.parent / "scenarios" / "quick"
GRID = {"alpha": [f"2^-{k}" for k in range(10, 0, -1)]}
METHODS = [
    {"name": "rennala_nigt", "alpha": 0.0625, "M": 20},
    {"name": "sync_nigt", "alpha": 0.0625, "b": 1},
    {"name": "afedpg", "alpha": 0.0078125},
]


def study(case: str, schedule: str, reduction: int, min_fraction: str) -> Scenario:
    """The benchmark's scenario for ``case`` tuned by ``schedule``."""
    if case == "hopper":
        data = load_scenario(QUICK / "hopper_compare.yaml").model_dump(mode="json")
        data["eval"] = {"every_updates": None, "every_time": 5.0}
    else:
        data = load_scenario(QUICK / "quadratic_sqrt.yaml").model_dump(mode="json")
        data |= {"budget": {"time": 1000.0}, "eval": {"every_updates": None, "every_time": 20.0}}
    tuning = {"seeds": [1000, 1001], "schedule": schedule}
    tuning |= {"reduction": reduction, "min_fraction": min_fraction}
    return parse_scenario(data | {"methods": METHODS, "tune": tuning | {"grid": GRID}})


def _executor(used: list[RunSpec], jobs: int) -> Execute:
    """Run the complete-less specs in ``jobs`` processes; note every spec in ``used``."""

    def execute(specs: list[RunSpec]) -> None:
        used.extend(specs)
        run_many([sp for sp in specs if check_existing(sp, False) == "run"], jobs=jobs)

    return execute


def run_case(case: str, reduction: str = "4", min_fraction: str = "1/4") -> None:
    """Tune ``case`` by both schedules and print the picks and the cost ratio."""
    jobs = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        picks, costs = {}, {}
        for schedule in ("grid", "halving"):
            used: list[RunSpec] = []
            s = study(case, schedule, int(reduction), min_fraction)
            chosen, table = tune(s, Path(tmp), _executor(used, jobs))
            picks[schedule] = {label: c["rungs"][-1]["kept"][0] for label, c in chosen.items()}
            if schedule == "grid":  # each configuration's full-budget score, mean over seeds
                full = table.groupby("config", sort=False).auc.mean()
            counters = [read_manifest(sp.run_dir)["counters"] for sp in used]
            costs[schedule] = (
                len(used),
                sum(c["trajectories_simulated"] for c in counters),
                sum(c["real_seconds"] for c in counters),
            )
        for label, best in picks["grid"].items():
            pick = picks["halving"][label]
            scores = full[full.index.str.startswith(f"{label}[")].sort_values(ascending=False)
            rank = list(scores.index).index(pick) + 1
            print(
                f"(f) {case} {label}: grid picks {best}, halving {pick}: "
                f"{'same pick' if pick == best else 'DIFFERENT pick'} (full-budget auc "
                f"{scores[pick]:.4g} vs best {scores[best]:.4g}, rank {rank}/{len(scores)})"
            )
        (gn, gt, gs), (hn, ht, hs) = costs["grid"], costs["halving"]
        print(
            f"(f) {case}, reduction {reduction}, min_fraction {min_fraction}: halving {hn} runs, "
            f"{ht} trajectories, {hs:.1f} s; grid {gn} runs, {gt} trajectories, {gs:.1f} s "
            f"-> cost ratio {ht / gt:.2f} (trajectories), "
            f"{hs / gs:.2f} (real time) (target: same picks at <= 0.50)"
        )


def main() -> None:
    for case in ("quadratic", "hopper"):
        run_case(case)


if __name__ == "__main__":
    if sys.argv[1:]:
        run_case(*sys.argv[1:])
    else:
        main()
