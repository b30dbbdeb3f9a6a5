"""Compute and communication time models: the profiles of docs/timing.md.

A *profile* gives worker ``i`` (1-based) a time. It is one of

* ``equal`` (1), ``sqrt`` (sqrt(i)), ``linear`` (i), ``power`` (i**p), each optionally
  ``reverse``-d (i -> n + 1 - i, e.g. figure 8's decreasing times);
* ``list``: explicit per-worker values;
* ``random``: seeded draws (exponential, lognormal, gamma, uniform), once per worker or once per
  job, from a stream keyed by ``(seed, quantity, worker[, job])``;
* ``trace``: a CSV file with columns ``worker,time`` (one row per worker) or
  ``worker,job,time`` (per-job times, cycled);
* ``link``: ``latency + bytes / bandwidth`` with ``bytes = 4 * d`` (one float32 d-vector).

Every profile is multiplied by ``scale``, a number or ``"d^p"`` (the paper's ``d^0.25``), and by
its ``factors`` (:mod:`apga_sim.factors`: per-worker multipliers, possibly for a while only).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    ValidationInfo,
    field_validator,
    model_validator,
)

from apga_sim.factors import Factor, Factors, check_factors, read_factors

Scale = float | Annotated[str, Field(pattern=r"^d\^-?[0-9]*\.?[0-9]+$")]

# Stream tags keep the random streams of different quantities apart, and apart from the
# oracles' job streams (seed, worker, index, ...), whose second entry is a worker id < 10^6.
STREAM_TAGS = {"h": 1_000_011, "u": 1_000_012, "v": 1_000_013}
MAX_TRACE_BYTES = 100_000_000
"""Largest trace CSV file read (100 MB)."""


class _Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scale: Scale = Field(1.0, description='Multiplier: a number >= 0 or "d^p" (d = #parameters).')
    factors: list[Factor] | Path | None = Field(
        None,
        description="Per-worker multipliers, e.g. [{workers: [8], factor: 10}], optionally "
        "during [start, end) of simulated time only (straggler phases); or a CSV file "
        "worker,factor[,start,end] relative to the scenario file. Overlapping factors multiply; "
        "a job or message takes the factors in force when it starts.",
        exclude_if=lambda v: v is None,
    )

    @field_validator("scale")
    @classmethod
    def _non_negative(cls, v: Scale) -> Scale:
        if isinstance(v, float | int) and v < 0:
            raise ValueError("must be >= 0")
        return v

    @field_validator("factors")
    @classmethod
    def _relative_to_scenario(cls, v: Any, info: ValidationInfo) -> Any:
        base = (info.context or {}).get("base_dir")
        if isinstance(v, Path) and base is not None and not v.is_absolute():
            return Path(base) / v
        return v

    def factor_list(self) -> list[Factor]:
        """The profile's factors, read from their file if given as one."""
        if isinstance(self.factors, Path):
            return read_factors(self.factors)
        return self.factors or []

    def scale_value(self, dim: int) -> float:
        """The numeric scale for a problem of ``dim`` parameters."""
        if isinstance(self.scale, str):
            return float(dim) ** float(self.scale.split("^", 1)[1])
        return float(self.scale)


class _Ranked(_Profile):
    reverse: bool = Field(False, description="Use n + 1 - i instead of i (decreasing times).")

    def _rank(self, n: int) -> np.ndarray:
        i = np.arange(1, n + 1, dtype=float)
        return n + 1 - i if self.reverse else i


class EqualProfile(_Ranked):
    """Every worker takes ``scale``."""

    kind: Literal["equal"]

    def base(self, n: int) -> np.ndarray:  # noqa: D102
        return np.ones(n)


class SqrtProfile(_Ranked):
    """Worker i takes ``scale * sqrt(i)``."""

    kind: Literal["sqrt"]

    def base(self, n: int) -> np.ndarray:  # noqa: D102
        return np.sqrt(self._rank(n))


class LinearProfile(_Ranked):
    """Worker i takes ``scale * i``."""

    kind: Literal["linear"]

    def base(self, n: int) -> np.ndarray:  # noqa: D102
        return self._rank(n)


class PowerProfile(_Ranked):
    """Worker i takes ``scale * i**p``."""

    kind: Literal["power"]
    p: float = Field(description="Exponent: worker i takes i**p.")

    def base(self, n: int) -> np.ndarray:  # noqa: D102
        return self._rank(n) ** self.p


class ListProfile(_Profile):
    """Explicit per-worker times (exactly n values)."""

    kind: Literal["list"]
    values: list[NonNegativeFloat] = Field(description="Worker i's time is values[i - 1].")

    def base(self, n: int) -> np.ndarray:  # noqa: D102
        return np.asarray(self.values, dtype=float)


