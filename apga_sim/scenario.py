"""Scenario files: one validated YAML describes one experiment.

Every part is a pydantic model with ``extra="forbid"``; pluggable parts (time profiles, oracles,
methods) are tagged unions. :func:`load_scenario` turns a YAML file into a :class:`Scenario` or
raises :class:`ScenarioError` with one message that names each offending field.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from apga_sim import limits
from apga_sim.availability import AvailabilityConfig, check_availability
from apga_sim.methods import TUNABLE, Grid, GridValues, MethodConfig
from apga_sim.oracles.config import OracleConfig
from apga_sim.safe_yaml import MAX_BYTES, YAMLInputError, load_yaml
from apga_sim.timing import EqualProfile, Profile, TraceProfile, check_profile


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the field and what is allowed."""


def _unique(values: list[int]) -> list[int]:
    if len(set(values)) != len(values):
        raise ValueError(f"seeds must be distinct (got {values})")
    return values


Seeds = Annotated[list[NonNegativeInt], Field(min_length=1), AfterValidator(_unique)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConstantAllReduce(_Strict):
    """AllReduce takes a fixed ``value`` seconds."""

    kind: Literal["constant"]
    value: NonNegativeFloat = Field(description="Seconds one AllReduce takes.")


class TwiceMaxUpload(_Strict):
    """AllReduce takes ``2 * max_i u_i``."""

    kind: Literal["twice_max_upload"]


class RingAllReduce(_Strict):
    """Ring AllReduce: ``2 (n-1)/n * bytes / bandwidth + 2 (n-1) * latency``, bytes = 4 d."""

    kind: Literal["ring"]
    latency: NonNegativeFloat = Field(0.0, description="Seconds per message hop.")
    bandwidth: PositiveFloat = Field(description="Bytes per second of one link.")


AllReduceCost = Annotated[
    ConstantAllReduce | TwiceMaxUpload | RingAllReduce, Field(discriminator="kind")
]


class Aggregation(_Strict):
    """Where gradients are combined (docs/timing.md)."""

    mode: Literal["server", "allreduce", "stream"] = Field(
        "server",
        description="server: download, compute, upload to a server; allreduce: one "
        "AllReduce of all workers per round, no broadcast; stream: each gradient is uploaded "
        "as soon as it is computed and a round ends when the gradients its rule needs have "
        "arrived (gradients of an older point are discarded).",
    )
    overlap: bool = Field(
        False,
        description="A worker computes its next job while its previous upload is in flight "
        "(uploads queue on its link). Streaming mode and asynchronous methods only.",
        exclude_if=lambda v: not v,
    )
    server_time: NonNegativeFloat = Field(0.0, description="Server compute time per update.")
    allreduce: AllReduceCost = Field(
        default_factory=lambda: TwiceMaxUpload(kind="twice_max_upload"),
        description="Cost model of one AllReduce (allreduce mode only).",
    )


class Budget(_Strict):
    """When a run stops: at simulated ``time`` and/or after ``updates`` updates."""

    time: PositiveFloat | None = Field(
        None, description="Simulated seconds: the run covers [0, time); no update at time."
    )
    updates: PositiveInt | None = Field(None, description="Stop after this many updates.")

    @model_validator(mode="after")
    def _one_of(self) -> Budget:
        if self.time is None and self.updates is None:
            raise ValueError("give time (simulated seconds) and/or updates")
        return self


class Evaluation(_Strict):
    """When the current iterate is measured (measurement is not part of simulated time)."""

    every_updates: PositiveInt | None = Field(10, description="Evaluate every k updates.")
    every_time: PositiveFloat | None = Field(None, description="Evaluate every t simulated s.")


Tunable = Literal[TUNABLE]  # type: ignore[valid-type]


def _ratio(value: Any) -> Any:
    """Accept ``"1/9"``-style fractions."""
    if isinstance(value, str):
        try:
            return float(Fraction(value.replace(" ", "")))
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"{value!r} is not a number or a fraction like 1/9") from None
    return value


