"""Worker availability: when workers are offline (scenario field ``availability``).

Offline means the worker computes nothing. The job it is running when it goes offline is lost
(trace kind ``compute_lost``), it starts no job while offline, and when it comes back it fetches
the current point (paying ``v_i``) and starts again. Its link stays up: gradients it computed
before leaving (a round's local sum, uploads in flight or queued) are still delivered, and it
still takes part in an AllReduce. A job that ends at the very instant its worker goes offline
completes. The trace records each period as ``offline_start`` / ``offline_end`` rows.

Periods come from a list or CSV file (:class:`OfflineIntervals`) or from a seeded on/off process
(:class:`RandomAvailability`) whose draws are keyed by ``(seed, worker)``, so every seed differs
and reruns are identical.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    ValidationInfo,
    field_validator,
)

AVAILABILITY_TAG = 1_000_021
"""Stream tag of the random on/off process (apart from the time profiles' tags)."""


class Interval(BaseModel):
    """One offline period ``[start, end)`` of one worker."""

    model_config = ConfigDict(extra="forbid")
    worker: PositiveInt = Field(description="Worker number, 1..n.")
    start: NonNegativeFloat = Field(description="Simulated time the worker goes offline.")
    end: PositiveFloat = Field(description="Simulated time it is back (end > start).")


class OfflineIntervals(BaseModel):
    """Offline periods listed inline (``intervals``) or in a CSV file (``path``)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["intervals"]
    intervals: list[Interval] = Field(
        default_factory=list, description="Offline periods [start, end) of given workers."
    )
    path: Path | None = Field(
        None,
        description="CSV file with columns worker,start,end (one offline period a row), "
        "relative to the scenario file; its rows add to `intervals`.",
    )

    @field_validator("path")
    @classmethod
    def _relative_to_scenario(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        base = (info.context or {}).get("base_dir")
        if path is None or base is None or path.is_absolute():
            return path
        return Path(base) / path

    def periods(self) -> list[Interval]:
        """Every offline period, inline ones first, then the file's rows."""
        rows = list(self.intervals)
        if self.path is not None:
            with open(self.path, newline="") as f:
                rows += [Interval.model_validate(row) for row in csv.DictReader(f)]
        return rows


class RandomAvailability(BaseModel):
    """A seeded on/off process: exponential up times, then exponential down times, alternately."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["random"]
    mean_up: PositiveFloat = Field(description="Mean simulated seconds online between failures.")
    mean_down: PositiveFloat = Field(description="Mean simulated seconds offline per failure.")
    workers: list[PositiveInt] | None = Field(
        None, description="Workers that fail (default: every worker)."
    )


AvailabilityConfig = Annotated[OfflineIntervals | RandomAvailability, Field(discriminator="kind")]


def check_availability(config: AvailabilityConfig, n: int) -> str | None:
    """Return why ``config`` does not fit ``n`` workers, or ``None`` if it does."""
    if isinstance(config, RandomAvailability):
        bad = [w for w in config.workers or [] if w > n]
        return f"workers {bad} do not exist (n = {n})" if bad else None
    if config.path is not None and not config.path.is_file():
        return f"file {str(config.path)!r} does not exist"
    try:
        periods = config.periods()
    except (ValueError, KeyError, TypeError) as exc:
        return f"file {str(config.path)!r} needs columns worker,start,end: {exc}"
    for p in periods:
        if p.worker > n:
            return f"worker {p.worker} does not exist (n = {n})"
        if not p.start < p.end < math.inf:
            return f"worker {p.worker}: needs start < end < inf (got [{p.start}, {p.end}))"
    by_worker = sorted((p.worker, p.start, p.end) for p in periods)
    for (w1, _, e1), (w2, s2, _) in zip(by_worker, by_worker[1:], strict=False):
        if w1 == w2 and s2 < e1:
            return f"worker {w1}: offline periods overlap (one ends at {e1}, next starts at {s2})"
    return None


@dataclass
class Schedule:
    """The offline periods of every worker for one seed."""

    config: AvailabilityConfig
    seed: int

    def periods(self, worker: int) -> Iterator[tuple[float, float]]:
        """Worker ``worker``'s offline periods ``(start, end)``, in time order (maybe endless)."""
        c = self.config
        if isinstance(c, OfflineIntervals):
            yield from sorted((p.start, p.end) for p in c.periods() if p.worker == worker)
            return
        if c.workers is not None and worker not in c.workers:
            return
        rng = np.random.default_rng([self.seed, AVAILABILITY_TAG, worker])
        t = 0.0
        while True:
            start = t + float(rng.exponential(c.mean_up))
            t = start + float(rng.exponential(c.mean_down))
            yield start, t
