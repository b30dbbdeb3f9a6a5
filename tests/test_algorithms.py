"""Optimizers and aggregators on the quadratic: hand computations and convergence."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_scenario, simulate

from apga_sim.algorithms.afedpg import AFedPG
from apga_sim.algorithms.malenia import Malenia
from apga_sim.algorithms.nigt import NIGT
from apga_sim.algorithms.sgd import SGD
from apga_sim.oracles.base import Job


def test_nigt_steps_match_hand_computation_in_2d():
    opt = NIGT(np.array([0.0, 0.0]), alpha=0.5, eta=0.25)
    assert opt.query().tolist() == [0.0, 0.0]
    opt.step(np.array([3.0, 4.0]))  # d0 = (3, 4), ||d0|| = 5
    assert opt.theta == pytest.approx([0.3, 0.4])
    # theta~_1 = theta_1 + (0.75 / 0.25) * (theta_1 - theta_0) = 4 * theta_1
    assert opt.query() == pytest.approx([1.2, 1.6])
    opt.step(np.array([-1.0, 0.0]))  # d1 = 0.75 * (3, 4) + 0.25 * (-1, 0) = (2, 3)
    assert opt.d == pytest.approx([2.0, 3.0])
    assert opt.theta == pytest.approx(np.array([0.3, 0.4]) + 0.5 * np.array([2, 3]) / np.sqrt(13))
    assert opt.version == 2


def test_nigt_skips_zero_direction():
    opt = NIGT(np.array([1.0, 2.0]), alpha=0.5, eta=0.5)
    assert opt.step(np.zeros(2)) is False
    assert opt.theta.tolist() == [1.0, 2.0]
    assert opt.version == 1


def test_afedpg_delay_adaptive_momentum():
    plain = AFedPG(np.zeros(2), alpha=1.0, eta=0.5)
    adaptive = AFedPG(np.zeros(2), alpha=1.0, eta=0.5, delay_adaptive=True)
    for opt in (plain, adaptive):
        opt.step(np.array([1.0, 0.0]))
        opt.step(np.array([0.0, 1.0]), delay=3)
    assert plain.d == pytest.approx([0.5, 0.5])
    assert adaptive.d == pytest.approx([1 - 0.125, 0.125])  # eta / (1 + 3) = 0.125


def test_sgd_step():
    opt = SGD(np.array([1.0, 1.0]), alpha=0.1)
    opt.step(np.array([2.0, -4.0]))
    assert opt.theta == pytest.approx([1.2, 0.6])


def test_malenia_weights_each_worker_equally():
    agg = Malenia(2, M=2, M_init=2)
    agg.begin_round()
    jobs = [Job(1, 0, np.zeros(1), 0), Job(1, 1, np.zeros(1), 0), Job(1, 2, np.zeros(1), 0)]
    for job in jobs:
        agg.add(job)
    assert not agg.done()  # worker 2 has no gradient yet
    agg.add(Job(2, 0, np.zeros(1), 0))
    assert agg.done()  # harmonic mean of (3, 1) = 1.5 >= M / n = 1
    _, w = agg.weights()
    assert w == pytest.approx([1 / 6, 1 / 6, 1 / 6, 1 / 2])


METHODS = [
    {"name": "rennala_nigt", "alpha": 0.1, "M": 6},
    {"name": "malenia_nigt", "alpha": 0.1, "M": 6},
    {"name": "sync_nigt", "alpha": 0.1, "M": 6},
    {"name": "afedpg", "alpha": 0.05},
    {"name": "rennala_pg", "alpha": 0.3, "M": 6},
    {"name": "malenia_pg", "alpha": 0.3, "M": 6},
    {"name": "sync_pg", "alpha": 0.3, "b": 2},
    {"name": "async_pg", "alpha": 0.05},
]


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m["name"])
def test_every_method_drives_the_quadratic_to_its_optimum(method):
    s = make_scenario(
        methods=[method],
        budget={"time": 600.0},
        oracle={
            "kind": "quadratic",
            "dim": 4,
            "sigma": 0.3,
            "init_distance": 5.0,
            "heterogeneity": 1.0 if "malenia" in method["name"] else 0.0,
        },
    )
    events, engine, oracle = simulate(s)
    start, end = oracle.value(oracle.initial_point()), oracle.value(engine.opt.theta)
    assert start == pytest.approx(-12.5)
    assert end > 0.02 * start  # at least 98% of the gap closed


def test_malenia_reaches_the_heterogeneous_optimum_where_rennala_is_biased():
    base = dict(
        n=2,
        h={"kind": "list", "values": [1.0, 10.0]},
        budget={"time": 2000.0},
        oracle={"kind": "quadratic", "dim": 2, "sigma": 0.0, "heterogeneity": 3.0},
    )
    ends = {}
    for name in ("malenia_pg", "rennala_pg"):
        s = make_scenario(**base, methods=[{"name": name, "alpha": 0.2, "M": 4}])
        _, engine, oracle = simulate(s)
        ends[name] = oracle.value(engine.opt.theta)
    assert ends["malenia_pg"] > -1e-6
    assert ends["rennala_pg"] < -0.1  # the fast worker's objective dominates Rennala's average
