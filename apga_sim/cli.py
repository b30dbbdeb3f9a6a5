"""The ``apga-sim`` command line.

Every user error (a bad scenario, a bad option, an output that would be overwritten) is one
message on stderr and exit code 2, without a traceback and without half-written output.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from apga_sim import __version__
from apga_sim.lifecycle import stop_on_sigterm
from apga_sim.limits import MAX_INT
from apga_sim.paths import check_length, check_output, reading, writing
from apga_sim.safe_yaml import YAMLInputError, load_yaml
from apga_sim.scenario import Scenario, ScenarioError, load_scenario, read_yaml

if TYPE_CHECKING:
    import pandas as pd

    from apga_sim.protocol import Layout, Rates

app = typer.Typer(
    help="Simulate the wall-clock time-to-accuracy of distributed policy-gradient methods.\n\n"
    "Typical use: apga-sim validate FILE, then apga-sim run FILE --out results/NAME.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 120)


def _version(value: bool) -> None:
    if value:
        _say(f"apga-sim {__version__}")
        raise typer.Exit()


@app.callback()
def _every_command(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    stop_on_sigterm()


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _say(line: str, console: Console = out) -> None:
    """Print a status line as written: no markup, no highlighting, one line however long."""
    console.print(escape(line), highlight=False, soft_wrap=True)


def _load(file: Path, sets: list[str] | None = None) -> Scenario:
    overrides = {}
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _fail(f"--set: expected KEY=VALUE (e.g. budget.time=300), got {item!r}")
        try:
            overrides[key.strip()] = load_yaml(value)
        except YAMLInputError as exc:
            where = key if exc.field in (None, "<top>") else f"{key}.{exc.field}"
            _fail(f"--set {where}: {value[:40]!r} is not a YAML value: {exc}")
    try:
        return load_scenario(file, overrides)
    except ScenarioError as exc:
        _fail(str(exc))
        raise  # unreachable


MAX_JOBS = 256
"""Most local processes one command starts (``--jobs``); never more than there are runs."""
SKIPPED_LISTED = 5
"""Complete runs listed one per line when skipped; more are summed up in one line."""


def _csv(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _path_arg(param: typer.CallbackParam, value: Any) -> Any:
    """Refuse a path the file system cannot hold (too long, NUL byte), naming its parameter."""
    name = param.opts[0] if param.param_type_name == "option" else (param.name or "").upper()
    for path in value if isinstance(value, list) else [value]:
        if path is not None:
            with _fails():
                check_length(path, name)
    return value


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.", callback=_path_arg)],
) -> None:
    """Check a scenario file without running it."""
    s = _load(file)
    labels = ", ".join(m.display for m in s.methods)
    _say(f"{file}: ok  (n={s.n}, oracle={s.oracle.kind}, methods: {labels}, seeds: {s.seeds})")


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editor completion and checks).

    Example: apga-sim schema > scenario.schema.json, then start a scenario file with
    `# yaml-language-server: $schema=scenario.schema.json` (VS Code's YAML extension).
    """
    from apga_sim.schema import scenario_schema

    print(json.dumps(scenario_schema(), indent=2))


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
    profiles = [a.model_fields["kind"].annotation.__args__[0] for a in Profile.__origin__.__args__]  # type: ignore[attr-defined]
    out.print("time profiles (h, u, v): " + ", ".join(profiles))
    out.print("oracles: quadratic (synthetic), mujoco (policy gradients on MuJoCo rollouts)")
    out.print(_timing_table())


