"""Successive-halving tuning on the quadratic oracle: rungs, survivors, tie-break, reruns."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_cli import run

from apga_sim.scenario import load_scenario, parse_scenario
from apga_sim.tuning import rank, rung_sizes, rungs

STUDY = {
    "name": "halving",
    "n": 5,
    "oracle": {"kind": "quadratic", "dim": 10, "sigma": 1.0},
    "h": {"kind": "sqrt"},
    # sync_nigt's first round ends at sqrt(5) + 2 = 4.2 s, after the first rung (3 s): a tie.
    "u": {"kind": "equal", "scale": 2.0},
    "methods": [
        {"name": "rennala_nigt", "alpha": 0.1, "M": 5},
        {"name": "sync_nigt", "alpha": 0.1, "b": 1},
        {"name": "afedpg", "alpha": {"grid": ["2^-5", "2^-3", "2^-1"]}},
    ],
    "seeds": [0, 1],
    "budget": {"time": 27.0},
    "eval": {"every_updates": None, "every_time": 1.0},
    "target_return": -0.5,
    "tune": {
        "seeds": [1000, 1001],
        "schedule": "halving",
        "reduction": 3,
        "min_fraction": "1/9",
        "grid": {"alpha": ["2^-5", "2^-4", "2^-3", "2^-2", "2^-1"], "M": [5, 10]},
    },
}


def _tune(study: dict, tmp_path: Path, name: str):
    path = tmp_path / "study.yaml"
    if not path.exists():
        path.write_text(yaml.safe_dump(study, sort_keys=False))
    dest = tmp_path / f"{name}.tuned.yaml"
    res = run("tune", str(path), "--out", str(tmp_path / name), "--write", str(dest), "--jobs", "1")
    return res, dest, tmp_path / f"{name}.tuning.csv"


def test_rungs_are_powers_of_the_reduction_down_to_min_fraction():
    def scenario(**tune):
        return parse_scenario(STUDY | {"tune": STUDY["tune"] | tune})

    assert rungs(scenario()) == [Fraction(1, 9), Fraction(1, 3), Fraction(1)]
    assert rungs(scenario(min_fraction=0.1)) == [Fraction(1, 9), Fraction(1, 3), Fraction(1)]
    assert rungs(scenario(reduction=2, min_fraction=0.1)) == [
        Fraction(1, 8),
        Fraction(1, 4),
        Fraction(1, 2),
        Fraction(1),
    ]
    assert rungs(scenario(schedule="grid")) == [Fraction(1)]
    assert rung_sizes(10, scenario()) == [10, 3, 1]
    assert rung_sizes(30, scenario()) == [30, 10, 3]
    assert rung_sizes(2, scenario()) == [2, 1, 1]


def test_rank_breaks_ties_by_grid_order():
    inf = math.inf
    assert rank([(1.0, inf), (2.0, inf), (2.0, inf), (0.0, inf)], "auc") == [1, 2, 0, 3]
    assert rank([(1.0, 5.0), (2.0, 5.0), (3.0, 7.0), (9.0, inf)], "time_to_target") == [1, 0, 2, 3]


def test_halving_runs_the_schedule_as_specified_and_reruns_identically(tmp_path):
    res, dest, table_path = _tune(STUDY, tmp_path, "a")
    assert res.exit_code == 0, res.output
    table = pd.read_csv(table_path)
    tuned = yaml.safe_load(dest.read_text())
    budgets = {0: 3.0, 1: 9.0, 2: 27.0}
    folders = {0: "fraction-1_9", 1: "fraction-1_3", 2: "fraction-1"}
    s = load_scenario(tmp_path / "study.yaml")
    grid_order = {
        "rennala_nigt": [
            f"rennala_nigt[alpha={a!r},M={m!r}]"
            for a in s.tune.grid["alpha"].grid
            for m in s.tune.grid["M"].grid
        ],
    }
    grid_order["sync_nigt"] = [f"sync_nigt[alpha={a!r}]" for a in s.tune.grid["alpha"].grid]
    grid_order["afedpg"] = [f"afedpg[alpha={a!r}]" for a in (2**-5, 2**-3, 2**-1)]
    assert set(table.method) == set(grid_order)  # sync_nigt has no M: only alpha is tuned
    for method, configs in grid_order.items():
        alive = configs
        for k in (0, 1, 2):
            rows = table[(table.method == method) & (table.rung == k)]
            assert list(dict.fromkeys(rows.config)) == alive  # the survivors, in grid order
            assert set(rows.seed) == {1000, 1001}
            assert set(rows.budget) == {budgets[k]}
            for config in alive:  # each run is an ordinary run of the rung's budget
                for seed in (1000, 1001):
                    run_dir = tmp_path / "a" / folders[k] / config / f"seed-{seed}"
                    manifest = json.loads((run_dir / "manifest.json").read_text())
                    assert manifest["scenario"]["budget"]["time"] == budgets[k]
                    assert manifest["status"] == "complete"
            means = rows.groupby("config", sort=False).auc.mean()
            keep = 1 if k == 2 else max(1, len(alive) // 3)
            best = sorted(alive, key=lambda c: (-means[c], alive.index(c)))[:keep]
            survivors = [c for c in alive if c in best]
            assert list(dict.fromkeys(rows[rows.survived].config)) == survivors
            record = tuned["tuned"][method]["rungs"][k]
            assert record["kept"] == survivors and record["budget"] == budgets[k]
            assert record["scores"][alive[0]]["auc"] == pytest.approx(means[alive[0]])
            alive = survivors
        (chosen,) = alive  # the best at the last rung
        tag = chosen.split("[")[1].rstrip("]")
        parsed = {k: float(v) for k, v in (kv.split("=") for kv in tag.split(","))}
        assert tuned["tuned"][method]["values"] == parsed
    # sync_nigt's first rung is a tie (no round ends before 3 s): the first grid entry survives.
    sync0 = table[(table.method == "sync_nigt") & (table.rung == 0)]
    assert sync0.auc.nunique() == 1
    assert list(sync0[sync0.survived].config.unique()) == grid_order["sync_nigt"][:1]
    methods = {m.display: m for m in load_scenario(dest).methods}
    assert tuned["tuned"]["rennala_nigt"]["values"]["M"] == methods["rennala_nigt"].M
    assert methods["afedpg"].alpha == tuned["tuned"]["afedpg"]["values"]["alpha"]
    # A rerun into a fresh folder gives the same bytes; into the same folder it computes nothing.
    res, dest_b, table_b = _tune(STUDY, tmp_path, "b")
    assert res.exit_code == 0, res.output
    assert (
        dest_b.read_bytes() == dest.read_bytes() and table_b.read_bytes() == table_path.read_bytes()
    )
    path = tmp_path / "study.yaml"
    again = tmp_path / "again.tuned.yaml"
    res = run("tune", str(path), "--out", str(tmp_path / "a"), "--write", str(again), "--jobs", "1")
    assert res.exit_code == 0 and "done " not in res.output, res.output
    assert again.read_bytes() == dest.read_bytes()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seeds": [0, 1000]}, "tune.seeds: [1000] are also evaluation seeds"),
        (
            {"budget": {"updates": 20}, "eval": {"every_updates": 5}},
            "tune.schedule: halving needs budget.time",
        ),
        ({"tune": STUDY["tune"] | {"min_fraction": "1/x"}}, "tune.min_fraction"),
        ({"tune": STUDY["tune"] | {"reduction": 1}}, "tune.reduction"),
        ({"tune": STUDY["tune"] | {"grid": {"beta": [1]}}}, "tune.grid.beta"),
        ({"tune": {"grid": {}}, "methods": [{"name": "afedpg", "alpha": 0.1}]}, "nothing to tune"),
    ],
)
def test_bad_tuning_input_fails_cleanly(tmp_path, change, message):
    res, dest, table_path = _tune(STUDY | change, tmp_path, "bad")
    assert res.exit_code == 2 and message in res.output, res.output
    assert "Traceback" not in res.output
    assert not dest.exists() and not table_path.exists() and not (tmp_path / "bad").exists()


def test_an_existing_score_table_is_never_overwritten(tmp_path):
    (tmp_path / "c.tuning.csv").write_text("mine\n")
    res, dest, table_path = _tune(STUDY, tmp_path, "c")
    assert res.exit_code == 2 and "c.tuning.csv: exists" in res.output
    assert table_path.read_text() == "mine\n" and not dest.exists()


def test_each_rung_says_its_runs_and_what_it_keeps(tmp_path):
    res, _, table_path = _tune(STUDY, tmp_path, "a")
    assert res.exit_code == 0, res.output
    table = pd.read_csv(table_path)
    said = [line for line in res.output.splitlines() if line.startswith("tuning rung")]
    expected = []
    for k, share in enumerate(("1/9 of the budget", "1/3 of the budget", "the full budget")):
        rows = table[table.rung == k]
        expected.append(f"tuning rung {k + 1} of 3 ({share}): {len(rows)} runs")
        kept = rows[rows.survived].drop_duplicates("config").groupby("method", sort=False).config
        listed = "; ".join(", ".join(configs) for configs in kept.agg(list))
        verb = "chose by auc" if k == 2 else "keeps"  # auc: the default criterion
        expected.append(f"tuning rung {k + 1} of 3 {verb}: {listed}")
    assert said == expected
