"""Simulated times against the closed forms of docs/timing.md, exactly."""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest
from conftest import make_scenario, simulate, update_times

from apga_sim.engine import Evaluator
from apga_sim.oracles.quadratic import QuadraticOracle
from apga_sim.runner import build_engine
from apga_sim.trace import Recorder

H = [1.0, 1.5, 2.7, 4.0]


def kth_smallest_multiple(m: int, h: list[float]) -> float:
    """The m-th smallest value of the multiset {k * h_i : k >= 1}."""
    return sorted(k * hi for hi in h for k in range(1, m + 1))[m - 1]


def multiples(count: int, h: list[float]) -> list[float]:
    return heapq.nsmallest(count, (k * hi for hi in h for k in range(1, count + 1)))


@pytest.mark.parametrize("M", [1, 3, 4, 7, 12])
def test_rennala_rounds_are_mth_smallest_multiple(M):
    s = make_scenario(
        n=4,
        h={"kind": "list", "values": H},
        methods=[{"name": "rennala_nigt", "alpha": 0.1, "M": M}],
        budget={"updates": 6},
    )
    events, engine, _ = simulate(s)
    L = kth_smallest_multiple(M, H)
    assert update_times(events).tolist() == pytest.approx(
        [L * k for k in range(1, 7)], abs=0, rel=1e-12
    )
    assert engine.counters.gradients_consumed == 6 * M


def test_rennala_first_round_uses_m_init():
    s = make_scenario(
        n=4,
        h={"kind": "list", "values": H},
        methods=[{"name": "rennala_pg", "alpha": 0.1, "M": 3, "M_init": 9}],
        budget={"updates": 3},
    )
    events, _, _ = simulate(s)
    first, rest = kth_smallest_multiple(9, H), kth_smallest_multiple(3, H)
    assert update_times(events) == pytest.approx([first, first + rest, first + 2 * rest])
    grads = events.loc[events.kind == "update", "gradients"].tolist()
    assert grads == [9, 3, 3]


@pytest.mark.parametrize("b", [1, 2, 5])
def test_synchronous_rounds_take_b_max_h(b):
    s = make_scenario(
        n=4,
        h={"kind": "list", "values": H},
        methods=[{"name": "sync_nigt", "alpha": 0.1, "b": b}],
        budget={"updates": 4},
    )
    events, engine, _ = simulate(s)
    assert update_times(events) == pytest.approx([b * max(H) * k for k in range(1, 5)])
    assert engine.counters.jobs_cancelled == 0
    assert engine.counters.gradients_consumed == 4 * 4 * b


def test_sync_b_defaults_to_ceil_m_over_n():
    s = make_scenario(
        n=4,
        h={"kind": "list", "values": H},
        methods=[{"name": "sync_pg", "alpha": 0.1, "M": 10}],
        budget={"updates": 1},
    )
    events, _, _ = simulate(s)
    assert update_times(events).tolist() == [math.ceil(10 / 4) * max(H)]


@pytest.mark.parametrize("name", ["afedpg", "async_pg"])
def test_asynchronous_steps_at_every_multiple(name):
    s = make_scenario(
        n=4,
        h={"kind": "list", "values": H},
        methods=[{"name": name, "alpha": 0.1}],
        budget={"updates": 25},
    )
    events, _, _ = simulate(s)
    assert update_times(events) == pytest.approx(multiples(25, H))


def test_asynchronous_ties_in_worker_order():
    s = make_scenario(
        n=2,
        h={"kind": "list", "values": [1.0, 2.0]},
        methods=[{"name": "async_pg", "alpha": 0.1}],
        budget={"updates": 6},
    )
    events, _, _ = simulate(s)
    ends = events[events.kind == "compute_end"]
    assert list(zip(ends.time, ends.worker, strict=True))[:6] == [
        (1.0, 1),
        (2.0, 1),
        (2.0, 2),
        (3.0, 1),
        (4.0, 1),
        (4.0, 2),
    ]
    ups = events[events.kind == "update"]
    # worker 2's first gradient (version 0) arrives after worker 1's two updates
    assert ups.staleness.tolist() == [0, 0, 2, 1, 0, 2]


def malenia_round(M: int, h: list[float]) -> float:
    n = len(h)
    for t in sorted({k * hi for hi in h for k in range(1, 200)}):
        counts = [math.floor(t / hi + 1e-12) for hi in h]
        if min(counts) >= 1 and n / sum(1 / c for c in counts) >= M / n:
            return t
    raise AssertionError


