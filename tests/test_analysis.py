import math

import numpy as np
import pandas as pd
import pytest
from conftest import make_scenario, simulate

from apga_sim import analysis

INT_COLUMNS = ["job", "round", "staleness", "env_steps", "gradients"]


def make_events(rows):
    """Events frame in the engine's schema from (time, worker, kind, version, extra) rows."""
    records = []
    for time, worker, kind, version, extra in rows:
        record = dict.fromkeys(INT_COLUMNS, pd.NA) | {"episode_return": np.nan}
        records.append(
            record | {"time": time, "worker": worker, "kind": kind, "version": version} | extra
        )
    df = pd.DataFrame(records)[
        [
            "time",
            "worker",
            "kind",
            "version",
            *INT_COLUMNS[:3],
            "env_steps",
            "episode_return",
            "gradients",
        ]
    ]
    return df.astype(
        {"time": "float64", "worker": "int64", "version": "int64", "episode_return": "float64"}
        | dict.fromkeys(INT_COLUMNS, "Int64")
    )


def rennala_trace():
    """Rennala, h = (1, 2.5), M = 3, u = 0.5, v = 0, on_stop = cancel: two rounds by hand."""

    def job(j, r):
        return {"job": j, "round": r}

    def done(j, r):
        return job(j, r) | {"env_steps": 5, "episode_return": 1.0}

    return make_events(
        [
            (0.0, 1, "compute_start", 0, job(0, 0)),
            (0.0, 2, "compute_start", 0, job(0, 0)),
            (1.0, 1, "compute_end", 0, done(0, 0)),
            (1.0, 1, "compute_start", 0, job(1, 0)),
            (2.0, 1, "compute_end", 0, done(1, 0)),
            (2.0, 1, "compute_start", 0, job(2, 0)),
            (3.0, 1, "compute_end", 0, done(2, 0)),
            (3.0, 2, "compute_cancel", 0, job(0, 0)),
            (3.0, 1, "upload_start", 0, {"round": 0}),
            (3.5, 1, "upload_end", 0, {"round": 0}),
            (3.5, 0, "update", 1, {"round": 0, "gradients": 3}),
            (3.5, 1, "compute_start", 1, job(3, 1)),
            (3.5, 2, "compute_start", 1, job(1, 1)),
            (4.5, 1, "compute_end", 1, done(3, 1)),
            (4.5, 1, "compute_start", 1, job(4, 1)),
            (5.5, 1, "compute_end", 1, done(4, 1)),
            (5.5, 1, "compute_start", 1, job(5, 1)),
            (6.0, 2, "compute_end", 1, done(1, 1)),
            (6.0, 1, "compute_cancel", 1, job(5, 1)),
            (6.0, 1, "upload_start", 1, {"round": 1}),
            (6.0, 2, "upload_start", 1, {"round": 1}),
            (6.5, 1, "upload_end", 1, {"round": 1}),
            (6.5, 2, "upload_end", 1, {"round": 1}),
            (6.5, 0, "update", 2, {"round": 1, "gradients": 3}),
        ]
    )


def async_trace():
    """Asynchronous, h = (1, 2), u = v = 0: steps at 1, 2 (worker 1), 2 (worker 2)."""
    return make_events(
        [
            (0.0, 1, "compute_start", 0, {"job": 0}),
            (0.0, 2, "compute_start", 0, {"job": 0}),
            (1.0, 1, "compute_end", 0, {"job": 0}),
            (1.0, 1, "update", 1, {"staleness": 0, "gradients": 1}),
            (1.0, 1, "compute_start", 1, {"job": 1}),
            (2.0, 1, "compute_end", 1, {"job": 1}),
            (2.0, 1, "update", 2, {"staleness": 0, "gradients": 1}),
            (2.0, 1, "compute_start", 2, {"job": 2}),
            (2.0, 2, "compute_end", 0, {"job": 0}),
            (2.0, 2, "update", 3, {"staleness": 2, "gradients": 1}),
            (2.0, 2, "compute_start", 3, {"job": 1}),
        ]
    )


