import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from test_analysis import make_events, rennala_trace, results_table

from apga_sim import analysis, plots


def uneven_results():
    """Two methods x three seeds evaluated at different times, with two env variants."""
    rng = np.random.default_rng(1)
    frames = []
    for method in ("rennala_nigt", "afedpg"):
        for seed in range(3):
            times = np.concatenate([[0.0], np.sort(rng.uniform(0, 10, 8)), [10.0 + seed]])
            a, b = rng.normal(size=(2, len(times))).cumsum(axis=1)
            frames.append(
                pd.DataFrame(
                    {
                        "time": times,
                        "update": np.arange(len(times)),
                        "return_mean/a": a,
                        "return_mean/b": b,
                        "return_mean": (a + b) / 2,
                        "method": method,
                        "seed": seed,
                        "run": f"runs/{method}/{seed}",
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def expected_quantiles(df, grid, column, q):
    """Step-wise ("previous value") hold of each run on the grid with merge_asof, then quantile."""
    held = []
    for (method, run), evals in df.groupby(["method", "run"]):
        at = pd.merge_asof(
            pd.DataFrame({"t": grid}), evals.sort_values("time"), left_on="t", right_on="time"
        )
        at.loc[at["t"] > evals["time"].max(), column] = np.nan
        held.append(at.assign(method=method, run=run))
    held = pd.concat(held)
    complete = held.groupby(["method", "t"])[column].transform(lambda x: x.notna().all())
    return held[complete].groupby(["method", "t"])[column].quantile(q)


def test_curves_median_and_band_equal_pandas_quantiles(tmp_path):
    df = uneven_results()
    grid = np.array([0.0, 0.3, 2.5, 5.0, 7.77, 10.0, 10.5, 12.0])
    fig, data = plots.curves(df, grid=grid)
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "mean"]
    for column in ("return_mean/a", "return_mean"):
        panel = data[data["panel"] == column].set_index(["method", "time"])
        for name, q in (("median", 0.5), ("lower", 0.2), ("upper", 0.8)):
            expected = expected_quantiles(df, grid, column, q)
            got = panel[name].dropna().sort_index()
            assert got.index.tolist() == expected.index.rename(["method", "time"]).tolist()
            np.testing.assert_allclose(got.to_numpy(), expected.to_numpy())
    # the shortest run of each method ends at 10: nothing is plotted after it
    assert data.loc[data["time"] > 10.0, "median"].isna().all()
    assert data.loc[data["time"] == 10.0, "median"].notna().all()
    # the lines drawn are the medians returned
    line = fig.axes[2].lines[0]
    assert line.get_label() == "Rennala NIGT"
    mean = data[(data["panel"] == "return_mean") & (data["method"] == "rennala_nigt")]
    np.testing.assert_array_equal(line.get_ydata(), mean["median"].to_numpy())
    assert fig.axes[0].get_xlabel() == plots.TIME_LABEL
    plots.save(fig, tmp_path / "curves")
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_curves_single_panel_default_grid():
    fig, data = plots.curves(results_table(), points=7)
    assert len(fig.axes) == 1
    assert data["time"].unique().tolist() == pytest.approx(np.linspace(0, 3, 7).tolist())
    a = data[data["method"] == "a"].set_index("time")["median"]
    # seeds of a hold (0,2,6,7), (0,6,7,8), (0,1,2,3): at t = 1.5 -> median(2, 6, 1) = 2
    assert a.loc[1.5] == 2.0


def test_ttt_marks_not_reached(tmp_path):
    fig, data = plots.ttt(results_table(), target=5.0)
    np.testing.assert_array_equal(data["time_to_target"], [2, 1, np.nan, 1, 3, 2])
    assert data["reached"].tolist() == [True, True, False, True, True, True]
    ax = fig.axes[0]
    assert ax.get_xticklabels()[-1].get_text() == "not\nreached"
    slow = results_table().assign(time=lambda d: d["time"] * 1000)  # wide labels: 3000
    wide = plots.ttt(slow, target=5.0)[0]
    plots.save(wide, tmp_path / "wide")  # draws it, so label extents are known
    labels = [t.get_window_extent() for t in wide.axes[0].get_xticklabels()]
    assert labels[-2].x1 + 5 < labels[-1].x0  # "not reached" clear of the last time
    assert [t.get_text() for t in ax.texts] == ["1/3 not reached"]
    assert ax.get_xlabel() == plots.TIME_LABEL
    plots.save(fig, tmp_path / "ttt")
    assert (tmp_path / "ttt.png").stat().st_size > 0


def test_ttt_nothing_reached():
    fig, data = plots.ttt(results_table(), target=100.0)
    assert not data["reached"].any()
    assert [t.get_text() for t in fig.axes[0].texts] == ["3/3 not reached"] * 2


def test_ttt_intervals_names_budget_band_and_not_reached():
    inf = np.inf
    medians = pd.DataFrame(
        {"method": ["rennala_nigt", "afedpg"], "low": [40.0, 100.0], "high": [40.0, inf],
         "ci_low": [30.0, 60.0], "ci_high": [60.0, inf]}
    )  # fmt: skip
    speedups = pd.DataFrame(
        {"baseline": ["afedpg"], "low": [2.5], "high": [inf], "ci_low": [1.5], "ci_high": [inf]}
    )
    fig, _ = plots.ttt_intervals(medians, speedups, budget=100.0, focus="rennala_nigt", margin=1.25)
    left, right = fig.axes
    assert [t.get_text() for t in left.texts] == ["budget"]
    assert [t.get_text() for t in right.texts] == ["about equal"]
    cross = [line for line in left.lines if line.get_marker() == "x"]
    assert [line.get_xdata()[0] for line in cross] == [plots.NOT_REACHED_AT * 100.0]
    assert [line.get_marker() for line in right.lines if line.get_marker() != "None"] == [">"]
    bare, _ = plots.ttt_intervals(medians, speedups, budget=100.0, focus="rennala_nigt")
    assert len(bare.axes[1].texts) == 0  # no band without a margin, so nothing to name


def test_gantt_compute_time_matches_trace(tmp_path):
    events = rennala_trace()
    fig, data = plots.gantt(events)
    starts = events[events["kind"] == "compute_start"]
    ends = events[events["kind"] == "compute_end"]
    jobs = starts.merge(ends, on=["worker", "job"], suffixes=("_s", "_e"))
    compute = data[data["state"] == "compute"]
    assert (compute["end"] - compute["start"]).sum() == (jobs["time_e"] - jobs["time_s"]).sum()
    assert (compute["end"] - compute["start"]).sum() == 7.5
    # every worker's row covers the whole run: busy + idle = span
    per_worker = (data["end"] - data["start"]).groupby(data["worker"]).sum()
    assert per_worker.tolist() == [6.5, 6.5]
    assert data.loc[data["state"] == "idle", ["worker", "start", "end"]].values.tolist() == [
        [2, 3.0, 3.5]
    ]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["idle", "compute", "cancelled", "upload", "update"]
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["server", "worker 1", "worker 2"]
    assert ax.get_xlabel() == plots.TIME_LABEL
    plots.save(fig, tmp_path / "gantt")
    assert (tmp_path / "gantt.png").stat().st_size > 0


def sweep():
    """Per-run times over n: method a scales like 1/n, b is flat; one run of b misses at n=4."""
    rows = []
    for n in (1, 2, 4):
        for seed in range(3):
            rows.append({"method": "a", "n": n, "seed": seed, "time_to_target": (10 + seed) / n})
            missed = n == 4 and seed == 0
            rows.append(
                {"method": "b", "n": n, "seed": seed, "time_to_target": np.nan if missed else 5.0}
            )
    return pd.DataFrame(rows)


def test_theory_first_point_normalisation(tmp_path):
    fig, data = plots.theory(sweep(), "n", lambda method, n: 3.0 / n if method == "a" else 7.0)
    a = data[data["method"] == "a"]
    np.testing.assert_allclose(a["median"], [1, 0.5, 0.25])
    np.testing.assert_allclose(a["predicted"], [1, 0.5, 0.25])
    np.testing.assert_allclose(a["lower"], [10.4 / 11, 10.4 / 22, 10.4 / 44])
    b = data[data["method"] == "b"]
    np.testing.assert_allclose(b["median"], [1, 1, 1])
    assert b["upper"].tolist()[-1] == np.inf
    assert b["reached"].tolist() == [3, 3, 2]
    ax = fig.axes[0]
    assert "normalised" in ax.get_title()
    assert any("1 run not reached" in t.get_text() for t in ax.get_legend().get_texts())
    plots.save(fig, tmp_path / "theory")
    assert (tmp_path / "theory.pdf").stat().st_size > 0


def test_theory_least_squares_scale():
    fig, data = plots.theory(sweep(), "n", lambda method, n: 1.0 / n, normalise="lsq", log=True)
    a = data[data["method"] == "a"]
    np.testing.assert_allclose(a["median"], [11, 5.5, 2.75])
    np.testing.assert_allclose(a["predicted"], [11, 5.5, 2.75])
    b = data[data["method"] == "b"]
    # log-space fit of 5 * n^0 by c / n: c = 5 * geometric mean of n = 10
    np.testing.assert_allclose(b["predicted"], [10, 5, 2.5])
    assert "least squares" in fig.axes[0].get_title()
    assert fig.axes[0].get_xscale() == "log"
    with pytest.raises(ValueError):
        plots.theory(sweep(), "n", lambda method, n: 1.0, normalise="max")


def test_theory_from_per_run_table():
    df = results_table().assign(n=lambda d: d["seed"] + 1)
    runs = analysis.per_run(df, target=5.0)
    _, data = plots.theory(runs, "n", lambda method, n: 1.0)
    assert data[["method", "n"]].values.tolist() == [
        ["a", 1],
        ["a", 2],
        ["a", 3],
        ["b", 1],
        ["b", 2],
        ["b", 3],
    ]


def test_save_writes_png_and_pdf(tmp_path):
    fig, _ = plots.gantt(rennala_trace())
    png, pdf = plots.save(fig, tmp_path / "sub" / "fig.1b")
    assert (png.name, pdf.name) == ("fig.1b.png", "fig.1b.pdf")
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert pdf.read_bytes()[:4] == b"%PDF"


def swept_results():
    """results_table in three sweep cells n = 16, 4, 8 (text order), returns scaled by n."""
    frames = [
        results_table().assign(n=n, return_mean=lambda d, n=n: d["return_mean"] * n)
        for n in (16, 4, 8)
    ]
    df = pd.concat(frames, ignore_index=True)
    df["run"] = df["run"] + "/n=" + df["n"].astype(str)
    return df


def test_curves_plot_every_sweep_cell_apart_in_numeric_order():
    df = swept_results()
    fig, data = plots.curves(df, grid=np.array([0.0, 1.5, 3.0]), facet=["n"], target=5.0)
    assert [ax.get_title() for ax in fig.axes] == ["n = 4", "n = 8", "n = 16"]
    for ax, n in zip(fig.axes, (4, 8, 16), strict=True):
        # the median of each cell's own runs, never a median pooled over cells
        a = data[(data["n"] == n) & (data["method"] == "a")].set_index("time")["median"]
        assert a.loc[1.5] == 2.0 * n
        lines = {line.get_label(): line for line in ax.lines}
        np.testing.assert_array_equal(lines["a"].get_ydata(), a.to_numpy())
        assert lines["target 5"].get_ydata()[0] == 5.0


def test_ttt_rows_per_sweep_cell_and_method():
    fig, data = plots.ttt(swept_results(), target=20.0, facet=["n"])
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == [f"{m}, n = {n}" for n in (4, 8, 16) for m in ("a", "b")]
    assert len(data) == 18


def gantt_pixels(events, colour, **kwargs):
    """Share of the worker rows' drawn pixels in ``colour``, as rendered."""
    fig, _ = plots.gantt(events, **kwargs)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[:, :, :3].astype(float) / 255
    box = fig.axes[0].get_window_extent()  # the plot only, not the legend's patches
    height = rgb.shape[0]
    rgb = rgb[int(height - box.y1) : int(height - box.y0), int(box.x0) : int(box.x1)]
    states = {
        s: (np.abs(rgb - to_rgb(c)).max(axis=2) < 0.02).sum()
        for s, c in plots.STATE_COLOURS.items()
    }
    return states[colour] / sum(states.values())


def cycles(compute, upload, count):
    """One worker: ``count`` times compute then upload."""
    rows, t = [], 0.0
    for job in range(count):
        rows += [
            (t, 1, "compute_start", job, {"job": job}),
            (t + compute, 1, "compute_end", job, {"job": job}),
            (t + compute, 1, "upload_start", job, {}),
            (t + compute + upload, 1, "upload_end", job, {}),
        ]
        t += compute + upload
    return make_events(rows)


@pytest.mark.parametrize(("upload", "count"), [(0.01, 600), (0.08, 1600), (0.3, 600)])
def test_gantt_draws_each_state_in_proportion_to_its_time(upload, count):
    # hundreds of cycles over 1000 pixels: uploads far thinner than a pixel must not smear
    # (1600 cycles of 8% uploads used to draw a solid upload row)
    events = cycles(1.0 - upload, upload, count)
    assert gantt_pixels(events, "upload") == pytest.approx(upload, abs=0.01)


def test_gantt_time_range_and_title():
    events = cycles(0.9, 0.1, 20)
    fig, data = plots.gantt(events, t_range=(2.5, 4.0), title="run results/x/seed-0")
    ax = fig.axes[0]
    assert ax.get_xlim() == (2.5, 4.0)
    assert ax.get_title(loc="left") == "run results/x/seed-0"
    assert data["start"].min() == 2.5 and data["end"].max() == 4.0
    # uploads [2.9, 3.0] and [3.9, 4.0] in the window
    assert gantt_pixels(events, "upload", t_range=(2.5, 4.0)) == pytest.approx(0.2 / 1.5, abs=0.01)
    with pytest.raises(ValueError, match="t0 < t1"):
        plots.gantt(events, t_range=(30.0, 40.0))


def test_theory_without_formula_says_so_instead_of_an_empty_legend_entry():
    fig, data = plots.theory(sweep(), "n", lambda method, n: np.nan)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "theory" not in labels
    assert all(line.get_linestyle() != "--" for line in ax.lines)
    assert "no theory curve for a, b: no formula" in ax.get_title().replace("\n", " ")
    nothing = sweep().assign(time_to_target=np.nan)
    with pytest.raises(ValueError, match="nothing to draw"):
        plots.theory(nothing, "n", lambda method, n: 1.0)


def test_theory_never_draws_an_unscaled_curve():
    runs = sweep()
    runs.loc[runs["method"] == "b", "time_to_target"] = np.nan
    fig, data = plots.theory(runs, "n", lambda method, n: 1000.0 * n)
    assert data.loc[data["method"] == "b", "predicted"].isna().all()
    assert "for b: no reached point" in fig.axes[0].get_title().replace("\n", " ")


def test_save_records_the_parameters_in_png_and_pdf(tmp_path):
    from PIL import Image

    fig, _ = plots.gantt(rennala_trace())
    png, pdf = plots.save(fig, tmp_path / "g", {"target": 150.0, "seeds": [0, 1]})
    assert json.loads(Image.open(png).text[plots.METADATA_KEY]) == {
        "seeds": [0, 1],
        "target": 150.0,
    }
    assert b"150.0" in pdf.read_bytes()