def _timing_table() -> Table:
    """The timing options beyond the profiles, described by their own schema descriptions."""
    from apga_sim.availability import OfflineIntervals, RandomAvailability
    from apga_sim.scenario import Aggregation, Scenario
    from apga_sim.timing import EqualProfile, RandomProfile

    table = Table(title="timing options (every field: `apga-sim schema`)")
    table.add_column("field")
    table.add_column("description")
    rows = [
        ("aggregation.mode", Aggregation.model_fields["mode"].description),
        ("aggregation.overlap", Aggregation.model_fields["overlap"].description),
        ("availability", Scenario.model_fields["availability"].description),
        ("availability: {kind: intervals}", OfflineIntervals.__doc__),
        ("availability: {kind: random}", RandomAvailability.__doc__),
        ("h/u/v.factors", EqualProfile.model_fields["factors"].description),
        ("lognormal mean_time", RandomProfile.model_fields["mean_time"].description),
        ("lognormal mu_log", RandomProfile.model_fields["mu_log"].description),
        ("lognormal sigma_log", RandomProfile.model_fields["sigma_log"].description),
    ]
    for name, text in rows:
        table.add_row(name, escape((text or "").strip()))
    return table


def _fmt(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4g}"


TTT_COLUMNS = ("ttt_median", "ttt_q20", "ttt_q80")
HEADINGS = {
    "ttt_median": "time to\ntarget",
    "ttt_q20": "20%",
    "ttt_q80": "80%",
    "final_return": "final\nreturn",
    "gradients_used": "grads\nused",
    "gradients_cancelled": "grads\ncancelled",
    "gradients_discarded": "grads\ndiscarded",
    "comm_share": "comm\nshare",
}


def _cell(col: str, value: Any, row: dict[str, Any]) -> str:
    """One summary value as text: time-to-target ``inf`` is "not reached", all-failed "failed"."""
    if isinstance(value, str):
        return escape(value)
    if col in TTT_COLUMNS and row.get("failed") == row["runs"]:
        return "failed"
    if col in TTT_COLUMNS and math.isinf(value):
        return "not reached"
    if col == "runs" and row.get("failed"):
        return f"{value} ({row['failed']} failed)"
    return _fmt(float(value))


def print_summary(table_df: pd.DataFrame, where: Path) -> None:
    """Print the per-method table of :func:`apga_sim.report.summary` (``run`` and ``summary``).

    Every value and heading is shown whole; failed runs are counted beside ``runs``.
    """
    table = Table(
        title=f"{where}: medians over seeds; time to target and its 20%-80% band (not reached "
        f"= not by the budget); target {table_df.attrs['target']}",
        box=box.SIMPLE_HEAVY,  # no column rules: room for every column at 120 characters
    )
    columns = [str(c) for c in table_df.columns if c != "failed"]
    rows = [[_cell(col, row[col], row) for col in columns] for row in table_df.to_dict("records")]
    for k, col in enumerate(columns):
        heading = HEADINGS.get(col, col)
        table.add_column(  # neither values nor headings are ever cut
            heading,
            min_width=max(len(line) for line in [*heading.split("\n"), *(r[k] for r in rows)]),
            justify="left" if col == "method" else "right",
        )
    for row in rows:
        table.add_row(*row)
    out.print(table, crop=False)


