"""Does the paper reproduce? Tidy study data, interval estimates, one verdict per claim, a report.

A *study* is one scenario's evaluation runs (what ``apga-sim run FILE --out DIR`` writes).
:func:`write_report` copies each study's evaluations into ``OUT/<study>/`` (``evals.csv``, the
runs' ``manifests.json``, the tuning table as ``tuning.csv``), then rebuilds everything else
from the tidy files under ``OUT`` alone: per-run numbers, interval estimates, figures,
``verdicts.csv`` and ``README.md``. Rebuilding from the committed files gives the same bytes.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from apga_sim import analysis, plots, stats
from apga_sim.sweep import area_under_curve
from apga_sim.trace import find_runs, load_results, read_manifest

Kind = Literal["ahead", "equal", "close", "grows", "above"]

#: Claim kind -> (what the paper says, statistic, threshold (None: the equivalence margin),
#: whether the claim is "statistic > threshold" rather than "statistic <= threshold").
KINDS: dict[str, tuple[str, str, float | None, bool]] = {
    "ahead": ("X fastest, clearly ahead", "min speed-up over baselines", 1.0, True),
    "grows": (
        "X's lead grows (study before -> after)",
        "min over baselines of speed-up after / speed-up before",
        1.0,
        True,
    ),
    "equal": ("all about equal", "max ratio of median times, all pairs", None, False),
    "close": ("small gap", "max ratio of median times, X to each baseline", None, False),
    "above": ("X far above Y", "min PoI of AUC over baselines", 0.5, True),
}

PAPER = ("rennala_nigt", "sync_nigt", "afedpg")


@dataclass(frozen=True)
class Settings:
    """Every choice behind the numbers, stated in the report.

    Attributes:
        fraction: Target = initial return + ``fraction`` x (best plateau - initial return).
        plateau_evals: A run's plateau is the mean of its last ``plateau_evals`` evaluations.
        margin: "About equal" means every compared ratio lies in ``[1 / margin, margin]``.
        confidence: Coverage of the bootstrap intervals.
        reps: Bootstrap replicates.
        seed: Seed of the bootstrap generator.

    """

    fraction: float = 0.8
    plateau_evals: int = 5
    margin: float = 1.25
    confidence: float = 0.95
    reps: int = 10_000
    seed: int = 0

    def threshold(self, kind: str) -> float:
        """The number a claim's statistic is compared with."""
        fixed = KINDS[kind][2]
        return self.margin if fixed is None else fixed

    def claimed(self, kind: str) -> str:
        """What a claim of ``kind`` says of its statistic, e.g. ``> 1``."""
        return f"{'>' if KINDS[kind][3] else '<='} {self.threshold(kind):g}"


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, judged on one study (two for ``grows``: before, after).

    ``methods`` starts with the paper's method; the others are its baselines (``equal``: all
    pairs are compared).
    """

    id: str
    figure: str
    text: str
    kind: Kind
    studies: tuple[str, ...]
    methods: tuple[str, ...] = PAPER


_F1 = "fig1{}_humanoid_n10_h-{}"
_F3 = "fig3{}_n10_h-sqrt_comm-sqrt-d025"
#: Figures 4-7 at n = 100: (id, scenario suffix, setting, claim, kind); "C-D": lead grows C -> D.
_N100: tuple[tuple[str, str, str, str, Kind], ...] = (
    ("A", "h-equal_comm-none", "h = 1, no communication", "all about equal", "equal"),
    ("B", "h-sqrt_comm-none", "h = sqrt(i), no communication", "Rennala NIGT fastest", "ahead"),
    ("C", "h-sqrt_comm-sqrt", "communication sqrt(i)", "Rennala NIGT fastest", "ahead"),
    ("D", "h-sqrt_comm-sqrt-d025", "communication sqrt(i) d^1/4", "Rennala NIGT fastest", "ahead"),
)


def _paper_claims() -> tuple[Claim, ...]:
    """The claims of arXiv 2509.24305's figures, each also on its ``v = u`` twin if it has one."""
    b, c = _F1.format("b", "sqrt_comm-sqrt"), _F1.format("c", "sqrt_comm-sqrt-d025")
    claims = [
        Claim("1a", "1a", "all three about equal", "equal", (_F1.format("a", "equal_comm-none"),)),
        Claim("1b", "1b", "Rennala NIGT fastest", "ahead", (b,)),
        Claim("1c", "1c", "Rennala NIGT most robust: fastest", "ahead", (c,)),
        Claim("1b-1c", "1b, 1c", "Rennala NIGT's lead grows with communication", "grows", (b, c)),
        Claim(
            "3a", "3a", "Reacher: Rennala NIGT clearly ahead", "ahead", (_F3.format("a_reacher"),)
        ),
        Claim("3b", "3b", "Walker2d: small gap", "close", (_F3.format("b_walker2d"),)),
        Claim("3c", "3c", "Hopper: small gap", "close", (_F3.format("c_hopper"),)),
    ]
    for env in ("Humanoid", "Reacher"):
        study = f"fig4-7_{env.lower()}_n100_{{}}".format
        claims += [
            Claim(f"4-7 {env} {key}", "4-7", f"{env}, {where}: {text}", kind, (study(suffix),))
            for key, suffix, where, text, kind in _N100
        ]
        claims.append(
            Claim(
                f"4-7 {env} C-D",
                "4-7",
                f"{env}: Rennala NIGT's lead grows with communication",
                "grows",
                (study(_N100[2][1]), study(_N100[3][1])),
            )
        )
    claims += [
        Claim(
            "8",
            "8",
            "h_i = sqrt(n + 1 - i): Rennala NIGT still fastest",
            "ahead",
            ("fig8_humanoid_n100_h-sqrt-reverse_comm-none",),
        ),
        Claim(
            "9",
            "9",
            "Malenia NIGT far above AFedPG",
            "above",
            ("fig9_humanoid_n2_h-1-10_hetero",),
            ("malenia_nigt", "afedpg"),
        ),
    ]
    twins = [
        replace(c, id=f"{c.id} (v = u)", studies=tuple(f"{s}_v-eq-u" for s in c.studies))
        for c in claims
        if all("comm-sqrt" in s for s in c.studies)  # every communicating setting has a twin
    ]
    return (*claims, *twins)