def _grids(value: Any) -> Any:
    """Accept ``{alpha: [0.1, 0.2]}`` for ``{alpha: {grid: [0.1, 0.2]}}``."""
    if isinstance(value, dict):
        return {k: {"grid": v} if isinstance(v, list) else v for k, v in value.items()}
    return value


class Tune(_Strict):
    """How `apga-sim tune` and `apga-sim reproduce` choose among grid values."""

    seeds: Seeds = Field(
        [1000, 1001],
        description="Tuning seeds; `tune` and `reproduce` refuse seeds that are also "
        "evaluation seeds.",
    )
    criterion: Literal["time_to_target", "auc"] = Field(
        "auc",
        description="The final choice (at the full budget): time_to_target: smallest median "
        "time-to-target (ties and never-reached broken by auc); auc: largest mean area under "
        "the return curve.",
    )
    schedule: Literal["grid", "halving"] = Field(
        "grid",
        description="grid: every configuration runs to the full budget; halving: successive "
        "halving: every configuration runs to min_fraction of budget.time, the best "
        "1/reduction (mean area under the return curve so far over the tuning seeds; ties go "
        "to the earlier grid entry) run again to a budget reduction times longer, up to the "
        "full budget, where criterion chooses.",
    )
    reduction: int = Field(
        4,
        ge=2,
        description="halving: each rung keeps the best 1/reduction of its configurations (at "
        "least one), and the next rung's budget is reduction times longer (Hyperband's eta).",
    )
    min_fraction: Annotated[
        float,
        BeforeValidator(
            _ratio,
            json_schema_input_type=Annotated[float, Field(gt=0, le=1)]
            | Annotated[str, Field(pattern=r"^\s*[0-9.]+\s*/\s*[0-9.]+\s*$")],
        ),
        Field(gt=0, le=1),
    ] = Field(
        1 / 4,
        description="halving: the shortest rung's budget, as a fraction of budget.time (a "
        "number or p/q); rungs are at reduction^-k of the budget, k = K..0, the first >= this. "
        "The default (with reduction 4) makes one cut at a quarter of the budget: on the "
        "benchmark studies, earlier cuts (1/9) dropped the full grid's choice, whose lead shows "
        "late.",
    )
    grid: Annotated[
        dict[Tunable, Grid],
        BeforeValidator(_grids, json_schema_input_type=dict[Tunable, Grid | GridValues]),
    ] = Field(
        default_factory=dict,
        description="Grids given to every method entry that sets that hyperparameter to a "
        "value, e.g. {alpha: [2^-10, ..., 2^-1], M: [20, 30, 50]} (a method's own grid wins; "
        "`run` keeps the fixed values, `tune` and `reproduce` tune them).",
    )


def _zero() -> EqualProfile:
    return EqualProfile(kind="equal", scale=0.0)


