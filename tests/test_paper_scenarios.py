"""The paper-experiment scenarios (scenarios/paper/*.yaml): valid, complete, consistent.

Fast: the files are only loaded and checked, never run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from apga_sim.scenario import Scenario, load_scenario
from apga_sim.timing import EqualProfile
from apga_sim.tuning import with_protocol_grid

PAPER = Path(__file__).resolve().parents[1] / "scenarios" / "paper"
FILES = sorted(PAPER.glob("*.yaml"))
FIGURE = re.compile(r"^fig(1a|1b|1c|3a|3b|3c|4-7|8|9)_")
PAPER_METHODS = {"rennala_nigt", "sync_nigt", "afedpg"}


def _figure(path: Path) -> str:
    match = FIGURE.match(path.name)
    assert match, f"{path.name}: name must start with fig<id>_"
    return match.group(1)


def _silent(p) -> bool:
    """Whether a communication profile costs nothing."""
    return isinstance(p, EqualProfile) and p.scale == 0


@pytest.fixture(scope="module")
def scenarios() -> dict[str, Scenario]:
    return {f.name: load_scenario(f) for f in FILES}


def test_there_are_paper_scenarios():
    assert FILES, f"no scenario files in {PAPER}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_file_validates_and_follows_the_decisions(path: Path):
    s = load_scenario(path)
    fig = _figure(path)
    assert s.name == path.stem
    assert s.seeds == [0, 1, 2, 3, 4]
    assert s.oracle.kind == "mujoco"
    assert s.oracle.gamma == 0.99
    assert s.oracle.horizon is None  # H = the environment's own limit
    assert s.oracle.eval_episodes == 10
    assert s.charge == "per_gradient"
    assert s.budget.time is not None
    assert s.eval.every_updates is None and s.eval.every_time is not None
    assert s.eval.every_time < s.budget.time
    assert s.target_return is not None
    expected = {"malenia_nigt", "afedpg"} if fig == "9" else PAPER_METHODS
    assert {m.name for m in s.methods} == expected
    for m in s.methods:
        assert m.eta == 0.1, f"{m.name}: eta must be 0.1"
        assert isinstance(m.alpha, float), f"{m.name}: a fixed alpha (the grid is a comment)"
        assert 2.0**-10 <= m.alpha <= 0.5
        if m.name in ("rennala_nigt", "malenia_nigt"):
            assert m.M == 30 and m.M_init is None  # M_init = M, also when M is tuned
        if (
            m.name == "sync_nigt"
        ):  # one trajectory per worker per round; b = 3 = ceil(M / n) ablation
            assert m.M is None and m.b == (3 if m.display == "sync_nigt_eqbatch" else 1)
    labels = [m.display for m in s.methods]
    assert ("sync_nigt_eqbatch" in labels) == (fig in ("1b", "1c")), labels
    text = path.read_text()
    assert text.startswith(f"# Paper experiment: Figure {fig} ")
    words = ["Paper reports", "Decisions", "gamma = 0.99", "target_return", "budget:"]
    words += ["Cost estimate", "Protocol cost", "apga-sim reproduce", "successive halving"]
    if "sync_nigt" in labels:
        words += ["sync_nigt b = 1", "Table 1", "kappa eps^-7/2", "ONE trajectory"]
    for word in words:
        assert word in text, f"{path.name}: header misses {word!r}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_file_gives_the_protocol_tuning(path: Path):
    s = load_scenario(path)
    assert s.tune.schedule == "halving" and s.tune.reduction == 4
    assert s.tune.min_fraction == 0.25
    assert s.tune.seeds == [1000, 1001] and not set(s.tune.seeds) & set(s.seeds)
    assert s.tune.grid["alpha"].grid == [2.0**k for k in range(-10, 0)]
    assert s.tune.grid["M"].grid == [20, 30, 50]
    grids = {m.display: m.grids() for m in with_protocol_grid(s).methods}
    for label, g in grids.items():
        tuned = {"alpha", "M"} if label in ("rennala_nigt", "malenia_nigt") else {"alpha"}
        assert set(g) == tuned, label


def test_every_figure_is_covered(scenarios):
    figs = {_figure(Path(name)) for name in scenarios}
    assert figs >= {"1a", "1b", "1c", "3a", "3b", "3c", "4-7", "8", "9"}
    envs = {
        "1a": "Humanoid-v4",
        "1b": "Humanoid-v4",
        "1c": "Humanoid-v4",
        "3a": "Reacher-v4",
        "3b": "Walker2d-v4",
        "3c": "Hopper-v4",
        "8": "Humanoid-v4",
        "9": "Humanoid-v4",
    }
    for name, s in scenarios.items():
        fig = _figure(Path(name))
        if fig in envs:
            assert s.oracle.env == envs[fig], name
        n = {"4-7": 100, "8": 100, "9": 2}.get(fig, 10)
        assert s.n == n, name
    n100 = {s.oracle.env for name, s in scenarios.items() if _figure(Path(name)) == "4-7"}
    assert n100 == {"Humanoid-v4", "Reacher-v4"}


def test_fig8_has_decreasing_compute_times(scenarios):
    (s,) = [s for name, s in scenarios.items() if _figure(Path(name)) == "8"]
    assert s.h.kind == "sqrt" and s.h.reverse
    assert _silent(s.u) and _silent(s.v)


def test_communication_heavy_files_have_a_v_eq_u_twin(scenarios):
    heavy = [
        name
        for name, s in scenarios.items()
        if not _silent(s.u) and not name.endswith("_v-eq-u.yaml")
    ]
    assert heavy
    for name in heavy:
        s = scenarios[name]
        assert _silent(s.v), f"{name}: default decision is download v = 0"
        twin_name = name.removesuffix(".yaml") + "_v-eq-u.yaml"
        assert twin_name in scenarios, f"{name}: no v = u twin {twin_name}"
        twin = scenarios[twin_name]
        assert twin.v == twin.u == s.u
        same = ("n", "oracle", "h", "charge", "methods", "seeds", "target_return", "tune")
        for field in same:
            assert getattr(twin, field) == getattr(s, field), f"{twin_name}: {field} differs"
    for name in scenarios:
        if name.endswith("_v-eq-u.yaml"):
            assert name.replace("_v-eq-u", "") in scenarios


def test_fig9_has_two_variants_covering_both_workers(scenarios):
    (s,) = [s for name, s in scenarios.items() if _figure(Path(name)) == "9"]
    assert s.n == 2
    assert s.h.kind == "list" and s.h.values == [1.0, 10.0]
    variants = s.oracle.variants
    assert variants is not None and len(variants) == 2
    by_worker = {w: v for v in variants for w in v.workers}
    assert sorted(by_worker) == [1, 2]
    assert not by_worker[1].obs_negate and by_worker[1].obs_append == [0.0]
    assert by_worker[2].obs_negate and by_worker[2].obs_append == [1.0]