def test_time_to_target_first_crossing():
    evals = pd.DataFrame({"time": [3.0, 0.0, 2.0, 1.0], "return_mean": [10.0, 0.0, 3.0, 5.0]})
    assert analysis.time_to_target(evals, 5.0) == 1.0
    assert analysis.time_to_target(evals, 4.0) == 1.0
    assert analysis.time_to_target(evals, 6.0) == 3.0
    assert analysis.time_to_target(evals, 10.0) == 3.0


def test_time_to_target_never_reached_is_none():
    evals = pd.DataFrame({"time": [0.0, 1.0], "return_mean": [1.0, np.nan]})
    assert analysis.time_to_target(evals, 2.0) is None
    assert analysis.time_to_target(evals.iloc[:0], 0.0) is None


def test_time_to_target_variant_column():
    evals = pd.DataFrame({"time": [0.0, 1.0], "return_mean": [0, 0], "return_mean/a": [0, 9]})
    assert analysis.time_to_target(evals, 5.0, column="return_mean/a") == 1.0


def test_quantile_counts_missing_as_infinite():
    assert analysis.quantile([1, 2, np.nan, 4], 0.5) == 3.0
    assert analysis.quantile([1, 2, np.nan, 4], 0.2) == pytest.approx(1.6)
    assert analysis.quantile([1, 2, np.nan, 4], 0.8) == math.inf
    assert analysis.quantile([1, 2, np.nan], 0.5) == 2.0
    assert analysis.quantile([np.nan, np.nan], 0.5) == math.inf
    assert analysis.quantile([1.0, math.inf, math.inf], 0.5) == math.inf  # inf stays infinite
    assert math.isnan(analysis.quantile([], 0.5))
    x = [3.0, 1.0, 7.0, 2.0, 11.0]
    for q in (0.2, 0.5, 0.8):
        assert analysis.quantile(x, q) == pytest.approx(np.quantile(x, q))


def test_worker_intervals_pairs_starts_and_ends():
    iv = analysis.worker_intervals(rennala_trace())
    assert list(iv.columns) == ["worker", "start", "end", "state", "job", "version", "open"]
    got = set(iv[["worker", "start", "end", "state"]].itertuples(index=False, name=None))
    assert got == {
        (1, 0.0, 1.0, "compute"),
        (1, 1.0, 2.0, "compute"),
        (1, 2.0, 3.0, "compute"),
        (1, 3.0, 3.5, "upload"),
        (1, 3.5, 4.5, "compute"),
        (1, 4.5, 5.5, "compute"),
        (1, 5.5, 6.0, "cancelled"),
        (1, 6.0, 6.5, "upload"),
        (2, 0.0, 3.0, "cancelled"),
        (2, 3.5, 6.0, "compute"),
        (2, 6.0, 6.5, "upload"),
    }
    assert not iv["open"].any()
    assert iv.loc[iv["state"] == "cancelled", "job"].tolist() == [5, 0]
    assert iv.loc[iv["state"] == "cancelled", "version"].tolist() == [1, 0]


def test_worker_intervals_open_at_end_and_discarded():
    iv = analysis.worker_intervals(async_trace())
    open_rows = iv[iv["open"]]
    assert open_rows[["worker", "start", "end", "state"]].values.tolist() == [
        [1, 2.0, 2.0, "compute"],
        [2, 2.0, 2.0, "compute"],
    ]
    trace = make_events(
        [
            (0.0, 1, "compute_start", 0, {"job": 0}),
            (1.5, 1, "compute_discard", 0, {"job": 0}),
            (1.5, 1, "download_start", 1, {}),
            (2.0, 1, "download_end", 1, {}),
        ]
    )
    iv = analysis.worker_intervals(trace)
    assert iv[["start", "end", "state"]].values.tolist() == [
        [0.0, 1.5, "discarded"],
        [1.5, 2.0, "download"],
    ]


def test_worker_intervals_rejects_unmatched_ends():
    with pytest.raises(ValueError, match="compute"):
        analysis.worker_intervals(make_events([(1.0, 1, "compute_end", 0, {"job": 0})]))
    with pytest.raises(ValueError, match="upload"):
        analysis.worker_intervals(make_events([(1.0, 1, "upload_end", 0, {})]))