class Scenario(_Strict):
    """One experiment: an objective, a cluster, methods to compare, seeds and a budget."""

    name: str = Field(
        "scenario",
        pattern=r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$",
        description="Short id (a folder name).",
    )
    description: str = Field("", description="Free text: what this scenario is for.")
    n: PositiveInt = Field(le=100_000, description="Number of workers (at most 100000).")
    oracle: OracleConfig = Field(description="Where gradients come from: mujoco or quadratic.")
    h: Profile = Field(description="Compute time per gradient job (or per env step).")
    u: Profile = Field(default_factory=_zero, description="Upload time of one d-vector.")
    v: Profile = Field(default_factory=_zero, description="Download time of one d-vector.")
    charge: Literal["per_gradient", "per_step"] = Field(
        "per_gradient",
        description="Compute time h_i per gradient job, or h_i * T per job of T environment steps.",
    )
    aggregation: Aggregation = Field(
        default_factory=Aggregation,
        description="Server (default), AllReduce or streaming aggregation of round-based "
        "methods, and compute/upload overlap.",
    )
    availability: AvailabilityConfig | None = Field(
        None,
        description="When workers are offline (default: always online): listed periods or a "
        "seeded on/off process. A job running when its worker goes offline is lost.",
        exclude_if=lambda v: v is None,
    )
    methods: list[MethodConfig] = Field(
        min_length=1, description="Methods to compare, each tagged by name (see `apga-sim list`)."
    )
    seeds: Seeds = Field([0], description="Seeds: every run of a method uses one of them.")
    budget: Budget = Field(description="When a run stops: simulated time and/or updates.")
    eval: Evaluation = Field(
        default_factory=Evaluation, description="When the current policy is evaluated."
    )
    target_return: float | None = Field(None, description="Return that defines time-to-target.")
    sweep: dict[str, list[int | float | str]] | None = Field(
        None,
        description="Parameters to sweep, e.g. {n: [5, 10, 20]} or {h.scale: [0.5, 1]}; "
        "dotted paths into this scenario, `methods.M` sets M of every method. Cartesian product.",
    )
    tune: Tune = Field(default_factory=lambda: Tune(), description="Settings of `apga-sim tune`.")
    tuned: dict[str, dict[str, Any]] | None = Field(
        None, description="Written by `apga-sim tune`: the chosen values and their scores."
    )

    @field_validator("h", "u", "v")
    @classmethod
    def _resolve_paths(cls, p: Profile, info: ValidationInfo) -> Profile:
        base = (info.context or {}).get("base_dir")
        if isinstance(p, TraceProfile) and base is not None and not p.path.is_absolute():
            p.path = Path(base) / p.path
        return p

    @model_validator(mode="after")
    def _fits_n(self) -> Scenario:
        for field in ("h", "u", "v"):
            problem = check_profile(getattr(self, field), self.n, positive=field == "h")
            if problem:
                raise ValueError(f"{field}: {problem}")
        if self.availability is not None:
            problem = check_availability(self.availability, self.n)
            if problem:
                raise ValueError(f"availability: {problem}")
        rounds = [m.display for m in self.methods if m.rounds]
        if self.aggregation.overlap and self.aggregation.mode != "stream" and rounds:
            raise ValueError(
                "aggregation.overlap: applies to mode: stream and to asynchronous methods; "
                f"{', '.join(rounds)} work in rounds with mode: {self.aggregation.mode} "
                "(set aggregation.mode: stream, or overlap: false)"
            )
        return self

    def expanded(self) -> Scenario:
        """This scenario with every grid hyperparameter expanded into its own method entry."""
        methods = [e for m in self.methods for e in m.expand()]
        return self.model_copy(update={"methods": methods})

    def has_grids(self) -> bool:
        """Whether a method gives a hyperparameter as a grid."""
        return any(m.grids() for m in self.methods)

    def method(self, label: str) -> MethodConfig:
        """The method entry called ``label``."""
        return next(m for m in self.methods if m.display == label)


def _format(exc: ValidationError, source: str, data: Any, prefix: tuple[str, ...] = ()) -> str:
    """One line per problem, at its path in the file (``data``: the input ``exc`` came from)."""
    found: list[tuple[tuple[str, ...], str, str]] = []  # (path, message, pydantic type)
    mappings: set[tuple[str, ...]] = set()  # paths whose input is a mapping
    for err in exc.errors():
        missing = err["type"] == "missing"
        path, node = _path(data, err["loc"], keep_last=missing)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (not allowed here; see `apga-sim schema`)"
        elif isinstance(err.get("input"), str | int | float) and "Value error" not in err["msg"]:
            msg += f" (got {_clip(repr(err['input']))})"
        found.append(((*prefix, *path), msg, err["type"]))
        if isinstance(node, dict) and not missing:
            mappings.add((*prefix, *path))
    # A field that takes a number or a grid fails once per union member: keep the member the
    # input was meant for (a mapping: the grid's own problems; anything else: the number's).
    at = [p for p, _, _ in found]
    kept = [
        (path, msg)
        for path, msg, kind in found
        if not (kind == "model_type" and at.count(path) > 1)  # "should be a ... Grid"
        and not (path in mappings and any(p[: len(path)] == path != p for p in at))
    ]
    by_path: dict[tuple[str, ...], list[str]] = {}
    for path, msg in kept:
        by_path.setdefault(path, []).append(msg)
    lines = [f"{source}: invalid scenario"]
    for path, msgs in by_path.items():
        lines.append(f"  {'.'.join(path) or '<top>'}: {_clip(_either(msgs), 300)}")
    return "\n".join(lines)


