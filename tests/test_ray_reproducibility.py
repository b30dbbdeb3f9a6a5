"""Runs on a local Ray give the same Parquet traces, byte for byte, as local ones."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_timing_models import EVERYTHING  # stream + overlap, offline, factors, lognormal
from typer.testing import CliRunner

from apga_sim.cli import app

ray = pytest.importorskip("ray")


def traces(out: Path) -> dict[Path, bytes]:
    return {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


def test_new_timing_options_give_identical_traces_locally_and_on_ray(quick_yaml, tmp_path):
    path = quick_yaml(EVERYTHING)
    assert not ray.is_initialized()
    try:
        for name, where in (("local", ["--jobs", "1"]), ("ray", ["--ray", "local"])):
            res = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / name), *where])
            assert res.exit_code == 0, res.output
        assert ray.is_initialized()  # the second command ran on Ray
    finally:
        ray.shutdown()
    local, on_ray = traces(tmp_path / "local"), traces(tmp_path / "ray")
    assert len(local) == 3 * 2 * 2  # methods x seeds x (events, evals)
    assert local.keys() == on_ray.keys()
    for rel, data in local.items():
        assert data == on_ray[rel], rel
    events = pd.read_parquet(tmp_path / "local" / "rennala_nigt" / "seed-0" / "events.parquet")
    assert {"offline_start", "offline_end", "compute_lost"} <= set(events.kind)
