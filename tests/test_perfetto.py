import json

import pytest
from test_analysis import async_trace, rennala_trace

from apga_sim import perfetto


def test_trace_events_json(tmp_path):
    path = perfetto.write(rennala_trace(), tmp_path / "trace.json")
    trace = json.loads(path.read_text())
    events = trace["traceEvents"]
    complete = [e for e in events if e["ph"] == "X"]
    # one track per worker, named; the server track carries the updates
    assert {e["tid"] for e in complete} == {1, 2}
    names = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert names == {0: "server", 1: "worker 1", 2: "worker 2"}
    assert all(e["pid"] == perfetto.PID for e in events)
    # microseconds of simulated time
    compute = [e for e in complete if e["name"] == "compute"]
    assert sum(e["dur"] for e in compute) == pytest.approx(7.5e6)
    first = min(compute, key=lambda e: (e["tid"], e["ts"]))
    assert (first["tid"], first["ts"], first["dur"], first["args"]) == (
        1,
        0.0,
        1e6,
        {"job": 0, "version": 0},
    )
    cancelled = sorted((e["tid"], e["ts"], e["dur"]) for e in complete if e["name"] == "cancelled")
    assert cancelled == [(1, 5.5e6, 0.5e6), (2, 0.0, 3e6)]
    assert sum(e["name"] == "upload" for e in complete) == 3
    updates = [e for e in events if e["ph"] == "i"]
    assert [(u["tid"], u["ts"], u["name"]) for u in updates] == [
        (0, 3.5e6, "update"),
        (0, 6.5e6, "update"),
    ]
    assert updates[0]["args"] == {"version": 1, "worker": 0, "gradients": 3, "round": 0}


def test_open_intervals_and_staleness():
    trace = perfetto.to_trace_events(async_trace())
    complete = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert [e["args"] for e in complete if e["args"].get("open")] == [
        {"job": 2, "version": 2, "open": True},
        {"job": 1, "version": 3, "open": True},
    ]
    stale = [e["args"]["staleness"] for e in trace["traceEvents"] if e["ph"] == "i"]
    assert stale == [0, 0, 2]


def test_skipped_update_flag():
    events = async_trace()
    events["skipped"] = [None] * len(events)
    events.loc[events["kind"] == "update", "skipped"] = [False, True, False]
    updates = [e for e in perfetto.to_trace_events(events)["traceEvents"] if e["ph"] == "i"]
    assert [u["args"].get("skipped", False) for u in updates] == [False, True, False]


def test_update_names_group_and_times_carry_no_float_noise():
    events = rennala_trace()
    # 0.1 + 0.2 s: 300000.00000000006 us unrounded
    events.loc[events["kind"] == "update", "time"] += 0.1 + 0.2
    trace = perfetto.to_trace_events(events)["traceEvents"]
    updates = [e for e in trace if e["ph"] == "i"]
    assert {u["name"] for u in updates} == {"update"}
    assert [u["args"]["version"] for u in updates] == [1, 2]
    assert [u["ts"] for u in updates] == [3.8e6, 6.8e6]
    for e in trace:
        for key in ("ts", "dur"):
            if key in e:
                assert e[key] == round(e[key], 3)