#: The paper's claims (a scenario of ``scenarios/paper`` per study).
PAPER_CLAIMS = _paper_claims()


@dataclass
class Study:
    """One study read back from its tidy files, with its per-run numbers and target."""

    name: str
    evals: pd.DataFrame
    manifests: dict[str, dict[str, Any]]
    settings: Settings = field(default_factory=Settings)
    tuned: bool = False

    @classmethod
    def read(cls, folder: Path, settings: Settings) -> Study:
        """Load ``folder/evals.csv`` and ``folder/manifests.json``; note a ``tuning.csv``."""
        evals = pd.read_csv(folder / "evals.csv")
        manifests = json.loads((folder / "manifests.json").read_text())
        return cls(folder.name, evals, manifests, settings, (folder / "tuning.csv").exists())

    @property
    def scenario(self) -> dict[str, Any]:
        """The resolved scenario of the study's runs."""
        return next(iter(self.manifests.values()))["scenario"]

    @property
    def budget(self) -> float:
        """Simulated time budget, the censoring point of time-to-target."""
        return float(self.scenario["budget"]["time"] or self.evals["time"].max())

    @property
    def methods(self) -> list[str]:
        """Method labels, the paper's first."""
        return plots._order(self.evals["method"])

    @property
    def focus(self) -> str:
        """The method compared with every other: Rennala or Malenia NIGT if present."""
        return self.methods[0]

    @cached_property
    def levels(self) -> pd.DataFrame:
        """One row per run: ``method, seed, initial, plateau, auc``."""
        rows = []
        for (method, seed), run in self.evals.groupby(["method", "seed"], sort=False):
            run = run.sort_values("time", kind="stable")
            rows.append(
                {
                    "method": method,
                    "seed": seed,
                    "initial": float(run["return_mean"].iloc[0]),
                    "plateau": float(run["return_mean"].tail(self.settings.plateau_evals).mean()),
                    "auc": area_under_curve(run, self.budget),
                }
            )
        return pd.DataFrame(rows)

    @cached_property
    def target(self) -> float:
        """Initial return + fraction x (best method's median plateau - initial return)."""
        initial = float(self.levels["initial"].median())
        best = float(self.levels.groupby("method")["plateau"].median().max())
        return initial + self.settings.fraction * (best - initial)

    @cached_property
    def runs(self) -> pd.DataFrame:
        """:attr:`levels` and ``time_to_target`` (NaN: not reached within the budget)."""
        times = [
            analysis.time_to_target(run, self.target)
            for _, run in self.evals.groupby(["method", "seed"], sort=False)
        ]
        return self.levels.assign(time_to_target=[np.nan if t is None else t for t in times])

    def values(self, method: str, column: str) -> np.ndarray:
        """Per-seed values of one method (``time_to_target``: ``inf`` = not reached)."""
        part = self.runs[self.runs["method"] == method].sort_values("seed")
        return part[column].fillna(np.inf).to_numpy(dtype=float)

    def method_se(self, method: str) -> float:
        """Median standard error of an evaluation point: ``return_std / sqrt(eval_episodes)``."""
        episodes = self.scenario["oracle"].get("eval_episodes") or 1
        std = self.evals.loc[self.evals["method"] == method, "return_std"]
        return float(std.median() / np.sqrt(episodes))

    @cached_property
    def estimates(self) -> pd.DataFrame:
        """Interval estimates of the study's tables: ``statistic, method, baseline``, bounds, CI.

        Per method: median time-to-target (``ttt``) and median AUC (``auc``). Per baseline: the
        speed-up of :attr:`focus` (``ahead``) and its probability of improvement on AUC
        (``above``).
        """
        s = self.settings
        wanted = [(kind, m, "") for m in self.methods for kind in ("ttt", "auc")]
        wanted += [(kind, self.focus, b) for b in self.methods[1:] for kind in ("ahead", "above")]
        rows = []
        for kind, method, baseline in wanted:
            methods = [method, baseline] if baseline else [method]
            samples, function = statistic(kind, [self], methods)
            est = stats.bootstrap(samples, function, s.confidence, s.reps, s.seed)
            rows.append({"statistic": kind, "method": method, "baseline": baseline} | asdict(est))
        return pd.DataFrame(rows)


