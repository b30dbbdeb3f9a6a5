"""The scenario JSON Schema against a standard validator, and `--set` addressing of methods."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from test_cli import GOOD, run

from apga_sim.safe_yaml import load_yaml
from apga_sim.scenario import ScenarioError, load_scenario, parse_scenario
from apga_sim.schema import scenario_schema

SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").rglob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(run("schema").output)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_names_its_dialect_and_id(validator):
    assert validator.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert validator.schema["$id"].startswith("urn:apga-sim:scenario:")


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_validates_against_the_schema(path, validator):
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []
    load_scenario(path)


def test_shipped_scenarios_found():
    assert len(SCENARIOS) >= 25


def variant(**changes):
    data = copy.deepcopy(GOOD)
    data.update(changes)
    return data


ACCEPTED = [
    variant(methods=[{"name": "rennala_nigt", "alpha": {"grid": ["2^-5", "2^-3"]}, "M": 4}]),
    variant(methods=[{"name": "sync_nigt", "alpha": {"grid": [0.1, "2^-3"]}, "b": 1}]),
    variant(tune={"grid": {"alpha": ["2^-10", 0.5], "M": [20, 30]}, "min_fraction": "1/9"}),
    variant(tune={"grid": {"alpha": {"grid": [0.25]}}, "min_fraction": 0.5}),
    variant(u={"kind": "sqrt", "scale": "d^0.25"}),
]
REJECTED = [
    variant(colour="red"),
    variant(h={"kind": "cubic"}),
    variant(methods=[{"name": "rennala_nigt", "alpha": {"grid": ["two"]}, "M": 4}]),
    variant(methods=[{"name": "rennala_nigt", "alpha": {"grid": []}, "M": 4}]),
    variant(tune={"min_fraction": 2}),
    variant(tune={"min_fraction": "a third"}),
    variant(methods=[{"name": "afedpg", "alpha": 0.1, "M": 4}]),
    variant(budget={"time": "100"}),  # quoted numbers are strings, as in the schema
    variant(methods=[{"name": "afedpg", "alpha": "0.1"}]),
]


@pytest.mark.parametrize("data", ACCEPTED)
def test_schema_accepts_what_the_loader_accepts(data, validator):
    parse_scenario(data)
    assert [e.message for e in validator.iter_errors(data)] == []


@pytest.mark.parametrize("data", REJECTED)
def test_schema_rejects_what_the_loader_rejects(data, validator):
    with pytest.raises(ScenarioError):
        parse_scenario(data)
    assert list(validator.iter_errors(data))


def test_every_field_has_a_description():
    missing = []

    def walk(node, where):
        if isinstance(node, dict):
            for name, prop in node.get("properties", {}).items():
                if not prop.get("description"):
                    missing.append(f"{where}.{name}")
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for value in node:
                walk(value, where)

    walk(scenario_schema(), "")
    assert missing == []


def test_set_addresses_a_method_by_index_label_or_name(quick_yaml):
    data = variant(
        methods=[
            {"name": "rennala_nigt", "alpha": 0.1, "M": 4},
            {"name": "sync_nigt", "label": "sync_b1", "alpha": 0.1, "b": 1},
            {"name": "afedpg", "alpha": 0.05},
        ]
    )
    path = quick_yaml(data)
    s = load_scenario(
        path, {"methods.0.M": 10, "methods.sync_b1.b": 2, "methods.afedpg.alpha": 0.5}
    )
    assert (s.methods[0].M, s.methods[1].b, s.methods[2].alpha) == (10, 2, 0.5)
    assert load_scenario(path, {"methods.sync_nigt.b": 3}).methods[1].b == 3  # unique name
    res = run("validate", str(path))
    assert res.exit_code == 0
    for bad, message in (
        ("methods.7.M=1", "index 7 out of range"),
        ("methods.nope.M=1", "give an index or one of: rennala_nigt, sync_b1, afedpg"),
        ("methods.0=1", "give a field of one entry"),
    ):
        res = run("run", str(path), "--set", bad, "--out", str(path.parent / "bad"))
        assert res.exit_code == 2 and message in res.output, res.output


def test_exponents_without_a_dot_are_numbers_as_in_yaml_1_2(validator):
    text = "alpha: 1e-3\nbig: -5E+2\nplain: 1.5e3\nn: 10\nword: e3\npower: 2^-3\n"
    assert load_yaml(text) == {
        "alpha": 0.001,
        "big": -500.0,
        "plain": 1500.0,
        "n": 10,
        "word": "e3",
        "power": "2^-3",
    }
    data = variant(methods=[{"name": "afedpg", **load_yaml("alpha: 1e-3")}])
    assert parse_scenario(data).methods[0].alpha == 0.001
    assert [e.message for e in validator.iter_errors(data)] == []
