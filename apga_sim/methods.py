"""The method table of docs/methods.md: each method is an aggregator x an optimizer.

A method's YAML entry is tagged by ``name``; its hyperparameters are validated here. To add a
method, write its aggregator or optimizer in ``apga_sim/algorithms/`` and add one model below.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal, Self, TypeVar, Union

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from apga_sim.algorithms.afedpg import AFedPG
from apga_sim.algorithms.asynchronous import Asynchronous
from apga_sim.algorithms.base import Aggregator, Optimizer
from apga_sim.algorithms.malenia import Malenia
from apga_sim.algorithms.nigt import NIGT
from apga_sim.algorithms.rennala import Rennala
from apga_sim.algorithms.sgd import SGD
from apga_sim.algorithms.synchronous import Synchronous

Power = Annotated[
    str,
    Field(
        pattern=r"^\s*[0-9.eE+-]+\s*\^\s*[0-9.eE+-]+\s*$",
        description='A power "base^exponent", e.g. 2^-3.',
    ),
]
#: What a scenario file may write for a list of grid values (numbers or powers like ``2^-3``).
GridValues = Annotated[list[float | Power], Field(min_length=1)]


class Grid(BaseModel):
    """Values to try for a hyperparameter: ``{grid: [2^-10, 2^-9, ..., 0.5]}``.

    ``apga-sim run`` runs every value as its own entry; ``apga-sim tune`` picks the best one.
    """

    model_config = ConfigDict(extra="forbid")
    grid: list[float] = Field(
        min_length=1, description="Values to try: numbers or powers such as 2^-5."
    )

    @field_validator("grid", mode="before", json_schema_input_type=GridValues)
    @classmethod
    def _powers(cls, values: list) -> list:
        """Accept ``"2^-3"``-style strings."""
        out = []
        for v in values if isinstance(values, list) else [values]:
            if isinstance(v, str) and "^" in v:
                base, exp = v.split("^", 1)
                try:
                    v = float(base) ** float(exp)
                except (ValueError, OverflowError, ZeroDivisionError):
                    raise ValueError(f"{v!r} is not a finite number or a power like 2^-3") from None
            out.append(v)
        return out


TUNABLE = ("alpha", "eta", "M")

_T = TypeVar("_T")


def _value(v: _T | Grid) -> _T:
    """A hyperparameter's value; entries are built after :meth:`_Method.expand` removed grids."""
    if isinstance(v, Grid):
        raise TypeError(f"a grid {v.grid} cannot be built; expand() the method entry first")
    return v


class _Method(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rounds: ClassVar[bool] = True
    """Whether the method's aggregator works in rounds (False: asynchronous)."""
    name: str  # each registered method narrows it to its own Literal
    label: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-\[\]=,+]*$",
        description="Name of this entry in traces, folders and plots (default: the method name).",
    )
    alpha: PositiveFloat | Grid = Field(description="Step length (NIGT) or step size (SGD).")

    @property
    def display(self) -> str:
        """The label used for directories, tables and plots."""
        return self.label or self.name

    def grids(self) -> dict[str, list[float]]:
        """The hyperparameters given as grids, with their values."""
        return {k: v.grid for k in TUNABLE if isinstance(v := getattr(self, k, None), Grid)}

    def expand(self) -> list[Self]:
        """Concrete entries, one per combination of grid values, labelled ``name[alpha=0.1]``."""
        grids = self.grids()
        if not grids:
            return [self]
        entries: list[Self] = []
        for combo in itertools.product(*grids.values()):
            values = dict(zip(grids, combo, strict=True))
            tag = ",".join(f"{k}={v!r}" for k, v in values.items())
            data = self.model_dump() | values | {"label": f"{self.display}[{tag}]"}
            entries.append(type(self).model_validate(data))
        return entries

    def build(self, n: int, theta0: np.ndarray) -> tuple[Aggregator, Optimizer]:
        """Create a fresh aggregator and optimizer for ``n`` workers starting at ``theta0``."""
        return self.aggregator(n), self.optimizer(theta0)

    def aggregator(self, n: int) -> Aggregator:  # noqa: D102
        raise NotImplementedError

    def optimizer(self, theta0: np.ndarray) -> Optimizer:  # noqa: D102
        raise NotImplementedError


class _Momentum(_Method):
    eta: Annotated[float, Field(gt=0, le=1)] | Grid = Field(
        0.1, description="Momentum weight on the new gradient."
    )

    def optimizer(self, theta0: np.ndarray) -> Optimizer:  # noqa: D102
        return NIGT(theta0, alpha=_value(self.alpha), eta=_value(self.eta))


