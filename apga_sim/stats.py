"""Interval estimates over seeds: a stratified percentile bootstrap that respects censoring.

A run that never reaches the target has time-to-target ``inf``: it is censored at the budget
``B``, only known to exceed it. A median over seeds that falls on such a run is therefore only
known to lie in ``(B, inf)``, and every statistic built from medians is carried as a pair of
bounds ``(low, high)``: its least and its largest value over every way the censored medians could
lie in ``(B, inf)``. An uncensored statistic has ``low == high``.

Intervals come from :func:`scipy.stats.bootstrap` with several samples, one per stratum (a
method's seeds in one figure), each resampled on its own: a stratified bootstrap. rliable's
bootstrap is not used: it needs ``arch``, which does not import with the pandas this project pins.
The interval's lower end is the ``(1 - confidence) / 2`` quantile of the replicates' lower
bounds, its upper end the ``(1 + confidence) / 2`` quantile of their upper bounds (empirical
quantiles, no interpolation, so ``inf`` stays ``inf``). A replicate whose statistic is undefined
(NaN, e.g. the ratio of two censored medians) counts as ``0`` for the lower end and ``inf`` for
the upper end: every statistic bootstrapped here is non-negative and that one could be anything.
The generator is seeded, so intervals are identical from run to run.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import bootstrap as scipy_bootstrap

#: Lower and upper bound of a statistic (arrays over bootstrap replicates, or scalars).
Bounds = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Estimate:
    """A statistic's bounds on the full sample and its bootstrap interval."""

    low: float
    high: float
    ci_low: float
    ci_high: float

    @property
    def exact(self) -> bool:
        """Whether no censoring leaves the point estimate open (``low == high``)."""
        return self.low == self.high


def median_bounds(times: np.ndarray, budget: float, axis: int = -1) -> Bounds:
    """Bounds of the median time-to-target over seeds; NaN or ``inf`` means not reached.

    A median that falls on a run that did not reach the target (for an even count: touches one)
    is only known to exceed ``budget``: its bounds are ``(budget, inf)``.
    """
    median = np.median(np.where(np.isnan(times), np.inf, times), axis=axis)
    return np.where(np.isinf(median), budget, median), median


def constant(values: np.ndarray) -> Bounds:
    """An uncensored statistic as bounds (both equal)."""
    return values, values


def ratio(num: Bounds, den: Bounds) -> Bounds:
    """Bounds of ``num / den`` for non-negative ``num`` and ``den`` (``x / inf = 0``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(num[0], den[1]), np.divide(num[1], den[0])


def spread(r: Bounds) -> Bounds:
    """Bounds of ``max(r, 1 / r)``, how far a ratio ``r`` is from 1 either way."""
    with np.errstate(divide="ignore", invalid="ignore"):
        at_low, at_high = np.maximum(r[0], 1 / r[0]), np.maximum(r[1], 1 / r[1])
    straddles = (r[0] <= 1) & (r[1] >= 1)
    return np.where(straddles, 1.0, np.minimum(at_low, at_high)), np.maximum(at_low, at_high)


def lowest(parts: Sequence[Bounds]) -> Bounds:
    """Bounds of the minimum of several statistics (NaN if any is undefined)."""
    return np.minimum.reduce([p[0] for p in parts]), np.minimum.reduce([p[1] for p in parts])


def highest(parts: Sequence[Bounds]) -> Bounds:
    """Bounds of the maximum of several statistics (NaN if any is undefined)."""
    return np.maximum.reduce([p[0] for p in parts]), np.maximum.reduce([p[1] for p in parts])


def probability_of_improvement(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """``P(X > Y) + P(X = Y) / 2`` over all pairs of runs (rliable's, Mann-Whitney ``U / mn``)."""
    x, y = np.moveaxis(x, axis, -1)[..., :, None], np.moveaxis(y, axis, -1)[..., None, :]
    return (x > y).mean(axis=(-2, -1)) + 0.5 * (x == y).mean(axis=(-2, -1))


def bootstrap(
    samples: Sequence[np.ndarray],
    statistic: Callable[..., Bounds],
    confidence: float = 0.95,
    reps: int = 10_000,
    seed: int = 0,
) -> Estimate:
    """Bounds of ``statistic(*samples, axis=-1)`` and its stratified percentile interval.

    Args:
        samples: One array of per-seed values per stratum, resampled independently.
        statistic: Vectorised along ``axis``; returns ``(low, high)`` bounds.
        confidence: Coverage of the interval.
        reps: Bootstrap replicates.
        seed: Seed of the resampling generator.

    Returns:
        The estimate; its interval is NaN when a stratum has fewer than two seeds.

    """
    samples = [np.asarray(s, dtype=float) for s in samples]
    bounds = statistic(*samples, axis=-1)
    low, high = _defined(bounds[0], 0.0), _defined(bounds[1], np.inf)
    if min(s.size for s in samples) < 2:
        return Estimate(float(low), float(high), np.nan, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's own summary of inf replicates
        result = scipy_bootstrap(
            samples,
            lambda *s, axis: np.stack(statistic(*s, axis=axis)),
            n_resamples=reps,
            vectorized=True,
            method="percentile",
            confidence_level=confidence,
            rng=np.random.default_rng(seed),
        )
    lows, highs = result.bootstrap_distribution
    tail = (1 - confidence) / 2
    return Estimate(
        float(low),
        float(high),
        float(np.quantile(_defined(lows, 0.0), tail, method="inverted_cdf")),
        float(np.quantile(_defined(highs, np.inf), 1 - tail, method="inverted_cdf")),
    )


def _defined(values: np.ndarray, fill: float) -> np.ndarray:
    """``values`` with undefined (NaN) entries replaced by ``fill``."""
    return np.where(np.isnan(values), fill, np.asarray(values, dtype=float))
