"""Property-based fuzzing of scenario files and command lines (issue 10).

Every generated input must end in exit 0, or exit 2 with one message whose lines name a field
or option; never a traceback, a hang or a non-finite number in an accepted run. The CI run is
small (``FUZZ_EXAMPLES``, default 10 of each); ``make fuzz`` runs thousands and prints the
counts. Accepted scenarios are also run, on a small budget (:data:`SMALL`).
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from apga_sim.cli import app

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
SECONDS = 20  # one example slower than this is a hang
COUNTS: Counter[str] = Counter()
runner = CliRunner()

BASE: dict[str, Any] = {
    "name": "fuzz",
    "n": 3,
    "oracle": {"kind": "quadratic", "dim": 4},
    "h": {"kind": "sqrt"},
    "methods": [
        {"name": "rennala_nigt", "alpha": 0.1, "M": 4},
        {"name": "afedpg", "alpha": 0.05},
    ],
    "seeds": [0],
    "budget": {"updates": 6},
    "eval": {"every_updates": 3},
}

PATHS = [
    "name", "description", "n", "seeds", "seeds.0", "charge", "target_return", "sweep",
    "budget", "budget.time", "budget.updates", "eval.every_updates", "eval.every_time",
    "oracle.kind", "oracle.dim", "oracle.sigma", "oracle.mu", "oracle.L", "oracle.heterogeneity",
    "oracle.init_distance", "oracle.steps_per_job", "h", "h.kind", "h.scale", "h.reverse", "h.p",
    "h.values", "h.dist", "h.per", "h.mean", "h.sigma", "h.low", "h.high", "u", "u.kind",
    "u.scale", "u.bandwidth", "u.latency", "v.scale", "aggregation.mode",
    "aggregation.server_time", "aggregation.allreduce", "aggregation.allreduce.kind",
    "methods", "methods.0", "methods.0.name", "methods.0.alpha", "methods.0.M",
    "methods.0.M_init", "methods.0.eta", "methods.0.label", "methods.0.on_stop",
    "methods.1.alpha", "methods.1.delay_adaptive", "tune.seeds", "tune.grid",
    "tune.min_fraction", "tune.reduction", "tuned", "unknown_field",
]  # fmt: skip
NAMES = ["equal", "sqrt", "linear", "power", "list", "random", "trace", "link", "exponential",
         "uniform", "rennala_nigt", "sync_nigt", "quadratic", "mujoco", "d^0.25", "d^99999",
         "2^-3", "2^99999", "1/9", "../../etc", "a/b", "", " ", "x" * 300, "nan", "inf", "-1",
         "1e-3", "Hopper-v4", "os:system", "allreduce", "ring", "per_step", "ignore"]  # fmt: skip

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([0, 1, -1, 2**63, 10**7, 10**30, 10**4000]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e-12, 1e-300, 1e308, -0.0, 0.5]),
    st.sampled_from(NAMES),
    st.text(max_size=20),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(NAMES), inner, max_size=3)
    ),
    max_leaves=8,
)
PLAUSIBLE = st.one_of(  # values a field could hold, so that many mutated scenarios run
    st.integers(min_value=0, max_value=64),
    st.floats(min_value=1e-6, max_value=1e4),
    st.sampled_from(NAMES),
)
MUTATIONS = st.lists(
    st.tuples(st.sampled_from(PATHS), st.one_of(VALUES, PLAUSIBLE)), min_size=1, max_size=3
)
SMALL = {"budget.updates": 6, "budget.time": "null", "eval.every_time": "null", "methods.M": 4}
FIELD = re.compile(r"^  (<top>|[^\s:][^\n]*?): \S", re.MULTILINE)  # "  field.path: why"


def tally(key: str) -> None:
    """Count ``key``; with ``FUZZ_COUNTS=file`` also keep the counts there as JSON."""
    COUNTS[key] += 1
    if dest := os.environ.get("FUZZ_COUNTS"):
        Path(dest).write_text(json.dumps(dict(sorted(COUNTS.items()))))


class Hang(Exception):
    """An example ran longer than :data:`SECONDS`."""


@contextmanager
def deadline(seconds: int = SECONDS) -> Iterator[None]:
    """Raise :class:`Hang` if the body runs longer than ``seconds`` (SIGALRM)."""

    def alarm(*_: Any) -> None:
        raise Hang

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def mutate(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at a dotted ``path`` of ``data``, creating sections as needed."""
    node: Any = data
    *parents, leaf = path.split(".")
    for key in parents:
        if isinstance(node, list):
            if not node:
                return
            node = node[int(key) % len(node)]
        elif isinstance(node, dict):
            node = node.setdefault(key, {})
        if not isinstance(node, dict | list):
            return
    if isinstance(node, list) and node:
        node[int(leaf) % len(node) if leaf.isdigit() else 0] = value
    elif isinstance(node, dict):
        node[leaf] = value


def write_yaml(path: Path, data: Any) -> bool:
    """Write ``data`` as YAML; ``False`` if PyYAML cannot represent it (e.g. 4301 digits)."""
    try:
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    except (ValueError, yaml.YAMLError, UnicodeEncodeError):
        return False
    return True