def _execute(specs: list, jobs: int | None, ray: str | None, overwrite: bool) -> list:
    """Run ``specs`` (skipping complete ones) with progress bars; return those it ran."""
    import os

    from apga_sim.runner import check_existing, run_many

    try:
        todo = [sp for sp in specs if check_existing(sp, overwrite) == "run"]
    except (ScenarioError, OSError) as exc:
        _fail(str(exc))
    done = [str(sp.run_dir) for sp in specs if sp not in todo]
    if len(done) > SKIPPED_LISTED:  # a resumed study: one line, not one per run
        done = [f"{len(done)} runs under {os.path.commonpath(done)}"]
    for what in done:
        _say(f"{what}: complete, skipped (--overwrite to redo)")
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=err,
    ) as bar:
        overall = bar.add_task(f"{len(todo)} runs", total=len(todo), info="")
        tasks: dict[Path, TaskID] = {}

        def on_start(sp):
            budget = sp.scenario.budget
            task = bar.add_task(escape(str(sp.run_dir.relative_to(sp.out))), total=1, info="")
            tasks[sp.run_dir] = task

            def progress(updates: int, now: float) -> None:
                # The bar fills with whichever budget (updates or simulated time) ends the run.
                done = max(updates / (budget.updates or math.inf), now / (budget.time or math.inf))
                bar.update(task, completed=done, info=f"{updates} updates, t={now:.4g}s")

            return progress

        finished = iter(range(1, len(todo) + 1))

        def on_done(sp, manifest: dict[str, Any]) -> None:
            bar.advance(overall)
            c = manifest["counters"]
            if sp.run_dir in tasks:  # the last update before the budget left the bar short
                info = f"{c['updates']} updates, t={c['sim_time']:.4g}s"
                bar.update(tasks.pop(sp.run_dir), completed=1, info=info)
            _say(  # the count also tells a log file (no bars) how far a study is
                f"done {next(finished)}/{len(todo)} {sp.run_dir}: {c['updates']} updates, "
                f"simulated {c['sim_time']:.4g} s in {c['real_seconds']:.1f} s",
                bar.console,
            )

        try:
            with writing(todo[0].out if todo else "--out"):
                run_many(
                    todo,
                    jobs=min(jobs or os.cpu_count() or 1, max(len(todo), 1)),
                    ray=ray,
                    on_start=on_start,
                    on_done=on_done,
                )
        except ScenarioError as exc:
            _fail(str(exc))
        except BrokenProcessPool:
            _fail("a worker process died (out of memory or killed); run again to resume")
        except KeyboardInterrupt:
            err.print(
                "interrupted: finished runs are kept, runs in progress were stopped; "
                "run the same command again to resume"
            )
            raise typer.Exit(130) from None
    return todo


def _specs(s: Scenario, file: Path, out_dir: Path, seeds: str | None, methods: str | None):
    from apga_sim.sweep import specs

    labels = [m.display for m in s.methods] + [m.display for m in s.expanded().methods]
    chosen = _csv(methods)
    unknown = [m for m in chosen or [] if m not in labels]
    if unknown:
        _fail(
            f"--methods: {', '.join(unknown)} not in {file}; allowed: "
            f"{', '.join(dict.fromkeys(labels))}"
        )
    seed_list = None
    if seeds is not None:
        try:
            seed_list = [int(x) for x in _csv(seeds) or []]
        except ValueError:
            seed_list = []
        if (
            not seed_list
            or not 0 <= min(seed_list) <= max(seed_list) <= MAX_INT
            or len(set(seed_list)) != len(seed_list)
        ):
            _fail(f"--seeds: expected distinct comma-separated integers >= 0, got {seeds!r}")
    return specs(s, _out_dir(out_dir), seed_list, chosen)


Jobs = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=MAX_JOBS,
        help="Runs simulated in parallel local processes (default: one per CPU core).",
    ),
]
Sets = Annotated[
    list[str] | None,
    typer.Option(
        "--set", help="Override a scenario field, e.g. --set budget.time=300 (repeatable)."
    ),
]
Ray = Annotated[
    str | None,
    typer.Option("--ray", help="Run on a Ray cluster: its address, or 'local' to start one here."),
]


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.", callback=_path_arg)],
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Output directory (default: results/<scenario name>).", callback=_path_arg
        ),
    ] = None,
    seeds: Annotated[str | None, typer.Option(help="Comma-separated seeds, e.g. 0,1,2.")] = None,
    methods: Annotated[
        str | None,
        typer.Option(help="Comma-separated method labels to run (default: all in the file)."),
    ] = None,
    jobs: Jobs = None,
    ray: Ray = None,
    overwrite: Annotated[bool, typer.Option(help="Recompute runs that already exist.")] = False,
    sets: Sets = None,
) -> None:
    """Run every sweep cell x method x seed of a scenario and print a summary table.

    Each run writes OUT/<cell>/<method>/seed-<seed>/ (no <cell> without a sweep) with
    manifest.json, events.parquet and evals.parquet. Complete runs that already exist are
    skipped (use --overwrite to redo them), so an interrupted run or sweep resumes where it
    stopped.

    Example: apga-sim run scenarios/quick/quadratic_sqrt.yaml --out results/sqrt --jobs 2
    """
    from apga_sim.report import summary as make_summary

    s = _load(file, sets)
    out = out_dir or Path("results") / s.name
    specs = _specs(s, file, out, seeds, methods)
    _execute(specs, jobs, ray, overwrite)
    with _fails(), reading(out):
        print_summary(make_summary(out, runs=sorted(sp.run_dir for sp in specs)), out)
    _say(f"traces: {out}/")