def _speedups(samples: Sequence[np.ndarray], budget: float, axis: int) -> list[stats.Bounds]:
    """Bounds of the median time-to-target of each later sample over that of the first."""
    first = stats.median_bounds(samples[0], budget, axis)
    return [stats.ratio(stats.median_bounds(s, budget, axis), first) for s in samples[1:]]


def statistic(
    kind: str, studies: Sequence[Study], methods: Sequence[str]
) -> tuple[list[np.ndarray], Callable[..., stats.Bounds]]:
    """Per-seed samples (one per study and method, in that order) and a statistic of them.

    Args:
        kind: A claim kind (:data:`KINDS`), or ``ttt`` / ``auc``: the median time-to-target /
            AUC of the one method.
        studies: One study; two for ``grows`` (before, after).
        methods: The method first, then its baselines.

    """
    k, budget = len(methods), studies[0].budget
    column = "auc" if kind in ("auc", "above") else "time_to_target"
    samples = [study.values(m, column) for study in studies for m in methods]

    def ttt(x: np.ndarray, axis: int) -> stats.Bounds:
        return stats.median_bounds(x, budget, axis)

    def auc(x: np.ndarray, axis: int) -> stats.Bounds:
        return stats.constant(np.median(x, axis=axis))

    def above(x: np.ndarray, *ys: np.ndarray, axis: int) -> stats.Bounds:
        poi = [stats.probability_of_improvement(x, y, axis) for y in ys]
        return stats.lowest([stats.constant(p) for p in poi])

    def ahead(*s: np.ndarray, axis: int) -> stats.Bounds:
        return stats.lowest(_speedups(s, budget, axis))

    def grows(*s: np.ndarray, axis: int) -> stats.Bounds:
        before = _speedups(s[:k], budget, axis)
        after = _speedups(s[k:], studies[-1].budget, axis)
        return stats.lowest([stats.ratio(a, b) for a, b in zip(after, before, strict=True)])

    pairs: list[tuple[int, int]] = list(
        itertools.combinations(range(k), 2) if kind == "equal" else ((0, j) for j in range(1, k))
    )

    def spread(*s: np.ndarray, axis: int) -> stats.Bounds:
        med = [stats.median_bounds(x, budget, axis) for x in s]
        return stats.highest([stats.spread(stats.ratio(med[i], med[j])) for i, j in pairs])

    functions: dict[str, Callable[..., stats.Bounds]] = {
        "ttt": ttt,
        "auc": auc,
        "above": above,
        "ahead": ahead,
        "grows": grows,
    }
    return samples, functions.get(kind, spread)


