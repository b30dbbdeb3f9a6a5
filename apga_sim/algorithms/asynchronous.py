"""Asynchronous: no rounds; every arriving gradient (possibly stale) triggers one step at once."""

from __future__ import annotations

from apga_sim.algorithms.base import Aggregator


class Asynchronous(Aggregator):
    """The asynchronous aggregator: the engine applies each gradient on arrival."""

    rounds = False
