"""Where rollouts run: in this process, in a local process pool, or on Ray actors.

Only rollouts cross process boundaries (requests and parameters in; observations, pre-squash
actions and rewards out); gradients are always computed by the caller. Since a rollout depends
only on its request, every mode returns bit-identical trajectories.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import traceback
import weakref
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from apga_sim.lifecycle import init_ray
from apga_sim.oracles.mujoco.envs import EnvBank, VariantSpec
from apga_sim.oracles.mujoco.policy import PolicyLayout
from apga_sim.oracles.mujoco.rollout import RolloutRequest, Trajectory, rollout_batch

if TYPE_CHECKING:
    from multiprocessing.context import ForkServerContext, SpawnContext


class RolloutRunner:
    """A process-local :class:`EnvBank` plus the rollout settings (one per process/actor)."""

    def __init__(self, specs: Sequence[VariantSpec], layout: PolicyLayout, horizon: int) -> None:
        self.bank = EnvBank(specs)
        self.layout = layout
        self.horizon = horizon

    def run(
        self, requests: Sequence[RolloutRequest], thetas: Sequence[np.ndarray]
    ) -> list[Trajectory]:
        """Roll out ``requests`` in lockstep."""
        return rollout_batch(self.bank, self.layout, self.horizon, requests, thetas)

    def close(self) -> None:
        """Close the environments."""
        self.bank.close()


class Executor(Protocol):
    """Runs a batch of rollout requests somewhere and returns them in order."""

    def run(
        self, requests: Sequence[RolloutRequest], thetas: Sequence[np.ndarray]
    ) -> list[Trajectory]:
        """Roll out ``requests``; ``request.theta`` indexes ``thetas``."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...


def split_round_robin(n_items: int, n_parts: int) -> list[list[int]]:
    """Deal indices ``0..n_items-1`` round-robin into at most ``n_parts`` non-empty parts."""
    parts = [list(range(p, n_items, n_parts)) for p in range(min(n_parts, n_items))]
    return [p for p in parts if p]


def _subset(
    requests: Sequence[RolloutRequest], thetas: Sequence[np.ndarray], part: Sequence[int]
) -> tuple[list[RolloutRequest], list[np.ndarray]]:
    """Select the requests of ``part`` with only the parameter vectors they use (re-indexed)."""
    used = sorted({requests[i].theta for i in part})
    remap = {old: new for new, old in enumerate(used)}
    reqs = [
        RolloutRequest(
            remap[requests[i].theta],
            requests[i].variant,
            requests[i].reset_seed,
            requests[i].noise_key,
            requests[i].deterministic,
            requests[i].record,
        )
        for i in part
    ]
    return reqs, [thetas[k] for k in used]


def _scatter_gather(
    n: int, parts: list[list[int]], results: list[list[Trajectory]]
) -> list[Trajectory]:
    slot = {
        i: traj
        for part, res in zip(parts, results, strict=True)
        for i, traj in zip(part, res, strict=True)
    }
    return [slot[i] for i in range(n)]


class SerialExecutor:
    """Rollouts in the calling process."""

    def __init__(self, runner: RolloutRunner) -> None:
        self.runner = runner

    def run(
        self, requests: Sequence[RolloutRequest], thetas: Sequence[np.ndarray]
    ) -> list[Trajectory]:
        """Roll out ``requests`` here."""
        return self.runner.run(requests, thetas)

    def close(self) -> None:
        """Close the environments."""
        self.runner.close()