def verdict(estimate: stats.Estimate, threshold: float, above: bool) -> str:
    """Reproduced, contradicted or inconclusive: where the interval lies around ``threshold``.

    Reproduced if the whole interval lies on the claim's side, contradicted if it lies on the
    other side, inconclusive otherwise (and without an interval).

    Args:
        estimate: The claim's statistic.
        threshold: The number it is compared with.
        above: The claim says "statistic > threshold" (else "statistic <= threshold").

    """
    low, high = estimate.ci_low, estimate.ci_high
    if np.isnan(low) or np.isnan(high):
        return "inconclusive"
    if not above:
        low, high, threshold = -high, -low, -threshold  # "<= t" is "-statistic >= -t"
    if low > threshold:
        return "reproduced"
    return "contradicted" if high < threshold else "inconclusive"


def judge(
    claim: Claim, studies: Mapping[str, Study], settings: Settings, costs: Mapping[str, str]
) -> dict[str, Any]:
    """One row of the verdict table (``not run`` when a study or a method has no data)."""
    _, described, _, above = KINDS[claim.kind]
    threshold = settings.threshold(claim.kind)
    row: dict[str, Any] = {
        "claim": claim.id,
        "figure": claim.figure,
        "text": claim.text,
        "studies": " -> ".join(claim.studies),
        "statistic": described,
        "rule": settings.claimed(claim.kind),
        "low": np.nan,
        "high": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "target": "",
        "eval_se": np.nan,
        "verdict": "not run",
        "note": "",
    }
    missing = [s for s in claim.studies if s not in studies]
    if missing:
        partly = [f"no data for {', '.join(missing)}"] if len(missing) < len(claim.studies) else []
        costed = [f"estimated cost of {s}: {costs[s]}" for s in missing if s in costs]
        row["note"] = "; ".join(partly + costed)
        return row
    absent = sorted(
        {m for s in claim.studies for m in claim.methods}
        - _common_methods([studies[s] for s in claim.studies])
    )
    if absent:
        row["note"] = f"no runs of {', '.join(absent)}"
        return row
    judged = [studies[s] for s in claim.studies]
    samples, function = statistic(claim.kind, judged, claim.methods)
    est = stats.bootstrap(samples, function, settings.confidence, settings.reps, settings.seed)
    row |= asdict(est)
    row |= {
        "target": "; ".join(f"{s.target:.6g}" for s in judged),
        "eval_se": max(s.method_se(m) for s in judged for m in claim.methods),
        "verdict": verdict(est, threshold, above),
        "note": "" if np.isfinite(est.ci_low) else "fewer than 2 seeds: no interval",
    }
    return row


def _common_methods(studies: Sequence[Study]) -> set[str]:
    """Methods with runs in every one of ``studies``."""
    return set.intersection(*(set(s.methods) for s in studies))


def find_study(path: str | Path) -> tuple[str, Path, Path | None]:
    """The study in ``path``: its scenario name, runs directory and tuning table.

    ``path`` is the ``--out`` of ``apga-sim run`` (one scenario), or of ``apga-sim reproduce``:
    then the runs are ``path/eval`` and the tuning table is ``path/<stem>.tuning.csv``.

    Raises:
        ValueError: no runs below ``path``.

    """
    path = Path(path)
    runs = path / "eval" if (path / "eval").is_dir() else path
    found = find_runs(runs)
    if not found:
        raise ValueError(f"{path}: no apga-sim runs here (expected <method>/seed-<seed>/)")
    tables = sorted(path.glob("*.tuning.csv")) if runs != path else []
    return read_manifest(found[0])["scenario_name"], runs, tables[0] if len(tables) == 1 else None