def _tuning(s: Scenario, eval_seeds: list[int]) -> Scenario:
    """``s`` with its tuning grids, or exit with the reason it cannot be tuned."""
    from apga_sim.tuning import check

    try:
        return check(s, eval_seeds)
    except ScenarioError as exc:
        _fail(str(exc))
        raise  # unreachable


def _out_dir(path: Path, flag: str = "--out") -> Path:
    try:
        return check_output(path, flag)
    except ScenarioError as exc:
        _fail(str(exc))
        raise  # unreachable


@app.command()
def tune(
    file: Annotated[
        Path, typer.Argument(help="Scenario YAML whose methods give grids.", callback=_path_arg)
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Where the tuning runs go (default: results/<name>-tuning).",
            callback=_path_arg,
        ),
    ] = None,
    write: Annotated[
        Path | None,
        typer.Option(
            help="Tuned scenario to write (default: <file stem>.tuned.yaml beside FILE).",
            callback=_path_arg,
        ),
    ] = None,
    jobs: Jobs = None,
    ray: Ray = None,
) -> None:
    """Choose each method's grid values on the tuning seeds; write the tuned scenario.

    Grids come from a method (`alpha: {grid: [2^-6, 2^-5, 2^-4]}`) or from `tune.grid`, which
    applies to every method that sets that hyperparameter (the configurations are the cartesian
    product). `tune.schedule: grid` runs every configuration to the full budget; `halving`
    (successive halving) runs them all to `min_fraction` of the budget and keeps the best
    1/`reduction` for a budget `reduction` times longer, up to the full budget. The tuned file
    records the choice and every rung's scores under `tuned`; <stem>.tuning.csv beside it has
    one row per method, configuration, rung and tuning seed.
    """
    from apga_sim import tuning

    s = _load(file)
    _tuning(s, s.seeds)
    dest = write or file.with_name(f"{file.stem}.tuned.yaml")
    for path in (dest, tuning.table_path(dest)):
        if path.exists():
            _fail(f"{path}: exists; pass --write with another path")
    if not dest.parent.is_dir():
        _fail(f"--write: folder {dest.parent} does not exist")
    target = _out_dir(out_dir or Path("results") / f"{s.name}-tuning")
    chosen, table = tuning.tune(
        s, target, lambda specs: _execute(specs, jobs, ray, False), report=_say
    )
    tuning.write(file, dest, chosen, table)
    _say(f"tuned scenario: {dest}")
    _say(f"scores: {tuning.table_path(dest)}")