class RandomProfile(_Profile):
    """Seeded random times, drawn once per worker or once per job.

    Parameters by distribution: ``exponential(mean)``, ``gamma(shape, mean)``,
    ``uniform(low, high)``, and ``lognormal`` with ``sigma_log`` (the standard deviation of
    log(time)) and either ``mean_time`` (the mean time, E[time]) or ``mu_log`` (the mean of
    log(time), what ``mean`` meant for lognormal before; refused now, being easy to mistake).
    """

    kind: Literal["random"]
    dist: Literal["exponential", "lognormal", "gamma", "uniform"] = Field(
        description="Distribution of the draws."
    )
    per: Literal["worker", "job"] = Field(
        "worker", description="Draw once per worker (fixed speeds) or once per job or message."
    )
    mean: float = Field(1.0, description="Mean time (exponential, gamma).")
    mean_time: PositiveFloat | None = Field(
        None,
        description="lognormal: the mean time E[time] (then mu_log = ln(mean_time) - "
        "sigma_log^2 / 2).",
        exclude_if=lambda v: v is None,
    )
    mu_log: float | None = Field(
        None,
        description="lognormal: the mean of log(time), instead of mean_time.",
        exclude_if=lambda v: v is None,
    )
    sigma_log: PositiveFloat | None = Field(
        None,
        description="lognormal: the standard deviation of log(time) (required).",
        exclude_if=lambda v: v is None,
    )
    shape: PositiveFloat = Field(2.0, description="Shape parameter (gamma).")
    low: NonNegativeFloat = Field(0.5, description="Lower bound (uniform).")
    high: NonNegativeFloat = Field(1.5, description="Upper bound (uniform).")

    def draw(self, rng: np.random.Generator) -> float:
        """One draw from the distribution."""
        if self.dist == "exponential":
            return float(rng.exponential(self.mean))
        if self.dist == "lognormal":
            mu_log = self.log_mean()
            assert self.sigma_log is not None  # required for lognormal (_lognormal_parameters)
            return float(rng.lognormal(mu_log, self.sigma_log))
        if self.dist == "gamma":
            return float(rng.gamma(self.shape, self.mean / self.shape))
        return float(rng.uniform(self.low, self.high))

    def log_mean(self) -> float:
        """The lognormal's mean of log(time)."""
        if self.mu_log is not None:
            return self.mu_log
        assert self.mean_time is not None and self.sigma_log is not None
        return math.log(self.mean_time) - self.sigma_log**2 / 2

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "sigma" in data:
            raise ValueError(
                "sigma was renamed sigma_log (the standard deviation of log(time), lognormal)"
            )
        return data

    @model_validator(mode="after")
    def _lognormal_parameters(self) -> RandomProfile:
        log_fields = {"mean_time", "mu_log", "sigma_log"} & self.model_fields_set
        if self.dist != "lognormal":
            if log_fields:
                raise ValueError(f"{', '.join(sorted(log_fields))}: for dist: lognormal only")
            return self
        if "mean" in self.model_fields_set:
            raise ValueError(
                "lognormal: mean is ambiguous; give mean_time (the mean time, E[time]) or "
                "mu_log (the mean of log(time), what mean meant before), and sigma_log"
            )
        if (self.mean_time is None) == (self.mu_log is None) or self.sigma_log is None:
            raise ValueError(
                "lognormal needs sigma_log and one of mean_time (the mean time, E[time]) or "
                "mu_log (the mean of log(time))"
            )
        return self


class TraceProfile(_Profile):
    """Times read from a CSV file: ``worker,time`` or ``worker,job,time`` rows.

    The path is relative to the scenario file.
    """

    kind: Literal["trace"]
    path: Path = Field(description="CSV file, relative to the scenario file.")

    def table(self, n: int) -> list[list[float]]:
        """Per-worker lists of times (one entry for per-worker files).

        Raises:
            ValueError: naming the first line whose worker is not an integer in 1..n or whose
                time is not a finite number, or a worker given twice in a ``worker,time`` file.

        """
        rows: list[list[float]] = [[] for _ in range(n)]
        with open(self.path, newline="") as f:
            reader = csv.DictReader(f)
            for line, row in enumerate(reader, start=2):
                worker, t = int(row["worker"]), float(row["time"])
                if not 1 <= worker <= n or not math.isfinite(t):
                    raise ValueError(f"line {line}: needs a worker in 1..{n} and a finite time")
                if rows[worker - 1] and "job" not in (reader.fieldnames or ()):
                    raise ValueError(f"line {line}: worker {worker} again (add a job column)")
                rows[worker - 1].append(t)
        return rows


class LinkProfile(_Profile):
    """Communication as ``latency + 4 d / bandwidth`` seconds (bandwidth in bytes/s)."""

    kind: Literal["link"]
    latency: NonNegativeFloat = Field(0.0, description="Seconds per message.")
    bandwidth: PositiveFloat = Field(description="Bytes per second.")

    def base(self, n: int, dim: int) -> np.ndarray:  # noqa: D102
        return np.full(n, self.latency + 4.0 * dim / self.bandwidth)


