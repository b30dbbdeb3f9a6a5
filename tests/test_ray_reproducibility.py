"""Runs on a local Ray give the same Parquet traces, byte for byte, as local ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_cli import GOOD
from test_timing_models import EVERYTHING  # stream + overlap, offline, factors, lognormal
from typer.testing import CliRunner

from apga_sim.cli import app

ray = pytest.importorskip("ray")


def traces(out: Path) -> dict[Path, bytes]:
    return {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*.parquet"))}


@pytest.mark.parametrize(
    ("data", "files", "kinds"),
    [
        (GOOD | {"seeds": [0]}, 2 * 1 * 2, set()),  # methods x seeds x (events, evals)
        (EVERYTHING, 3 * 2 * 2, {"offline_start", "offline_end", "compute_lost"}),
    ],
    ids=["default_timing", "every_timing_option"],
)
def test_ray_gives_the_local_traces_byte_for_byte(
    data: dict[str, Any], files: int, kinds: set[str], quick_yaml, tmp_path
):
    path = quick_yaml(data)
    assert not ray.is_initialized()
    try:
        for name, where in (("local", ["--jobs", "1"]), ("ray", ["--ray", "local"])):
            res = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / name), *where])
            assert res.exit_code == 0, res.output
        assert ray.is_initialized()  # the second command ran on Ray
    finally:
        ray.shutdown()
    local, on_ray = traces(tmp_path / "local"), traces(tmp_path / "ray")
    assert len(local) == files
    assert local.keys() == on_ray.keys()
    for rel, data_bytes in local.items():
        assert data_bytes == on_ray[rel], rel
    events = pd.read_parquet(tmp_path / "local" / "rennala_nigt" / "seed-0" / "events.parquet")
    assert kinds <= set(events.kind)
