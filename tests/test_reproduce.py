"""`apga-sim reproduce`: the whole protocol on a tiny quadratic study, resumed and estimated."""

from __future__ import annotations

import json

import yaml
from test_cli import run
from test_tuning import STUDY

from apga_sim.trace import find_runs, read_manifest


def test_reproduce_estimates_runs_resumes_and_records(tmp_path):
    path, out = tmp_path / "study.yaml", tmp_path / "out"
    path.write_text(yaml.safe_dump(STUDY, sort_keys=False))
    res = run("reproduce", str(path), "--out", str(out), "--jobs", "1", "--estimate")
    assert res.exit_code == 0, res.output
    assert "probing (no complete runs" in res.output
    for label in ("rennala_nigt[alpha=0.03125,M=5.0]", "sync_nigt[alpha=0.03125]", "afedpg[alpha"):
        assert label in res.output, label  # each method's first configuration
    for word in ("tune 1/9", "evaluate", "trajectories", "env steps", "core-hours", "total"):
        assert word in res.output, word
    probes = find_runs(out)  # each method's first run, which the protocol reuses
    assert [p.relative_to(out).parts[:2] for p in probes] == [
        ("tuning", "fraction-1_9"),
        ("tuning", "fraction-1_9"),
        ("tuning", "fraction-1_9"),
    ]

    res = run("reproduce", str(path), "--out", str(out), "--jobs", "1")
    assert res.exit_code == 0, res.output
    tuned = yaml.safe_load((out / "study.tuned.yaml").read_text())
    assert (out / "study.tuning.csv").exists()
    evaluation = find_runs(out / "eval")
    assert {(read_manifest(r)["method"], read_manifest(r)["seed"]) for r in evaluation} == {
        (m, seed) for m in ("rennala_nigt", "sync_nigt", "afedpg") for seed in (0, 1)
    }
    for r in evaluation:
        m = read_manifest(r)
        for key, value in tuned["tuned"][m["method"]]["values"].items():
            assert m["method_config"][key] == value
    assert (out / "eval" / "summary.parquet").exists()
    for kind in ("curves", "ttt"):
        assert (out / "eval" / "figures" / f"{kind}.png").exists()
    stamps = {p: (p / "manifest.json").stat().st_mtime_ns for p in find_runs(out)}
    assert all(p in stamps for p in probes)

    res = run("reproduce", str(path), "--out", str(out), "--jobs", "1")
    assert res.exit_code == 0, res.output
    assert {p: (p / "manifest.json").stat().st_mtime_ns for p in find_runs(out)} == stamps
    record = json.loads((out / "protocol.json").read_text())["invocations"]
    assert [r["status"] for r in record] == ["complete"] * 3
    assert record[0]["command"].endswith("--estimate") and record[0]["stages"]["estimate"]
    first, again = record[1]["stages"], record[2]["stages"]
    assert first["tune"]["computed"] > 0 and first["evaluate"]["computed"] == 6
    assert again["tune"] == {"reused_tuned_file": True, "seconds": again["tune"]["seconds"]}
    assert again["evaluate"]["computed"] == 0 and again["evaluate"]["runs"] == 6
    assert all("seconds" in stage for stage in again.values())

    res = run("reproduce", str(path), "--out", str(out), "--jobs", "1", "--estimate")
    assert res.exit_code == 0 and "probing" not in res.output, res.output
    assert (
        json.loads((out / "protocol.json").read_text())["invocations"][-1]["stages"]["estimate"][
            "cost"
        ]["to do"]
        == 0
    )


def test_reproduce_refuses_bad_input_without_writing(tmp_path):
    path, out = tmp_path / "study.yaml", tmp_path / "out"
    path.write_text(yaml.safe_dump(STUDY | {"tune": STUDY["tune"] | {"seeds": [1]}}))
    res = run("reproduce", str(path), "--out", str(out), "--seeds", "3")
    assert res.exit_code == 2 and "tune.seeds: [1] are also evaluation seeds" in res.output
    path.write_text(
        yaml.safe_dump(STUDY | {"budget": {"updates": 10}, "eval": {"every_updates": 5}})
    )
    res = run("reproduce", str(path), "--out", str(out))
    assert res.exit_code == 2 and "budget.time: reproduce needs" in res.output, res.output
    assert not out.exists()
    # A tuned file made from another version of the scenario is never replaced.
    out.mkdir()
    tuned = out / "study.tuned.yaml"
    tuned.write_text("# Tuned from study.yaml (sha256 " + "0" * 64 + ") by apga-sim\n")
    path.write_text(yaml.safe_dump(STUDY))
    res = run("reproduce", str(path), "--out", str(out))
    assert res.exit_code == 2 and "made from another version" in res.output, res.output
    assert tuned.read_text().startswith("# Tuned from study.yaml (sha256 000")
    assert "Traceback" not in res.output and not (out / "protocol.json").exists()
