"""The ``apga-sim`` command line.

Every user error (a bad scenario, a bad option, an output that would be overwritten) is one
message on stderr and exit code 2, without a traceback and without half-written output.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from apga_sim.scenario import Scenario, ScenarioError, load_scenario

app = typer.Typer(
    help="Simulate the wall-clock time-to-accuracy of distributed policy-gradient methods.\n\n"
    "Typical use: apga-sim validate FILE, then apga-sim run FILE --out results/NAME.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 120)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(2)


def _load(file: Path) -> Scenario:
    try:
        return load_scenario(file)
    except ScenarioError as exc:
        _fail(str(exc))
        raise  # unreachable


def _csv(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


@app.command()
def validate(file: Annotated[Path, typer.Argument(help="Scenario YAML file.")]) -> None:
    """Check a scenario file without running it."""
    s = _load(file)
    labels = ", ".join(m.display for m in s.methods)
    out.print(f"{file}: ok  (n={s.n}, oracle={s.oracle.kind}, methods: {labels}, "
              f"seeds: {s.seeds})")


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editor completion)."""
    print(json.dumps(Scenario.model_json_schema(), indent=2))


@app.command("list")
def list_() -> None:
    """List the methods, time profiles and oracles a scenario can use."""
    from apga_sim.methods import METHODS
    from apga_sim.timing import Profile

    table = Table(title="methods (aggregator x optimizer)")
    table.add_column("name")
    table.add_column("description")
    table.add_column("hyperparameters")
    for name, cls in METHODS.items():
        params = [k for k in cls.model_fields if k not in ("name", "label")]
        table.add_row(name, (cls.__doc__ or "").strip(), ", ".join(params))
    out.print(table)
    profiles = [a.model_fields["kind"].annotation.__args__[0]
                for a in Profile.__origin__.__args__]  # type: ignore[attr-defined]
    out.print("time profiles (h, u, v): " + ", ".join(profiles))
    out.print("oracles: quadratic (synthetic), mujoco (policy gradients on MuJoCo rollouts)")


def _fmt(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4g}"


def print_summary(rows: list[dict[str, Any]], target: float | None) -> None:
    """Print the per-method summary table of a set of runs."""
    table = Table(title=f"summary: medians over seeds, target return {target}")
    for col in ("method", "runs", "updates", "sim time [s]", "time-to-target [s]", "reached",
                "final return"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for r in rows:
        ttt = "not reached" if r["reached"] == 0 else _fmt(r["time_to_target"])
        table.add_row(r["method"], str(r["runs"]), _fmt(r["updates"]), _fmt(r["sim_time"]),
                      "no target" if target is None else ttt, f"{r['reached']}/{r['runs']}",
                      _fmt(r["final_return"]))
    out.print(table)


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Output directory (default: results/<scenario name>).")] = None,
    seeds: Annotated[str | None, typer.Option(help="Comma-separated seeds, e.g. 0,1,2.")] = None,
    methods: Annotated[str | None, typer.Option(
        help="Comma-separated method labels to run (default: all in the file).")] = None,
    jobs: Annotated[int, typer.Option(min=1, help="Runs simulated in parallel processes.")] = 1,
    overwrite: Annotated[bool, typer.Option(help="Recompute runs that already exist.")] = False,
) -> None:
    """Run every method x seed of a scenario and print a summary table.

    Each run writes OUT/<method>/seed-<seed>/ with manifest.json, events.parquet and
    evals.parquet. Complete runs that already exist are skipped (use --overwrite to redo them).
    """
    from apga_sim.runner import RunSpec, check_existing, run_many, summarize
    from apga_sim.trace import read_manifest

    s = _load(file)
    labels = [m.display for m in s.methods]
    chosen = _csv(methods) or labels
    unknown = [m for m in chosen if m not in labels]
    if unknown:
        _fail(f"--methods: {', '.join(unknown)} not in {file}; allowed: {', '.join(labels)}")
    try:
        seed_list = [int(x) for x in _csv(seeds)] if seeds else s.seeds
    except ValueError:
        _fail(f"--seeds: expected comma-separated integers, got {seeds!r}")
    target = out_dir or Path("results") / s.name
    specs = [RunSpec(s, m, seed, target) for m in chosen for seed in seed_list]
    try:
        todo = [sp for sp in specs if check_existing(sp, overwrite) == "run"]
    except ScenarioError as exc:
        _fail(str(exc))
    for sp in specs:
        if sp not in todo:
            out.print(f"[dim]{sp.run_dir}: complete, skipped (--overwrite to redo)[/]")

    total = s.budget.updates or 0
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), console=err, transient=False) as bar:
        overall = bar.add_task(f"{len(todo)} runs", total=len(todo), info="")

        def on_start(sp: RunSpec):
            task = bar.add_task(f"{sp.method} seed {sp.seed}", total=total or None, info="")

            def progress(updates: int, now: float) -> None:
                bar.update(task, completed=updates, info=f"{updates} updates, t={now:.4g}s")

            return progress

        def on_done(sp: RunSpec, manifest: dict[str, Any]) -> None:
            bar.advance(overall)

        try:
            run_many(todo, jobs=jobs, on_start=on_start, on_done=on_done)
        except KeyboardInterrupt:
            err.print("interrupted: finished runs are kept, the current one is marked "
                      "incomplete; run the same command again to resume")
            raise typer.Exit(130) from None
    manifests = [read_manifest(sp.run_dir) for sp in specs]
    print_summary(summarize(manifests), s.target_return)
    out.print(f"traces: {target}/")
