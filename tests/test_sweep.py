"""Sweeps, resuming, grids and tuning (Ray runs: test_ray_reproducibility.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from test_cli import GOOD, run

import apga_sim
from apga_sim.scenario import cells, load_scenario
from apga_sim.sweep import area_under_curve

SWEEP = GOOD | {
    "sweep": {"n": [2, 4], "h.scale": [1.0, 2.0]},
    "seeds": [0],
    "methods": [{"name": "rennala_pg", "alpha": 0.2, "M": 4}],
}


def test_sweep_cells_are_validated_scenarios(quick_yaml):
    s = load_scenario(quick_yaml(SWEEP))
    got = [(values, cell.n, cell.h.scale) for values, cell in cells(s)]
    assert got == [
        ({"n": 2, "h.scale": 1.0}, 2, 1.0),
        ({"n": 2, "h.scale": 2.0}, 2, 2.0),
        ({"n": 4, "h.scale": 1.0}, 4, 1.0),
        ({"n": 4, "h.scale": 2.0}, 4, 2.0),
    ]


def test_bad_sweep_names_the_cell(quick_yaml):
    res = run("validate", str(quick_yaml(SWEEP | {"sweep": {"n": [3, 0]}})))
    assert res.exit_code == 2 and "sweep cell n=0" in res.output and "n:" in res.output
    res = run("validate", str(quick_yaml(SWEEP | {"sweep": {"name.x": [1]}})))
    assert res.exit_code == 2 and "sweep.name.x" in res.output


def test_sweep_runs_every_cell_and_resumes_without_recomputing(quick_yaml, tmp_path):
    path, out = quick_yaml(SWEEP), tmp_path / "out"
    res = run("run", str(path), "--out", str(out))
    assert res.exit_code == 0, res.output
    results = apga_sim.load_results(out)
    assert sorted(results.groupby(["n", "h.scale"]).groups) == [
        (2, 1.0),
        (2, 2.0),
        (4, 1.0),
        (4, 2.0),
    ]
    runs = sorted(out.rglob("manifest.json"))
    assert len(runs) == 4
    # Simulate an interruption: one cell incomplete, one missing.
    interrupted = runs[0]
    manifest = json.loads(interrupted.read_text())
    manifest["status"] = "incomplete"
    interrupted.write_text(json.dumps(manifest))
    missing = runs[1].parent
    for f in missing.iterdir():
        f.unlink()
    missing.rmdir()
    stamps = {p: p.stat().st_mtime_ns for p in runs[2:]}
    res = run("run", str(path), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert res.output.count("complete, skipped") == 2
    assert {p: p.stat().st_mtime_ns for p in runs[2:]} == stamps  # not recomputed
    assert json.loads(interrupted.read_text())["status"] == "complete"
    assert (missing / "manifest.json").exists()


def test_grid_values_expand_and_tune_picks_the_best(quick_yaml, tmp_path):
    data = GOOD | {
        "methods": [
            {"name": "rennala_pg", "alpha": {"grid": ["2^-6", "2^-3", "2^-1"]}, "M": 4},
            {"name": "afedpg", "alpha": 0.05},
        ],
        "budget": {"time": 40.0},
        "eval": {"every_updates": None, "every_time": 2.0},
        "tune": {"seeds": [7], "criterion": "auc"},
    }
    path = quick_yaml(data)
    s = load_scenario(path).expanded()
    assert [m.display for m in s.methods] == [
        "rennala_pg[alpha=0.015625]",
        "rennala_pg[alpha=0.125]",
        "rennala_pg[alpha=0.5]",
        "afedpg",
    ]
    res = run("tune", str(path), "--out", str(tmp_path / "tuning"))
    assert res.exit_code == 0, res.output
    tuned_path = path.with_name("s.tuned.yaml")
    tuned = yaml.safe_load(tuned_path.read_text())
    choice = tuned["tuned"]["rennala_pg"]
    assert choice["schedule"] == "grid" and len(choice["rungs"]) == 1  # the default schedule
    scores = {k: v["auc"] for k, v in choice["rungs"][0]["scores"].items()}
    assert choice["values"]["alpha"] == float(max(scores, key=scores.get).split("=")[1][:-1])
    assert tuned["methods"][0]["alpha"] == choice["values"]["alpha"]
    assert load_scenario(tuned_path).has_grids() is False
    assert {
        r["seed"]
        for r in map(json.loads, map(Path.read_text, (tmp_path / "tuning").rglob("manifest.json")))
    } == {7}
    res = run("tune", str(path), "--out", str(tmp_path / "tuning2"))
    assert res.exit_code == 2 and "exists" in res.output  # never overwrites the tuned file


def test_area_under_curve_is_stepwise():
    import pandas as pd

    evals = pd.DataFrame({"time": [0.0, 1.0, 3.0], "return_mean": [-4.0, -2.0, -1.0]})
    assert area_under_curve(evals, 4.0) == pytest.approx((-4 * 1 - 2 * 2 - 1 * 1) / 4)