@pytest.mark.parametrize("M", [4, 6, 11, 20])
def test_malenia_round_ends_at_first_instant_harmonic_rule_holds(M):
    s = make_scenario(
        n=4,
        h={"kind": "list", "values": H},
        oracle={"kind": "quadratic", "dim": 4, "heterogeneity": 1.0},
        methods=[{"name": "malenia_nigt", "alpha": 0.1, "M": M}],
        budget={"updates": 3},
    )
    events, _, _ = simulate(s)
    L = malenia_round(M, H)
    assert update_times(events) == pytest.approx([L, 2 * L, 3 * L])


COMM = {
    "h": {"kind": "list", "values": [1.0, 2.0]},
    "n": 2,
    "v": {"kind": "list", "values": [0.5, 1.0]},
    "u": {"kind": "list", "values": [0.25, 0.5]},
}


def test_rennala_server_mode_with_communication():
    # Round 0: w1 gets the point at 0.5 and finishes at 1.5, 2.5; w2 gets it at 1.0, finishes
    # at 3.0 -> M = 3 reached at 3.0; w1's job (from 2.5) is cancelled; uploads arrive at
    # 3.25 and 3.5 -> update at 3.5. Round 1 is the same, shifted by 3.5.
    s = make_scenario(
        **COMM, methods=[{"name": "rennala_nigt", "alpha": 0.1, "M": 3}], budget={"updates": 2}
    )
    events, engine, _ = simulate(s)
    assert update_times(events).tolist() == [3.5, 7.0]
    cancels = events[events.kind == "compute_cancel"]
    assert list(zip(cancels.time, cancels.worker, strict=True)) == [(3.0, 1), (6.5, 1)]
    ups = events[events.kind == "upload_end"]
    assert list(zip(ups.time, ups.worker, strict=True)) == [
        (3.25, 1),
        (3.5, 2),
        (6.75, 1),
        (7.0, 2),
    ]
    assert engine.counters.jobs_cancelled == 2


def test_sync_server_mode_with_communication():
    # b = 1: w1 finishes at 1.5, its upload arrives at 1.75; w2 finishes at 3.0, arrives 3.5.
    s = make_scenario(
        **COMM, methods=[{"name": "sync_nigt", "alpha": 0.1, "b": 1}], budget={"updates": 2}
    )
    events, _, _ = simulate(s)
    assert update_times(events).tolist() == [3.5, 7.0]
    ups = events[events.kind == "upload_end"]
    assert ups.time.tolist() == [1.75, 3.5, 5.25, 7.0]


def test_async_server_mode_with_communication():
    # w1 cycle: download 0.5 + compute 1 + upload 0.25 = 1.75; w2: 1 + 2 + 0.5 = 3.5.
    s = make_scenario(**COMM, methods=[{"name": "afedpg", "alpha": 0.1}], budget={"updates": 6})
    events, _, _ = simulate(s)
    assert update_times(events).tolist() == [1.75, 3.5, 3.5, 5.25, 7.0, 7.0]
    ups = events[events.kind == "update"]
    assert ups.staleness.tolist() == [0, 0, 2, 1, 0, 2]


@pytest.mark.parametrize(
    ("cost", "t_ar"),
    [({"kind": "constant", "value": 0.4}, 0.4), ({"kind": "twice_max_upload"}, 1.0)],
)
def test_rennala_allreduce_mode(cost, t_ar):
    # No broadcast: both start at 0; w1 finishes at 1, 2; w2 at 2 -> stop at 2 (tie, worker
    # order: w1 then w2 makes M = 3), AllReduce takes t_ar, next round starts at 2 + t_ar.
    s = make_scenario(
        **COMM,
        aggregation={"mode": "allreduce", "allreduce": cost},
        methods=[{"name": "rennala_nigt", "alpha": 0.1, "M": 3}],
        budget={"updates": 2},
    )
    events, _, _ = simulate(s)
    assert update_times(events) == pytest.approx([2 + t_ar, 2 * (2 + t_ar)])
    assert not (events.kind.str.startswith("upload") | events.kind.str.startswith("download")).any()
    ar = events[events.kind == "allreduce_start"]
    assert ar.worker.tolist() == [1, 2, 1, 2]


def test_ring_allreduce_cost():
    s = make_scenario(
        **COMM,
        aggregation={
            "mode": "allreduce",
            "allreduce": {"kind": "ring", "latency": 0.01, "bandwidth": 1000.0},
        },
        methods=[{"name": "sync_pg", "alpha": 0.1, "b": 1}],
        budget={"updates": 1},
    )
    events, _, oracle = simulate(s)
    t_ar = 2 * 1 / 2 * 4 * oracle.dim / 1000.0 + 2 * 1 * 0.01
    assert update_times(events) == pytest.approx([2.0 + t_ar])