def _worker_main(conn: Connection, args: tuple[Any, ...]) -> None:
    """Process body: build the envs once, then serve rollout batches until ``None``.

    Ctrl-C and SIGTERM reach the whole process group; the owner handles them and stops this
    process, so it ignores both. An owner gone without saying ``None`` (stopped, killed) ends
    it quietly: a closed pipe is its last message.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    runner = RolloutRunner(*args)
    try:
        while (msg := conn.recv()) is not None:
            reply: tuple[str, Any]
            try:
                reply = ("ok", runner.run(*msg))
            except Exception:  # noqa: BLE001 - report to the caller
                reply = ("error", traceback.format_exc())
            conn.send(reply)
    except (EOFError, OSError):
        pass
    runner.close()
    conn.close()


class ProcessExecutor:
    """A fixed set of local worker processes (forkserver, else spawn), started on first use.

    Each batch is dealt round-robin over the processes; each process steps its share in
    lockstep with environments it built once and keeps. A batch cut short (Ctrl-C, SIGTERM)
    leaves the pipes out of step, so the processes are ended and the next batch starts new
    ones. They also end when this executor is closed, collected, or Python exits.
    """

    def __init__(
        self, specs: Sequence[VariantSpec], layout: PolicyLayout, horizon: int, processes: int
    ) -> None:
        self._args = (list(specs), layout, horizon)
        self._n = processes
        self._procs: list[Any] = []
        self._conns: list[Connection] = []
        weakref.finalize(self, _end_workers, self._procs, self._conns)  # also at exit

    def _start(self) -> None:
        ctx: ForkServerContext | SpawnContext
        if "forkserver" in mp.get_all_start_methods():
            ctx = mp.get_context("forkserver")
        else:
            ctx = mp.get_context("spawn")
        variables = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
        one_thread = dict.fromkeys(variables, "1")
        saved = {k: os.environ.get(k) for k in one_thread}
        os.environ.update(one_thread)
        try:
            for _ in range(self._n):
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_worker_main, args=(child, self._args), daemon=True)
                proc.start()
                child.close()
                self._procs.append(proc)
                self._conns.append(parent)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def run(
        self, requests: Sequence[RolloutRequest], thetas: Sequence[np.ndarray]
    ) -> list[Trajectory]:
        """Roll out ``requests`` over the worker processes."""
        if not requests:
            return []
        if not self._procs:
            self._start()
        parts = split_round_robin(len(requests), self._n)
        results = []
        errors = []
        try:
            for conn, part in zip(self._conns, parts, strict=False):
                conn.send(_subset(requests, thetas, part))
            for conn, _ in zip(self._conns, parts, strict=False):
                status, payload = conn.recv()
                if status == "ok":
                    results.append(payload)
                else:
                    errors.append(payload)
        except BaseException:
            _end_workers(self._procs, self._conns, ask=False)
            raise
        if errors:
            raise RuntimeError("rollout failed in a worker process:\n" + errors[0])
        return _scatter_gather(len(requests), parts, results)

    def close(self) -> None:
        """Stop the worker processes."""
        _end_workers(self._procs, self._conns)


def _end_workers(procs: list[Any], conns: list[Connection], ask: bool = True) -> None:
    """End worker processes and empty both lists.

    Args:
        procs: The processes.
        conns: Their pipes.
        ask: Send each ``None`` and kill it only if still running 10 s later; otherwise (its
            pipe is out of step) kill it at once. Killed, not terminated: workers ignore SIGTERM.

    """
    for conn in conns:
        with contextlib.suppress(OSError):
            if ask:
                conn.send(None)
            conn.close()
    for proc in procs:
        proc.join(timeout=10 if ask else 0)
        if proc.is_alive():
            proc.kill()
            proc.join()
    procs.clear()
    conns.clear()


class RayExecutor:
    """Rollouts on ``processes`` Ray actors (each keeps its envs), created on first use.

    Connects with ``ray.init(address=ray_address)`` unless Ray is already initialised; a Ray
    instance started here is shut down by :meth:`close`. Each actor asks for one CPU.
    """

    def __init__(
        self,
        specs: Sequence[VariantSpec],
        layout: PolicyLayout,
        horizon: int,
        processes: int,
        address: str | None,
    ) -> None:
        try:
            import ray  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "parallel: ray needs the optional dependency Ray "
                "(pip install 'apga-sim[ray]'), or use parallel: processes"
            ) from exc
        self._args = (list(specs), layout, horizon)
        self._n = processes
        self._address = address
        self._actors: list[Any] = []
        self._owns_ray = False

    def _start(self) -> None:
        import ray

        if not ray.is_initialized():
            init_ray(self._address, num_cpus=self._n)
            self._owns_ray = True
        actor_cls = ray.remote(num_cpus=1)(RolloutRunner)
        self._actors = [actor_cls.remote(*self._args) for _ in range(self._n)]

    def run(
        self, requests: Sequence[RolloutRequest], thetas: Sequence[np.ndarray]
    ) -> list[Trajectory]:
        """Roll out ``requests`` over the Ray actors."""
        if not requests:
            return []
        import ray

        if not self._actors:
            self._start()
        parts = split_round_robin(len(requests), self._n)
        futures = [
            actor.run.remote(*_subset(requests, thetas, part))
            for actor, part in zip(self._actors, parts, strict=False)
        ]
        return _scatter_gather(len(requests), parts, ray.get(futures))

    def close(self) -> None:
        """Kill the actors (and shut down a Ray instance started here)."""
        if not self._actors and not self._owns_ray:
            return
        import ray

        for actor in self._actors:
            ray.kill(actor)
        self._actors = []
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False