def check(result: Any, what: str) -> str:
    """Assert a clean outcome; return ``"ok"`` or ``"refused"`` and count it."""
    if isinstance(result.exception, Hang):
        tally("hangs")
        raise AssertionError(f"{what}: hang")
    clean_exit = result.exception is None or isinstance(result.exception, SystemExit)
    if not clean_exit or "Traceback" in result.output or result.exit_code not in (0, 2):
        tally("tracebacks")
        raise AssertionError(f"{what}: exit {result.exit_code}\n{result.output[-2000:]}")
    if result.exit_code == 0:
        return "ok"
    assert len(result.output) < 5000, result.output
    return "refused"


def finite_runs(out: Path) -> None:
    """Every run's manifest is complete with finite numbers, or failed with a reason."""
    for manifest_path in out.rglob("manifest.json"):
        manifest = json.loads(manifest_path.read_text())
        if manifest["status"] == "failed":
            assert manifest["failure"]["reason"] and manifest["final_return"] is None
            continue
        assert manifest["status"] == "complete", manifest["status"]
        numbers = [manifest["final_return"], *manifest["counters"].values()]
        if not all(math.isfinite(x) for x in numbers if isinstance(x, int | float)):
            tally("non_finite")
            raise AssertionError(f"{manifest_path}: non-finite result")


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=EXAMPLES <= 100,  # CI: the same examples every time
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(mutations=MUTATIONS)
def test_fuzz_scenarios(mutations, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    data = copy.deepcopy(BASE)
    for path, value in mutations:
        mutate(data, path, value)
    path = tmp / "s.yaml"
    if not write_yaml(path, data):
        return
    tally("scenarios")
    with deadline():
        result = runner.invoke(app, ["validate", str(path)])
    outcome = check(result, f"validate {mutations!r}")
    tally(f"scenarios_{outcome}")
    if outcome == "refused":
        assert FIELD.search(result.output), result.output
        return
    small = [f"--set={k}={v}" for k, v in SMALL.items()]  # a validated budget may be long
    with deadline():
        result = runner.invoke(
            app,
            ["run", str(path), "--out", str(tmp / "out"), "--jobs", "1", "--seeds", "0", *small],
        )
    if check(result, f"run {mutations!r}") == "ok":
        tally("runs")
        finite_runs(tmp / "out")


OPTIONS = {
    "validate": [],
    "run": ["--out", "--seeds", "--methods", "--set", "--jobs", "--overwrite"],
    "summary": ["--target"],
    "plot": ["--kind", "--out", "--run", "--param", "--eps", "--target", "--overwrite"],
    "export-trace": ["--format", "--out", "--overwrite"],
    "tune": ["--out", "--write", "--jobs"],
    "list": [],
    "schema": [],
}
ARGS = st.sampled_from(
    ["0", "-1", "1000000", "nan", "inf", "1e309", "abc", "", "0,0", "0,1", "1" * 40, "a=b",
     "budget.time=.inf", "n=true", "methods.0.alpha=-1", "h.scale=d^9999", "curves", "theory",
     "gantt", "nope", "perfetto", "rennala_nigt", "x" * 300, "/"]
)  # fmt: skip


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(sorted(OPTIONS)))
    args = [command]
    if command not in ("list", "schema"):
        args.append(draw(st.sampled_from(["SCENARIO", "RESULTS", "RUN", "MISSING", "FILE"])))
    for option in draw(st.lists(st.sampled_from(OPTIONS[command] or ["--help"]), max_size=3)):
        args.append(option)
        if option not in ("--overwrite", "--help"):
            args.append(draw(st.one_of(ARGS, st.sampled_from(["OUT", "FILE", "RUN"]))))
    return args


@pytest.fixture(scope="module", autouse=True)
def scratch_cwd(tmp_path_factory) -> Iterator[None]:
    """Fuzzed relative paths (``--out 0``) land in a scratch folder, never in the checkout."""
    old = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(old)


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("cli")
    scenario = root / "s.yaml"
    write_yaml(scenario, BASE | {"target_return": -4.0})
    results = root / "results"
    assert runner.invoke(app, ["run", str(scenario), "--out", str(results)]).exit_code == 0
    (root / "file").write_text("x")
    return {
        "SCENARIO": str(scenario),
        "RESULTS": str(results),
        "RUN": str(results / "afedpg" / "seed-0"),
        "MISSING": str(root / "missing"),
        "FILE": str(root / "file"),
        "OUT": str(root / "out"),
    }


@FUZZ
@given(args=command_lines())
def test_fuzz_command_lines(args, places):
    argv = [places.get(a, a) for a in args]
    if argv[0] in ("run", "tune") and "--jobs" not in argv:
        argv += ["--jobs", "1"]  # fuzz the arguments, not the process pool
    tally("command_lines")
    with deadline(60):
        result = runner.invoke(app, argv)
    outcome = check(result, f"{argv!r}")
    tally(f"command_lines_{outcome}")


def test_fuzz_counts():
    """Print what the fuzz tests above did (``make fuzz`` shows it)."""
    print(f"\nfuzz counts: {dict(sorted(COUNTS.items()))}")
    assert COUNTS["tracebacks"] == COUNTS["hangs"] == COUNTS["non_finite"] == 0
