"""Issue 10: every bad input is one message naming its field, exit 2, no traceback, no output."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from apga_sim.cli import app

runner = CliRunner()

BASE: dict[str, Any] = {
    "name": "tiny",
    "n": 3,
    "oracle": {"kind": "quadratic", "dim": 4},
    "h": {"kind": "sqrt"},
    "methods": [{"name": "rennala_nigt", "alpha": 0.1, "M": 4}],
    "budget": {"updates": 5},
}
HOPPER = {"kind": "mujoco", "env": "Hopper-v4", "horizon": 20, "eval_episodes": 1}


def _with(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    node = data
    *parents, leaf = path.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    node[leaf] = value
    return data


# (scenario data, a field name the message must contain, a word it must contain)
BAD_SCENARIOS = [
    (_with("oracle", HOPPER | {"env": "Hoper-v4"}), "env", "did you mean"),
    (_with("oracle", HOPPER | {"env": "hopper-v4"}), "env", "Hopper-v4"),
    (_with("oracle", HOPPER | {"env": "Hopper-v99"}), "env", "did you mean"),
    (_with("oracle", HOPPER | {"env": ""}), "env", "registered"),
    (_with("oracle", HOPPER | {"env": "CartPole-v1"}), "env", "not a MuJoCo task"),
    (_with("oracle", HOPPER | {"env": "os:system"}), "env", "module paths"),
    (_with("oracle", HOPPER | {"env_kwargs": {"foo": 1}}), "env_kwargs.foo", "no such"),
    (_with("oracle", HOPPER | {"env_kwargs": {"frame_skip": 0}}), "frame_skip", "no such"),
    (_with("oracle", HOPPER | {"env_kwargs": {"max_episode_steps": 0}}), "max_episode", "horizon"),
    (_with("oracle", HOPPER | {"env_kwargs": {"ctrl_cost_weight": "abc"}}), "ctrl_cost", "number"),
    (_with("methods.0.alpha", float("inf")), "alpha", "finite"),
    (_with("h", {"kind": "equal", "scale": float("nan")}), "h.scale", "finite"),
    (_with("budget", {"time": float("inf")}), "budget.time", "finite"),
    (_with("h", {"kind": "random", "dist": "uniform", "high": float("inf")}), "high", "finite"),
    (_with("h", {"kind": "sqrt", "scale": "d^99999"}), "h.scale", "d^p"),
    (_with("seeds", [2**64]), "seeds.0", "2^63"),
    (_with("methods.0.alpha", {"grid": ["2^99999"]}), "alpha", "finite"),
    (_with("oracle", {"kind": "quadratic", "dim": 10**30}), "oracle", "2^63"),
    (_with("oracle", {"kind": "quadratic", "dim": 10**7}), "oracle.dim", "n * dim"),
    (_with("n", True), "n", "boolean"),
    (_with("n", "5"), "n", "without quotes"),
    (_with("h", {"kind": "equal", "scale": 1e-12}), "h", "at least"),
    (_with("eval", {"every_updates": None, "every_time": 1e-12}), "eval.every_time", "at least"),
    (_with("sweep", {"n": list(range(1, 1001)), "h.scale": [1, 2]}), "sweep", "at most"),
    (_with("sweep", {"n": [2, True]}), "sweep.n.1", "boolean"),
    (_with("name", "x" * 300), "name", "at most"),
    (_with("methods.0.M", {"grid": list(range(1, 200))}) | {"tune": {}}, "", "ok"),
    (_with("methods.0.M", 10**12), "methods.0.M", "at most"),
    (_with("budget", {"time": 1e15}), "budget.time", "at most"),
]


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.mark.parametrize(("data", "field", "word"), BAD_SCENARIOS)
def test_bad_scenario_is_one_message_naming_the_field(data, field, word, quick_yaml, tmp_path):
    path = quick_yaml(data)
    before = _files(tmp_path)
    res = runner.invoke(app, ["validate", str(path)])
    if word == "ok":  # a valid scenario near a limit
        assert res.exit_code == 0, res.output
        return
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "Traceback" not in res.output and field in res.output and word in res.output
    assert len(res.output) < 2000
    res = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and field in res.output, res.output
    assert _files(tmp_path) == before


@pytest.mark.parametrize(
    ("csv", "word"),
    [
        ("worker,time\n0,1\n1,1\n2,1\n", "1..3"),
        ("worker,time\n1,1\n2,nan\n3,1\n", "finite"),
        ("worker,time\n1,1\n2,inf\n3,1\n", "finite"),
        ("worker,time\n1,1\n4,1\n3,1\n", "1..3"),
        ("worker,time\n1,1\n2,-1\n3,1\n", "<= 0"),
        ("worker,time\n1,1\n2,1\n2,1\n3,1\n", "job column"),
        ("worker,time\n1,1\n2,x\n3,1\n", "worker"),
        ("who,time\n1,1\n", "worker"),
    ],
)
def test_bad_trace_csv(csv, word, quick_yaml, tmp_path):
    (tmp_path / "t.csv").write_text(csv)
    path = quick_yaml(_with("h", {"kind": "trace", "path": "t.csv"}))
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2 and "h" in res.output and word in res.output, res.output


BAD_YAML = {
    "deep": "n: " + "[" * 5000 + "]" * 5000,
    "int_tag": "n: !!int abc",
    "binary": "name: !!binary aGVsbG8=",
    "python": "name: !!python/object/apply:os.system [ls]",
    "laughs": "a: &a [x,x,x,x,x,x,x,x,x]\n"
    + "".join(f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi")),
    "big_int": "n: " + "7" * 4301,
    "recursive": "a: &a [*a]",
    "not_utf8": b"name: \xff\xfe",
}


@pytest.mark.parametrize("name", BAD_YAML)
def test_hostile_yaml_is_refused_cleanly(name, tmp_path):
    path = tmp_path / "s.yaml"
    text = BAD_YAML[name]
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2, res.output
    assert "not valid YAML" in res.output and len(res.output) < 1000, res.output


def test_huge_yaml_file_is_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("description: '" + "x" * 2_000_000 + "'\n")
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2 and "larger than" in res.output
