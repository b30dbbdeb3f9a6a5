"""Bounds on scenario values, checked before anything runs.

Pydantic checks each field alone; these checks catch what a run would otherwise hit later:
non-finite numbers, booleans or strings read as numbers, and values that would exhaust memory or
time. The bounds, each a module constant:

* every float is finite and every integer at most :data:`MAX_INT`;
* simulated times (``budget.time``, ``eval.every_time``) at most :data:`MAX_TIME`;
* a compute time at least :data:`MIN_TIME` (the engine's 1e-9 s resolution; a smaller one would
  never advance the clock) and at least ``budget.time * 1e-12`` (float spacing);
* at most :data:`MAX_EVALUATIONS` evaluations per run (``budget.time / eval.every_time``;
  ``eval.every_time`` needs ``budget.time``);
* ``"d^p"`` scales with ``|p| <=`` :data:`MAX_SCALE_POWER`;
* at most :data:`MAX_DIM` parameters, and ``n * dim <=`` :data:`MAX_WORKER_VALUES` for the
  quadratic oracle (it stores one optimum per worker);
* ``M``, ``M_init`` and ``b`` at most :data:`MAX_BATCH`; ``budget.updates`` at most
  :data:`MAX_UPDATES`;
* names and labels at most :data:`MAX_NAME` characters (they become folder names);
* at most :data:`MAX_CONFIGS` grid configurations per method entry and :data:`MAX_CELLS` sweep
  cells.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

if TYPE_CHECKING:
    from apga_sim.scenario import Scenario

MAX_INT = 2**63 - 1
MAX_TIME = 1e9
MIN_TIME = 1e-9
MAX_EVALUATIONS = 1_000_000
MAX_SCALE_POWER = 4.0
MAX_DIM = 10_000_000
MAX_WORKER_VALUES = 20_000_000
MAX_BATCH = 1_000_000
MAX_UPDATES = 1_000_000_000
MAX_NAME = 100
MAX_CONFIGS = 10_000
MAX_CELLS = 1_000

Problem = tuple[str, str]
"""A dotted field path and what is wrong with it."""


def number_problems(raw: Any, value: Any, path: str = "") -> list[Problem]:
    """Numbers of a validated model ``value`` that its raw input ``raw`` should not have given.

    Refuses booleans read as numbers, quoted numbers (``n: "5"``, ``alpha: "0.1"``), non-finite
    floats and integers beyond :data:`MAX_INT`. Strings that are not plain numbers but that a field
    reads as one (grid powers ``"2^-5"``, fractions ``"1/9"``, ``"d^0.25"``) are kept.
    """
    if isinstance(value, BaseModel):
        raw = raw if isinstance(raw, dict) else {}
        return [
            p
            for name in type(value).model_fields
            if name != "tuned"  # written by `apga-sim tune`: scores may be infinite
            for p in number_problems(raw.get(name), getattr(value, name), _join(path, name))
        ]
    if isinstance(value, list | tuple):
        raws = raw if isinstance(raw, list) and len(raw) == len(value) else [None] * len(value)
        return [
            p
            for k, (r, v) in enumerate(zip(raws, value, strict=True))
            for p in number_problems(r, v, _join(path, str(k)))
        ]
    if isinstance(value, dict):
        raw = raw if isinstance(raw, dict) else {}
        return [p for k, v in value.items() for p in number_problems(raw.get(k), v, _join(path, k))]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return []
    if isinstance(raw, bool):
        return [(path, f"a boolean is not a number (got {raw})")]
    if isinstance(raw, str) and isinstance(value, int):
        return [(path, f"write the integer without quotes (got {raw[:40]!r})")]
    if isinstance(value, float) and not math.isfinite(value):
        return [(path, f"must be a finite number (got {value})")]
    if isinstance(raw, str) and _plain_number(raw):
        return [(path, f"write the number without quotes (got {raw[:40]!r})")]
    if isinstance(value, int) and abs(value) > MAX_INT:
        return [(path, "must be at most 2^63 - 1")]
    return []


def _plain_number(text: str) -> bool:
    """Whether ``text`` is a number as written, not a power, fraction or expression."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def scenario_problems(s: Scenario) -> list[Problem]:
    """What would exhaust memory or time, or stall the clock, in a run of ``s``."""
    problems = _size_problems(s)
    if problems:
        return problems
    try:
        dim = problem_dim(s)
    except ValueError as exc:
        return [("oracle", str(exc))]
    if dim > MAX_DIM:
        return [("oracle", f"the policy has {dim} parameters; at most {MAX_DIM}")]
    return _time_problems(s, dim)