def test_on_stop_ignore_discards_and_restarts_at_newest_point():
    # h = [1, 3], M = 2: w1 finishes at 1 and 2 -> stop at 2; w2 (busy until 3) is not
    # interrupted: its job ends at 3 as compute_discard and it restarts at 3 at version 1.
    s = make_scenario(
        n=2,
        h={"kind": "list", "values": [1.0, 3.0]},
        methods=[{"name": "rennala_nigt", "alpha": 0.1, "M": 2, "on_stop": "ignore"}],
        budget={"updates": 2},
    )
    events, engine, oracle = simulate(s)
    assert update_times(events).tolist() == [2.0, 4.0]
    disc = events[events.kind == "compute_discard"]
    assert list(zip(disc.time, disc.worker, disc.version, strict=True))[0] == (3.0, 2, 0)
    w2 = events[(events.worker == 2) & (events.kind == "compute_start")]
    assert list(zip(w2.time, w2.version, strict=True))[:2] == [(0.0, 0), (3.0, 1)]
    assert all(key[0] == 1 for key in oracle.call_log)  # w2's discarded work never computed
    assert engine.counters.jobs_discarded >= 1


def test_per_step_charge_multiplies_by_trajectory_length():
    s = make_scenario(
        n=2,
        h={"kind": "list", "values": [1.0, 2.0]},
        charge="per_step",
        oracle={"kind": "quadratic", "dim": 3, "steps_per_job": 5},
        methods=[{"name": "sync_pg", "alpha": 0.1, "b": 1}],
        budget={"updates": 2},
    )
    events, _, _ = simulate(s)
    assert update_times(events).tolist() == [10.0, 20.0]


def test_time_budget_stops_the_clock():
    s = make_scenario(budget={"time": 10.0})
    events, engine, _ = simulate(s)
    assert engine.env.now == 10.0
    assert events.time.max() <= 10.0


def test_an_interrupted_run_stops_at_once_without_a_last_measurement():
    """Ctrl-C (or SIGTERM) during update 3 of Rennala (h = 1, 1.5, 2.7, 4; M = 3: a round
    every 2 s) stops the clock at that update's time, 6, and measures nothing more: a last
    measurement would roll out again on rollout processes the interrupt has just ended. A run
    that spends its budget ends with one (at 10, where the clock stops)."""
    s = make_scenario(
        n=4,
        h={"kind": "list", "values": H},
        methods=[{"name": "rennala_nigt", "alpha": 0.1, "M": 3}],
        budget={"time": 10.0},
    )

    def measure(theta: np.ndarray) -> dict[str, float]:
        return {"return_mean": float(theta.sum())}

    def stop_at_third(engine) -> None:
        if engine.counters.updates == 3:
            raise KeyboardInterrupt

    for hook, ends in ((stop_at_third, [0.0]), (None, [0.0, 10.0])):
        oracle = QuadraticOracle(s.oracle, s.n, 0)
        rec = Recorder()
        engine = build_engine(s, s.methods[0], 0, oracle, rec, Evaluator(measure))
        engine.on_update = hook
        if hook is None:
            engine.run()
        else:
            with pytest.raises(KeyboardInterrupt):
                engine.run()
            assert engine.counters.sim_time == 3 * kth_smallest_multiple(3, H) == 6.0
        assert [row["time"] for row in rec.evals] == ends


def test_random_per_job_times_are_keyed_by_worker_and_job():
    s = make_scenario(
        n=2,
        h={"kind": "random", "dist": "exponential", "per": "job"},
        methods=[{"name": "async_pg", "alpha": 0.1}],
        budget={"updates": 20},
    )
    e1, _, _ = simulate(s)
    e2, _, _ = simulate(s)
    assert e1.equals(e2)
    starts = e1[e1.kind == "compute_start"].set_index(["worker", "job"]).time
    ends = e1[e1.kind == "compute_end"].set_index(["worker", "job"]).time
    dur = (ends - starts.loc[ends.index]).to_numpy()
    assert len(set(np.round(dur, 12))) == len(dur)  # every job drew its own time


def test_trace_file_and_link_profiles(tmp_path):
    from apga_sim.scenario import load_scenario

    (tmp_path / "h.csv").write_text("worker,job,time\n1,0,1.0\n1,1,3.0\n2,0,2.0\n")
    (tmp_path / "s.yaml").write_text(
        "n: 2\noracle: {kind: quadratic, dim: 8}\nh: {kind: trace, path: h.csv}\n"
        "u: {kind: link, latency: 0.5, bandwidth: 64.0}\n"
        "methods: [{name: async_pg, alpha: 0.1}]\nbudget: {updates: 3}\n"
    )
    s = load_scenario(tmp_path / "s.yaml")  # the path is relative to the scenario file
    events, _, _ = simulate(s)
    comm = 0.5 + 4 * 8 / 64.0  # latency + bytes / bandwidth = 1.0
    # w1: job 0 takes 1 -> arrives 2; job 1 takes 3 -> arrives 6; w2: job 0 takes 2 -> arrives 3
    assert update_times(events).tolist() == [1 + comm, 2 + comm, 1 + comm + 3 + comm]