def test_utilisation_by_hand():
    use = analysis.utilisation(rennala_trace())
    assert use.index.tolist() == [1, 2]
    assert use.loc[1, ["compute", "cancelled", "upload", "idle"]].tolist() == [5.0, 0.5, 1.0, 0.0]
    assert use.loc[2, ["compute", "cancelled", "upload", "idle"]].tolist() == [2.5, 3.0, 0.5, 0.5]
    assert (use["span"] == 6.5).all()
    assert use["utilisation"].tolist() == pytest.approx([5 / 6.5, 2.5 / 6.5])
    assert use["comm_share"].tolist() == pytest.approx([1 / 6.5, 0.5 / 6.5])
    states = [*analysis.STATES, "idle"]
    assert use[states].sum(axis=1).tolist() == pytest.approx([6.5, 6.5])


def test_staleness():
    st = analysis.staleness(async_trace())
    assert st.values.tolist() == [[1.0, 1, 1, 0], [2.0, 1, 2, 0], [2.0, 2, 3, 2]]
    assert analysis.staleness(rennala_trace()).empty


def results_table():
    """Two methods x three seeds; method a seed 2 never reaches 5."""
    returns = {
        ("a", 0): [0, 2, 6, 7],
        ("a", 1): [0, 6, 7, 8],
        ("a", 2): [0, 1, 2, 3],
        ("b", 0): [0, 5, 5, 5],
        ("b", 1): [0, 1, 1, 9],
        ("b", 2): [0, 1, 5, 6],
    }
    frames = [
        pd.DataFrame(
            {
                "time": [0.0, 1.0, 2.0, 3.0],
                "update": [0, 10, 20, 30],
                "return_mean": np.asarray(r, dtype=float),
                "return_std": 0.0,
                "method": m,
                "seed": s,
                "run": f"runs/{m}/{s}",
            }
        )
        for (m, s), r in returns.items()
    ]
    return pd.concat(frames, ignore_index=True)


def test_per_run():
    runs = analysis.per_run(results_table(), target=5.0)
    assert runs[["method", "seed", "run"]].values.tolist()[:2] == [
        ["a", 0, "runs/a/0"],
        ["a", 1, "runs/a/1"],
    ]
    np.testing.assert_array_equal(runs["time_to_target"], [2, 1, np.nan, 1, 3, 2])
    assert runs["final_return"].tolist() == [7, 8, 3, 5, 9, 6]
    assert runs["updates"].tolist() == [30] * 6
    assert runs["gradients_used"].isna().all()


def test_summary_over_seeds():
    table = analysis.summary(results_table(), target=5.0)
    assert table["method"].tolist() == ["a", "b"]
    a, b = table.iloc[0], table.iloc[1]
    # a: times (1, 2, not reached) -> sorted (1, 2, inf)
    assert (a["runs"], a["reached"], a["ttt_median"]) == (3, 2, 2.0)
    assert a["ttt_q20"] == pytest.approx(1.4)
    assert a["ttt_q80"] == math.inf
    assert a["final_return"] == 7
    # b: times (1, 3, 2)
    assert (b["reached"], b["ttt_median"]) == (3, 2.0)
    assert (b["ttt_q20"], b["ttt_q80"]) == pytest.approx((1.4, 2.6))


def test_summary_without_target_and_with_sweep_parameter():
    df = results_table().assign(n=lambda d: np.where(d["seed"] == 0, 10, 100))
    df["wall_seconds"] = np.arange(len(df))  # varies within a run: not a parameter
    df["status"] = "complete"
    assert analysis.param_columns(df) == ["n"]
    table = analysis.summary(df)
    assert "ttt_median" not in table
    assert table[["method", "n", "runs"]].values.tolist() == [
        ["a", 10, 1],
        ["a", 100, 2],
        ["b", 10, 1],
        ["b", 100, 2],
    ]