class _Plain(_Method):
    def optimizer(self, theta0: np.ndarray) -> Optimizer:  # noqa: D102
        return SGD(theta0, alpha=_value(self.alpha))


class _Batched(_Method):
    M: PositiveInt | Grid = Field(description="Gradients per round.")
    M_init: PositiveInt | None = Field(None, description="First-round gradients (default M).")
    on_stop: Literal["cancel", "ignore"] = Field(
        "cancel",
        description="Work in progress at the stop instant: cancel it, or let it finish "
        "and discard it (docs/timing.md).",
    )


class _RennalaAgg(_Batched):
    def aggregator(self, n: int) -> Aggregator:  # noqa: D102
        M = _value(self.M)
        return Rennala(n, M=M, M_init=self.M_init or M, on_stop=self.on_stop)


class _MaleniaAgg(_Batched):
    def aggregator(self, n: int) -> Aggregator:  # noqa: D102
        M = _value(self.M)
        return Malenia(n, M=M, M_init=self.M_init or M, on_stop=self.on_stop)


class _SyncAgg(_Method):
    M: PositiveInt | Grid | None = Field(
        None, description="Target batch; b defaults to ceil(M / n)."
    )
    b: PositiveInt | None = Field(None, description="Gradients per worker per round.")

    @model_validator(mode="after")
    def _b_or_m(self) -> _SyncAgg:
        if self.b is None and self.M is None:
            raise ValueError("give b (gradients per worker) or M (b = ceil(M / n))")
        return self

    def aggregator(self, n: int) -> Aggregator:  # noqa: D102
        if self.b is not None:
            return Synchronous(n, b=self.b)
        M = _value(self.M)
        assert M is not None  # the validator asks for b or M
        return Synchronous(n, b=math.ceil(M / n))


class _AsyncAgg(_Method):
    rounds: ClassVar[bool] = False

    def aggregator(self, n: int) -> Aggregator:  # noqa: D102
        return Asynchronous(n)


class RennalaNIGT(_RennalaAgg, _Momentum):
    """Rennala(M, M_init) x NIGT: the paper's method, homogeneous setting."""

    name: Literal["rennala_nigt"]


class MaleniaNIGT(_MaleniaAgg, _Momentum):
    """Malenia(M, M_init) x NIGT: the paper's method, heterogeneous setting."""

    name: Literal["malenia_nigt"]


class SyncNIGT(_SyncAgg, _Momentum):
    """Synchronous(b) x NIGT: the paper's "Synchronized NIGT" baseline."""

    name: Literal["sync_nigt"]


class AFedPGMethod(_AsyncAgg, _Momentum):
    """Asynchronous x NIGT-style server update (Lan et al. 2025), with ``delay_adaptive``."""

    name: Literal["afedpg"]
    delay_adaptive: bool = Field(False, description="Use eta / (1 + delay) in the momentum.")

    def optimizer(self, theta0: np.ndarray) -> Optimizer:  # noqa: D102
        return AFedPG(
            theta0,
            alpha=_value(self.alpha),
            eta=_value(self.eta),
            delay_adaptive=self.delay_adaptive,
        )


class RennalaPG(_RennalaAgg, _Plain):
    """Rennala(M) x SGD (Rennala PG)."""

    name: Literal["rennala_pg"]


class MaleniaPG(_MaleniaAgg, _Plain):
    """Malenia(M) x SGD."""

    name: Literal["malenia_pg"]


class SyncPG(_SyncAgg, _Plain):
    """Synchronous(b) x SGD (synchronous vanilla PG)."""

    name: Literal["sync_pg"]


class AsyncPG(_AsyncAgg, _Plain):
    """Asynchronous x SGD (asynchronous SGD)."""

    name: Literal["async_pg"]


REGISTERED: tuple[type[_Method], ...] = (  # a new method: its class above, one line here
    RennalaNIGT,
    MaleniaNIGT,
    SyncNIGT,
    AFedPGMethod,
    RennalaPG,
    MaleniaPG,
    SyncPG,
    AsyncPG,
)
METHODS: dict[str, type[_Method]] = {
    cls.model_fields["name"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in REGISTERED
}

if TYPE_CHECKING:
    MethodConfig = _Method
else:  # the scenario's `methods` entries: the registered classes, told apart by `name`
    MethodConfig = Annotated[Union[REGISTERED], Field(discriminator="name")]  # noqa: UP007