@app.command()
def reproduce(
    file: Annotated[
        Path,
        typer.Argument(help="Scenario YAML of a study (e.g. scenarios/paper).", callback=_path_arg),
    ],
    seeds: Annotated[
        int | None,
        typer.Option(min=1, help="Number of evaluation seeds: 0..N-1 (default: the file's seeds)."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Output directory (default: results/reproduce/<name>).",
            callback=_path_arg,
        ),
    ] = None,
    jobs: Jobs = None,
    ray: Ray = None,
    estimate: Annotated[
        bool,
        typer.Option(
            "--estimate",
            help="Print the cost still to pay (runs, trajectories, env steps, core-hours) "
            "and stop; methods without complete runs in OUT are probed first. A lower bound "
            "on MuJoCo, where episodes lengthen as the policy learns.",
        ),
    ] = False,
) -> None:
    """Run a study's protocol end to end: tune, evaluate, summarise and plot.

    1. tune `tune.grid` and method grids by `tune.schedule` on `tune.seeds` (disjoint from the
    evaluation seeds): OUT/tuning/, OUT/<stem>.tuned.yaml, OUT/<stem>.tuning.csv; 2. run the
    tuned methods on the evaluation seeds: OUT/eval/; 3. summary and figures (curves, ttt) of
    OUT/eval; 4. the report. Complete runs are skipped and a tuned file made from this very
    FILE is reused, so the same command resumes where it stopped. OUT/protocol.json records
    each invocation's command and the real time of each stage.

    Example: apga-sim reproduce scenarios/paper/fig1b_humanoid_n10_h-sqrt_comm-sqrt.yaml --jobs 2
    """
    import datetime
    import shlex

    from apga_sim import protocol

    s = _load(file)
    if s.budget.time is None:
        _fail("budget.time: reproduce needs a budget in simulated seconds")
    eval_seeds = list(range(seeds)) if seeds else s.seeds
    grid = _tuning(s, eval_seeds)
    layout = protocol.Layout(file, _out_dir(out_dir or Path("results") / "reproduce" / s.name))
    try:
        reuse = layout.reusable_tuned()
        protocol.read_record(layout.record)
    except ScenarioError as exc:
        _fail(str(exc))
    command = ["apga-sim", "reproduce", str(file), "--out", str(layout.out)]
    for flag, value in (("--seeds", seeds), ("--jobs", jobs), ("--ray", ray)):
        command += [flag, str(value)] if value is not None else []
    stages = _Stages(jobs, ray)
    entry = {
        "command": shlex.join(command + ["--estimate"] * estimate),
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "status": "stopped",
        "stages": stages.record,
    }
    layout.out.mkdir(parents=True, exist_ok=True)
    try:
        if estimate:
            with stages("estimate") as stage:
                stage["cost"] = _estimate(grid, eval_seeds, layout, reuse, stages)
        else:
            _protocol(s, eval_seeds, layout, reuse, stages)
        entry["status"] = "complete"
    finally:
        protocol.append_record(layout.record, entry)
    _say(f"protocol record: {layout.record}")


class _Stages:
    """Times the stages of `reproduce` and counts the runs each needed and computed."""

    def __init__(self, jobs: int | None, ray: str | None) -> None:
        self.jobs, self.ray = jobs, ray
        self.record: dict[str, dict[str, Any]] = {}
        self.current: dict[str, Any] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[dict[str, Any]]:
        import time

        self.current = self.record[name] = {}
        start = time.perf_counter()
        try:
            yield self.current
        finally:
            self.current["seconds"] = round(time.perf_counter() - start, 3)

    def execute(self, specs: list) -> list:
        """Run ``specs`` (skipping complete ones), counted in the current stage."""
        ran = _execute(specs, self.jobs, self.ray, overwrite=False)
        self.current["runs"] = self.current.get("runs", 0) + len(specs)
        self.current["computed"] = self.current.get("computed", 0) + len(ran)
        return ran


def _protocol(s: Scenario, seeds: list[int], layout: Layout, reuse: bool, stages: _Stages) -> None:
    """The stages of `reproduce`: tune, evaluate, summary and figures, report."""
    from apga_sim import tuning
    from apga_sim.scenario import parse_scenario
    from apga_sim.sweep import specs

    with stages("tune") as stage:
        stage["reused_tuned_file"] = reuse
        if not reuse:
            chosen, scores = tuning.tune(s, layout.tuning, stages.execute, seeds, report=_say)
            tuning.write(layout.source, layout.tuned, chosen, scores)
        _say(f"tuned scenario: {layout.tuned}")
    with stages("evaluate"):
        data = read_yaml(layout.tuned, "tuned file")
        tuned = parse_scenario(data, str(layout.tuned), base_dir=layout.source.parent)
        stages.execute(specs(tuned, layout.evaluation, seeds))
    with stages("summary"):
        summary(layout.evaluation)
        for kind in ("curves", "ttt") if tuned.target_return is not None else ("curves",):
            plot(layout.evaluation, kind=kind)
    with stages("report") as stage:
        written = _report(layout)
        stage["written"] = [str(path) for path in written]


def _report(layout: Layout) -> list[Path]:
    """The study's report (statistics and a verdict per paper claim) in OUT/report/."""
    from apga_sim.reproduction import find_study, write_report

    name, runs, table = find_study(layout.out)
    tuning = {name: table} if table is not None else {}
    return [write_report({name: runs}, layout.out / "report", tuning=tuning)]