def export_study(run_dir: str | Path, folder: str | Path, tuning: str | Path | None = None) -> None:
    """Copy a study's tidy data into ``folder``: evaluations, manifests and tuning table.

    Only complete runs are copied; event traces stay out.

    Args:
        run_dir: The study's runs (``<method>/seed-<seed>/``).
        folder: Destination, e.g. ``docs/reproduction/<study>``.
        tuning: The tuning score table to copy as ``tuning.csv``, if any.

    Raises:
        ValueError: ``run_dir`` holds no complete run, a sweep, or several scenarios.

    """
    results = load_results(run_dir)
    results = results[results["status"] == "complete"]
    if results.empty:
        raise ValueError(f"{run_dir}: no complete runs")
    if analysis.param_columns(results):
        raise ValueError(f"{run_dir}: a sweep; give one directory per cell")
    manifests = {}
    for run in results["run"].unique():
        m = read_manifest(run)
        manifests[f"{m['method']}/seed-{m['seed']}"] = m
    if len({m["scenario_name"] for m in manifests.values()}) > 1:
        raise ValueError(f"{run_dir}: runs of several scenarios")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    returns = [c for c in results.columns if c.startswith("return_")]
    order = {m: i for i, m in enumerate(plots._order(results["method"]))}
    evals = results[["method", "seed", "time", "update", *returns]].sort_values(
        ["method", "seed", "time"], key=lambda c: c.map(order) if c.name == "method" else c
    )
    evals.to_csv(folder / "evals.csv", index=False)
    text = json.dumps(dict(sorted(manifests.items())), indent=1, sort_keys=True)
    (folder / "manifests.json").write_text(text + "\n")
    (folder / "tuning.csv").unlink(missing_ok=True)
    if tuning is not None:
        shutil.copyfile(tuning, folder / "tuning.csv")


def figures(study: Study, folder: Path) -> list[Path]:
    """``curves.png`` (return vs time), ``updates.png`` (vs update count), ``ttt.png``."""
    est = study.estimates
    medians = est[est["statistic"] == "ttt"]
    speedups = est[est["statistic"] == "ahead"]
    last = max(1, int(study.evals["update"].max()))
    grid = np.unique(np.concatenate([[0.0], np.round(np.geomspace(1, last, 200))]))
    made = {
        "curves": plots.curves(study.evals, target=study.target)[0],
        "updates": plots.curves(study.evals, grid=grid, x="update", target=study.target)[0],
        "ttt": plots.ttt_intervals(
            medians, speedups, study.budget, study.focus, study.settings.margin
        )[0],
    }
    for ax in made["updates"].axes:
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(0, grid[-1])
    paths = []
    for name, fig in made.items():
        paths.append(folder / f"{name}.png")
        fig.savefig(paths[-1], dpi=150)
    return paths


def write_report(
    studies: Mapping[str, str | Path],
    out: str | Path,
    claims: Sequence[Claim] = PAPER_CLAIMS,
    settings: Settings = Settings(),
    costs: Mapping[str, str] | None = None,
    tuning: Mapping[str, str | Path] | None = None,
) -> Path:
    """Export ``studies`` into ``out``, then rebuild the whole report from the tidy files there.

    Args:
        studies: Study name (a folder of ``out``; the claims' study names) -> results directory.
            Empty: only rebuild from the data already in ``out``.
        out: Report folder, e.g. ``docs/reproduction``.
        claims: Claims to judge.
        settings: Target, interval and verdict settings.
        costs: Study name -> estimated cost of running it, shown for studies without data
            (kept in ``out/costs.json`` for later rebuilds).
        tuning: Study name -> its tuning score table (copied as ``tuning.csv``).

    Returns:
        The path of ``README.md``.

    """
    out = Path(out)
    for name, run_dir in studies.items():
        export_study(run_dir, out / name, (tuning or {}).get(name))
    costs_file = out / "costs.json"
    known = json.loads(costs_file.read_text()) if costs_file.exists() else {}
    if costs:
        known = dict(sorted((known | dict(costs)).items()))
        out.mkdir(parents=True, exist_ok=True)
        costs_file.write_text(json.dumps(known, indent=1) + "\n")
    loaded = {
        f.parent.name: Study.read(f.parent, settings) for f in sorted(out.glob("*/evals.csv"))
    }
    for name, study in loaded.items():
        study.runs.to_csv(out / name / "runs.csv", index=False)
        study.estimates.to_csv(out / name / "estimates.csv", index=False)
        figures(study, out / name)
    verdicts = pd.DataFrame([judge(c, loaded, settings, known) for c in claims])
    out.mkdir(parents=True, exist_ok=True)
    verdicts.to_csv(out / "verdicts.csv", index=False)
    readme = out / "README.md"
    readme.write_text(_readme(loaded, verdicts, settings))
    return readme


