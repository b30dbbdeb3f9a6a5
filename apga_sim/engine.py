"""The SimPy engine: workers, a server (or AllReduce) and the simulated clock.

The engine knows no algorithm by name. It drives an :class:`~apga_sim.algorithms.base.Aggregator`
and an :class:`~apga_sim.algorithms.base.Optimizer` through two protocols:

* **rounds** (``aggregator.rounds``): at update time ``t_u`` the point ``optimizer.query()`` is
  sent to every online worker (arriving at ``t_u + v_i``; at once in AllReduce mode). Workers
  compute jobs at that point while ``aggregator.wants_more(i, computed)``; a worker that stops
  wanting more uploads its sum. When ``aggregator.done()`` holds at a completion instant ``t_s``,
  work in progress is cancelled (or, with ``on_stop: ignore``, left to finish and be discarded)
  and every worker with ``M_i > 0`` that has not uploaded yet uploads, arriving at ``t_s + u_i``.
  The update happens when the last upload arrives (+ ``server_time``); in AllReduce mode at
  ``t_s + T_ar``.
* **streamed rounds** (``mode: stream``): as rounds, but each gradient is uploaded as soon as it
  is computed and reaches the aggregator when it *arrives*; ``aggregator.done()`` is checked at
  arrivals, and the update happens at the arrival that makes it hold (+ ``server_time``). A
  gradient of an ended round is discarded on arrival (``upload_discard``), or dropped from its
  worker's upload queue before it is sent.
* **asynchronous**: a worker computes at the point it holds, uploads, the server steps on
  arrival and sends the new point back (always through the server: AllReduce mode applies to
  round-based methods only).

Without ``overlap`` a worker waits for its upload to arrive before computing again; with it, the
worker computes its next job while its uploads go out one after another (first in, first out)
over its link. Offline periods (:mod:`apga_sim.availability`) stop a worker's computing: its job
in progress is lost, and when back it fetches the current point.

Events at one simulated instant are processed in worker order (:class:`_Instant`), so results
never depend on scheduling accidents. Gradients are requested from the oracle only when an update
consumes them, so cancelled and discarded jobs are never computed.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from heapq import heappush
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL, EventPriority
from threadpoolctl import threadpool_limits

from apga_sim.algorithms.base import Aggregator, Optimizer
from apga_sim.availability import Schedule
from apga_sim.oracles.base import Job, Oracle
from apga_sim.timing import WorkerTimes
from apga_sim.trace import Recorder

CONTINUE, IDLE = "continue", "idle"


@dataclass
class Cluster:
    """The simulated machines: per-worker time models and how gradients are combined."""

    n: int
    h: WorkerTimes
    u: WorkerTimes
    v: WorkerTimes
    charge: str = "per_gradient"
    mode: str = "server"
    server_time: float = 0.0
    allreduce_time: float = 0.0
    overlap: bool = False
    availability: Schedule | None = None


@dataclass
class Budget:
    """Stop at simulated ``time`` and/or after ``updates`` updates."""

    time: float | None = None
    updates: int | None = None


@dataclass
class Counters:
    """Run counters written to the manifest."""

    updates: int = 0
    skipped_steps: int = 0
    gradients_consumed: int = 0
    jobs_started: int = 0
    jobs_computed: int = 0
    jobs_cancelled: int = 0
    jobs_discarded: int = 0
    jobs_lost: int = 0
    sim_time: float = 0.0
    oracle_seconds: float = 0.0  # real seconds in oracle.gradient / oracle.steps
    eval_seconds: float = 0.0  # real seconds in evaluation (measurement, not simulated)


@dataclass
class Evaluator:
    """When and how the engine measures the current iterate (taking no simulated time).

    The engine measures at the start, every ``every_updates`` updates, every ``every_time``
    simulated seconds and at the end of a run that spends its budget (unless the last update was
    measured; an interrupted or failed run stops without one); each measurement is a row
    ``{time, update} | measure(theta)`` of the recorder's ``evals``.
    """

    measure: Callable[[np.ndarray], dict[str, float]]
    every_updates: int | None = None
    every_time: float | None = None


LOW = EventPriority(2)
"""An event priority below SimPy's NORMAL: such an event runs after the others of its instant."""

LOWEST = EventPriority(3)
"""The priority of the per-step stepper: it runs once everything else of its instant has."""