def _estimate(
    grid: Scenario, seeds: list[int], layout: Layout, reuse: bool, stages: _Stages
) -> dict[str, float]:
    """Print the cost still to pay (probing methods without complete runs); return totals."""
    from apga_sim import protocol

    rates = protocol.measured_rates(layout.out)
    probes = protocol.probe_specs(grid, seeds, layout, rates)
    if probes:
        labels = ", ".join(sp.method.display for sp in probes)
        _say(f"probing (no complete runs in {layout.out} yet): {labels}")
        stages.execute(probes)
        rates = protocol.measured_rates(layout.out)
    table = protocol.estimate(protocol.work(grid, seeds, layout, reuse), rates)
    return _print_estimate(table, rates, stages.jobs)


def _print_estimate(
    table: pd.DataFrame, rates: dict[str, Rates], jobs: int | None
) -> dict[str, Any]:
    """Print the cost table of ``reproduce --estimate``; return its totals."""
    import os

    grid = Table(title="cost of the runs still to do (rates per simulated second measured in OUT)")
    for col in table.columns:
        grid.add_column(col, justify="left" if col in ("stage", "method") else "right")

    def num(v: float) -> str:
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"

    for row in table.itertuples(index=False):
        grid.add_row(*(escape(v) if isinstance(v, str) else num(v) for v in row))
    totals = {k: table[k].sum().item() for k in table.columns[2:]}
    grid.add_row("total", "", *(num(v) for v in totals.values()))
    out.print(grid)
    for label, r in rates.items():
        out.print(
            escape(
                f"{label}: {r.trajectories:.4g} trajectories, {r.env_steps:.4g} env steps, "
                f"{r.real_seconds:.4g} real s per simulated s (from {r.runs} complete runs)"
            )
        )
    cores = jobs or os.cpu_count() or 1
    out.print(
        f"at least about {totals['core-hours']:.3g} core-hours: "
        f"{totals['core-hours'] / cores:.3g} h on {cores} cores. A lower bound where episodes "
        "lengthen as the policy learns (MuJoCo): rates from early runs undercount later ones, "
        "and more complete runs in OUT sharpen them"
    )
    return totals


ResultsDir = Annotated[
    Path, typer.Argument(help="A results directory (the --out of a run).", callback=_path_arg)
]


@contextlib.contextmanager
def _fails() -> Iterator[None]:
    """Turn a :class:`ScenarioError` raised inside into the command's one-line failure."""
    try:
        yield
    except ScenarioError as exc:
        _fail(str(exc))


def _finite(*options: tuple[str, float | None]) -> None:
    """Fail on the first option given as a non-finite number."""
    for flag, value in options:
        if value is not None and not math.isfinite(value):
            _fail(f"{flag}: must be a finite number (got {value})")


def _results(path: Path) -> Path:
    if not path.exists():
        _fail(f"{path}: no such folder (give the --out folder of a run)")
    if not path.is_dir() or not any(path.rglob("manifest.json")):
        _fail(f"{path}: no apga-sim runs here (expected <method>/seed-<seed>/manifest.json)")
    return path


@app.command()
def summary(
    results_dir: ResultsDir,
    target: Annotated[
        float | None, typer.Option(help="Target return (default: the scenario's target_return).")
    ] = None,
) -> None:
    """Print the per-method table and write RESULTS_DIR/summary.parquet.

    Columns: time-to-target median and 20%-80% quantiles over seeds (interpolated between
    seeds; a run that never reaches the target counts as infinitely slow: "not reached" in the
    table, inf in summary.parquet), final return, updates, gradients used / cancelled /
    discarded, and the communication time share.
    """
    from apga_sim.report import summary as make_summary

    _finite(("--target", target))
    with _fails(), reading(results_dir):
        table_df = make_summary(_results(results_dir), target)
    dest = results_dir / "summary.parquet"
    replaced = dest.exists()
    with _fails(), writing(dest):
        table_df.to_parquet(dest)
    print_summary(table_df, results_dir)
    _written([dest], replaced={dest} if replaced else set())