def _num(x: float, digits: int = 3) -> str:
    """A number for the report (``inf`` as infinity, NaN as n/a)."""
    if np.isnan(x):
        return "n/a"
    return "∞" if np.isinf(x) else f"{x:.{digits}g}"


def _value(low: float, high: float, digits: int = 3) -> str:
    """A statistic from its bounds: the value, ``> x``, ``< x`` or ``undefined``."""
    if low == high:
        return _num(low, digits)
    if np.isinf(high):
        return f"> {_num(low, digits)}" if low > 0 else "undefined"
    if low == 0:
        return f"< {_num(high, digits)}"
    return f"{_num(low, digits)} to {_num(high, digits)}"


def _interval(low: float, high: float, digits: int = 3) -> str:
    """A bootstrap interval, ``n/a`` without one."""
    return "n/a" if np.isnan(low) else f"[{_num(low, digits)}, {_num(high, digits)}]"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _profile(p: Mapping[str, Any]) -> str:
    """A time profile as a formula in the worker index ``i``."""
    arg = "n + 1 - i" if p.get("reverse") else "i"
    forms = {
        "equal": "1",
        "sqrt": f"sqrt({arg})",
        "linear": f"({arg})",
        "power": f"({arg})^{p.get('p')}",
        "list": "(" + ", ".join(f"{v:g}" for v in p.get("values", [])) + ")",
    }
    if p["kind"] not in forms:
        return json.dumps({k: v for k, v in p.items() if v is not None}, sort_keys=True)
    scale, form = p.get("scale", 1.0), forms[p["kind"]]
    scale = f"{scale:g}" if isinstance(scale, int | float) else str(scale)
    if scale == "0" or form == "1":
        return scale
    return form if scale == "1" else f"{form} * {scale}"


def _decisions(study: Study) -> str:
    """The study's settings and the decisions the paper leaves open, as Markdown bullets."""
    s = study.scenario
    oracle = s["oracle"]
    v = "v = 0" if _profile(s["v"]) == "0" else "v = u" if s["v"] == s["u"] else "v differs from u"
    agg = s.get("aggregation", {})
    comm = (
        "server"
        if agg.get("mode", "server") == "server"
        else f"AllReduce ({agg['allreduce']['kind']})"
    )
    configs: dict[str, dict[str, Any]] = {}
    for m in study.manifests.values():
        configs.setdefault(m["method"], m["method_config"])
    params = [
        f"{label}: "
        + ", ".join(
            f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
            for k, v in configs[label].items()
            if k in ("alpha", "eta", "M", "M_init", "b") and v is not None
        )
        for label in study.methods
    ]
    seeds = sorted(study.evals["seed"].unique())
    lines = [
        f"{s.get('description') or s['name']}",
        "",
        f"- setting: n = {s['n']}, {oracle.get('env', oracle['kind'])}; compute h_i = "
        f"{_profile(s['h'])} charged {s['charge'].replace('_', ' ')}; upload u_i = "
        f"{_profile(s['u'])}, download v_i = {_profile(s['v'])} ({v}); communication: {comm}",
        f"- budget B = {_num(study.budget, 6)} simulated s; evaluation every "
        f"{s['eval'].get('every_time') or s['eval'].get('every_updates')} "
        f"{'s' if s['eval'].get('every_time') else 'updates'}, "
        f"{oracle.get('eval_episodes') or 1} episode(s); seeds {', '.join(map(str, seeds))}",
        f"- methods: {'; '.join(params)}",
    ]
    if study.tuned:
        lines.append(
            f"- alpha (and M) tuned on seeds {s['tune']['seeds']}, disjoint from the evaluation "
            f"seeds: scores in [tuning.csv]({study.name}/tuning.csv)"
        )
    return "\n".join(lines)