def _either(msgs: list[str]) -> str:
    """One message for a value every member of a union refused: "should be a or b (got x)"."""
    msgs = list(dict.fromkeys(msgs))
    head = "Input should be "
    if len(msgs) == 1 or not all(m.startswith(head) for m in msgs):
        return "; ".join(msgs)
    got = re.compile(r" \(got .*\)$")
    suffix = (m.group() for m in map(got.search, msgs) if m)
    return head + " or ".join(got.sub("", m)[len(head) :] for m in msgs) + next(suffix, "")


def _path(data: Any, loc: tuple[Any, ...], keep_last: bool) -> tuple[tuple[str, ...], Any]:
    """The parts of a pydantic location that index ``data`` (union member tags dropped).

    Returns:
        The path and the input found there (``keep_last``: the last part names a missing key).

    """
    path: list[str] = []
    node = data
    for k, part in enumerate(loc):
        indexes = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        )
        if indexes:
            node = node[part]
        elif not (keep_last and k == len(loc) - 1):
            continue  # e.g. 'constrained-int', 'Grid', a method or profile kind
        path.append(str(part))
    return tuple(path), node


def _clip(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters (a message quotes inputs, never whole files)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_scenario(data: Any, source: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    """Validate a scenario given as a dict; raise :class:`ScenarioError` on bad input."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario must be a YAML mapping of fields")
    try:
        s = Scenario.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ScenarioError(_format(exc, source, data)) from None
    labels = []
    for k, m in enumerate(s.methods):
        configs = math.prod(len(v) for v in m.grids().values())
        if configs > limits.MAX_CONFIGS:
            raise ScenarioError(
                f"{source}: invalid scenario\n  methods.{k}: its grids make {configs} "
                f"configurations; at most {limits.MAX_CONFIGS}"
            )
        try:
            labels += [e.display for e in m.expand()]
        except ValidationError as exc:
            raise ScenarioError(
                _format(exc, source, data["methods"][k], ("methods", str(k)))
            ) from None
    if len(set(labels)) != len(labels):
        raise ScenarioError(
            f"{source}: invalid scenario\n  methods: two entries share the name "
            f"{next(x for x in labels if labels.count(x) > 1)!r}; give each a distinct label "
            "(or distinct grid values)"
        )
    problems = limits.number_problems(data, s) or limits.scenario_problems(s)
    if problems:
        lines = (f"  {loc or '<top>'}: {_clip(msg, 300)}" for loc, msg in problems)
        raise ScenarioError("\n".join([f"{source}: invalid scenario", *lines]))
    return s


def _entry(items: list[Any], key: str, where: str) -> Any:
    """The list entry ``key`` names: an index, a label, or a name no other entry shares."""
    if key.isdigit():
        if int(key) < len(items):
            return items[int(key)]
        raise ScenarioError(f"{where}: index {key} out of range (the list has {len(items)})")
    entries = [m for m in items if isinstance(m, dict)]
    by_label = [m for m in entries if (m.get("label") or m.get("name")) == key]
    by_name = [m for m in entries if m.get("name") == key]
    for named in (by_label, by_name):
        if len(named) == 1:
            return named[0]
    labels = ", ".join(str(m.get("label") or m.get("name")) for m in entries)
    raise ScenarioError(f"{where}: no single entry {key!r}; give an index or one of: {labels}")


def set_path(data: dict[str, Any], path: str, value: Any, where: str) -> None:
    """Set ``value`` at a dotted ``path`` of raw scenario data.

    ``methods.M`` sets M of every round-based method; a list entry is addressed by index or by
    label (a method's name if it has no label), e.g. ``methods.0.M`` or ``methods.sync_nigt.b``.
    """
    if path == "methods.M":  # M of every round-based method
        methods = data.get("methods")
        if not isinstance(methods, list):
            raise ScenarioError(f"{where}{path}: the scenario has no list of methods")
        for method in methods:
            if (
                isinstance(method, dict)
                and ("M" in method or "b" not in method)
                and str(method.get("name", "")).startswith(("rennala", "malenia", "sync"))
            ):
                method["M"] = value
        return
    keys = path.split(".")
    node: Any = data
    for key in keys[:-1]:
        if isinstance(node, list):
            node = _entry(node, key, f"{where}{path}")
        else:  # a section left at its default is created
            node = node.setdefault(key, {})
        if not isinstance(node, dict | list):
            raise ScenarioError(f"{where}{path}: {key!r} is not a section of the scenario")
    if isinstance(node, list):
        raise ScenarioError(f"{where}{path}: give a field of one entry, e.g. {path}.0.<field>")
    node[keys[-1]] = value


def read_yaml(path: Path, what: str) -> Any:
    """Plain data of a YAML file (see :mod:`apga_sim.safe_yaml`), or :class:`ScenarioError`."""
    try:
        if path.is_dir():
            raise ScenarioError(f"{path}: a folder, not a {what}")
        if not path.is_file():
            raise ScenarioError(f"{path}: no such {what}")
        if path.stat().st_size > MAX_BYTES:
            raise ScenarioError(f"{path}: larger than {MAX_BYTES} bytes; not a {what}")
        return load_yaml(path.read_bytes())
    except YAMLInputError as exc:
        why = f"\n  {exc.field}: {exc}" if exc.field else f" {exc}"
        raise ScenarioError(f"{path}: not valid YAML:{why}") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the {what}: {exc.strerror}") from None


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read and validate a scenario YAML file, with optional ``{dotted.path: value}`` overrides."""
    path = Path(path)
    data = read_yaml(path, "scenario file")
    if isinstance(data, dict):
        for key, value in (overrides or {}).items():
            set_path(data, key, value, "--set ")
    source = f"{path} with --set {', '.join(overrides)}" if overrides else str(path)
    s = parse_scenario(data, source, base_dir=path.parent)
    cells(s)  # every sweep cell must validate too
    return s


def cell_folder(values: dict[str, Any]) -> str:
    """The folder name of a sweep cell (``""`` without a sweep): ``k=v`` joined by ``_``."""
    return "_".join(f"{k}={v}" for k, v in values.items()).replace("/", "_")


MAX_CELL_FOLDER = 200
"""Longest folder name of a sweep cell (file systems allow 255 bytes)."""


def cells(s: Scenario) -> list[tuple[dict[str, Any], Scenario]]:
    """The sweep's cells as ``(values, scenario)``; one cell ``({}, s)`` without a sweep."""
    if not s.sweep:
        return [({}, s)]
    count = math.prod(len(v) for v in s.sweep.values())
    if count > limits.MAX_CELLS:
        raise ScenarioError(
            f"sweep: {count} cells; at most {limits.MAX_CELLS} (split the scenario)"
        )
    base = s.model_dump(mode="json", exclude={"sweep"})
    out = []
    for combo in itertools.product(*s.sweep.values()):
        values = dict(zip(s.sweep, combo, strict=True))
        if len(folder := cell_folder(values)) > MAX_CELL_FOLDER:
            raise ScenarioError(
                f"sweep: the cell folder {folder[:40]!r}... is longer than {MAX_CELL_FOLDER} "
                "characters; use shorter values"
            )
        data = copy.deepcopy(base)
        for path, value in values.items():
            set_path(data, path, value, "sweep.")
        label = ", ".join(f"{k}={v}" for k, v in values.items())
        try:
            out.append((values, parse_scenario(data, f"sweep cell {label}")))
        except ScenarioError as exc:
            raise ScenarioError(f"sweep: {exc}") from None
    return out