def _written(paths: Iterable[Path], replaced: set[Path]) -> None:
    """Say which files were written, and which of them replaced an earlier version."""
    for path in paths:
        _say(f"{'replaced' if path in replaced else 'written'}: {path}")


@app.command()
def plot(
    results_dir: ResultsDir,
    kind: Annotated[
        str,
        typer.Option(
            help="curves (return vs simulated time), ttt (time-to-target), gantt (one run's "
            "timeline), theory (measured vs time-complexity over a sweep)."
        ),
    ] = "curves",
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="File stem for PNG and PDF (default: RESULTS_DIR/figures/<kind>).",
            callback=_path_arg,
        ),
    ] = None,
    run: Annotated[
        Path | None,
        typer.Option(
            help="Run directory for gantt (default: the first run; the title names it).",
            callback=_path_arg,
        ),
    ] = None,
    t0: Annotated[float | None, typer.Option(help="gantt: start of the time window [s].")] = None,
    t1: Annotated[float | None, typer.Option(help="gantt: end of the time window [s].")] = None,
    param: Annotated[str | None, typer.Option(help="Swept parameter for theory.")] = None,
    eps: Annotated[float, typer.Option(help="Accuracy eps in the theory formulas.")] = 0.1,
    target: Annotated[
        float | None,
        typer.Option(help="Target return for curves/ttt/theory (default: the scenario's)."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace existing files at an explicit --out.")
    ] = False,
) -> None:
    """Plot results as PNG and PDF (the same functions live in apga_sim.plots).

    A sweep is never pooled: curves get one panel per sweep cell, ttt one row per cell and
    method. The files record what made them (target, runs, seeds) as metadata. The figure of
    the same kind in RESULTS_DIR/figures is replaced, and the command says so; files at an
    explicit --out are replaced only with --overwrite.
    """
    from apga_sim.plots import save
    from apga_sim.report import KINDS, figure

    if kind not in KINDS:
        _fail(f"--kind: {kind!r} is not one of {', '.join(KINDS)}")
    _finite(("--eps", eps), ("--target", target), ("--t0", t0), ("--t1", t1))
    if eps <= 0:
        _fail(f"--eps: must be > 0 (got {eps})")
    t_range = None
    if t0 is not None or t1 is not None:
        if kind != "gantt":
            _fail("--t0/--t1: only for --kind gantt")
        t_range = (t0 or 0.0, t1 if t1 is not None else math.inf)
    try:
        with reading(results_dir):
            fig, data = figure(
                _results(results_dir),
                kind,
                run=str(run) if run else None,
                param=param,
                eps=eps,
                target=target,
                t_range=t_range,
            )
    except (ScenarioError, ValueError, KeyError, FileNotFoundError) as exc:
        _fail(str(exc))
    if kind == "gantt":
        _say(f"gantt of run {data.attrs['run']} (--run picks another)")
    stem = out_path or results_dir / "figures" / kind
    existing = {p for p in (Path(f"{stem}.png"), Path(f"{stem}.pdf")) if p.exists()}
    if out_path is not None and existing and not overwrite:
        _fail(f"--out: {', '.join(map(str, sorted(existing)))} exists; pass --overwrite")
    _out_dir(stem.parent)
    with _fails(), writing(stem):
        _written(save(fig, stem, data.attrs), existing)


