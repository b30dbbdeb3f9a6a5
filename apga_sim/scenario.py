"""Scenario files: one validated YAML describes one experiment.

Every part is a pydantic model with ``extra="forbid"``; pluggable parts (time profiles, oracles,
methods) are tagged unions. :func:`load_scenario` turns a YAML file into a :class:`Scenario` or
raises :class:`ScenarioError` with one message that names each offending field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from apga_sim.methods import MethodConfig
from apga_sim.oracles.config import OracleConfig
from apga_sim.timing import EqualProfile, Profile, TraceProfile, check_profile


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the field and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConstantAllReduce(_Strict):
    """AllReduce takes a fixed ``value`` seconds."""

    kind: Literal["constant"]
    value: NonNegativeFloat


class TwiceMaxUpload(_Strict):
    """AllReduce takes ``2 * max_i u_i``."""

    kind: Literal["twice_max_upload"]


class RingAllReduce(_Strict):
    """Ring AllReduce: ``2 (n-1)/n * bytes / bandwidth + 2 (n-1) * latency``, bytes = 4 d."""

    kind: Literal["ring"]
    latency: NonNegativeFloat = 0.0
    bandwidth: PositiveFloat


AllReduceCost = Annotated[
    ConstantAllReduce | TwiceMaxUpload | RingAllReduce, Field(discriminator="kind")
]


class Aggregation(_Strict):
    """Where gradients are combined (algorithms.md section 6)."""

    mode: Literal["server", "allreduce"] = Field(
        "server", description="server: download, compute, upload to a server; allreduce: one "
        "AllReduce of all workers per round, no broadcast."
    )
    server_time: NonNegativeFloat = Field(0.0, description="Server compute time per update.")
    allreduce: AllReduceCost = Field(
        default_factory=lambda: TwiceMaxUpload(kind="twice_max_upload"),
        description="Cost model of one AllReduce (allreduce mode only).",
    )


class Budget(_Strict):
    """When a run stops: at simulated ``time`` and/or after ``updates`` updates."""

    time: PositiveFloat | None = None
    updates: PositiveInt | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Budget:
        if self.time is None and self.updates is None:
            raise ValueError("give time (simulated seconds) and/or updates")
        return self


class Evaluation(_Strict):
    """When the current iterate is measured (measurement is not part of simulated time)."""

    every_updates: PositiveInt | None = Field(10, description="Evaluate every k updates.")
    every_time: PositiveFloat | None = Field(None, description="Evaluate every t simulated s.")


def _zero() -> EqualProfile:
    return EqualProfile(kind="equal", scale=0.0)


class Scenario(_Strict):
    """One experiment: an objective, a cluster, methods to compare, seeds and a budget."""

    name: str = Field("scenario", pattern=r"^[A-Za-z0-9_.\-]+$", description="Short id.")
    description: str = ""
    n: PositiveInt = Field(description="Number of workers.")
    oracle: OracleConfig
    h: Profile = Field(description="Compute time per gradient job (or per env step).")
    u: Profile = Field(default_factory=_zero, description="Upload time of one d-vector.")
    v: Profile = Field(default_factory=_zero, description="Download time of one d-vector.")
    charge: Literal["per_gradient", "per_step"] = Field(
        "per_gradient", description="Compute time h_i per gradient job, or h_i * T per job of "
        "T environment steps."
    )
    aggregation: Aggregation = Field(default_factory=Aggregation)
    methods: list[MethodConfig] = Field(min_length=1)
    seeds: list[int] = Field([0], min_length=1)
    budget: Budget
    eval: Evaluation = Field(default_factory=Evaluation)
    target_return: float | None = Field(None, description="Return that defines time-to-target.")

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
            problem = check_profile(getattr(self, field), self.n)
            if problem:
                raise ValueError(f"{field}: {problem}")
        for k, m in enumerate(self.methods):
            for attr in ("M", "M_init"):
                value = getattr(m, attr, None)
                if m.name.startswith("malenia") and value is not None and value < self.n:
                    raise ValueError(f"methods.{k}.{attr}: Malenia needs {attr} >= n = {self.n}")
        labels = [m.display for m in self.methods]
        if len(set(labels)) != len(labels):
            raise ValueError("methods: two entries share a name; give each a distinct label")
        return self

    def method(self, label: str) -> MethodConfig:
        """The method entry called ``label``."""
        return next(m for m in self.methods if m.display == label)


def _format(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid scenario"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (not allowed here; see `apga-sim schema`)"
        elif isinstance(err.get("input"), str | int | float) and "Value error" not in err["msg"]:
            msg += f" (got {err['input']!r})"
        lines.append(f"  {loc or '<top>'}: {msg}")
    return "\n".join(lines)


def parse_scenario(data: Any, source: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    """Validate a scenario given as a dict; raise :class:`ScenarioError` on bad input."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario must be a YAML mapping of fields")
    try:
        return Scenario.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ScenarioError(_format(exc, source)) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{path}: no such scenario file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    return parse_scenario(data, str(path), base_dir=path.parent)