TIME_RESOLUTION = 9
"""Event times are rounded to 1e-9 s, so that e.g. 10 x 0.1 ties exactly with 1.0."""


class _Clock(simpy.Environment):
    """A SimPy environment with rounded event times and end-of-instant callbacks."""

    def schedule(
        self, event: simpy.Event, priority: EventPriority = NORMAL, delay: float = 0
    ) -> None:
        """Schedule ``event`` at ``now + delay`` rounded to :data:`TIME_RESOLUTION` digits."""
        when = round(self._now + delay, TIME_RESOLUTION)
        heappush(self._queue, (when, priority, next(self._eid), event))  # as simpy does

    def at_end_of_instant(
        self, callback: Callable[[simpy.Event], None], priority: EventPriority = LOW
    ) -> None:
        """Call ``callback`` once every other event of the current instant has run."""
        event = simpy.Event(self)
        event.callbacks.append(callback)
        self.trigger_at(event, self._now, priority)

    def trigger_at(self, event: simpy.Event, when: float, priority: EventPriority = NORMAL) -> None:
        """Trigger ``event`` at the absolute time ``when`` (rounded), as a timeout would."""
        event._ok, event._value = True, None  # a triggered event, as Event.succeed makes it
        rounded = round(when, TIME_RESOLUTION)
        heappush(self._queue, (rounded, priority, next(self._eid), event))


class _Instant:
    """Collects the requests of one simulated instant and handles them in worker order.

    Compute completions and gradient arrivals go through one queue, which is handled once every
    event of the instant has run, so simultaneous events are processed by worker number.
    """

    def __init__(self, env: _Clock) -> None:
        self.env = env
        self.pending: list[tuple[int, Callable[..., Any], tuple[Any, ...], simpy.Event]] = []

    def submit(self, worker: int, handler: Callable[..., Any], *payload: Any) -> simpy.Event:
        """Queue ``handler(worker, *payload)``; the returned event succeeds with its answer."""
        if not self.pending:
            self.env.at_end_of_instant(self._flush)
        event = self.env.event()
        self.pending.append((worker, handler, payload, event))
        return event

    def _flush(self, _: simpy.Event) -> None:
        batch = sorted(self.pending, key=lambda item: item[0])
        self.pending = []
        for worker, handler, payload, event in batch:
            event.succeed(handler(worker, *payload))


@dataclass(eq=False)
class _Stepping:
    """A ``per_step`` job in progress: ``steps`` of ``h`` simulated seconds each since ``start``."""

    job: Job
    start: float
    h: float
    done: simpy.Event
    steps: int = 0
    ends_at: float | None = None


class _Round:
    """State of one round at one point."""

    def __init__(self, env: simpy.Environment, index: int, point: np.ndarray, version: int):
        self.index, self.point, self.version = index, point, version
        self.stopped = False
        self.uploaded: set[int] = set()
        self.uploads_pending = 0
        self.computed: dict[int, int] = {}  # jobs each worker completed at this point
        self.finished = env.event()