def problem_dim(s: Scenario) -> int:
    """The number of parameters ``d`` of ``s``'s oracle (MuJoCo: builds the environments once)."""
    if s.oracle.kind == "quadratic":
        return s.oracle.dim
    from apga_sim.oracles.mujoco.envs import policy_dim

    return policy_dim(s.oracle)


def _size_problems(s: Scenario) -> list[Problem]:
    """Bounds on names, dims, batches, budgets and evaluations."""
    problems = []
    if len(s.name) > MAX_NAME:
        problems.append(("name", f"at most {MAX_NAME} characters"))
    for k, m in enumerate(s.methods):
        if len(m.display) > MAX_NAME:
            problems.append((f"methods.{k}.label", f"at most {MAX_NAME} characters"))
        for field in ("M", "M_init", "b"):
            v = getattr(m, field, None)
            if isinstance(v, int) and v > MAX_BATCH:
                problems.append((f"methods.{k}.{field}", f"at most {MAX_BATCH}"))
    if s.oracle.kind == "quadratic" and s.n * s.oracle.dim > MAX_WORKER_VALUES:
        problems.append(
            (
                "oracle.dim",
                f"n * dim must be at most {MAX_WORKER_VALUES} (got {s.n * s.oracle.dim})",
            )
        )
    budget, every = s.budget, s.eval.every_time
    if budget.time is not None and budget.time > MAX_TIME:
        problems.append(("budget.time", f"at most {MAX_TIME:g} simulated seconds"))
    if budget.updates is not None and budget.updates > MAX_UPDATES:
        problems.append(("budget.updates", f"at most {MAX_UPDATES}"))
    if every is not None and budget.time is None:
        problems.append(("eval.every_time", "needs budget.time (it bounds the evaluations)"))
    elif every is not None and every < MIN_TIME:
        problems.append(("eval.every_time", f"at least {MIN_TIME:g} s (the time resolution)"))
    elif every is not None and budget.time is not None and budget.time / every > MAX_EVALUATIONS:
        problems.append(
            ("eval.every_time", f"budget.time / every_time must be at most {MAX_EVALUATIONS}")
        )
    for field in ("h", "u", "v"):
        scale = getattr(s, field).scale
        if isinstance(scale, str) and abs(float(scale.split("^", 1)[1])) > MAX_SCALE_POWER:
            problems.append(
                (f"{field}.scale", f"the power p of d^p must be in +-{MAX_SCALE_POWER}")
            )
    return problems


def _time_problems(s: Scenario, dim: int) -> list[Problem]:
    """Per-worker times that are not finite, or compute times too short to advance the clock."""
    from apga_sim.timing import RandomProfile, TraceProfile, WorkerTimes

    problems = []
    shortest = max(MIN_TIME, (s.budget.time or 0.0) * 1e-12)
    for field in ("h", "u", "v"):
        p = getattr(s, field)
        with np.errstate(all="ignore"):
            scale = p.scale_value(dim)
        if scale > MAX_TIME:
            problems.append((f"{field}.scale", f"at most {MAX_TIME:g} (got {scale:g})"))
            continue
        if isinstance(p, RandomProfile) and not _random_finite(p):
            problems.append((field, "random profile parameters so large that draws overflow"))
            continue
        with np.errstate(all="ignore"):
            if isinstance(p, TraceProfile):
                times = [np.asarray(row) * scale for row in p.table(s.n)]
                values = np.concatenate(times) if times else np.zeros(0)
            else:
                nominal = [WorkerTimes(p, field, s.n, dim, seed).nominal() for seed in s.seeds]
                values = np.concatenate([v for v in nominal if v is not None] or [np.zeros(0)])
        if not np.all(np.isfinite(values)):
            problems.append((field, "some worker's time is not a finite number (too large)"))
        elif field == "h" and values.size and values.min() < shortest:
            problems.append(
                (field, f"compute times must be at least {shortest:g} s (got {values.min():g})")
            )
    return problems


def _random_finite(p: Any) -> bool:
    """Whether a random profile's draws stay finite (lognormal: 40 sigma below overflow)."""
    if p.dist == "uniform":
        return p.high <= MAX_TIME
    if p.dist == "lognormal":
        return p.log_mean() + 40 * p.sigma_log <= 700
    return p.mean <= MAX_TIME
