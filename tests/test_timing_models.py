"""Streaming uploads, overlap, availability and time factors against hand-computed times."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_scenario, simulate, update_times

from apga_sim.scenario import ScenarioError, load_scenario

STREAM = {
    "n": 4,
    "h": {"kind": "list", "values": [1.0, 2.0, 3.0, 4.0]},
    "u": {"kind": "list", "values": [0.5, 1.0, 5.0, 10.0]},
    "methods": [{"name": "rennala_nigt", "alpha": 0.1, "M": 6}],
    "budget": {"updates": 4},
}


def test_stream_with_overlap_ends_rounds_at_the_mth_arrival():
    # Worker i computes without pause (job k ends at k h_i) and uploads each gradient at once,
    # arriving at k h_i + u_i: w1 1.5, 2.5, 3.5, 4.5, 5.5; w2 3, 5; w3 8; w4 14. The 6th arrival
    # is w2's at 5 (w1's 5th job also ends at 5, the instant the round ends: its gradient is
    # dropped before it is sent). At 5 every job in progress is cancelled and the new point is
    # at every worker (v = 0), so each round repeats the first, shifted by 5. w3's upload from
    # 8 arrives at 13, after the round ending at 10; w4's second upload waits behind its first
    # (link busy until 14) and is dropped unsent: its round ended at 10.
    stream = {"mode": "stream", "overlap": True}
    events, engine, _ = simulate(make_scenario(**STREAM, aggregation=stream))
    assert update_times(events).tolist() == [5.0, 10.0, 15.0, 20.0]
    assert events.loc[events.kind == "update", "gradients"].tolist() == [6] * 4
    late = events[events.kind == "upload_discard"]
    assert list(zip(late.time, late.worker, strict=True))[:2] == [(5.0, 1), (8.0, 3)]
    assert engine.counters.jobs_discarded == len(late)


def test_stream_without_overlap_waits_for_each_upload():
    # Worker i's cycle is h_i + u_i: w1 arrivals 1.5, 3, 4.5, 6; w2 3, 6; w3 8; w4 14. The 6th
    # arrival is at 6 (w1 and w2 tie; worker order). At 6, w1 and w2 start at the new point;
    # w3 and w4 are uploading old gradients (arriving at 8 and 14, discarded). Rounds repeat
    # every 6.
    events, _, _ = simulate(make_scenario(**STREAM, aggregation={"mode": "stream"}))
    assert update_times(events).tolist() == [6.0, 12.0, 18.0, 24.0]
    late = events[events.kind == "upload_discard"]
    assert list(zip(late.time, late.worker, strict=True))[:2] == [(8.0, 3), (14.0, 4)]


@pytest.mark.parametrize(("overlap", "times"), [(False, [10.0, 20.0]), (True, [8.0, 16.0])])
def test_stream_synchronous_counts_arrivals_and_computes_b_jobs(overlap, times):
    # b = 2, h = (1, 2), u = (0.5, 3). Without overlap w2 computes 0 -> 2, uploads 2 -> 5,
    # computes 5 -> 7, uploads 7 -> 10: update at 10. With overlap it computes 0 -> 2 -> 4 and
    # its uploads queue: 2 -> 5, 5 -> 8: update at 8. Nobody computes a third job.
    events, _, _ = simulate(
        make_scenario(
            n=2,
            h={"kind": "list", "values": [1.0, 2.0]},
            u={"kind": "list", "values": [0.5, 3.0]},
            aggregation={"mode": "stream", "overlap": overlap},
            methods=[{"name": "sync_nigt", "alpha": 0.1, "b": 2}],
            budget={"updates": 2},
        )
    )
    assert update_times(events).tolist() == times
    assert (events.kind == "compute_start").sum() == 8


def test_async_overlap_queues_uploads_on_the_link():
    # n = 1, h = 1, u = 2: with overlap jobs end at 1, 2, 3, ... and uploads go one at a time:
    # 1 -> 3, 3 -> 5, 5 -> 7. Without overlap a cycle is h + u = 3.
    base = {
        "n": 1,
        "h": {"kind": "equal"},
        "u": {"kind": "equal", "scale": 2.0},
        "methods": [{"name": "async_pg", "alpha": 0.1}],
        "budget": {"updates": 3},
    }
    overlap = simulate(make_scenario(**base, aggregation={"overlap": True}))[0]
    assert update_times(overlap).tolist() == [3.0, 5.0, 7.0]
    assert update_times(simulate(make_scenario(**base))[0]).tolist() == [3.0, 6.0, 9.0]


def test_overlap_is_refused_for_rounds_outside_stream_mode():
    with pytest.raises(ScenarioError, match=r"aggregation.overlap: applies to mode: stream"):
        make_scenario(aggregation={"overlap": True})
    make_scenario(aggregation={"overlap": True}, methods=[{"name": "afedpg", "alpha": 0.1}])


OFFLINE = {
    "n": 2,
    "h": {"kind": "equal"},
    "availability": {"kind": "intervals", "intervals": [{"worker": 2, "start": 1.5, "end": 10}]},
    "budget": {"updates": 3},
}


def test_rennala_goes_on_without_an_offline_worker():
    # Both finish at 1 (2 gradients); w2's job 1.5 -> 2 is lost; w1 alone: 2, 3 -> M = 4 at 3.
    # Round 2: w1 at 4, 5, 6, 7. Round 3: w1 at 8, 9, 10, 11; w2 is back at 10, fetches the
    # point (v = 0) and finishes at 11 too: worker order makes w1's the 4th.
    events, engine, _ = simulate(
        make_scenario(**OFFLINE, methods=[{"name": "rennala_nigt", "alpha": 0.1, "M": 4}])
    )
    assert update_times(events).tolist() == [3.0, 7.0, 11.0]
    lost = events[events.kind == "compute_lost"]
    assert list(zip(lost.time, lost.worker, lost.job, strict=True)) == [(1.5, 2, 1)]
    assert engine.counters.jobs_lost == 1
    rows = events[events.kind.str.startswith("offline")]
    assert list(zip(rows.time, rows.worker, rows.kind, strict=True)) == [
        (1.5, 2, "offline_start"),
        (10.0, 2, "offline_end"),
    ]
    w2 = events[(events.worker == 2) & (events.kind == "compute_start")]
    assert w2.time.tolist()[:3] == [0.0, 1.0, 10.0]


def malenia_holds(counts: list[int], M: int) -> bool:
    n = len(counts)
    return min(counts) >= 1 and n / sum(1 / c for c in counts) >= M / n


def test_malenia_waits_for_an_offline_worker():
    # The rule ranges over all n workers: with M_2 = 1 (delivered before leaving) it needs
    # 2 / (1/M_1 + 1) >= 2, impossible; w2 is back at 10 and delivers its 2nd at 11, when
    # 2 / (1/11 + 1/2) = 3.38 >= 2.
    assert not any(malenia_holds([k, 1], 4) for k in range(1, 10_000))
    assert malenia_holds([11, 2], 4)
    assert round(2 / (1 / 11 + 1 / 2), 2) == 3.38
    events, _, _ = simulate(
        make_scenario(
            **OFFLINE | {"budget": {"updates": 1}},
            methods=[{"name": "malenia_nigt", "alpha": 0.1, "M": 4}],
        )
    )
    assert update_times(events).tolist() == [11.0]
    assert events.loc[events.kind == "update", "gradients"].tolist() == [13]


def test_malenia_worker_absent_from_the_start_blocks_the_round():
    # w2 offline on [0.5, 10) delivers nothing before leaving (M_2 = 0): back at 10, its first
    # gradient at 11 gives 2 / (1/11 + 1) < 2, its second at 12 gives 2 / (1/12 + 1/2) >= 2.
    events, _, _ = simulate(
        make_scenario(
            **OFFLINE
            | {
                "availability": {
                    "kind": "intervals",
                    "intervals": [{"worker": 2, "start": 0.5, "end": 10}],
                },
                "budget": {"updates": 1},
            },
            methods=[{"name": "malenia_nigt", "alpha": 0.1, "M": 4}],
        )
    )
    assert update_times(events).tolist() == [12.0]


def test_async_worker_offline_loses_its_job_and_refetches(tmp_path):
    # n = 1, h = 1, v = 0.5: job 0 from 0.5 ends at 1.5 (update), the next from 2 is lost at
    # 2.5; back at 4, it fetches the point (4.5) and ends at 5.5.
    (tmp_path / "off.csv").write_text("worker,start,end\n1,2.5,4\n")
    from apga_sim.scenario import parse_scenario

    s = make_scenario(
        n=1,
        h={"kind": "equal"},
        v={"kind": "equal", "scale": 0.5},
        methods=[{"name": "async_pg", "alpha": 0.1}],
        budget={"updates": 2},
    )
    data = s.model_dump(mode="json") | {"availability": {"kind": "intervals", "path": "off.csv"}}
    events, engine, _ = simulate(parse_scenario(data, base_dir=tmp_path))
    assert update_times(events).tolist() == [1.5, 5.5]
    assert engine.counters.jobs_lost == 1


def test_random_availability_is_seeded_per_worker():
    s = make_scenario(
        availability={"kind": "random", "mean_up": 3.0, "mean_down": 1.0},
        methods=[{"name": "afedpg", "alpha": 0.1}],
        budget={"time": 30.0},
    )
    a, b, c = simulate(s)[0], simulate(s)[0], simulate(s, seed=1)[0]
    assert a.equals(b) and not a.equals(c)
    down = a[a.kind == "offline_start"]
    assert set(down.worker) == {1, 2, 3} and (a.kind == "compute_lost").any()


def test_factors_multiply_and_change_over_time():
    # Worker 1 takes 1 s, except 3x for jobs starting in [2, 5): jobs at 0, 1, 2 (-> 5), 5.
    s = make_scenario(
        n=1,
        h={"kind": "equal", "factors": [{"workers": [1], "factor": 3, "start": 2, "end": 5}]},
        methods=[{"name": "async_pg", "alpha": 0.1}],
        budget={"updates": 4},
    )
    assert update_times(simulate(s)[0]).tolist() == [1.0, 2.0, 5.0, 6.0]
    s = make_scenario(
        n=2,
        h={"kind": "equal", "factors": [{"workers": [2], "factor": 10}, {"factor": 2}]},
        methods=[{"name": "sync_pg", "alpha": 0.1, "b": 1}],
        budget={"updates": 2},
    )
    events, engine, _ = simulate(s)
    assert engine.c.h.nominal().tolist() == [2.0, 20.0]
    assert update_times(events).tolist() == [20.0, 40.0]


def test_lognormal_takes_the_mean_time():
    s = make_scenario(
        n=1,
        h={"kind": "random", "dist": "lognormal", "per": "job", "mean_time": 2.0, "sigma_log": 0.8},
    )
    _, engine, _ = simulate(s)
    draws = np.array([engine.c.h.time(1, k) for k in range(20_000)])
    assert draws.mean() == pytest.approx(2.0, rel=0.03)
    mu = math.log(2.0) - 0.8**2 / 2
    rng = np.random.default_rng([0, 1_000_011, 1, 7])
    assert engine.c.h.time(1, 7) == rng.lognormal(mu, 0.8)


@pytest.mark.parametrize(
    ("h", "message"),
    [
        ({"mean": 0.0, "sigma_log": 0.5}, "mean is ambiguous; give mean_time"),
        ({"mu_log": 0.0, "sigma": 0.5}, "sigma was renamed sigma_log"),
        ({"sigma_log": 0.5}, "lognormal needs sigma_log and one of mean_time"),
        ({"mean_time": 1.0, "mu_log": 0.0, "sigma_log": 0.5}, "one of mean_time"),
    ],
)
def test_lognormal_parameters_are_named_apart(h, message):
    with pytest.raises(ScenarioError, match=message):
        make_scenario(h={"kind": "random", "dist": "lognormal"} | h)


def test_offline_periods_show_in_utilisation_gantt_and_perfetto():
    from apga_sim import analysis, perfetto, plots

    events, _, _ = simulate(
        make_scenario(**OFFLINE, methods=[{"name": "rennala_nigt", "alpha": 0.1, "M": 4}])
    )
    use = analysis.utilisation(events)
    assert use.loc[2, "offline"] == 8.5 and use.loc[2, "lost"] == 0.5
    assert use.loc[1, "offline"] == 0.0
    _, drawn = plots.gantt(events)
    offline = drawn[drawn.state == "offline"]
    assert list(zip(offline.worker, offline.start, offline.end, strict=True)) == [(2, 1.5, 10.0)]
    names = {e["name"] for e in perfetto.to_trace_events(events)["traceEvents"] if e["ph"] == "X"}
    assert {"offline", "lost"} <= names


QUICK = Path(__file__).parent.parent / "scenarios" / "quick"


def compute_durations(events: pd.DataFrame) -> pd.Series:
    starts = events[events.kind == "compute_start"].set_index(["worker", "job"]).time
    ends = events[events.kind == "compute_end"].set_index(["worker", "job"]).time
    return ends - starts.loc[ends.index]


def test_quick_stragglers_scenario_draws_per_seed():
    s = load_scenario(QUICK / "stragglers_lognormal.yaml", {"budget.time": 30})
    (a, engine, _), (b, _, _) = simulate(s, seed=0), simulate(s, seed=1)
    da, db = compute_durations(a), compute_durations(b)
    assert not np.allclose(da.iloc[:20], db.iloc[:20])
    h = engine.c.h
    slow = np.mean([h.time(8, k) for k in range(4000)]) / np.mean(
        [h.time(1, k) for k in range(4000)]
    )
    assert 9 < slow < 11  # worker 8 is 10x slower on average


EVERYTHING = {
    "name": "everything",
    "n": 4,
    "oracle": {"kind": "quadratic", "dim": 6, "sigma": 0.5},
    "h": {
        "kind": "random",
        "dist": "lognormal",
        "per": "job",
        "mean_time": 1.0,
        "sigma_log": 0.5,
        "factors": [{"workers": [4], "factor": 5}, {"workers": [2], "factor": 3, "start": 5}],
    },
    "u": {"kind": "sqrt", "scale": 0.7},
    "aggregation": {"mode": "stream", "overlap": True},
    "availability": {"kind": "random", "mean_up": 6, "mean_down": 2},
    "methods": [
        {"name": "rennala_nigt", "alpha": 0.1, "M": 5},
        {"name": "malenia_nigt", "alpha": 0.1, "M": 5},
        {"name": "afedpg", "alpha": 0.05},
    ],
    "seeds": [0, 1],
    "budget": {"time": 30},
    "eval": {"every_updates": 5},
}


def test_every_new_option_gives_identical_traces_across_repeats_and_jobs(quick_yaml, tmp_path):
    from typer.testing import CliRunner

    from apga_sim.cli import app

    path = quick_yaml(EVERYTHING)
    for name, jobs in (("a", "1"), ("b", "1"), ("c", "2")):
        res = CliRunner().invoke(
            app, ["run", str(path), "--out", str(tmp_path / name), "--jobs", jobs]
        )
        assert res.exit_code == 0, res.output
    for method in ("rennala_nigt", "malenia_nigt", "afedpg"):
        for seed in (0, 1):
            rel = Path(method) / f"seed-{seed}"
            for f in ("events.parquet", "evals.parquet"):
                first = (tmp_path / "a" / rel / f).read_bytes()
                assert first == (tmp_path / "b" / rel / f).read_bytes()
                assert first == (tmp_path / "c" / rel / f).read_bytes()
        kinds = set(pd.read_parquet(tmp_path / "a" / method / "seed-0" / "events.parquet").kind)
        assert {"offline_start", "offline_end", "compute_lost"} <= kinds


def test_list_and_schema_describe_the_timing_options():
    from typer.testing import CliRunner

    from apga_sim.cli import app
    from apga_sim.schema import scenario_schema

    listed = CliRunner().invoke(app, ["list"], env={"COLUMNS": "200"}).output
    for name in ("aggregation.overlap", "availability: {kind: random}", "h/u/v.factors"):
        assert name in listed
    text = str(scenario_schema())
    for name in ("stream", "overlap", "mean_up", "sigma_log", "mean_time", "factors"):
        assert name in text


def test_factors_from_a_csv_file(tmp_path):
    # Worker 2's jobs take 1 s, 4 s for jobs starting in [1, 3): sync b = 1 rounds end at
    # 1 (w2's job from 0), 1 + 4 = 5 (from 1), 6 (from 5).
    (tmp_path / "phases.csv").write_text("worker,factor,start,end\n2,4,1,3\n")
    from apga_sim.scenario import parse_scenario

    s = make_scenario(
        n=2,
        h={"kind": "equal"},
        methods=[{"name": "sync_pg", "alpha": 0.1, "b": 1}],
        budget={"updates": 3},
    )
    data = s.model_dump(mode="json")
    data["h"]["factors"] = "phases.csv"
    events, _, _ = simulate(parse_scenario(data, base_dir=tmp_path))
    assert update_times(events).tolist() == [1.0, 5.0, 6.0]
