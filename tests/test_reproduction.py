"""The reproduction report: every number of the verdict table follows from the tidy files.

The pipeline runs on three small quadratic studies (seconds); the checks recompute each number
from ``evals.csv`` with code written apart from ``apga_sim.reproduction``.
"""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import bootstrap, mannwhitneyu
from typer.testing import CliRunner

from apga_sim import stats
from apga_sim.cli import app
from apga_sim.reproduction import PAPER_CLAIMS, Claim, Settings, verdict, write_report
from apga_sim.runner import run_many
from apga_sim.scenario import load_scenario
from apga_sim.sweep import specs

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = Settings(reps=500)
STUDIES = {"quadratic_equal": 30, "quadratic_sqrt": 60, "quadratic_malenia": 200}
NIGT = ("rennala_nigt", "sync_nigt", "afedpg")
CLAIMS = (
    Claim("E", "q", "all equal", "equal", ("quadratic_equal",), NIGT),
    Claim("A", "q", "Rennala ahead", "ahead", ("quadratic_sqrt",)),
    Claim("C", "q", "small gap", "close", ("quadratic_sqrt",)),
    Claim("G", "q", "lead grows", "grows", ("quadratic_equal", "quadratic_sqrt")),
    Claim("M", "q", "Malenia above", "above", ("quadratic_malenia",), ("malenia_nigt", "afedpg")),
    Claim("T", "q", "Malenia ahead", "ahead", ("quadratic_malenia",), ("malenia_nigt", "afedpg")),
    Claim("N", "q", "no data", "ahead", ("missing_study",)),
    Claim("X", "q", "no method", "ahead", ("quadratic_sqrt",), ("rennala_nigt", "async_pg")),
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """Three quadratic studies (3 seeds each) and the report built from them."""
    root = tmp_path_factory.mktemp("studies")
    dirs = {}
    for name, budget in STUDIES.items():
        s = load_scenario(ROOT / "scenarios" / "quick" / f"{name}.yaml", {"budget.time": budget})
        runs = specs(s, root / name, seeds=[0, 1, 2])
        run_many([sp for sp in runs if sp.label in (*NIGT, "malenia_nigt")], jobs=1)
        dirs[name] = root / name
    out = root / "report"
    write_report(dirs, out, CLAIMS, SETTINGS, costs={"missing_study": "2 core-hours"})
    return out


# --- an independent recomputation from evals.csv --------------------------------------------


def per_run(out: Path, study: str, fraction: float, k: int) -> tuple[pd.DataFrame, float, float]:
    """Per-run AUC and time-to-target (inf: not reached), the target and the budget."""
    evals = pd.read_csv(out / study / "evals.csv")
    manifests = json.loads((out / study / "manifests.json").read_text())
    budget = next(iter(manifests.values()))["scenario"]["budget"]["time"]
    rows = []
    for (method, seed), run in evals.groupby(["method", "seed"]):
        t, r = run["time"].to_numpy(), run["return_mean"].to_numpy()
        assert t[0] == 0 and np.all(np.diff(t) >= 0)
        ends = np.append(t[1:], budget).clip(max=budget)
        auc = sum((e - s) * v for s, e, v in zip(t, ends, r, strict=True) if s < budget) / budget
        rows.append({"method": method, "seed": seed, "auc": auc, "initial": r[0]})
        rows[-1] |= {"plateau": r[-k:].mean(), "times": t, "returns": r}
    runs = pd.DataFrame(rows)
    initial = runs["initial"].median()
    target = initial + fraction * (runs.groupby("method")["plateau"].median().max() - initial)
    runs["ttt"] = [
        next((ti for ti, ri in zip(t, r, strict=True) if ri >= target), math.inf)
        for t, r in zip(runs["times"], runs["returns"], strict=True)
    ]
    return runs.sort_values(["method", "seed"]), target, budget


def div(a: float, b: float) -> float:
    """a / b for a, b >= 0 with x / inf = 0, x / 0 = inf, and 0 / 0, inf / inf undefined."""
    if (a == 0 and b == 0) or (math.isinf(a) and math.isinf(b)):
        return math.nan
    if b == 0 or math.isinf(a):
        return math.inf
    return 0.0 if math.isinf(b) else a / b


def median(times, budget):
    """Bounds of the median: a median on an unreached run lies in (budget, inf)."""
    xs, n = sorted(times), len(times)
    mid = xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
    return (budget, math.inf) if math.isinf(mid) else (mid, mid)


def speedup(base, method):
    return div(base[0], method[1]), div(base[1], method[0])


def spread(r):
    f = [math.inf if x in (0, math.inf) else max(x, 1 / x) for x in r]
    if any(math.isnan(x) for x in r):
        return math.nan, math.nan
    return (1.0 if r[0] <= 1 <= r[1] else min(f)), max(f)


def worst(parts, pick):
    """Bounds of min (pick=min) or max of several statistics; undefined if any is."""
    if any(math.isnan(x) for p in parts for x in p):
        return math.nan, math.nan
    return pick(p[0] for p in parts), pick(p[1] for p in parts)


def claim_bounds(claim, budgets, *samples):
    """The claim's statistic (lower, upper bound) from per-seed samples, one scalar at a time."""
    k = len(claim.methods)
    if claim.kind == "above":
        x, *ys = samples
        poi = [mannwhitneyu(x, y).statistic / (len(x) * len(y)) for y in ys]
        return min(poi), min(poi)
    meds = [median(s, budgets[i // k]) for i, s in enumerate(samples)]
    ups = [speedup(b, meds[0]) for b in meds[1:k]]
    if claim.kind == "ahead":
        return worst(ups, min)
    if claim.kind == "grows":
        later = [speedup(b, meds[k]) for b in meds[k + 1 :]]
        growth = [(div(a[0], b[1]), div(a[1], b[0])) for a, b in zip(later, ups, strict=True)]
        return worst(growth, min)
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    pairs = pairs if claim.kind == "equal" else [(0, j) for j in range(1, k)]
    return worst([spread(speedup(meds[i], meds[j])) for i, j in pairs], max)


def recompute(out: Path, claim: Claim, s: Settings) -> dict:
    studies = [per_run(out, name, s.fraction, s.plateau_evals) for name in claim.studies]
    column = "auc" if claim.kind == "above" else "ttt"
    samples = [
        runs.loc[runs["method"] == m, column].to_numpy(dtype=float)
        for runs, _, _ in studies
        for m in claim.methods
    ]
    budgets = [budget for _, _, budget in studies]
    low, high = claim_bounds(claim, budgets, *samples)
    with np.errstate(invalid="ignore"):  # scipy's summary of the inf replicates
        dist = bootstrap(
            samples,
            lambda *x: np.array(claim_bounds(claim, budgets, *x)),
            n_resamples=s.reps,
            vectorized=False,
            method="percentile",
            rng=np.random.default_rng(s.seed),
        ).bootstrap_distribution
    lows, highs = (
        np.where(np.isnan(dist[0]), 0.0, dist[0]),
        np.where(np.isnan(dist[1]), np.inf, dist[1]),
    )
    a = (1 - s.confidence) / 2
    return {
        "low": 0.0 if math.isnan(low) else low,
        "high": math.inf if math.isnan(high) else high,
        "ci_low": np.sort(lows)[math.ceil(a * s.reps) - 1],
        "ci_high": np.sort(highs)[math.ceil((1 - a) * s.reps) - 1],
        "target": "; ".join(f"{t:.6g}" for _, t, _ in studies),
    }


def test_every_number_of_the_verdict_table_follows_from_the_tidy_data(report):
    table = pd.read_csv(report / "verdicts.csv", keep_default_na=False, na_values=[""])
    assert list(table["claim"]) == [c.id for c in CLAIMS]
    judged = 0
    for claim, row in zip(CLAIMS, table.itertuples(index=False), strict=True):
        if claim.id in ("N", "X"):
            continue
        judged += 1
        expected = recompute(report, claim, SETTINGS)
        for key in ("low", "high", "ci_low", "ci_high"):
            assert getattr(row, key) == pytest.approx(expected[key], rel=1e-12), (claim.id, key)
        assert row.target == expected["target"]
        threshold, above = {"equal": (1.25, False), "close": (1.25, False)}.get(
            claim.kind, (0.5 if claim.kind == "above" else 1.0, True)
        )
        lo, hi = expected["ci_low"], expected["ci_high"]
        side, other = (
            (lo > threshold, hi < threshold) if above else (hi <= threshold, lo > threshold)
        )
        assert row.verdict == (
            "reproduced" if side else "contradicted" if other else "inconclusive"
        )
        assert row.eval_se == 0.0  # the quadratic oracle evaluates exactly
    assert judged == 6
    censored = table.set_index("claim").loc["T"]  # AFedPG never reaches Malenia's target
    assert censored["high"] == math.inf and censored["low"] > 1
    assert set(table["verdict"]) >= {"reproduced", "contradicted", "not run"}


def test_claims_without_data_are_not_run(report):
    table = pd.read_csv(report / "verdicts.csv", keep_default_na=False).set_index("claim")
    assert table.loc["N", "verdict"] == "not run"
    assert "2 core-hours" in table.loc["N", "note"]
    assert table.loc["X", "verdict"] == "not run"
    assert "async_pg" in table.loc["X", "note"]


def test_the_report_is_rebuilt_from_the_tidy_files_alone(report, tmp_path):
    copy = tmp_path / "copy"
    for path in report.rglob("*"):
        if path.name in ("evals.csv", "manifests.json", "costs.json"):
            (copy / path.relative_to(report)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, copy / path.relative_to(report))
    write_report({}, copy, CLAIMS, SETTINGS)
    for name in ("verdicts.csv", "README.md", *(f"{s}/estimates.csv" for s in STUDIES)):
        assert (copy / name).read_bytes() == (report / name).read_bytes(), name
    readme = (report / "README.md").read_text()
    assert "target = R0 + 0.8 x (P - R0)" in readme and "**not run**" in readme
    for study in STUDIES:
        for figure in ("curves.png", "updates.png", "ttt.png"):
            assert (report / study / figure).stat().st_size > 0
            assert f"{study}/{figure}" in readme
    assert not list(report.rglob("*.parquet"))  # event traces stay out
    assert sum(p.stat().st_size for p in report.rglob("*")) < 3_000_000


def test_study_table_estimates(report):
    runs, target, budget = per_run(report, "quadratic_sqrt", 0.8, 5)
    est = pd.read_csv(report / "quadratic_sqrt" / "estimates.csv", keep_default_na=False)
    est = est.set_index(["statistic", "method", "baseline"])
    for method, group in runs.groupby("method"):
        low, high = median(group["ttt"].tolist(), budget)
        assert est.loc[("ttt", method, ""), ["low", "high"]].tolist() == pytest.approx([low, high])
        assert est.loc[("auc", method, ""), "low"] == pytest.approx(group["auc"].median())
    saved = pd.read_csv(report / "quadratic_sqrt" / "runs.csv").sort_values(["method", "seed"])
    assert saved["time_to_target"].fillna(np.inf).tolist() == runs["ttt"].tolist()
    assert saved["auc"].to_numpy() == pytest.approx(runs["auc"].to_numpy(), rel=1e-12)
    assert target > runs["initial"].median()


def test_reproduce_layout_and_cli(report, tmp_path):
    layout = tmp_path / "fig"
    shutil.copytree(report.parent / "quadratic_sqrt", layout / "eval")
    (layout / "quadratic_sqrt.tuning.csv").write_text("method,alpha,auc\nrennala_nigt,0.2,-2\n")
    out = tmp_path / "docs"
    result = CliRunner().invoke(app, ["verdicts", str(layout), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "quadratic_sqrt" / "tuning.csv").read_text().startswith("method,alpha")
    assert "tuning.csv" in (out / "README.md").read_text()
    table = pd.read_csv(out / "verdicts.csv")
    assert len(table) == len(PAPER_CLAIMS) and set(table["verdict"]) == {"not run"}
    bad = CliRunner().invoke(app, ["verdicts", str(tmp_path / "nothing"), "--out", str(out)])
    assert bad.exit_code == 2 and "no apga-sim runs" in bad.output


def test_paper_claims_name_the_paper_scenarios():
    names = {
        yaml.safe_load(p.read_text())["name"] for p in (ROOT / "scenarios/paper").glob("*.yaml")
    }
    used = {s for c in PAPER_CLAIMS for s in c.studies}
    assert used == names
    assert len({c.id for c in PAPER_CLAIMS}) == len(PAPER_CLAIMS)


# --- statistics --------------------------------------------------------------------------------


def test_censored_medians_and_their_ratios_are_bounds():
    inf = np.inf
    assert stats.median_bounds(np.array([1.0, inf, inf]), 10.0) == (10.0, inf)
    assert stats.median_bounds(np.array([1.0, 2.0, inf, inf]), 10.0) == (10.0, inf)
    assert stats.median_bounds(np.array([1.0, 3.0, np.nan]), 10.0) == (3.0, 3.0)
    fast, slow = (2.0, 2.0), (10.0, inf)
    assert stats.ratio(slow, fast) == (5.0, inf)  # the baseline never reached: at least 5
    assert stats.ratio(fast, slow) == (0.0, 0.2)
    assert stats.ratio(slow, slow) == (0.0, inf)  # neither reached: any ratio
    assert stats.spread((0.5, 3.0)) == (1.0, 3.0)
    assert stats.spread((0.25, 0.5)) == (2.0, 4.0)


def test_probability_of_improvement_is_mann_whitney_u_over_mn():
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 4, 5).astype(float), rng.integers(0, 4, 7).astype(float)
    expected = mannwhitneyu(x, y).statistic / 35
    assert stats.probability_of_improvement(x, y) == pytest.approx(expected)


def test_bootstrap_is_seeded_and_needs_two_seeds():
    def stat(x, y, axis):
        return stats.ratio(stats.median_bounds(x, 9.0, axis), stats.median_bounds(y, 9.0, axis))

    x, y = np.array([3.0, 4.0, np.inf, 5.0]), np.array([1.0, 2.0, 2.5])
    first, again = stats.bootstrap([x, y], stat, reps=300), stats.bootstrap([x, y], stat, reps=300)
    assert first == again
    assert first.ci_low <= first.low <= first.high <= first.ci_high
    lonely = stats.bootstrap([x[:1], y], stat, reps=300)
    assert np.isnan(lonely.ci_low) and lonely.exact


@pytest.mark.parametrize(
    ("ci", "above", "expected"),
    [
        ((1.1, 3.0), True, "reproduced"),
        ((0.2, 0.9), True, "contradicted"),
        ((0.9, 1.2), True, "inconclusive"),
        ((1.0, 1.2), False, "reproduced"),
        ((1.3, np.inf), False, "contradicted"),
        ((np.nan, np.nan), True, "inconclusive"),
    ],
)
def test_verdict_rule(ci, above, expected):
    threshold = 1.0 if above else 1.25
    assert verdict(stats.Estimate(1.0, 1.0, *ci), threshold, above) == expected


def test_the_committed_report_follows_from_its_committed_data(tmp_path):
    """docs/reproduction: the verdicts rebuild byte for byte, each judged number recomputed."""
    committed = ROOT / "docs" / "reproduction"
    copy = tmp_path / "copy"
    kept = ("evals.csv", "manifests.json", "costs.json", "tuning.csv")
    for path in committed.rglob("*"):
        if path.name in kept:
            (copy / path.relative_to(committed)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, copy / path.relative_to(committed))
    write_report({}, copy)
    for name in ("verdicts.csv", "README.md"):
        assert (copy / name).read_bytes() == (committed / name).read_bytes(), name
    table = pd.read_csv(
        committed / "verdicts.csv", keep_default_na=False, na_values=[""], dtype={"target": str}
    )
    for claim, row in zip(PAPER_CLAIMS, table.itertuples(index=False), strict=True):
        assert row.claim == claim.id
        if row.verdict == "not run":
            continue
        expected = recompute(copy, claim, Settings())
        for key in ("low", "high", "ci_low", "ci_high"):
            assert getattr(row, key) == pytest.approx(expected[key], rel=1e-12), (claim.id, key)
        assert row.target == expected["target"]
