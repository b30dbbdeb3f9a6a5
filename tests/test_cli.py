"""The command line: runs, reproducibility, summaries and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import apga_sim
from apga_sim.cli import app

runner = CliRunner()
QUICK = Path(__file__).parent.parent / "scenarios" / "quick"

GOOD = {
    "name": "tiny",
    "n": 3,
    "oracle": {"kind": "quadratic", "dim": 4},
    "h": {"kind": "sqrt"},
    "methods": [{"name": "rennala_nigt", "alpha": 0.1, "M": 4}, {"name": "afedpg", "alpha": 0.05}],
    "seeds": [0, 1],
    "budget": {"updates": 15},
    "eval": {"every_updates": 5},
    "target_return": -4.0,
}


def run(*args: str):
    return runner.invoke(app, list(args))


def test_run_writes_traces_and_prints_summary(quick_yaml, tmp_path):
    out = tmp_path / "out"
    res = run("run", str(quick_yaml(GOOD)), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "rennala_nigt" in res.output and "afedpg" in res.output
    assert "time to target" in res.output
    done = [line.split()[1] for line in res.output.splitlines() if line.startswith("done ")]
    assert done == ["1/4", "2/4", "3/4", "4/4"], res.output  # how far, also in a log file
    events, evals, manifest = apga_sim.load_run(out / "rennala_nigt" / "seed-0")
    assert manifest["status"] == "complete"
    assert manifest["counters"]["updates"] == 15
    assert set(events.kind) >= {"compute_start", "compute_end", "compute_cancel", "update"}
    assert evals["update"].tolist() == [0, 5, 10, 15]
    results = apga_sim.load_results(out)
    assert set(results.method) == {"rennala_nigt", "afedpg"}
    assert set(results.seed) == {0, 1}


def test_status_lines_keep_long_paths_with_brackets_whole(quick_yaml, tmp_path):
    out = tmp_path / "runs[v2]" / ("d" * 130)  # brackets rich would read as markup; > 120 wide
    res = run("run", str(quick_yaml(GOOD)), "--out", str(out))
    assert res.exit_code == 0, res.output
    done = [line for line in res.output.splitlines() if line.startswith("done ")]
    assert len(done) == 4, res.output
    assert any(f" {out / 'afedpg' / 'seed-1'}: " in line for line in done), res.output


def test_same_seed_gives_byte_identical_traces_serial_and_parallel(quick_yaml, tmp_path):
    path = quick_yaml(GOOD)
    for name, jobs in (("a", "1"), ("b", "1"), ("c", "2")):
        assert run("run", str(path), "--out", str(tmp_path / name), "--jobs", jobs).exit_code == 0
    for method in ("rennala_nigt", "afedpg"):
        for seed in (0, 1):
            rel = Path(method) / f"seed-{seed}"
            for f in ("events.parquet", "evals.parquet"):
                a = (tmp_path / "a" / rel / f).read_bytes()
                assert a == (tmp_path / "b" / rel / f).read_bytes()
                assert a == (tmp_path / "c" / rel / f).read_bytes()
        e0 = pd.read_parquet(tmp_path / "a" / method / "seed-0" / "evals.parquet")
        e1 = pd.read_parquet(tmp_path / "a" / method / "seed-1" / "evals.parquet")
        assert not e0.return_mean.equals(e1.return_mean)


def test_traces_do_not_depend_on_the_blas_thread_count(quick_yaml, tmp_path):
    # A threaded BLAS sums a norm or dot product over d > 10,000 in per-thread chunks, so its bits
    # depend on the thread count, that is on the machine's cores (or on Ray's OMP_NUM_THREADS).
    path = quick_yaml(GOOD | {"oracle": {"kind": "quadratic", "dim": 20_000}, "seeds": [0]})
    exe = Path(sys.executable).with_name("apga-sim")
    for threads in ("1", "2"):
        env = os.environ | {"OPENBLAS_NUM_THREADS": threads}
        out = str(tmp_path / threads)
        done = subprocess.run([exe, "run", path, "--out", out], env=env, capture_output=True)
        assert done.returncode == 0, done.stderr
    for method in ("rennala_nigt", "afedpg"):
        for f in ("events.parquet", "evals.parquet"):
            rel = Path(method) / "seed-0" / f
            assert (tmp_path / "1" / rel).read_bytes() == (tmp_path / "2" / rel).read_bytes()


def test_many_skipped_runs_are_reported_in_one_line(quick_yaml, tmp_path):
    path, out = quick_yaml(GOOD | {"seeds": [0, 1, 2]}), tmp_path / "out"
    assert run("run", str(path), "--out", str(out)).exit_code == 0
    res = run("run", str(path), "--out", str(out))
    assert res.exit_code == 0
    assert res.output.count("complete, skipped") == 1, res.output
    assert f"6 runs under {out}: complete, skipped" in " ".join(res.output.split())


def test_existing_runs_are_skipped_not_overwritten(quick_yaml, tmp_path):
    path, out = quick_yaml(GOOD), tmp_path / "out"
    assert run("run", str(path), "--out", str(out), "--seeds", "0").exit_code == 0
    manifest = out / "afedpg" / "seed-0" / "manifest.json"
    before = manifest.read_text()
    res = run("run", str(path), "--out", str(out), "--seeds", "0")
    assert res.exit_code == 0 and "skipped" in res.output
    assert manifest.read_text() == before
    # Edits that do not change a run (a new seed or method, another description or target)
    # resume: the complete run is kept.
    grown = GOOD | {"seeds": [0, 5], "description": "more", "target_return": -3.0}
    res = run("run", str(quick_yaml(grown, "grown.yaml")), "--out", str(out), "--seeds", "0")
    assert res.exit_code == 0 and res.output.count("complete, skipped") == 2, res.output
    assert manifest.read_text() == before
    changed = quick_yaml(GOOD | {"budget": {"updates": 3}}, "other.yaml")
    res = run("run", str(changed), "--out", str(out), "--seeds", "0")
    assert res.exit_code == 2 and "different scenario" in res.output
    assert manifest.read_text() == before
    res = run("run", str(changed), "--out", str(out), "--seeds", "0", "--overwrite")
    assert res.exit_code == 0
    assert json.loads(manifest.read_text())["counters"]["updates"] == 3


def test_cancelled_jobs_are_counted_and_never_computed(quick_yaml, tmp_path):
    from apga_sim.runner import RunSpec, run_one
    from apga_sim.scenario import load_scenario

    s = load_scenario(quick_yaml(GOOD))
    calls = []
    import apga_sim.oracles.quadratic as q

    original = q.QuadraticOracle.gradient

    def spy(self, jobs, weights):
        calls.extend(job.key for job in jobs)
        return original(self, jobs, weights)

    q.QuadraticOracle.gradient = spy
    try:
        manifest = run_one(RunSpec(s, s.methods[0], 0, tmp_path / "o"))
    finally:
        q.QuadraticOracle.gradient = original
    events = pd.read_parquet(tmp_path / "o" / "rennala_nigt" / "seed-0" / "events.parquet")
    cancelled = events[events.kind == "compute_cancel"]
    assert len(cancelled) == manifest["counters"]["jobs_cancelled"] > 0
    cancelled_keys = set(zip(cancelled.worker, cancelled.job, strict=True))
    assert cancelled_keys.isdisjoint(calls)
    assert manifest["counters"]["jobs_computed"] == len(calls) == 15 * 4
    ends = events[events.kind == "compute_end"]
    assert set(zip(ends.worker, ends.job, strict=True)) == set(calls)


def test_validate_schema_and_list(quick_yaml):
    res = run("validate", str(quick_yaml(GOOD)))
    assert res.exit_code == 0 and "ok" in res.output
    schema = json.loads(run("schema").output)
    assert "methods" in schema["properties"]
    listing = run("list").output
    for name in ("rennala_nigt", "malenia_nigt", "sync_nigt", "afedpg", "async_pg", "sqrt"):
        assert name in listing


def test_every_quick_scenario_validates():
    files = sorted(QUICK.glob("*.yaml"))
    assert len(files) >= 4
    for f in files:
        res = run("validate", str(f))
        assert res.exit_code == 0, res.output


def _bad(**changes):
    data = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        data[key] = value
    return data


BAD = [
    (_bad(bogus=1), "bogus", "unknown field"),
    (_bad(n="ten"), "n", "integer"),
    (_bad(n=0), "n", "greater than 0"),
    (_bad(h={"kind": "list", "values": [1.0, 2.0]}), "h", "has 2 values but n = 3"),
    (_bad(h={"kind": "list", "values": [1.0, -2.0, 1.0]}), "h.values.1", "greater than"),
    (_bad(h={"kind": "trace", "path": "missing.csv"}), "h", "does not exist"),
    (_bad(h={"kind": "warp"}), "h", "'equal', 'sqrt'"),
    (
        _bad(methods=[{"name": "rennala_nigt", "alpha": 0.1, "M": 0}]),
        "methods.0.M",
        "greater than 0",
    ),
    (_bad(methods=[{"name": "nope", "alpha": 0.1}]), "methods.0", "rennala_nigt"),
    (
        _bad(methods=[{"name": "afedpg", "alpha": 0.1, "M": 3}]),
        "methods.0.M",
        "unknown field",
    ),
    (_bad(methods=[{"name": "afedpg", "alpha": -1}]), "methods.0.alpha", "greater than 0"),
    (_bad(budget={}), "budget", "give time"),
    (_bad(u={"kind": "equal", "scale": -1}), "u.scale", ">= 0"),
    (_bad(charge="per_second"), "charge", "per_gradient"),
    (_bad(aggregation={"mode": "gossip"}), "aggregation.mode", "'server', 'allreduce' or 'stream'"),
    (_bad(h={"kind": "equal", "scale": 0}), "h", "scale must be > 0"),
    (_bad(h={"kind": "list", "values": [1.0, 0.0, 1.0]}), "h", "compute times must be > 0"),
    (_bad(h={"kind": "random", "dist": "exponential", "mean": -1}), "h", "mean must be > 0"),
    (_bad(u={"kind": "random", "dist": "uniform", "low": 2, "high": 1}), "u", "low <= high"),
    (_bad(seeds=[-1]), "seeds.0", "greater than or equal to 0"),
    (_bad(seeds=[0, 0]), "seeds", "distinct"),
    (_bad(name=".."), "name", "should match pattern"),
    (_bad(methods=[{"name": "afedpg", "alpha": 0.1, "label": "../x"}]), "label", "pattern"),
    (
        _bad(methods=[{"name": "afedpg", "alpha": 0.1}, {"name": "afedpg", "alpha": 0.2}]),
        "methods",
        "distinct label",
    ),
    (_bad(sweep={"h.values": [[1, 2, 3]]}), "sweep.h.values", "valid"),
    (_bad(budget={"time": "100"}), "budget.time", "write the number without quotes"),
    (
        _bad(methods=[{"name": "afedpg", "alpha": 0.1, "eta": 2}]),
        "methods.0.eta",
        "less than or equal to 1",
    ),
    (
        _bad(methods=[{"name": "afedpg", "alpha": {"grid": [0.1, "abc"]}}]),
        "methods.0.alpha.grid.1",
        "valid number",
    ),
]


@pytest.mark.parametrize(("data", "field", "allowed"), BAD, ids=[b[1] for b in BAD])
def test_bad_yaml_exit_code_2_names_the_field(data, field, allowed, quick_yaml, tmp_path):
    path = quick_yaml(data)
    out = tmp_path / "out"
    for cmd in (["validate", str(path)], ["run", str(path), "--out", str(out)]):
        res = run(*cmd)
        assert res.exit_code == 2, res.output
        assert field in res.output and allowed in res.output, res.output
        assert "Traceback" not in res.output
        problems = [line for line in res.output.splitlines() if line.startswith("  ")]
        assert len(problems) == 1, res.output  # one line, not one per union member
    assert not out.exists()


def test_bad_files_and_options(tmp_path, quick_yaml):
    res = run("run", str(tmp_path / "nope.yaml"))
    assert res.exit_code == 2 and "no such scenario file" in res.output
    res = run("validate", str(tmp_path))
    assert res.exit_code == 2 and f"{tmp_path}: a folder, not a scenario file" in res.output
    res = run("summary", str(tmp_path / "nope"))
    assert res.exit_code == 2 and "nope: no such folder" in res.output
    bad = tmp_path / "broken.yaml"
    bad.write_text("n: [1,\n")
    res = run("validate", str(bad))
    assert res.exit_code == 2 and "not valid YAML" in res.output
    res = run("run", str(quick_yaml(GOOD)), "--methods", "sync_pg", "--out", str(tmp_path / "o"))
    assert res.exit_code == 2 and "allowed: rennala_nigt, afedpg" in res.output
    res = run("run", str(quick_yaml(GOOD)), "--seeds", "a,b", "--out", str(tmp_path / "o"))
    assert res.exit_code == 2 and "--seeds" in res.output
    assert not (tmp_path / "o").exists()
    assert yaml.safe_load(Path(quick_yaml(GOOD)).read_text())["n"] == 3


def test_set_overrides_a_field_and_bad_set_is_refused(quick_yaml, tmp_path):
    path = quick_yaml(GOOD)
    res = run(
        "run",
        str(path),
        "--out",
        str(tmp_path / "o"),
        "--seeds",
        "0",
        "--methods",
        "afedpg",
        "--set",
        "budget.updates=4",
        "--set",
        "n=2",
    )
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "o" / "afedpg" / "seed-0" / "manifest.json").read_text())
    assert manifest["counters"]["updates"] == 4 and manifest["scenario"]["n"] == 2
    for bad, message in (
        ("budget.time=[", "not a YAML value"),
        ("budget", "expected KEY=VALUE"),
        ("n=0", "with --set n: invalid scenario\n  n: Input should be"),
        ("name.x=1", "--set name.x"),
        ("h={kind: sqrt, 2: 1}", "--set h: '{kind: sqrt, 2: 1}' is not a YAML value: key 2"),
        ("h={a: {2: 1}}", "--set h.a: "),
    ):
        res = run("run", str(path), "--set", bad, "--out", str(tmp_path / "bad"))
        assert res.exit_code == 2 and message in res.output, res.output
    assert not (tmp_path / "bad").exists()


def test_more_bad_options_fail_cleanly(quick_yaml, tmp_path):
    path = quick_yaml(GOOD)
    (tmp_path / "file").write_text("x")
    cases = [
        (["run", str(path), "--seeds", ",", "--out", str(tmp_path / "o")], "--seeds"),
        (["run", str(path), "--seeds", "1,1", "--out", str(tmp_path / "o")], "--seeds"),
        (["run", str(path), "--out", str(tmp_path / "file")], "not a folder"),
        (["tune", str(path), "--write", str(tmp_path / "no" / "x.yaml")], "nothing to tune"),
    ]
    for args, message in cases:
        res = run(*args)
        assert res.exit_code == 2 and message in res.output, res.output
        assert "Traceback" not in res.output
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    res = run("validate", str(latin))
    assert res.exit_code == 2 and "UTF-8" in res.output


def test_set_creates_a_default_section_and_sweeps_m_of_round_methods(quick_yaml, tmp_path):
    from apga_sim.scenario import load_scenario

    s = load_scenario(quick_yaml(GOOD), {"u.kind": "equal", "u.scale": 2.0, "methods.M": 6})
    assert s.u.scale == 2.0
    assert [getattr(m, "M", None) for m in s.methods] == [6, None]  # afedpg has no M


def test_export_trace_never_overwrites(tmp_path, quick_yaml):
    out = tmp_path / "o"
    assert run("run", str(quick_yaml(GOOD)), "--out", str(out), "--seeds", "0").exit_code == 0
    rd = out / "afedpg" / "seed-0"
    assert run("export-trace", str(rd)).exit_code == 0
    res = run("export-trace", str(rd))
    assert res.exit_code == 2 and "--overwrite" in res.output
    assert run("export-trace", str(rd), "--overwrite").exit_code == 0
    res = run("export-trace", str(rd), "--out", str(rd / "manifest.json"), "--overwrite")
    assert res.exit_code == 2 and "trace file of a run" in res.output
    assert json.loads((rd / "manifest.json").read_text())["method"] == "afedpg"


def test_run_summary_says_not_reached_when_the_median_run_never_reaches(quick_yaml, tmp_path):
    res = run("run", str(quick_yaml(GOOD | {"target_return": 0.0})), "--out", str(tmp_path / "o"))
    assert res.exit_code == 0, res.output
    rows = [
        line
        for line in res.output.splitlines()
        if line.split()[:1] in (["afedpg"], ["rennala_nigt"])
    ]
    assert len(rows) == 2 and all(row.count("not reached") == 3 for row in rows)  # median, 20%, 80%
    assert "e+308" not in res.output and "inf" not in res.output


def test_run_and_summary_print_the_same_table(tmp_path, quick_yaml):
    out = tmp_path / "o"
    ran = run("run", str(quick_yaml(GOOD | {"target_return": -4.0})), "--out", str(out))
    summarised = run("summary", str(out))
    assert ran.exit_code == summarised.exit_code == 0, ran.output + summarised.output

    def table(text: str) -> list[str]:
        lines = text.splitlines()
        start = next(k for k, line in enumerate(lines) if "medians over seeds" in line)
        return [line.strip() for line in lines[start:] if line.strip()][:6]

    assert table(ran.output) == table(summarised.output)
    assert "not reached" in " ".join(table(ran.output)[:2])  # the title says what it means


def test_help_paragraphs_wrap_to_the_terminal_not_to_the_source_lines():
    res = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "400"})
    assert res.exit_code == 0
    paragraph = (
        "Complete runs that already exist are skipped (use --overwrite to redo them), so an "
        "interrupted run or sweep resumes where it stopped."
    )
    assert paragraph in res.output


def test_version_prints_the_package_version():
    res = run("--version")
    assert res.exit_code == 0 and res.output == f"apga-sim {apga_sim.__version__}\n"