@app.command("export-trace")
def export_trace(
    run: Annotated[Path, typer.Argument(help="One run directory.", callback=_path_arg)],
    format: Annotated[str, typer.Option(help="Only 'perfetto' (Chrome trace_event JSON).")] = (
        "perfetto"
    ),
    out_path: Annotated[
        Path | None,
        typer.Option("--out", help="Output file (default: RUN/trace.json).", callback=_path_arg),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
) -> None:
    """Write one run's timeline as Chrome/Perfetto trace_event JSON (open in ui.perfetto.dev)."""
    import pandas as pd

    from apga_sim.perfetto import write

    if format != "perfetto":
        _fail(f"--format: {format!r} is not supported; allowed: perfetto")
    if not (run / "events.parquet").is_file():
        _fail(f"{run}: not a run directory (no events.parquet)")
    with _fails():  # a bad path (too long, below a file, not writable) before touching it
        dest = check_output(out_path or run / "trace.json", "--out", folder=False)
    if dest.exists() and not overwrite:
        _fail(f"--out: {dest} exists; choose another file or pass --overwrite")
    if dest.name in ("manifest.json", "events.parquet", "evals.parquet"):
        _fail(f"--out: {dest.name} is a trace file of a run; choose another name")
    with _fails(), reading(run):
        events = pd.read_parquet(run / "events.parquet")
    with _fails(), writing(dest):
        path = write(events, dest)
    _say(f"written: {path}")


@app.command()
def figures(
    scenario_dir: Annotated[
        Path, typer.Argument(help="A folder of scenario YAML files.", callback=_path_arg)
    ],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Results root.", callback=_path_arg)
    ] = Path("results"),
    jobs: Jobs = None,
    ray: Ray = None,
) -> None:
    """Run every scenario of a folder (skipping complete runs) and write its figures.

    Used by `make figures` on scenarios/paper (long: days on 2 cores).
    """
    from apga_sim.report import all_figures
    from apga_sim.sweep import specs

    files = sorted(scenario_dir.glob("*.yaml"))
    if not files:
        _fail(f"{scenario_dir}: no scenario files (*.yaml)")
    loaded = [(f, _load(f)) for f in files]  # validate all before running any
    names = [s.name for _, s in loaded]
    twins = sorted({x for x in names if names.count(x) > 1})
    if twins:
        _fail(f"{scenario_dir}: scenario names pick folders; shared: {', '.join(twins)}")
    for f, s in loaded:
        out.print(f"[bold]{escape(str(f))}[/]", soft_wrap=True)
        target = out_dir / s.name
        _execute(specs(s, target), jobs, ray, overwrite=False)
        existing = set((target / "figures").glob("*.p[dn][fg]"))
        _written(all_figures(target, target / "figures"), existing)


@app.command()
def verdicts(
    study_dirs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Studies to add: the --out of `apga-sim run` (one scenario) or of "
            "`apga-sim reproduce`. None: rebuild from the data already in --out.",
            callback=_path_arg,
        ),
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Report folder.", callback=_path_arg)
    ] = Path("docs/reproduction"),
) -> None:
    """Judge the paper's claims: interval estimates, figures, verdicts.csv and README.md.

    Each study's evaluations, manifests and tuning table (no event traces) are copied to
    OUT/<scenario name>/; then the whole report is rebuilt from the files under OUT alone, so
    `apga-sim verdicts --out docs/reproduction` regenerates it from the committed data.
    """
    import pandas as pd

    from apga_sim.reproduction import find_study, write_report

    studies, tuning = {}, {}
    try:
        for path in study_dirs or []:
            name, runs, table = find_study(path)
            if name in studies:
                _fail(f"{path}: a second study of scenario {name}")
            studies[name] = runs
            if table is not None:
                tuning[name] = table
        readme = write_report(studies, out_dir, tuning=tuning)
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    rows = pd.read_csv(out_dir / "verdicts.csv", keep_default_na=False)
    verdicts = Table(title="verdicts (rule and intervals in the report)")
    for col in ("claim", "what the paper reports", "verdict"):
        verdicts.add_column(col)
    for row in rows.itertuples(index=False):
        verdicts.add_row(escape(str(row.claim)), escape(str(row.text)), str(row.verdict))
    out.print(verdicts)
    _say(f"written: {readme}, {out_dir / 'verdicts.csv'}")


def _reflow_help() -> None:
    """Make each command's docstring paragraphs one line each, for help at the terminal's width.

    Typer keeps a docstring's line breaks, which wrap raggedly on a narrower terminal.
    """
    for command in app.registered_commands:
        doc = inspect.getdoc(command.callback) or ""
        command.help = "\n\n".join(" ".join(p.split()) for p in doc.split("\n\n"))


_reflow_help()
