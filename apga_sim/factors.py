"""Per-worker factors that multiply a time profile, optionally only for a while.

A profile's ``factors`` is a list of :class:`Factor` entries, or a CSV file (columns
``worker,factor`` and optionally ``start,end``; path relative to the scenario file). A job or
message of worker i that starts at simulated time t takes its profile time times the product of
the factors of every entry that names i (or names no worker) and whose ``[start, end)`` holds t.
So ``{workers: [8], factor: 10}`` makes worker 8 ten times slower throughout, and
``{workers: [3], factor: 4, start: 100, end: 200}`` is a straggler phase. Factors never draw
random numbers: random profiles keep their ``(seed, worker, job)`` draws.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, PositiveInt


class Factor(BaseModel):
    """Multiply some workers' times by ``factor`` during ``[start, end)`` of simulated time."""

    model_config = ConfigDict(extra="forbid")
    factor: PositiveFloat = Field(description="Multiplier of the profile's time.")
    workers: list[PositiveInt] | None = Field(
        None, description="Workers it applies to (default: every worker)."
    )
    start: NonNegativeFloat = Field(0.0, description="Simulated time it starts to apply.")
    end: PositiveFloat | None = Field(None, description="Simulated time it stops (default: never).")


def read_factors(path: Path) -> list[Factor]:
    """The factors of a CSV file: one row per worker, ``worker,factor[,start,end]``."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        Factor(
            factor=float(row["factor"]),
            workers=[int(row["worker"])],
            start=float(row.get("start") or 0.0),
            end=float(row["end"]) if row.get("end") else None,
        )
        for row in rows
    ]


def check_factors(factors: list[Factor], n: int) -> str | None:
    """Return why ``factors`` do not fit ``n`` workers, or ``None`` if they do."""
    for f in factors:
        if f.end is not None and f.end <= f.start:
            return f"factors: needs start < end (got [{f.start}, {f.end}))"
        bad = [w for w in f.workers or [] if w > n]
        if bad:
            return f"factors: workers {bad} do not exist (n = {n})"
    return None


class Factors:
    """The factors of one profile, per worker."""

    def __init__(self, factors: list[Factor], n: int) -> None:
        self.per_worker: list[list[Factor]] = [
            [f for f in factors if f.workers is None or i in f.workers] for i in range(1, n + 1)
        ]

    def at(self, worker: int, t: float) -> float:
        """The product of worker ``worker``'s factors in force at simulated time ``t``."""
        product = 1.0
        for f in self.per_worker[worker - 1]:
            if f.start <= t and (f.end is None or t < f.end):
                product *= f.factor
        return product
