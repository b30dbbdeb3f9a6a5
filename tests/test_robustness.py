"""Issue 10: every bad input is one message naming its field, exit 2, no traceback, no output."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_tuning import STUDY
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
    (
        _with("eval", {"every_updates": None, "every_time": 1e-12}) | {"budget": {"time": 5.0}},
        "eval.every_time",
        "at least",
    ),
    (_with("eval", {"every_updates": None, "every_time": 1.0}), "eval.every_time", "budget.time"),
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
    + "".join(
        f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ),
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


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("name: {1e-3: x}", "  name: key 0.001 is not text (quote it)"),
        ("name: x\nh: {kind: sqrt, 2: 1}", "  h: key 2 is not text (quote it)"),
        ("name: !!binary aGVsbG8=", "  name: a bytes value is not allowed (plain data only)"),
    ],
)
def test_a_value_yaml_cannot_hold_is_named_at_its_field(text, line, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2
    assert res.output.splitlines() == [f"error: {path}: not valid YAML:", line]


def test_huge_yaml_file_is_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("description: '" + "x" * 2_000_000 + "'\n")
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2 and "larger than" in res.output


@pytest.fixture
def results(quick_yaml, tmp_path):
    """A complete run folder of a 2-cell sweep (the theory plot needs one)."""
    data = BASE | {"sweep": {"n": [2, 3]}, "target_return": -4.0}
    out = tmp_path / "res"
    res = runner.invoke(app, ["run", str(quick_yaml(data)), "--out", str(out), "--jobs", "1"])
    assert res.exit_code == 0, res.output
    return out


def _misuse(tmp_path: Path, results: Path, scenario: Path) -> list[tuple[list[str], str]]:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    run_dir = next(results.rglob("manifest.json")).parent
    s = str(scenario)
    read_only = [  # root writes anywhere: these hold for other users only
        (["run", s, "--out", str(locked / "out")], "not writable"),
        (["plot", str(results), "--out", str(locked / "fig")], "not writable"),
        (["export-trace", str(run_dir), "--out", str(locked / "t.json")], "not writable"),
    ]
    # /proc takes no new files, though its mode bits let root "write" (os.access says yes)
    proc = [(["run", s, "--out", "/proc/apga-out"], "--out: /proc is not writable")]
    return [
        *(read_only if os.geteuid() != 0 else []),
        *(proc if Path("/proc/self").is_dir() else []),
        (["run", s, "--out", str(a_file / "below")], "--out"),
        (["run", s, "--out", str(a_file)], "--out"),
        (["run", s, "--out", str(tmp_path / ("x" * 300))], "too long"),
        (["run", s, "--jobs", "1000000"], "--jobs"),
        (["run", s, "--seeds", "1" * 30], "--seeds"),
        (
            ["run", s, "--set", "n=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]"],
            "--set",
        ),
        (["plot", str(results), "--kind", "theory", "--param", "nope"], "--param"),
        (["plot", str(results), "--kind", "theory", "--eps", "-1"], "--eps"),
        (["plot", str(results), "--target", "nan"], "--target"),
        (["plot", str(results), "--out", str(a_file / "fig")], "--out"),
        (["summary", str(results), "--target", "inf"], "--target"),
        (["export-trace", str(run_dir), "--out", str(a_file / "t.json")], "--out"),
        (["export-trace", str(run_dir), "--out", "x" * 300], "--out: path too long"),  # fuzz
        (["export-trace", str(run_dir / ("x" * 300))], "RUN: path too long"),
        (["plot", str(results), "--out", "x" * 300], "--out: path too long"),
        (["verdicts", str(tmp_path / ("x" * 300))], "STUDY_DIRS: path too long"),
        (["summary", str(results / ("x" * 300))], "RESULTS_DIR: path too long"),
    ]


def test_misused_commands_exit_2_with_a_message(results, quick_yaml, tmp_path):
    scenario = quick_yaml(BASE)
    for args, word in _misuse(tmp_path, results, scenario):
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        assert word in res.output and "Traceback" not in res.output, (args, res.output)


def test_plot_never_replaces_a_file_at_an_explicit_out(results, tmp_path):
    stem = tmp_path / "mine"
    (tmp_path / "mine.png").write_bytes(b"my figure")
    res = runner.invoke(app, ["plot", str(results), "--out", str(stem)])
    assert res.exit_code == 2 and "--overwrite" in res.output
    assert (tmp_path / "mine.png").read_bytes() == b"my figure"
    res = runner.invoke(app, ["plot", str(results), "--out", str(stem), "--overwrite"])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(
    ("damage", "commands"),
    [
        ("truncate_manifest", ["summary", "plot", "run"]),
        ("drop_evals", ["summary", "plot"]),
        ("corrupt_events", ["summary", "export-trace"]),
    ],
)
def test_partial_or_corrupt_results_give_a_clean_error(damage, commands, results, quick_yaml):
    run_dir = next(results.rglob("manifest.json")).parent
    if damage == "truncate_manifest":
        path = run_dir / "manifest.json"
        path.write_text(path.read_text()[:50])
    elif damage == "drop_evals":
        (run_dir / "evals.parquet").unlink()
    else:
        (run_dir / "events.parquet").write_bytes(b"PAR1 not really")
    scenario = quick_yaml(BASE | {"sweep": {"n": [2, 3]}, "target_return": -4.0})
    args = {
        "summary": ["summary", str(results)],
        "plot": ["plot", str(results)],
        "run": ["run", str(scenario), "--out", str(results)],
        "export-trace": ["export-trace", str(run_dir)],
    }
    for command in commands:
        res = runner.invoke(app, args[command])
        assert res.exit_code == 2, (command, res.output)
        assert "Traceback" not in res.output and len(res.output) < 1000, (command, res.output)


def test_missing_evals_of_a_complete_run_are_recomputed(results, quick_yaml):
    run_dir = next(results.rglob("manifest.json")).parent
    (run_dir / "evals.parquet").unlink()
    scenario = quick_yaml(BASE | {"sweep": {"n": [2, 3]}, "target_return": -4.0})
    res = runner.invoke(app, ["run", str(scenario), "--out", str(results), "--jobs", "1"])
    assert res.exit_code == 0, res.output
    assert (run_dir / "evals.parquet").is_file()


def test_a_non_finite_run_fails_alone_and_is_shown_as_failed(quick_yaml, tmp_path):
    data = BASE | {
        "methods": [
            {"name": "async_pg", "alpha": 1e300, "label": "blows_up"},
            {"name": "rennala_nigt", "alpha": 0.1, "M": 4},
        ],
        "seeds": [0, 1],
        "target_return": -4.0,
    }
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(quick_yaml(data)), "--out", str(out), "--jobs", "1"])
    assert res.exit_code == 0, res.output
    assert "2 (2 failed)" in res.output and "failed" in res.output
    bad = json.loads((out / "blows_up" / "seed-0" / "manifest.json").read_text())
    assert bad["status"] == "failed" and bad["final_return"] is None
    assert "not finite" in bad["failure"]["reason"] and bad["failure"]["update"] >= 1
    good = json.loads((out / "rennala_nigt" / "seed-0" / "manifest.json").read_text())
    assert good["status"] == "complete" and good["counters"]["updates"] == 5
    res = runner.invoke(app, ["summary", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_parquet(out / "summary.parquet").set_index("method")
    assert table.loc["blows_up", "failed"] == 2 and np.isnan(table.loc["blows_up", "final_return"])
    assert table.loc["rennala_nigt", "failed"] == 0
    res = runner.invoke(app, ["plot", str(out), "--kind", "curves"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["run", str(quick_yaml(data)), "--out", str(out), "--jobs", "1"])
    assert res.exit_code == 0 and "skipped" in res.output  # a failed run is done: not redone


def test_a_non_finite_evaluation_fails_the_run_with_its_reason(quick_yaml, tmp_path):
    data = BASE | {"oracle": {"kind": "quadratic", "dim": 4, "sigma": 7.2e307}}  # found by fuzzing
    out = tmp_path / "out"
    res = runner.invoke(app, ["run", str(quick_yaml(data)), "--out", str(out), "--jobs", "1"])
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output
    manifest = json.loads(next(out.rglob("manifest.json")).read_text())
    assert manifest["status"] == "failed" and "not finite" in manifest["failure"]["reason"]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def _wait_for_children(proc: subprocess.Popen, count: int, deep: bool = False) -> list[int]:
    """Wait until ``proc`` has ``count`` child processes (grandchildren if ``deep``) or has
    ended; return them."""

    def below() -> list[int]:
        children = _children(proc.pid)
        return [g for c in children for g in _children(c)] if deep else children

    deadline = time.monotonic() + 300  # spawned workers import torch: slow on a busy machine
    while len(found := below()) < count and proc.poll() is None:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc")
def test_kill_9_of_the_parent_ends_its_workers_and_the_rerun_completes(quick_yaml, tmp_path):
    data = BASE | {"seeds": [0, 1], "budget": {"updates": 3_000_000}}
    path, out = quick_yaml(data), tmp_path / "out"
    exe = Path(sys.executable).with_name("apga-sim")
    parent = subprocess.Popen([str(exe), "run", str(path), "--out", str(out), "--jobs", "2"])
    try:
        workers = _wait_for_children(parent, 2)
        assert len(workers) >= 2, "the worker processes did not start"
        time.sleep(2)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 30
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    orphans = [w for w in workers if _alive(w)]
    for w in orphans:
        os.kill(w, signal.SIGKILL)
    assert not orphans, "worker processes outlived their parent"
    small = quick_yaml(data | {"budget": {"updates": 5}}, "small.yaml")
    res = runner.invoke(app, ["run", str(small), "--out", str(out), "--jobs", "1"])
    assert res.exit_code == 0, res.output
    assert not list(out.rglob(".*.tmp-*"))


@contextlib.contextmanager
def _tmpfs(path: Path, options: str) -> Iterator[Path]:
    """A small tmpfs mounted at ``path`` (root may mount one), or skip the test."""
    path.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)]
    if os.geteuid() != 0 or subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("needs permission to mount a tmpfs")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_read_only_output_folder_is_refused_before_anything_runs(results, quick_yaml, tmp_path):
    run_dir = next(results.rglob("manifest.json")).parent
    with _tmpfs(tmp_path / "ro", "ro,size=1m") as ro:  # read-only even for root
        for args in (
            ["run", str(quick_yaml(BASE)), "--out", str(ro / "out")],
            ["plot", str(results), "--out", str(ro / "fig")],
            ["export-trace", str(run_dir), "--out", str(ro / "t.json")],
        ):
            res = runner.invoke(app, args)
            assert res.exit_code == 2 and "not writable" in res.output, (args, res.output)
            assert "Traceback" not in res.output and not any(ro.iterdir())


def test_a_full_disk_leaves_no_run_that_looks_complete_and_the_rerun_completes(
    quick_yaml, tmp_path
):
    scenario = quick_yaml(BASE | {"seeds": [0, 1]})
    with _tmpfs(tmp_path / "disk", "size=1m") as disk:
        filler = disk / "filler"
        with filler.open("wb", buffering=0) as f, contextlib.suppress(OSError):  # fill it up
            while True:
                f.write(b"\0" * 4096)
        out = disk / "out"
        res = runner.invoke(app, ["run", str(scenario), "--out", str(out), "--jobs", "1"])
        assert res.exit_code == 2 and "no space left" in res.output, res.output
        assert "Traceback" not in res.output
        assert not list(out.rglob("manifest.json")) and not list(out.rglob("*.tmp-*"))
        filler.unlink()
        res = runner.invoke(app, ["run", str(scenario), "--out", str(out), "--jobs", "1"])
        assert res.exit_code == 0, res.output
        assert len(list(out.rglob("manifest.json"))) == 2


@pytest.mark.parametrize("sweep", [False, True], ids=["single_run", "sweep"])
def test_kill_9_then_resume_gives_the_uninterrupted_traces_byte_for_byte(
    sweep, quick_yaml, tmp_path
):
    updates = 3000 if sweep else 10_000  # a single run: long enough to be killed mid-run
    data = BASE | {"seeds": [0], "budget": {"updates": updates}, "eval": {"every_updates": 500}}
    if sweep:
        data |= {"sweep": {"n": [2, 3, 4]}}
    path, killed, whole = quick_yaml(data), tmp_path / "killed", tmp_path / "whole"
    exe = Path(sys.executable).with_name("apga-sim")
    proc = subprocess.Popen([str(exe), "run", str(path), "--out", str(killed), "--jobs", "1"])
    try:  # a sweep: killed after its first run; a single run: 4 s in (start-up about 2 s)
        deadline = time.monotonic() + (300 if sweep else 4)
        while time.monotonic() < deadline and not (sweep and list(killed.rglob("manifest.json"))):
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    complete = len(list(killed.rglob("manifest.json")))
    assert complete < (3 if sweep else 1), "the run ended before the kill"
    for out in (killed, whole):
        res = runner.invoke(app, ["run", str(path), "--out", str(out), "--jobs", "1"])
        assert res.exit_code == 0, res.output
    assert res.output.count("complete, skipped") == 0
    traces = sorted(p.relative_to(whole) for p in whole.rglob("*.parquet"))
    assert len(traces) == (6 if sweep else 2)
    assert traces == sorted(p.relative_to(killed) for p in killed.rglob("*.parquet"))
    for rel in traces:
        assert (killed / rel).read_bytes() == (whole / rel).read_bytes(), rel
    assert not list(killed.rglob(".*.tmp-*"))


def _stopped(
    command: list[str], stop: signal.Signals, ready: int = 3, deep: bool = False
) -> tuple[int, str]:
    """Run ``apga-sim COMMAND`` in its own process group, send ``stop`` to the group 3 s after
    ``ready`` processes below it started (its children, or its grandchildren if ``deep``),
    and return its exit code and stderr."""
    exe = Path(sys.executable).with_name("apga-sim")
    proc = subprocess.Popen(
        [str(exe), *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, as a terminal's foreground job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # not inherited ignored
    )
    try:
        _wait_for_children(proc, ready, deep)  # default: the resource tracker, two workers
        time.sleep(3)
        os.killpg(proc.pid, stop)
        code = proc.wait(timeout=60)  # the old pool ran its whole queue (many minutes) first
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.stderr is not None
    return code, proc.stderr.read()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_ctrl_c_or_sigterm_stops_a_parallel_sweep_at_once(stop, quick_yaml, tmp_path):
    """SIGINT (Ctrl-C) or SIGTERM (``kill``, a batch scheduler) to the process group ends
    ``--jobs 2`` with exit 130: the queued runs never start and the running ones stop, instead
    of the pool running the whole queue or a killed worker failing the command."""
    data = BASE | {"seeds": list(range(8)), "budget": {"updates": 1_000_000}}
    path, out = quick_yaml(data), tmp_path / "out"
    code, stderr = _stopped(["run", str(path), "--out", str(out), "--jobs", "2"], stop)
    assert code == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not list(out.rglob("manifest.json"))


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_ctrl_c_or_sigterm_stops_rollout_processes_quietly(stop, quick_yaml, tmp_path):
    """With ``oracle.parallel: processes`` the signal reaches the rollout processes too: they
    leave the stopping to the run, which ends with exit 130 and one message, not with a
    traceback per rollout process about a pipe its owner closed."""
    oracle = HOPPER | {"parallel": "processes", "processes": 2}
    data = BASE | {"oracle": oracle, "budget": {"updates": 1_000_000}}
    path, out = quick_yaml(data), tmp_path / "out"
    command = ["run", str(path), "--out", str(out), "--jobs", "1"]
    code, stderr = _stopped(command, stop, ready=2, deep=True)  # the forkserver's two
    assert code == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr and "Error" not in stderr


def test_a_study_stopped_by_sigterm_records_its_invocation(quick_yaml, tmp_path):
    """A study stopped by SIGTERM (a scheduler's time limit) keeps its real time in
    protocol.json as a stopped invocation, beside the ones that complete it later."""
    study = STUDY | {"budget": {"time": 1e9}, "eval": {"every_updates": None, "every_time": 1e4}}
    path, out = quick_yaml(study), tmp_path / "out"
    code, stderr = _stopped(
        ["reproduce", str(path), "--out", str(out), "--jobs", "2"], signal.SIGTERM
    )
    assert code == 130, stderr
    (entry,) = json.loads((out / "protocol.json").read_text())["invocations"]
    assert entry["status"] == "stopped" and entry["command"].endswith("--jobs 2")
    assert list(entry["stages"]) == ["tune"] and entry["stages"]["tune"]["seconds"] > 3