def test_summary_with_events_counters():
    df = results_table()
    events = {f"runs/b/{seed}": rennala_trace() for seed in range(3)}
    table = analysis.summary(df, target=5.0, events_by_run=events)
    b = table.set_index("method").loc["b"]
    assert (b["updates"], b["gradients_used"], b["gradients_cancelled"]) == (2, 6, 2)
    assert b["gradients_discarded"] == 0
    assert b["comm_share"] == pytest.approx(1.5 / 13)
    assert np.isnan(table.set_index("method").loc["a", "comm_share"])


def test_per_run_without_run_column():
    df = results_table().drop(columns="run")
    runs = analysis.per_run(df, target=5.0)
    assert runs[["method", "seed"]].values.tolist()[3] == ["b", 0]
    with pytest.raises(ValueError, match="run"):
        analysis.per_run(df, events_by_run={})


def test_summary_with_manifest_counters():
    manifest = {"updates": 7, "gradients_consumed": 21, "jobs_cancelled": 4, "jobs_discarded": 1}
    manifests = {f"runs/a/{seed}": manifest for seed in range(3)}
    table = analysis.summary(results_table(), manifests_by_run=manifests).set_index("method")
    assert table.loc["a", ["updates", "gradients_used", "gradients_cancelled"]].tolist() == [
        7,
        21,
        4,
    ]
    assert table.loc["a", "gradients_discarded"] == 1
    assert np.isnan(table.loc["a", "comm_share"])
    assert table.loc["b", "updates"] == 30


@pytest.mark.parametrize("method", ["rennala_nigt", "sync_nigt", "afedpg", "malenia_nigt"])
def test_engine_trace_intervals(method):
    h, u, v = [1.0, 1.5, 2.7], [0.2, 0.3, 0.4], [0.1, 0.1, 0.1]
    extra = {} if method == "afedpg" else {"M": 4}
    scenario = make_scenario(
        h={"kind": "list", "values": h},
        u={"kind": "list", "values": u},
        v={"kind": "list", "values": v},
        methods=[{"name": method, "alpha": 0.1} | extra],
        budget={"updates": 6},
    )
    events, _, _ = simulate(scenario)
    iv = analysis.worker_intervals(events)
    done = iv[(iv["state"] == "compute") & ~iv["open"]]
    assert (done["end"] - done["start"]).to_numpy() == pytest.approx(
        [h[w - 1] for w in done["worker"]]
    )
    uploads = iv[(iv["state"] == "upload") & ~iv["open"]]
    assert (uploads["end"] - uploads["start"]).to_numpy() == pytest.approx(
        [u[w - 1] for w in uploads["worker"]]
    )
    use = analysis.utilisation(events)
    assert use.index.tolist() == [1, 2, 3]
    covered = use[[*analysis.STATES, "idle"]].sum(axis=1)
    assert covered.to_numpy() == pytest.approx(use["span"].to_numpy())
    assert len(analysis.staleness(events)) == (6 if method == "afedpg" else 0)


def test_summary_sorts_sweep_cells_as_numbers():
    df = pd.concat(
        [results_table().assign(n=n, run=lambda d, n=n: d["run"] + f"/{n}") for n in (16, 4, 8)]
    )
    table = analysis.summary(df, target=5.0)
    assert table[["method", "n"]].values.tolist() == [
        ["a", 4],
        ["a", 8],
        ["a", 16],
        ["b", 4],
        ["b", 8],
        ["b", 16],
    ]


def test_a_measured_eval_column_is_never_a_sweep_parameter():
    # Reacher episodes always last 50 steps: episode_length_mean is constant within every run.
    results = pd.DataFrame(
        {
            "time": [0.0, 1.0, 0.0, 1.0],
            "update": [0, 1, 0, 1],
            "return_mean": [-27.0, -20.0, -26.0, -21.0],
            "episode_length_mean": [50.0] * 4,
            "method": ["a", "a", "b", "b"],
            "seed": [0, 0, 0, 0],
            "status": ["complete"] * 4,
            "run": ["a/0", "a/0", "b/0", "b/0"],
        }
    )
    assert analysis.param_columns(results) == []
