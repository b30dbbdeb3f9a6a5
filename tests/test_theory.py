import math

import numpy as np
import pytest
from conftest import make_scenario, simulate

from apga_sim import theory

R2 = math.sqrt(2.0)


def test_rennala_round_time_is_mth_smallest_multiple():
    # {k * h_i} for h = (1, 2): 1, 2, 2, 3, 4, 4, 5, 6, 6, ...
    assert theory.rennala_round_time(1, [1, 2]) == 1
    assert theory.rennala_round_time(3, [1, 2]) == 2
    assert theory.rennala_round_time(4, [1, 2]) == 3
    assert theory.rennala_round_time(6, [2, 1]) == 4
    assert theory.rennala_round_time(7, [1, 2]) == 5


def test_async_step_times_keeps_ties_and_order():
    np.testing.assert_array_equal(theory.async_step_times([2, 1], 6), [1, 2, 2, 3, 4, 4])
    np.testing.assert_allclose(theory.async_step_times([1.5, 4], 5), [1.5, 3, 4, 4.5, 6])
    with pytest.raises(ValueError):
        theory.async_step_times([1], 0)


def test_sync_round_time():
    assert theory.sync_round_time(3, [1, 4, 2]) == 12
    assert theory.sync_round_time(1, [0.5]) == 0.5


def test_t_star_by_hand():
    # sorted h = 1, 2, 4; prefix sums of 1/h: 1, 1.5, 1.75
    # S = 3: k=1 max(1, 3) = 3; k=2 max(2, 2) = 2; k=3 max(4, 1.71) = 4 -> 2
    assert theory.t_star(3, [4, 1, 2]) == 2
    # S = 1: k=1 max(1, 1) = 1
    assert theory.t_star(1, [4, 1, 2]) == 1
    # S = 10: k=1 10; k=2 max(2, 6.67); k=3 max(4, 10/1.75 = 5.714...) -> 40/7
    assert theory.t_star(10, [1, 2, 4]) == pytest.approx(40 / 7)


def test_t_star_within_factor_two_of_exact_round():
    rng = np.random.default_rng(0)
    for _ in range(300):
        h = rng.lognormal(0.0, 1.0, rng.integers(1, 8))
        batch = int(rng.integers(1, 40))
        exact, star = theory.rennala_round_time(batch, h), theory.t_star(batch, h)
        assert star <= exact * (1 + 1e-12)
        assert exact <= 2 * star


def test_sync_pg_by_hand():
    # eps = 1/2: eps^-2 = 4, 1/(n eps^4) = 16/2 = 8 -> 12 iterations
    c = theory.sync_pg([1, 2], 0.5, kappa=3)
    assert c == (24, 36)
    assert c.total == 60


def test_sync_nigt_by_hand():
    # eps^-3.5 = 2^3.5 = 8 sqrt(2)
    c = theory.sync_nigt([2, 1], 0.5, kappa=3)
    assert c.computation == pytest.approx(2 * 8 * R2 / 2)
    assert c.communication == pytest.approx(3 * 8 * R2)


def test_rennala_pg_takes_best_prefix():
    # harmonic means of the m fastest of (1, 3): 1, 2 / (1 + 1/3) = 1.5
    # m=1: 1 * (4 + 16) = 20; m=2: 1.5 * (4 + 8) = 18
    assert theory.rennala_pg([3, 1], 0.5, kappa=2) == (18, 8)
    # m=2 harmonic mean 2 / 1.01; 1.9802 * 12 = 23.76 > m=1 value 20
    assert theory.rennala_pg([1, 100], 0.5).computation == 20


def test_rennala_nigt_takes_best_prefix():
    # m=1: 4 + 8 sqrt2 = 15.31; m=2: 1.5 * (4 + 4 sqrt2) = 6 + 6 sqrt2 = 14.49
    c = theory.rennala_nigt([1, 3], 0.5, kappa=2)
    assert c.computation == pytest.approx(6 + 6 * R2)
    assert c.communication == 8
    assert theory.rennala_nigt([1, 100], 0.5).computation == pytest.approx(4 + 8 * R2)


def test_afedpg_by_hand():
    # harmonic mean 1.5; n^(4/3) eps^(-7/3) = 2^(11/3); 1/(n eps^3.5) = 2^2.5
    c = theory.afedpg([3, 1], 0.5, kappa=2)
    assert c.computation == pytest.approx(1.5 * (2 ** (11 / 3) + 2**2.5))
    assert c.communication == 16


def test_malenia_nigt_by_hand():
    # h_(n) eps^-2 = 3 * 4; mean(h) / (n eps^3.5) = 2 / 2 * 8 sqrt2
    c = theory.malenia_nigt([3, 1], 0.5, kappa=2)
    assert c.computation == pytest.approx(12 + 8 * R2)
    assert c.communication == 8


def test_comm_lower_bound():
    assert theory.comm_lower_bound(0.5, 2) == pytest.approx(2 * 2 ** (12 / 7))


def test_registry_covers_the_table():
    assert set(theory.COMPLEXITY) == {
        "sync_pg",
        "sync_nigt",
        "rennala_pg",
        "afedpg",
        "rennala_nigt",
        "malenia_nigt",
    }
    for formula in theory.COMPLEXITY.values():
        c = formula(np.sqrt(np.arange(1, 11)), 0.1, 1.0)
        assert isinstance(c, theory.Complexity)
        assert c.computation > 0 and c.communication > 0


@pytest.mark.parametrize("h", [[], [1, 0], [1, -2], [1, np.inf]])
def test_invalid_times(h):
    with pytest.raises(ValueError):
        theory.sync_pg(h, 0.5)


H = [1.0, 1.5, 2.7, 4.0]


def engine_update_times(method, updates, **params):
    scenario = make_scenario(
        n=len(H),
        h={"kind": "list", "values": H},
        methods=[{"name": method, "alpha": 0.1, **params}],
        budget={"updates": updates},
    )
    events, _, _ = simulate(scenario)
    return events.loc[events["kind"] == "update", "time"].to_numpy()


@pytest.mark.parametrize("batch", [1, 4, 7])
def test_engine_rennala_rounds_match(batch):
    rounds = np.diff(engine_update_times("rennala_pg", 4, M=batch), prepend=0.0)
    assert rounds == pytest.approx([theory.rennala_round_time(batch, H)] * 4, rel=1e-12)


def test_engine_sync_rounds_match():
    rounds = np.diff(engine_update_times("sync_pg", 3, b=2), prepend=0.0)
    assert rounds == pytest.approx([theory.sync_round_time(2, H)] * 3, rel=1e-12)


def test_engine_async_steps_match():
    steps = engine_update_times("async_pg", 12)
    assert steps == pytest.approx(theory.async_step_times(H, 12), rel=1e-12)