def test_random_per_worker_times_are_fixed_per_worker():
    s = make_scenario(
        n=3,
        h={"kind": "random", "dist": "uniform", "low": 1.0, "high": 2.0},
        methods=[{"name": "sync_pg", "alpha": 0.1, "b": 1}],
        budget={"updates": 3},
    )
    events, engine, _ = simulate(s)
    h = engine.c.h.nominal()
    assert np.all((h >= 1.0) & (h <= 2.0)) and len(set(h)) == 3
    assert update_times(events) == pytest.approx([max(h), 2 * max(h), 3 * max(h)])


def test_async_methods_use_the_server_even_in_allreduce_mode():
    server, allreduce = (
        simulate(
            make_scenario(
                **COMM,
                aggregation={"mode": mode},
                methods=[{"name": "afedpg", "alpha": 0.1}],
                budget={"updates": 6},
            )
        )[0]
        for mode in ("server", "allreduce")
    )
    assert update_times(allreduce).tolist() == update_times(server).tolist()


def test_malenia_rule_holds_at_exact_equality():
    # n = 3, h = 1: after 5 completions each, (3 / (3/5)) = 5 = M / n exactly -> stop at t = 5.
    s = make_scenario(
        h={"kind": "equal"},
        methods=[{"name": "malenia_nigt", "alpha": 0.1, "M": 15}],
        budget={"updates": 1},
    )
    events, engine, _ = simulate(s)
    assert update_times(events).tolist() == [5.0]
    assert engine.counters.gradients_consumed == 15


def test_simultaneous_async_arrivals_are_applied_in_worker_order():
    # w1: download 1, compute 1, upload 0 -> arrives at 2; w2: compute 0.5, upload 1.5 -> 2.
    s = make_scenario(
        n=2,
        h={"kind": "list", "values": [1.0, 0.5]},
        u={"kind": "list", "values": [0.0, 1.5]},
        v={"kind": "list", "values": [1.0, 0.0]},
        methods=[{"name": "async_pg", "alpha": 0.1}],
        budget={"updates": 2},
    )
    events, _, _ = simulate(s)
    ups = events[events.kind == "update"]
    assert ups.time.tolist() == [2.0, 2.0]
    assert ups.staleness.tolist() == [0, 1]  # w1's gradient (version 0) first, then w2's


def test_per_message_times_count_uploads_and_downloads_apart(tmp_path):
    from apga_sim.scenario import load_scenario

    (tmp_path / "u.csv").write_text("worker,job,time\n1,0,1\n1,1,2\n1,2,3\n1,3,4\n")
    (tmp_path / "s.yaml").write_text(
        "n: 1\noracle: {kind: quadratic, dim: 2}\nh: {kind: equal}\n"
        "u: {kind: trace, path: u.csv}\nv: {kind: equal, scale: 0.5}\n"
        "methods: [{name: async_pg, alpha: 0.1}]\nbudget: {updates: 3}\n"
    )
    events, _, _ = simulate(load_scenario(tmp_path / "s.yaml"))
    starts = events[events.kind == "upload_start"].time.to_numpy()
    ends = events[events.kind == "upload_end"].time.to_numpy()
    assert (ends - starts).tolist() == [1.0, 2.0, 3.0]


def test_ties_are_exact_despite_floating_point_sums():
    # Ten jobs of 0.1 end at 1.0 exactly, tying with worker 1's first job: worker order decides.
    s = make_scenario(
        n=2,
        h={"kind": "list", "values": [1.0, 0.1]},
        methods=[{"name": "rennala_pg", "alpha": 0.1, "M": 10}],
        budget={"updates": 1},
    )
    events, engine, _ = simulate(s)
    assert update_times(events).tolist() == [1.0]
    ends = events[events.kind == "compute_end"]
    assert ends.worker.value_counts().to_dict() == {2: 9, 1: 1}


def test_allreduce_mode_ignores_server_time():
    s = make_scenario(
        **COMM,
        aggregation={
            "mode": "allreduce",
            "server_time": 0.5,
            "allreduce": {"kind": "constant", "value": 0.4},
        },
        methods=[{"name": "rennala_nigt", "alpha": 0.1, "M": 3}],
        budget={"updates": 1},
    )
    events, _, _ = simulate(s)
    assert update_times(events).tolist() == [2.4]