Profile = Annotated[
    EqualProfile
    | SqrtProfile
    | LinearProfile
    | PowerProfile
    | ListProfile
    | RandomProfile
    | TraceProfile
    | LinkProfile,
    Field(discriminator="kind"),
]


def check_profile(p: Profile, n: int, positive: bool = False) -> str | None:
    """Return why profile ``p`` does not fit ``n`` workers, or ``None`` if it does.

    With ``positive`` (compute times) every time must be > 0, or simulated time would stand still.
    """
    if positive and isinstance(p.scale, float | int) and p.scale <= 0:
        return "scale must be > 0 for compute times"
    if isinstance(p.factors, Path) and not p.factors.is_file():
        return f"factors file {str(p.factors)!r} does not exist"
    try:
        problem = check_factors(p.factor_list(), n)
    except (KeyError, ValueError) as exc:
        return f"factors file {str(p.factors)!r} needs columns worker,factor[,start,end]: {exc}"
    if problem:
        return problem
    if isinstance(p, ListProfile):
        if len(p.values) != n:
            return f"has {len(p.values)} values but n = {n}"
        if positive and min(p.values) <= 0:
            return "compute times must be > 0"
    if isinstance(p, RandomProfile):
        if p.dist in ("exponential", "gamma") and p.mean <= 0:
            return f"mean must be > 0 for {p.dist} (got {p.mean})"
        if p.dist == "uniform" and not (p.low <= p.high and (p.low > 0 or not positive)):
            return f"needs {'0 < ' if positive else ''}low <= high (got {p.low}, {p.high})"
    if isinstance(p, TraceProfile):
        if not p.path.is_file():
            return f"trace file {str(p.path)!r} does not exist"
        if p.path.stat().st_size > MAX_TRACE_BYTES:
            return f"trace file {str(p.path)!r} is larger than {MAX_TRACE_BYTES} bytes"
        try:
            rows = p.table(n)
        except (KeyError, ValueError, TypeError, csv.Error) as exc:
            return f"trace file {str(p.path)!r} needs columns worker (1..{n}) and time: {exc}"
        if any(not r for r in rows):
            return f"trace file {str(p.path)!r} must give a time for every worker 1..{n}"
        if any(t < 0 or (positive and t == 0) for r in rows for t in r):
            return f"trace file {str(p.path)!r} has a time {'<=' if positive else '<'} 0"
    return None


@dataclass
class WorkerTimes:
    """One quantity (h, u or v) for all workers; ``time(i, k)`` is worker i's k-th draw."""

    profile: Profile
    quantity: str
    n: int
    dim: int
    seed: int

    def __post_init__(self) -> None:
        p = self.profile
        scale = p.scale_value(self.dim)
        self._per_job: list[list[float]] | None = None
        self._values: np.ndarray | None = None
        if isinstance(p, RandomProfile):
            if p.per == "worker":
                self._values = scale * np.array(
                    [p.draw(self._rng(i)) for i in range(1, self.n + 1)]
                )
        elif isinstance(p, TraceProfile):
            self._per_job = [[scale * t for t in row] for row in p.table(self.n)]
        elif isinstance(p, LinkProfile):
            self._values = scale * p.base(self.n, self.dim)
        else:
            self._values = scale * p.base(self.n)
        self._scale = scale
        factors = p.factor_list()
        self._factors = Factors(factors, self.n) if factors else None
        constant = all(f.start == 0 and f.end is None for f in factors)
        if self._factors is not None and self._values is not None and constant:
            self._values = self._values * [self._factor(i, 0.0) for i in range(1, self.n + 1)]
            self._factors = None  # constant factors: folded into the fixed values

    def _rng(self, *ids: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, STREAM_TAGS[self.quantity], *ids])

    def _factor(self, worker: int, now: float) -> float:
        return 1.0 if self._factors is None else self._factors.at(worker, now)

    def time(self, worker: int, k: int, now: float = 0.0) -> float:
        """Time of worker ``worker``'s ``k``-th occurrence (job or message) starting at ``now``."""
        return self._base_time(worker, k) * self._factor(worker, now)

    def _base_time(self, worker: int, k: int) -> float:
        if self._values is not None:
            return float(self._values[worker - 1])
        if self._per_job is not None:
            row = self._per_job[worker - 1]
            return row[k % len(row)]
        assert isinstance(self.profile, RandomProfile)
        return self._scale * self.profile.draw(self._rng(worker, k))

    def nominal(self) -> np.ndarray | None:
        """Fixed per-worker values, or ``None`` when times vary per job or over time."""
        return None if self._values is None or self._factors else self._values.copy()