def _study_section(study: Study) -> str:
    """A study's settings, target, tables and figures."""
    est = study.estimates.set_index(["statistic", "method", "baseline"])
    levels = study.runs.groupby("method")
    rows = []
    for m in study.methods:
        t, a = est.loc[("ttt", m, "")], est.loc[("auc", m, "")]
        ttt = "not reached" if np.isinf(t["high"]) else _num(t["high"], 4)
        rows.append(
            [
                m,
                str(len(levels.get_group(m))),
                str(int(levels.get_group(m)["time_to_target"].notna().sum())),
                f"{ttt} {_interval(t['ci_low'], t['ci_high'], 4)}",
                f"{_num(a['low'], 4)} {_interval(a['ci_low'], a['ci_high'], 4)}",
                _num(levels.get_group(m)["plateau"].median(), 4),
                _num(study.method_se(m), 3),
            ]
        )
    comparisons = []
    for b in study.methods[1:]:
        r, p = est.loc[("ahead", study.focus, b)], est.loc[("above", study.focus, b)]
        comparisons.append(
            [
                f"{study.focus} vs {b}",
                f"{_value(r['low'], r['high'])} {_interval(r['ci_low'], r['ci_high'])}",
                f"{_num(p['low'])} {_interval(p['ci_low'], p['ci_high'])}",
            ]
        )
    levels_all, name = study.levels, study.name
    ci = f"{100 * study.settings.confidence:g}% CI"
    return "\n\n".join(
        [
            f"### {name}",
            _decisions(study),
            f"Target {_num(study.target, 6)} = initial {_num(levels_all['initial'].median(), 6)}"
            f" + {study.settings.fraction:g} x (best median plateau "
            f"{_num(levels_all.groupby('method')['plateau'].median().max(), 6)} - initial).",
            _table(
                [
                    "method",
                    "runs",
                    "reached",
                    f"median time-to-target [s] ({ci})",
                    f"median AUC ({ci})",
                    "median plateau",
                    "eval SE",
                ],
                rows,
            ),
            _table(["comparison", f"speed-up ({ci})", f"PoI of AUC ({ci})"], comparisons)
            if comparisons
            else "",
            f"![return vs simulated time]({name}/curves.png) "
            f"![time-to-target and speed-ups]({name}/ttt.png)\n"
            f"![return vs update count]({name}/updates.png)",
            f"Data: [evals.csv]({name}/evals.csv), [runs.csv]({name}/runs.csv), "
            f"[estimates.csv]({name}/estimates.csv), [manifests.json]({name}/manifests.json).",
        ]
    )


