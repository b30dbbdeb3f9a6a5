"""Shared helpers: build scenarios in code and run one method through the engine."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from apga_sim.engine import Engine
from apga_sim.oracles.quadratic import QuadraticOracle
from apga_sim.runner import build_engine
from apga_sim.scenario import Scenario, parse_scenario
from apga_sim.trace import Recorder


def make_scenario(**overrides: Any) -> Scenario:
    """A small quadratic scenario, with any top-level field replaced."""
    data: dict[str, Any] = {
        "name": "t",
        "n": 3,
        "oracle": {"kind": "quadratic", "dim": 4, "sigma": 0.5},
        "h": {"kind": "list", "values": [1.0, 1.5, 2.7]},
        "methods": [{"name": "rennala_nigt", "alpha": 0.1, "M": 4}],
        "budget": {"updates": 5},
    }
    data.update(overrides)
    return parse_scenario(data)


def simulate(scenario: Scenario, seed: int = 0) -> tuple[pd.DataFrame, Engine, QuadraticOracle]:
    """Run the scenario's first method in the engine; return (events, engine, oracle)."""
    oracle = QuadraticOracle(scenario.oracle, scenario.n, seed)
    rec = Recorder()
    engine = build_engine(scenario, scenario.methods[0], seed, oracle, rec)
    engine.run()
    return rec.events_table().to_pandas(), engine, oracle


def update_times(events: pd.DataFrame) -> np.ndarray:
    return events.loc[events.kind == "update", "time"].to_numpy()


@pytest.fixture
def quick_yaml(tmp_path):
    """Write a quick scenario YAML (dict -> file) and return its path."""
    import yaml

    def write(data: dict[str, Any], name: str = "s.yaml"):
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write
