"""summary, plot and export-trace from a quick run's results."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from test_cli import GOOD, run

import apga_sim
from apga_sim import report


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    path = base / "s.yaml"
    path.write_text(yaml.safe_dump(GOOD | {"u": {"kind": "equal", "scale": 0.2}}))
    assert run("run", str(path), "--out", str(base / "out")).exit_code == 0
    return base / "out"


def test_summary_writes_parquet_matching_the_traces(results):
    res = run("summary", str(results))
    assert res.exit_code == 0, res.output
    table = pd.read_parquet(results / "summary.parquet").set_index("method")
    events, evals, manifest = apga_sim.load_run(results / "rennala_nigt" / "seed-0")
    assert set(table.index) == {"rennala_nigt", "afedpg"}
    assert table.loc["rennala_nigt", "updates"] == 15
    assert table.loc["rennala_nigt", "gradients_used"] == 60
    cancelled = [
        apga_sim.load_run(results / "rennala_nigt" / f"seed-{s}")[2]["counters"]["jobs_cancelled"]
        for s in (0, 1)
    ]
    assert table.loc["rennala_nigt", "gradients_cancelled"] == pytest.approx(
        pd.Series(cancelled).median()
    )
    assert 0 < table.loc["afedpg", "comm_share"] < 1


@pytest.mark.parametrize("kind", ["curves", "ttt", "gantt"])
def test_plot_kinds_write_png_and_pdf(results, kind, tmp_path):
    res = run("plot", str(results), "--kind", kind, "--out", str(tmp_path / kind))
    assert res.exit_code == 0, res.output
    assert (tmp_path / f"{kind}.png").stat().st_size > 10_000
    assert (tmp_path / f"{kind}.pdf").exists()


def test_curves_median_equals_pandas_median_of_evals(results):
    _, data = report.figure(results, "curves")
    evals = apga_sim.load_results(results)
    checked = 0
    for (method, t), median in data.set_index(["method", "time"])["median"].items():
        if pd.isna(median):
            continue
        upto = evals[(evals.method == method) & (evals.time <= t)]
        last = upto.sort_values("time").groupby("seed").return_mean.last()
        assert median == pytest.approx(last.median())
        checked += 1
    assert checked > 100


def test_theory_plot_needs_a_sweep(results):
    res = run("plot", str(results), "--kind", "theory")
    assert res.exit_code == 2 and "sweep" in res.output
    assert "cannot read" not in res.output  # a request problem, not a reading one


def test_gantt_run_relative_to_the_results_and_a_window_outside_the_run(results, tmp_path):
    out = tmp_path / "g"
    res = run("plot", str(results), "--kind", "gantt", "--run", "afedpg/seed-1", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert f"gantt of run {results / 'afedpg' / 'seed-1'}" in res.output
    span = pd.read_parquet(results / "afedpg" / "seed-1" / "events.parquet")["time"].max()
    for args, message in (
        (["--run", "afedpg/seed-9"], "--run: no run 'afedpg/seed-9' here or under"),
        (["--t0", str(span + 1)], f"--t0/--t1: the window [{span + 1:g}, inf] s holds nothing"),
        (["--t0", "2", "--t1", "1"], "--t0/--t1: the window [2, 1] s holds nothing"),
    ):
        res = run("plot", str(results), "--kind", "gantt", *args, "--out", str(tmp_path / "x"))
        assert res.exit_code == 2 and message in res.output, res.output
        assert not list(tmp_path.glob("x.*"))


def test_theory_plot_on_a_sweep(quick_yaml, tmp_path):
    data = GOOD | {
        "sweep": {"n": [2, 4, 8]},
        "seeds": [0],
        "methods": [{"name": "rennala_nigt", "alpha": 0.2, "M": 4}],
        "budget": {"time": 60.0},
        "eval": {"every_updates": 1},
    }
    assert run("run", str(quick_yaml(data)), "--out", str(tmp_path / "o")).exit_code == 0
    res = run("plot", str(tmp_path / "o"), "--kind", "theory", "--out", str(tmp_path / "th"))
    assert res.exit_code == 0, res.output
    _, plotted = report.figure(tmp_path / "o", "theory")
    assert plotted["n"].tolist() == [2, 4, 8]


def test_export_trace_perfetto(results, tmp_path):
    out = tmp_path / "t.json"
    res = run("export-trace", str(results / "afedpg" / "seed-0"), "--out", str(out))
    assert res.exit_code == 0, res.output
    trace = json.loads(out.read_text())
    names = {e["args"]["name"] for e in trace["traceEvents"] if e.get("name") == "thread_name"}
    assert {"worker 1", "worker 2", "worker 3"} <= names
    res = run("export-trace", str(results / "afedpg" / "seed-0"), "--format", "svg")
    assert res.exit_code == 2 and "allowed: perfetto" in res.output


def test_report_commands_refuse_non_results(tmp_path):
    for cmd in (["summary", str(tmp_path)], ["plot", str(tmp_path)]):
        res = run(*cmd)
        assert res.exit_code == 2 and "no apga-sim runs" in res.output


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A sweep over n = 16, 4, 8 (text order differs from numeric order), two seeds."""
    base = tmp_path_factory.mktemp("sweep")
    path = base / "s.yaml"
    data = GOOD | {"sweep": {"n": [16, 4, 8]}, "budget": {"time": 12.0}}
    path.write_text(yaml.safe_dump(data | {"eval": {"every_time": 1.0, "every_updates": None}}))
    assert run("run", str(path), "--out", str(base / "out")).exit_code == 0
    return base / "out"


def test_sweep_curves_one_panel_per_cell_with_the_target(sweep):
    fig, data = report.figure(sweep, "curves")
    assert [ax.get_title() for ax in fig.axes] == ["n = 4", "n = 8", "n = 16"]
    for ax in fig.axes:
        assert any(line.get_label().startswith("target -4") for line in ax.lines)
    assert sorted(data["n"].unique()) == [4, 8, 16]
    assert (data.groupby(["n", "method", "time"]).size() == 1).all()  # nothing pooled
    assert data.attrs["target"] == -4.0 and data.attrs["seeds"] == [0, 1]