def _rules(s: Settings) -> str:
    """How every number is made and judged, stated once."""
    pct = f"{100 * s.confidence:g}%"
    kinds = [[f"{k}: {says}", stat, s.claimed(k)] for k, (says, stat, _, _) in KINDS.items()]
    return "\n\n".join(
        [
            f"**Target.** Per study, target = R0 + {s.fraction:g} x (P - R0): R0 is the median "
            "initial return over all runs (every method starts from the same policy for a seed), "
            "P the best method's median plateau, a run's plateau being the mean of its last "
            f"{s.plateau_evals} evaluations. One target for every method of a study, never tuned "
            "per method; the scenario's own `target_return` is not used.",
            "**Time-to-target** of a run: the first evaluation time with return >= target. A "
            "run that does not reach it within the budget B is censored: its time is only known "
            'to exceed B and is never used as a number. The median over seeds is "not reached" '
            "when it falls on such a run (for an even count of seeds: touches one). A statistic "
            "of censored medians is carried as bounds, its least and largest value for censored "
            'medians anywhere in (B, ∞): "> x" and "< x" are such bounds, "undefined" '
            "means no bound (e.g. two medians both not reached).",
            "**AUC**: the time-average of the step-wise evaluation return over [0, B], in return "
            "units. **Speed-up** of the paper's method X over a baseline Y: median "
            "time-to-target of Y / that of X (> 1: X is faster). **PoI**: probability of "
            "improvement of X over Y on AUC, P(AUC_X > AUC_Y) + P(AUC_X = AUC_Y) / 2 over all "
            "pairs of seeds (rliable's definition). **Eval SE**: standard error of one "
            "evaluation point, return_std / sqrt(eval_episodes), median over the evaluations "
            "(in the verdict table: the largest over the compared methods), to weigh the gaps "
            "against.",
            f"**Intervals**: {pct} stratified percentile bootstrap, each method's seeds in each "
            f"study a stratum resampled on its own (`scipy.stats.bootstrap`, {s.reps} replicates, "
            f"generator seed {s.seed}, so the numbers are identical on every rebuild). Their "
            "lower end comes from the replicates' lower bounds, the upper end from their upper "
            "bounds; a replicate whose statistic is undefined counts as 0 for the lower end and "
            "∞ for the upper. No interval with fewer than 2 seeds.",
            "**Verdict rule**, the same for every claim: a claim says its statistic is above (or "
            f"at most) a threshold. It is *reproduced* if the whole {pct} interval lies on the "
            "claim's side, *contradicted* if the whole interval lies on the other side, "
            "*inconclusive* otherwise, and *not run* if a study or a method of the claim has no "
            "data. X is the paper's method (Rennala NIGT; Malenia NIGT in figure 9), its baselines "
            'the other methods of the claim. "Far above" and "clearly ahead" are judged as above '
            f'and ahead; {s.margin:g} as the margin of "about equal" allows a '
            f"{100 * (s.margin - 1):g}% difference in median time either way.",
            _table(["claim kind", "statistic", "claimed"], kinds),
        ]
    )


_INTRO = """\
Generated by `apga-sim verdicts --out docs/reproduction` from the files of this folder alone
(do not edit by hand). Each study folder holds the data behind its numbers: `evals.csv` (every
evaluation: method, seed, simulated time, update count, mean and standard deviation of the return
over the evaluation episodes), `manifests.json` (every run's manifest: resolved scenario,
versions, counters), `tuning.csv` (tuning scores, when the study was tuned), and the derived
`runs.csv` (per run), `estimates.csv` (the interval estimates of its tables) and figures;
`verdicts.csv` is the table below. Event traces are not kept here."""


def _readme(studies: Mapping[str, Study], verdicts: pd.DataFrame, settings: Settings) -> str:
    """The report: verdicts, the rules, then every study."""
    rows = []
    for r in verdicts.itertuples(index=False):
        run = r.verdict != "not run"
        rows.append(
            [
                r.claim,
                r.text,
                " -> ".join(
                    f"[{s}](#{s.lower().replace('.', '')})" if s in studies else s
                    for s in r.studies.split(" -> ")
                ),
                r.statistic,
                _value(r.low, r.high) if run else "",
                _interval(r.ci_low, r.ci_high) if run else "",
                r.rule,
                r.target,
                _num(r.eval_se) if run else "",
                f"**{r.verdict}**" + (f" ({r.note})" if r.note else ""),
            ]
        )
    counts = verdicts["verdict"].value_counts()
    tally = ", ".join(
        f"{counts[v]} {v}"
        for v in ("reproduced", "contradicted", "inconclusive", "not run")
        if v in counts
    )
    header = [
        "claim",
        "what the paper reports",
        "study",
        "statistic",
        "estimate",
        f"{100 * settings.confidence:g}% CI",
        "claimed",
        "target",
        "eval SE",
        "verdict",
    ]
    return (
        "\n\n".join(
            [
                "# Reproducing arXiv 2509.24305 (Rennala NIGT, Malenia NIGT)",
                _INTRO,
                f"## Verdicts\n\n{tally}.",
                _table(header, rows),
                "## How the claims are judged",
                _rules(settings),
                "## Studies",
                *([_study_section(study) for study in studies.values()] or ["None yet."]),
            ]
        )
        + "\n"
    )