class Engine:
    """Runs one method on one cluster with one oracle until the budget is spent."""

    def __init__(
        self,
        cluster: Cluster,
        aggregator: Aggregator,
        optimizer: Optimizer,
        oracle: Oracle,
        budget: Budget,
        recorder: Recorder,
        on_update: Callable[[Engine], None] | None = None,
        evaluator: Evaluator | None = None,
    ) -> None:
        self.c, self.agg, self.opt, self.oracle = cluster, aggregator, optimizer, oracle
        self.budget, self.rec, self.on_update = budget, recorder, on_update
        self.evaluator = evaluator
        self.env = _Clock()
        self.counters = Counters()
        n = cluster.n
        self.inbox: list[simpy.Store] = [simpy.Store(self.env) for _ in range(n + 1)]
        self.next_job = [0] * (n + 1)
        self.uploads = [0] * (n + 1)  # per-worker message counters (k of u_i(k), v_i(k))
        self.downloads = [0] * (n + 1)
        self.running: dict[int, tuple[Job, simpy.Process]] = {}
        self.stepping: dict[int, _Stepping] = {}
        self._stepper_due = False
        self.finished = self.env.event()
        self.instant = _Instant(self.env)
        self.round: _Round | None = None
        self.offline: set[int] = set()
        self.next_down = [math.inf] * (n + 1)  # start of each worker's next offline period
        self.uploading: dict[int, simpy.Process] = {}  # a stream upload the worker waits for
        self.links = [simpy.Resource(self.env) for _ in range(n + 1)] if cluster.overlap else None

    # ----------------------------------------------------------------- running
    @threadpool_limits.wrap(limits=1)
    def run(self) -> Counters:
        """Simulate until the budget is spent, with the evaluator's measurements.

        BLAS runs on one thread meanwhile: a threaded BLAS splits the reductions over the
        d-dimensional iterate (norms, dot products) by thread count, which would make the trace
        depend on the machine's core count (or on Ray's ``OMP_NUM_THREADS``). Spare BLAS threads
        also spin and steal CPU from the other runs of a ``--jobs N`` sweep.
        """
        if self.evaluator is not None:
            self._evaluate()
            if self.evaluator.every_time is not None:
                self.env.process(self._eval_clock(self.evaluator.every_time))
        try:
            self._simulate()
        finally:  # interrupted (Ctrl-C, SIGTERM) or failed: stop at once, without a measurement
            self.counters.sim_time = float(self.env.now)
        last = self.rec.evals[-1]["update"] if self.rec.evals else None
        if self.evaluator is not None and last != self.counters.updates:
            self._evaluate()
        return self.counters

    def _evaluate(self) -> None:
        assert self.evaluator is not None
        row = {"time": float(self.env.now), "update": self.counters.updates}
        begin = _time.perf_counter()
        self.rec.evals.append(row | self.evaluator.measure(self.opt.theta))
        self.counters.eval_seconds += _time.perf_counter() - begin

    def _eval_clock(self, every: float):
        while True:
            yield self.env.timeout(every)
            self._evaluate()

    def _simulate(self) -> Counters:
        for i in range(1, self.c.n + 1):
            self.env.process(self._worker(i))
            if self.c.availability is not None:
                self.env.process(self._availability(i, self.c.availability))
        if self.agg.rounds:
            self.env.process(self._rounds())
        else:
            point, version = self.opt.query(), self.opt.version
            for i in range(1, self.c.n + 1):
                self.env.process(self._send(i, (point, version, None), version))
        until: simpy.Event = self.finished
        if self.budget.time is not None:
            until = self.finished | self.env.timeout(self.budget.time)
        self.env.run(until=until)
        self.counters.sim_time = float(self.env.now)
        return self.counters

    @contextmanager
    def _in_oracle(self) -> Iterator[None]:
        start = _time.perf_counter()
        yield
        self.counters.oracle_seconds += _time.perf_counter() - start

    def _gradient(self, jobs: list[Job], weights: list[float]) -> np.ndarray:
        with self._in_oracle():
            g = self.oracle.gradient(jobs, weights)
        self.counters.jobs_computed += len(jobs)
        self.counters.gradients_consumed += len(jobs)
        return g

    def _apply(self, g: np.ndarray, n_grads: int, rnd: int | None, delay: int | None) -> None:
        applied = self.opt.step(g, delay or 0)
        self.counters.updates += 1
        self.counters.skipped_steps += not applied
        self.rec.event(
            self.env.now,
            0,
            "update",
            self.opt.version,
            round=rnd,
            staleness=delay,
            gradients=n_grads,
            skipped=not applied,
        )
        if self.on_update is not None:
            self.on_update(self)
        every = None if self.evaluator is None else self.evaluator.every_updates
        if every is not None and self.counters.updates % every == 0:
            self._evaluate()
        limit = self.budget.updates
        if limit is not None and self.counters.updates >= limit and not self.finished.triggered:
            self.finished.succeed()

    def _comm(self, i: int, kind: str, seconds: float, version: int):
        """A transfer of one d-vector (zero-length transfers are not recorded)."""
        if seconds > 0:
            self.rec.event(self.env.now, i, f"{kind}_start", version)
            yield self.env.timeout(seconds)
            self.rec.event(self.env.now, i, f"{kind}_end", version)

    def _send(self, i: int, assignment: Any, version: int):
        """Download a point to worker i, then hand it over."""
        via_server = self.c.mode != "allreduce" or not self.agg.rounds
        seconds = self.c.v.time(i, self.downloads[i], self.env.now) if via_server else 0.0
        self.downloads[i] += 1
        yield from self._comm(i, "download", seconds, version)
        yield self.inbox[i].put(assignment)

    # ----------------------------------------------------------------- workers
    def _worker(self, i: int):
        while True:
            assignment = yield self.inbox[i].get()
            while True:
                while self.inbox[i].items:  # several points arrived while busy: take the newest
                    assignment = self.inbox[i].items.pop(0)
                point, version, rnd = assignment
                if (rnd is not None and rnd.stopped) or i in self.offline:
                    break  # a round may stop before its point arrives
                job = Job(i, self.next_job[i], point, version)
                self.next_job[i] += 1
                seconds = self.c.h.time(i, job.index, self.env.now)
                self.rec.event(
                    self.env.now,
                    i,
                    "compute_start",
                    version,
                    job=job.index,
                    round=None if rnd is None else rnd.index,
                )
                self.counters.jobs_started += 1
                if self.c.charge == "per_step":
                    finished = self._start_steps(i, job, seconds)
                else:
                    finished = self.env.timeout(seconds)
                    if not self.agg.rounds and self._arrives_in_budget(i, seconds):
                        self.oracle.prefetch([job])
                self.running[i] = (job, self.env.active_process)  # type: ignore[assignment]
                try:
                    yield finished
                except simpy.Interrupt:
                    break  # cancelled or lost; recorded by the canceller
                del self.running[i]
                self.stepping.pop(i, None)
                decision = yield self.instant.submit(i, self._on_completion, job, assignment)
                upload = self.uploading.pop(i, None)
                if upload is not None:  # without overlap: wait until the gradient arrives
                    yield upload
                if decision != CONTINUE:
                    break

    def _on_completion(self, i: int, job: Job, assignment: tuple) -> str:
        if not self.agg.rounds:
            self.rec.event(self.env.now, i, "compute_end", job.version, job=job.index, job_ref=job)
            seconds = self._upload_time(i)
            if seconds > 0 or self.links is not None:
                self.env.process(self._async_upload(i, job, seconds))
            else:  # arrives at once: applied now, in worker order with this instant's arrivals
                self._on_arrival(i, job)
            return CONTINUE if self.c.overlap else IDLE
        rnd: _Round = assignment[2]
        if rnd.stopped:  # finished at the stop instant but after the stopping job: not used
            if self.agg.on_stop == "ignore":
                self._end(i, job, "compute_discard", rnd.index)
            else:
                self._end(i, job, "compute_cancel", rnd.index)
            return IDLE
        rnd.computed[i] = rnd.computed.get(i, 0) + 1
        self.rec.event(
            self.env.now, i, "compute_end", job.version, job=job.index, round=rnd.index, job_ref=job
        )
        if self.c.mode == "stream":
            upload = self.env.process(self._stream_upload(i, job, rnd))
            if not self.c.overlap:
                self.uploading[i] = upload
            return CONTINUE if self.agg.wants_more(i, rnd.computed[i]) else IDLE
        self.agg.add(job)
        if self.agg.done():
            self._stop(rnd)
            return IDLE
        if self.agg.wants_more(i, rnd.computed[i]):
            return CONTINUE
        if self.c.mode == "server":
            self._upload(i, rnd)
        return IDLE

    def _end(self, i: int, job: Job, kind: str, rnd: int | None) -> None:
        """Record a job that gives no gradient: cancelled, lost or discarded."""
        self.rec.event(self.env.now, i, kind, job.version, job=job.index, round=rnd, job_ref=job)
        if kind == "compute_cancel":
            self.counters.jobs_cancelled += 1
        elif kind == "compute_lost":
            self.counters.jobs_lost += 1
        else:
            self.counters.jobs_discarded += 1

    def _kill(self, i: int, kind: str, rnd: int | None) -> None:
        """Stop worker ``i``'s job in progress (``compute_cancel`` or ``compute_lost``)."""
        job, process = self.running.pop(i)
        stepping = self.stepping.pop(i, None)
        if stepping is not None and stepping.ends_at is None:
            with self._in_oracle():
                self.oracle.abandon(job)
        self._end(i, job, kind, rnd)
        process.interrupt()

    # ----------------------------------------------------------------- per-step charge
    def _start_steps(self, i: int, job: Job, h: float) -> simpy.Event:
        """Start a ``per_step`` job; the returned event fires at ``start + h * T``."""
        with self._in_oracle():
            self.oracle.start(job)
        self.stepping[i] = _Stepping(job, self.env.now, h, self.env.event())
        if not self._stepper_due:
            self._stepper_due = True
            self.env.at_end_of_instant(self._advance_steps, LOWEST)
        return self.stepping[i].done

    def _advance_steps(self, _: simpy.Event) -> None:
        """Advance the ``per_step`` jobs in progress as far as is safe, in simulated-time order.

        A job may be cancelled only at another job's completion, and completions come from
        these jobs' ends. So a step is simulated only if it starts before both the next event
        already scheduled and the earliest end any job in progress could have (the end of its
        next step). A job cancelled at ``t_c`` has thus simulated at most
        ``ceil((t_c - start) / h)`` steps. An ended job's completion is scheduled at
        ``start + h * T`` (as ``h * T`` seconds from its start).
        """
        self._stepper_due = False
        horizon = self.env.peek()
        active = [e for e in self.stepping.values() if e.ends_at is None]
        while active:
            starts = [e.start + e.h * e.steps for e in active]
            ends = [round(e.start + e.h * (e.steps + 1), TIME_RESOLUTION) for e in active]
            limit = min(horizon, *ends)
            movers = [e for e, b in zip(active, starts, strict=True) if b < limit]
            if not movers:
                break
            with self._in_oracle():
                lengths = self.oracle.advance([e.job for e in movers])
            for e, length in zip(movers, lengths, strict=True):
                e.steps += 1
                if length is not None:
                    e.ends_at = round(e.start + e.h * length, TIME_RESOLUTION)
                    self.env.trigger_at(e.done, e.ends_at)
                    horizon = min(horizon, e.ends_at)
            active = [e for e in active if e.ends_at is None]
        if active:
            self._stepper_due = True
            stepper = simpy.Event(self.env)
            stepper.callbacks.append(self._advance_steps)
            self.env.trigger_at(stepper, horizon, LOWEST)

    # ----------------------------------------------------------------- rounds
    def _rounds(self):
        while True:
            self.agg.begin_round()
            rnd = _Round(self.env, self.agg.round, self.opt.query(), self.opt.version)
            self.round = rnd
            for i in range(1, self.c.n + 1):
                if i not in self.offline:  # an offline worker fetches the point when back
                    self.env.process(self._send(i, (rnd.point, rnd.version, rnd), rnd.version))
            yield rnd.finished
            if self.c.mode != "allreduce" and self.c.server_time > 0:
                yield self.env.timeout(self.c.server_time)
            jobs, weights = self.agg.weights()
            g = self._gradient(list(jobs), list(weights))
            self._apply(g, len(jobs), rnd.index, None)

    def _stop(self, rnd: _Round) -> None:
        """The stop rule holds: cancel (or mark) work in progress, then gather the sums."""
        rnd.stopped = True
        for i in sorted(self.running):
            if self.running[i][0].version == rnd.version and self.agg.on_stop == "cancel":
                self._kill(i, "compute_cancel", rnd.index)
        if self.c.mode == "stream":  # every gradient the rule counted has arrived
            rnd.finished.succeed()
            return
        if self.c.mode == "allreduce":
            self.env.process(self._allreduce(rnd))
            return
        for i in range(1, self.c.n + 1):
            if self.agg.counts[i] > 0 and i not in rnd.uploaded:
                self._upload(i, rnd)

    def _upload(self, i: int, rnd: _Round) -> None:
        rnd.uploaded.add(i)
        rnd.uploads_pending += 1
        self.env.process(self._round_upload(i, rnd))

    def _round_upload(self, i: int, rnd: _Round):
        seconds = self._upload_time(i)
        yield from self._comm(i, "upload", seconds, rnd.version)
        rnd.uploads_pending -= 1
        if rnd.stopped and rnd.uploads_pending == 0:
            rnd.finished.succeed()

    def _uplink(self, i: int, seconds: float, version: int, wanted: Callable[[], bool]):
        """Send one upload over worker ``i``'s link; return whether it was sent.

        With ``overlap`` the link carries one upload at a time, first in, first out, and an
        upload no longer ``wanted`` when its turn comes is dropped unsent.
        """
        if self.links is None:
            yield from self._comm(i, "upload", seconds, version)
            return True
        with self.links[i].request() as turn:
            yield turn
            if not wanted():
                return False
            yield from self._comm(i, "upload", seconds, version)
        return True

    def _stream_upload(self, i: int, job: Job, rnd: _Round):
        seconds = self._upload_time(i)
        sent = yield from self._uplink(i, seconds, job.version, lambda: not rnd.stopped)
        if not sent:
            self._end(i, job, "upload_discard", rnd.index)
            return
        yield self.instant.submit(i, self._on_stream_arrival, job, rnd)

    def _on_stream_arrival(self, i: int, job: Job, rnd: _Round) -> None:
        if rnd.stopped:  # computed at an older point
            self._end(i, job, "upload_discard", rnd.index)
            return
        self.agg.add(job)
        if self.agg.done():
            self._stop(rnd)

    def _allreduce(self, rnd: _Round):
        for i in range(1, self.c.n + 1):
            self.rec.event(self.env.now, i, "allreduce_start", rnd.version, round=rnd.index)
        yield self.env.timeout(self.c.allreduce_time)
        for i in range(1, self.c.n + 1):
            self.rec.event(self.env.now, i, "allreduce_end", rnd.version, round=rnd.index)
        rnd.finished.succeed()

    # ----------------------------------------------------------------- asynchronous
    def _arrives_in_budget(self, i: int, seconds: float) -> bool:
        """Whether an asynchronous job of worker ``i`` starting now is certainly consumed.

        It is when it arrives before the time budget: its compute time is ``seconds`` and its
        upload is worker ``i``'s next one (times are functions of logical ids, so the upload
        time can be known now). With an update budget, later jobs may arrive first and end the
        run, so nothing is certain.
        """
        end = self.budget.time
        if end is None or self.budget.updates is not None or self.links is not None:
            return False  # (with overlap, earlier uploads may hold the link: not certain)
        done = round(self.env.now + seconds, TIME_RESOLUTION)
        if self.next_down[i] < done:  # lost when its worker goes offline
            return False
        upload = self.c.u.time(i, self.uploads[i], done)
        arrival = round(done + upload, TIME_RESOLUTION) if upload > 0 else done
        return arrival < end

    def _upload_time(self, i: int) -> float:
        seconds = self.c.u.time(i, self.uploads[i], self.env.now)
        self.uploads[i] += 1
        return seconds

    def _async_upload(self, i: int, job: Job, seconds: float):
        yield from self._uplink(i, seconds, job.version, lambda: True)
        yield self.instant.submit(i, self._on_arrival, job)

    def _on_arrival(self, i: int, job: Job) -> None:
        if self.finished.triggered:
            return
        delay = self.opt.version - job.version
        g = self._gradient([job], [1.0])
        self._apply(g, 1, None, delay)
        if i not in self.offline:  # an offline worker fetches the point when back
            point, version = self.opt.query(), self.opt.version
            self.env.process(self._send(i, (point, version, None), version))

    # ----------------------------------------------------------------- availability
    def _at(self, when: float) -> simpy.Event:
        """An event at absolute time ``when``, after the other events of that instant."""
        event = self.env.event()
        self.env.trigger_at(event, when, LOW)
        return event

    def _availability(self, i: int, schedule: Schedule):
        """Take worker ``i`` offline and back, period after period."""
        for start, end in schedule.periods(i):
            self.next_down[i] = start
            yield self._at(start)
            self.offline.add(i)
            self.rec.event(self.env.now, i, "offline_start", self.opt.version)
            if i in self.running:
                self._kill(i, "compute_lost", None)
            yield self._at(end)
            self.offline.discard(i)
            self.rec.event(self.env.now, i, "offline_end", self.opt.version)
            self._rejoin(i)
        self.next_down[i] = math.inf

    def _rejoin(self, i: int) -> None:
        """Worker ``i`` is back: it fetches the current point (a stopped round's next one)."""
        if self.agg.rounds:
            rnd = self.round
            if rnd is None or rnd.stopped:  # the next round's point will reach it
                return
            assignment: tuple = (rnd.point, rnd.version, rnd)
        else:
            assignment = (self.opt.query(), self.opt.version, None)
        self.inbox[i].items.clear()
        self.env.process(self._send(i, assignment, assignment[1]))
