"""Time complexities and exact round lengths (docs/methods.md, docs/timing.md).

The complexity formulas drop constants and logarithms, so only their *shape* over a swept
parameter is meaningful: compare them with measurements after normalising both (see
:func:`apga_sim.plots.theory`). ``h`` is the array of per-worker times (one gradient job, or one
environment step; the two differ by the constant horizon); the number of workers is ``n = len(h)``.
Where a formula uses sorted times ``h_(1) <= ... <= h_(n)``, the functions sort ``h`` themselves.

The exact round-length functions (:func:`rennala_round_time`, :func:`async_step_times`,
:func:`sync_round_time`) hold with fixed compute times and no communication (``u = v = 0``); the
simulator's tests check the engine against them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike


class Complexity(NamedTuple):
    """A time complexity split into its computation and communication parts."""

    computation: float
    communication: float

    @property
    def total(self) -> float:
        """Computation plus communication."""
        return self.computation + self.communication


def _times(h: ArrayLike) -> np.ndarray:
    """Per-worker times as a sorted float array, checked to be non-empty and positive."""
    times = np.sort(np.asarray(h, dtype=float).ravel())
    if times.size == 0 or not np.all(times > 0) or not np.all(np.isfinite(times)):
        raise ValueError("h must be a non-empty array of positive finite times")
    return times


def _harmonic_prefix(h: ArrayLike) -> np.ndarray:
    """``(1/m sum_{i<=m} 1/h_(i))^-1`` for ``m = 1..n`` (harmonic means of the m fastest)."""
    times = _times(h)
    m = np.arange(1, times.size + 1)
    return m / np.cumsum(1.0 / times)


def sync_pg(h: ArrayLike, eps: float, kappa: float = 0.0) -> Complexity:
    """Time of synchronous vanilla PG: ``(max h, kappa) * (eps^-2 + 1/(n eps^4))``."""
    times = _times(h)
    iterations = eps**-2 + 1.0 / (times.size * eps**4)
    return Complexity(times[-1] * iterations, kappa * iterations)


def sync_nigt(h: ArrayLike, eps: float, kappa: float = 0.0) -> Complexity:
    """Time of synchronous NIGT (lower bound): ``max h / (n eps^3.5)``, ``kappa eps^-3.5``."""
    times = _times(h)
    return Complexity(times[-1] / (times.size * eps**3.5), kappa * eps**-3.5)


def _rennala(h: ArrayLike, eps: float, kappa: float, power: float) -> Complexity:
    """``min_m hm_m (eps^-2 + 1/(m eps^power))`` and ``kappa eps^-2``.

    ``hm_m`` is the harmonic mean of the ``m`` smallest times.
    """
    hm = _harmonic_prefix(h)
    m = np.arange(1, hm.size + 1)
    return Complexity(float(np.min(hm * (eps**-2 + 1.0 / (m * eps**power)))), kappa * eps**-2)


def rennala_pg(h: ArrayLike, eps: float, kappa: float = 0.0) -> Complexity:
    """Time of Rennala PG: ``min_m hm_m (eps^-2 + 1/(m eps^4))`` and ``kappa eps^-2``."""
    return _rennala(h, eps, kappa, 4.0)


def afedpg(h: ArrayLike, eps: float, kappa: float = 0.0) -> Complexity:
    """Time of AFedPG: ``hm_n (n^(4/3) eps^(-7/3) + 1/(n eps^3.5))``, comm. ``>= kappa eps^-3``.

    ``hm_n`` is the harmonic mean of all times.
    """
    hm = _harmonic_prefix(h)
    n = hm.size
    computation = hm[-1] * (n ** (4 / 3) * eps ** (-7 / 3) + 1.0 / (n * eps**3.5))
    return Complexity(float(computation), kappa * eps**-3)


def rennala_nigt(h: ArrayLike, eps: float, kappa: float = 0.0) -> Complexity:
    """Time of Rennala NIGT: ``min_m hm_m (eps^-2 + 1/(m eps^3.5))`` and ``kappa eps^-2``."""
    return _rennala(h, eps, kappa, 3.5)


def malenia_nigt(h: ArrayLike, eps: float, kappa: float = 0.0) -> Complexity:
    """Time of Malenia NIGT: ``h_(n) eps^-2 + mean(h) / (n eps^3.5)`` and ``kappa eps^-2``."""
    times = _times(h)
    computation = times[-1] * eps**-2 + times.mean() / (times.size * eps**3.5)
    return Complexity(float(computation), kappa * eps**-2)


def comm_lower_bound(eps: float, kappa: float) -> float:
    """Lower bound on the communication time of any method: ``kappa eps^(-12/7)``."""
    return kappa * eps ** (-12 / 7)


def t_star(batch: float, h: ArrayLike) -> float:
    """Equilibrium time of one Rennala round: ``min_k max{h_(k), S (sum_{i<=k} 1/h_(i))^-1}``.

    Args:
        batch: The batch size ``S`` (``M`` in the aggregator's notation).
        h: Per-worker times.

    """
    times = _times(h)
    return float(np.min(np.maximum(times, batch / np.cumsum(1.0 / times))))


def async_step_times(h: ArrayLike, count: int) -> np.ndarray:
    """Return the ``count`` smallest elements of the multiset ``{k * h_i : k >= 1}``, sorted.

    These are the instants at which the asynchronous aggregator steps (``u = v = 0``). Each
    element is computed as the product ``k * h_i``; ties keep every copy.
    """
    if count < 1:
        raise ValueError("count must be >= 1")
    times = _times(h)
    heap = [(float(t), i, 1) for i, t in enumerate(times)]
    heapq.heapify(heap)
    steps = np.empty(count)
    for j in range(count):
        t, i, k = heapq.heappop(heap)
        steps[j] = t
        heapq.heappush(heap, ((k + 1) * times[i], i, k + 1))
    return steps


def rennala_round_time(batch: int, h: ArrayLike) -> float:
    """Exact length of one Rennala round (``u = v = 0``): the ``batch``-th smallest ``k * h_i``."""
    return float(async_step_times(h, batch)[-1])


def sync_round_time(b: int, h: ArrayLike) -> float:
    """Exact length of one Synchronous(b) round (``u = v = 0``): ``b * max_i h_i``."""
    return float(b * _times(h)[-1])


Formula = Callable[[ArrayLike, float, float], Complexity]

COMPLEXITY: dict[str, Formula] = {
    "sync_pg": sync_pg,
    "sync_nigt": sync_nigt,
    "rennala_pg": rennala_pg,
    "afedpg": afedpg,
    "rennala_nigt": rennala_nigt,
    "malenia_nigt": malenia_nigt,
}
"""Method name (as in scenario YAML) -> its time complexity ``f(h, eps, kappa)``."""
