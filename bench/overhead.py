"""Benchmark (d): share of a quick MuJoCo run's real time spent outside the oracle.

Runs the quick Hopper scenario's Rennala NIGT and AFedPG runs end to end (engine, bookkeeping,
evaluation, trace writing) and reports ``1 - (oracle + evaluation seconds) / run seconds`` from
the manifest counters (target <= 5%). Run: ``python -m bench.overhead``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from apga_sim.runner import RunSpec, run_one
from apga_sim.scenario import load_scenario

SCENARIO = Path(__file__).parent.parent / "scenarios" / "quick" / "hopper_compare.yaml"


def main() -> None:
    s = load_scenario(SCENARIO)
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("rennala_nigt", "afedpg"):
            c = run_one(RunSpec(s, s.method(method), 0, Path(tmp)))["counters"]
            inside = c["oracle_seconds"] + c["eval_seconds"]
            share = 1.0 - inside / c["real_seconds"]
            print(
                f"(d) {method}: {c['real_seconds']:.2f} s run, {c['oracle_seconds']:.2f} s "
                f"oracle, {c['eval_seconds']:.2f} s evaluation, {c['updates']} updates -> "
                f"{100 * share:.2f}% outside the oracle (target <= 5%)"
            )


if __name__ == "__main__":
    main()
