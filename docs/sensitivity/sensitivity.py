"""How the ranking of the methods on the figure 1c timing moves with the communication model.

Run from the repository root (a few minutes on 2 cores)::

    .venv/bin/python docs/sensitivity/sensitivity.py [--seeds 5] [--jobs 2] [--budget 15000]

It writes ``ranking.csv``, ``ranking.md`` and ``ranking.png`` to ``--out`` (this folder). The
runs go to ``--work`` (``results/sensitivity``); complete runs there are reused, so an
interrupted study resumes where it stopped.
The oracle is the noisy quadratic, NOT MuJoCo (the study ran before figure 1c's step sizes were
tuned), so the question is only how the timing model reorders methods with fixed step sizes
(those of ``scenarios/quick/quadratic_sqrt.yaml``). The timing is figure 1c's: n = 10,
h_i = sqrt(i), u_i = sqrt(i) d^(1/4) with Humanoid's d = 30498, v = 0.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import yaml

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from apga_sim.analysis import quantile, time_to_target  # noqa: E402
from apga_sim.trace import load_results  # noqa: E402

HERE = Path(__file__).parent
TARGET = -0.5
BASE = {
    "n": 10,
    "oracle": {"kind": "quadratic", "dim": 20, "sigma": 1.0},
    "h": {"kind": "sqrt"},
    "u": {"kind": "sqrt", "scale": round(30498**0.25, 4)},
    "eval": {"every_updates": None, "every_time": 25},
    "target_return": TARGET,
}
ROUNDS = [
    {"name": "rennala_nigt", "alpha": 0.2, "eta": 0.1, "M": 30},
    {"name": "sync_nigt", "alpha": 0.2, "eta": 0.1, "b": 1},
    {"name": "sync_nigt", "label": "sync_nigt_eqbatch", "alpha": 0.2, "eta": 0.1, "b": 3},
]
AFEDPG = {"name": "afedpg", "alpha": 0.05, "eta": 0.1}
MODELS = {  # label: (aggregation, round-based methods run here, AFedPG runs here)
    "round-sum upload": ({"mode": "server"}, True, True),
    "round-sum upload + overlap": ({"mode": "server", "overlap": True}, False, True),
    "AllReduce": ({"mode": "allreduce"}, True, False),
    "AllReduce + overlap": ({"mode": "allreduce", "overlap": True}, False, False),
    "streaming": ({"mode": "stream"}, True, False),
    "streaming + overlap": ({"mode": "stream", "overlap": True}, True, False),
}
SAME_AS = {  # a model a method does not distinguish gives the same runs as this one
    ("round-sum upload + overlap", "round"): "round-sum upload",
    ("AllReduce + overlap", "round"): "AllReduce",
    ("AllReduce", "afedpg"): "round-sum upload",
    ("AllReduce + overlap", "afedpg"): "round-sum upload + overlap",
    ("streaming", "afedpg"): "round-sum upload",
    ("streaming + overlap", "afedpg"): "round-sum upload + overlap",
}
METHODS = ["rennala_nigt", "sync_nigt", "sync_nigt_eqbatch", "afedpg"]


def run_model(label: str, seeds: list[int], budget: float, jobs: int, work: Path) -> pd.DataFrame:
    """Time-to-target per run of one model (only the methods it distinguishes)."""
    aggregation, rounds, asynchronous = MODELS[label]
    methods = (ROUNDS if rounds else []) + ([AFEDPG] if asynchronous else [])
    if not methods:
        return pd.DataFrame()
    stem = label.replace(" ", "_").replace("+", "plus")
    scenario = BASE | {"name": stem, "aggregation": aggregation, "methods": methods}
    scenario |= {"seeds": seeds, "budget": {"time": budget}}
    path = work / f"{stem}.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    out = work / stem
    cli = [sys.executable, "-m", "apga_sim", "run", str(path), "--out", str(out)]
    print(f"{label}: {len(methods)} methods x {len(seeds)} seeds -> {out}", flush=True)
    subprocess.run([*cli, "--jobs", str(jobs)], check=True, capture_output=True)
    results = load_results(out)
    rows = []
    for (method, _seed), evals in results.groupby(["method", "seed"]):
        ttt = time_to_target(evals, TARGET)
        rows.append({"model": label, "method": method, "ttt": np.inf if ttt is None else ttt})
    return pd.DataFrame(rows)


def table(runs: pd.DataFrame) -> pd.DataFrame:
    """Median time-to-target (inf: not reached by the median seed) and rank per model."""
    rows = []
    for label in MODELS:
        for method in METHODS:
            kind = "afedpg" if method == "afedpg" else "round"
            source = SAME_AS.get((label, kind), label)
            ttt = runs.loc[(runs.model == source) & (runs.method == method), "ttt"]
            rows.append({"model": label, "method": method, "median_ttt": quantile(ttt, 0.5)})
    out = pd.DataFrame(rows)
    out["rank"] = out.groupby("model")["median_ttt"].rank(method="min").astype(int)
    return out


def figure(ranked: pd.DataFrame, path: Path) -> None:
    """Median time-to-target per model and method (a missing bar: not reached)."""
    fig, ax = plt.subplots(figsize=(7.5, 3.6), layout="constrained")
    width = 0.8 / len(METHODS)
    x = np.arange(len(MODELS))
    for k, method in enumerate(METHODS):
        part = ranked[ranked.method == method].set_index("model").loc[list(MODELS)]
        ax.bar(x + (k - 1.5) * width, part.median_ttt.replace(np.inf, np.nan), width, label=method)
        for xi, (ttt, rank) in zip(x, part[["median_ttt", "rank"]].to_numpy(), strict=True):
            if np.isfinite(ttt):
                ax.text(xi + (k - 1.5) * width, ttt, str(int(rank)), ha="center", va="bottom")
    labels = [m.replace(" + ", "\n+ ").replace("round-sum ", "round-sum\n") for m in MODELS]
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("median time to target [simulated s]")
    ax.set_title("Figure 1c timing, quadratic oracle: rank above each bar", fontsize=9)
    ax.legend(fontsize=8, ncols=2)
    fig.savefig(path, dpi=150)


def main() -> None:
    """Run every model, then write the table and the figure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--budget", type=float, default=15000.0, help="simulated seconds")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--work", type=Path, default=Path("results/sensitivity"))
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    args.work.mkdir(parents=True, exist_ok=True)
    runs = pd.concat([run_model(m, seeds, args.budget, args.jobs, args.work) for m in MODELS])
    ranked = table(runs)
    args.out.mkdir(parents=True, exist_ok=True)
    ranked.to_csv(args.out / "ranking.csv", index=False)
    wide = ranked.pivot(index="model", columns="method", values="median_ttt").loc[list(MODELS)]
    ranks = ranked.pivot(index="model", columns="method", values="rank").loc[list(MODELS)]
    cells = wide[METHODS].map(lambda t: "not reached" if np.isinf(t) else f"{t:.0f}")
    cells = cells + " (" + ranks[METHODS].astype(str) + ")"
    lines = [
        "# Sensitivity of the ranking to the communication model",
        "",
        f"Median time to target (simulated s; {args.seeds} seeds, budget {args.budget:g} s)",
        "and rank (in brackets) of each method on the figure 1c timing: n = 10, h_i = sqrt(i),",
        "u_i = sqrt(i) d^(1/4), v = 0. The oracle is the noisy quadratic with fixed step sizes,",
        "not MuJoCo, so this shows how the timing model alone reorders the methods. Made by",
        "`docs/sensitivity/sensitivity.py`; the README's section on sensitivity discusses it.",
        "",
        "| model | " + " | ".join(METHODS) + " |",
        "|---" * (len(METHODS) + 1) + "|",
    ]
    lines += [f"| {m} | " + " | ".join(cells.loc[m]) + " |" for m in MODELS]
    lines += ["", "![median time to target per communication model](ranking.png)"]
    (args.out / "ranking.md").write_text("\n".join(lines) + "\n")
    figure(ranked, args.out / "ranking.png")
    print(cells.to_string())


if __name__ == "__main__":
    main()
