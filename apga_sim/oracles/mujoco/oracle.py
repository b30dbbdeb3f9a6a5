"""The MuJoCo policy-gradient oracle: lazy, batched, reproducible REINFORCE gradients."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from apga_sim.oracles.base import Job
from apga_sim.oracles.mujoco.config import MujocoOracleConfig
from apga_sim.oracles.mujoco.envs import EnvBank, default_horizon, variant_specs
from apga_sim.oracles.mujoco.estimator import (
    leave_one_out_baseline,
    rewards_to_go,
    weighted_gradient,
)
from apga_sim.oracles.mujoco.parallel import (
    Executor,
    ProcessExecutor,
    RayExecutor,
    RolloutRunner,
    SerialExecutor,
)
from apga_sim.oracles.mujoco.policy import PolicyLayout
from apga_sim.oracles.mujoco.rollout import RolloutRequest, Trajectory, eval_request, job_request
from apga_sim.oracles.mujoco.stepwise import StepwiseRollouts


def assign_variants(config: MujocoOracleConfig, n: int) -> list[int]:
    """Variant index of each worker 1..n (list position ``i - 1``).

    Raises:
        ValueError: if the variants do not cover the workers 1..n exactly once.

    """
    if not config.variants:
        return [0] * n
    owner: dict[int, str] = {}
    out = [-1] * n
    for v, variant in enumerate(config.variants):
        for w in variant.workers:
            if not 1 <= w <= n:
                raise ValueError(f"variant {variant.name!r} lists worker {w}, outside 1..{n}")
            if w in owner:
                raise ValueError(
                    f"worker {w} is listed by variants {owner[w]!r} and {variant.name!r}"
                )
            owner[w] = variant.name
            out[w - 1] = v
    missing = [i + 1 for i, v in enumerate(out) if v < 0]
    if missing:
        raise ValueError(f"workers {missing} belong to no variant; variants must cover 1..{n}")
    names = [v.name for v in config.variants]
    if len(set(names)) != len(names):
        raise ValueError(f"variant names must be distinct, got {names}")
    return out


class MujocoOracle:
    """Real policy gradients of the paper's Gaussian MLP policy on gymnasium MuJoCo tasks.

    * ``gradient(jobs, weights)`` rolls out the jobs not yet rolled out, all in lockstep, then
      returns ``sum_j w_j g_H(tau_j, theta_j)`` from ONE batched torch backward.
    * ``prefetch(jobs)`` marks jobs that will certainly be consumed (an asynchronous method's
      jobs in flight); the next rollout takes them along in its lockstep batch.
    * ``start``/``advance``/``abandon`` (``charge: per_step``) roll a job out one step at a time
      in this process, as simulated time passes; a finished trajectory is cached until a
      ``gradient()`` consumes it. Jobs never passed to these or to ``gradient`` are never
      simulated.
    * A job's reset seed and action noise derive from ``(seed, worker, index)``, so its
      trajectory is bit-identical alone, in any batch, in another process or on Ray.

    Args:
        config: The oracle's scenario model.
        n: Number of workers.
        seed: Scenario seed (initial policy and every job's random streams).

    Attributes:
        dim: Number of policy parameters.
        variants: Variant names (``["all"]`` when homogeneous).
        horizon: H.
        layout: Policy shapes.
        call_log: Job keys ``(worker, index)`` in the order they were rolled out.

    """

    def __init__(self, config: MujocoOracleConfig, n: int, seed: int) -> None:
        torch.set_num_threads(1)
        self.config = config
        self.n = n
        self.seed = seed
        self._worker_variant = assign_variants(config, n)
        self._specs = variant_specs(config)
        self.variants = [s.name for s in self._specs]
        self.horizon = config.horizon or default_horizon(config.env)
        local = EnvBank(self._specs)
        obs_dim, act_dim = local.probe()
        self.layout = PolicyLayout(obs_dim, act_dim, tuple(config.hidden), config.activation)
        self.dim = self.layout.dim
        self._executor: Executor
        if config.parallel == "serial":
            runner = RolloutRunner(self._specs, self.layout, self.horizon)
            runner.bank = local
            self._executor = SerialExecutor(runner)
        else:
            local.close()
            if config.parallel == "processes":
                self._executor = ProcessExecutor(
                    self._specs, self.layout, self.horizon, config.processes
                )
            else:
                self._executor = RayExecutor(
                    self._specs, self.layout, self.horizon, config.processes, config.ray_address
                )
        self._cache: dict[tuple[int, int], Trajectory] = {}
        self._pending: dict[tuple[int, int], Job] = {}
        self._stepwise: StepwiseRollouts | None = None
        self.call_log: list[tuple[int, int]] = []
        self._counters = {
            "trajectories_simulated": 0,
            "trajectories_consumed": 0,
            "trajectories_discarded": 0,
            "trajectories_abandoned": 0,
            "rollout_batches": 0,
            "env_steps": 0,
            "eval_episodes": 0,
            "eval_env_steps": 0,
        }

    # ----------------------------------------------------------------- Oracle protocol
    def initial_point(self) -> np.ndarray:
        """Return the initial policy parameters, from the scenario seed only."""
        return self.layout.initial(self.seed, self.config.init_std)

    def worker_variant(self, i: int) -> str:
        """Name of the variant worker ``i`` (1-based) samples."""
        return self.variants[self._worker_variant[i - 1]]

    def start(self, job: Job) -> None:
        """Begin ``job``'s trajectory (``charge: per_step``); no step is simulated yet."""
        if self._stepwise is None:
            self._stepwise = StepwiseRollouts(self._specs, self.layout, self.horizon)
        variant = self._worker_variant[job.worker - 1]
        request = job_request(self.seed, job.worker, job.index, variant, 0)
        self._stepwise.start(job.key, request, self._point(job))

    def advance(self, jobs: Sequence[Job]) -> list[int | None]:
        """Simulate one more step of each started job; its length ``T`` once it has ended."""
        assert self._stepwise is not None
        self._counters["env_steps"] += len(jobs)
        out: list[int | None] = []
        for job, traj in zip(jobs, self._stepwise.advance([j.key for j in jobs]), strict=True):
            if traj is None:
                out.append(None)
                continue
            self._store(job, traj)
            out.append(traj.length)
        return out

    def abandon(self, job: Job) -> int:
        """Stop a cancelled job's rollout; its simulated steps go to ``job.stats``."""
        assert self._stepwise is not None
        steps = self._stepwise.abandon(job.key)
        job.stats = {"env_steps": steps}
        self._counters["trajectories_abandoned"] += 1
        return steps

    def prefetch(self, jobs: Sequence[Job]) -> None:
        """Roll ``jobs`` out with the next batch: they will certainly be consumed later."""
        for job in jobs:
            self._pending[job.key] = job

    def rollout(self, jobs: Sequence[Job]) -> list[Trajectory]:
        """Trajectories of ``jobs``, rolling out (together) those not cached; keeps them cached.

        Prefetched jobs not rolled out yet join the batch, but only a missing trajectory
        starts one: the longer they wait, the more of them share a batch.
        """
        if any(job.key not in self._cache for job in jobs):
            todo: list[Job] = []
            seen: set[tuple[int, int]] = set()
            for job in [*jobs, *self._pending.values()]:
                if job.key not in self._cache and job.key not in seen:
                    todo.append(job)
                    seen.add(job.key)
            self._pending.clear()
            thetas, theta_of = self._distinct_points(todo)
            requests: list[RolloutRequest] = [
                job_request(
                    self.seed, job.worker, job.index, self._worker_variant[job.worker - 1], k
                )
                for job, k in zip(todo, theta_of, strict=True)
            ]
            self._counters["rollout_batches"] += 1
            for job, traj in zip(todo, self._executor.run(requests, thetas), strict=True):
                self._store(job, traj)
                self._counters["env_steps"] += traj.length
        return [self._cache[job.key] for job in jobs]

    def gradient(self, jobs: Sequence[Job], weights: Sequence[float]) -> np.ndarray:
        """``sum_j weights[j] * g_H(tau_j, theta_j)``, each at its job's own point.

        Consumed trajectories leave the cache. Cached trajectories of the same workers with a
        smaller job index that are not consumed here are dropped too (they were cancelled or
        discarded: per worker, jobs are consumed in index order).
        """
        if len(jobs) != len(weights):
            raise ValueError(f"{len(jobs)} jobs but {len(weights)} weights")
        if not jobs:
            return np.zeros(self.dim)
        trajs = self.rollout(jobs)
        cfg = self.config
        returns = [rewards_to_go(t.rewards, cfg.gamma, cfg.discount) for t in trajs]
        if cfg.baseline == "mean":
            returns = [r - b for r, b in zip(returns, leave_one_out_baseline(returns), strict=True)]
        coefs = [float(w) * r for w, r in zip(weights, returns, strict=True)]
        thetas, theta_of = self._distinct_points(jobs)
        grad = weighted_gradient(self.layout, thetas, theta_of, trajs, coefs)
        self._consume(jobs)
        return grad

    def discard(self, jobs: Sequence[Job]) -> None:
        """Forget cached trajectories of jobs that will never be consumed (optional hint)."""
        for job in jobs:
            if self._cache.pop(job.key, None) is not None:
                self._counters["trajectories_discarded"] += 1

    def evaluate(self, theta: np.ndarray) -> dict[str, float]:
        """Measure ``eval_episodes`` episodes per variant on the fixed evaluation seeds.

        Returns:
            ``return_mean`` (mean over variants of the per-variant mean return: the objective
            is the mean of the environments' returns), ``return_std`` (std over all episodes),
            ``episode_length_mean``, and with several variants ``return_mean/<name>`` and
            ``return_std/<name>``.

        """
        cfg = self.config
        theta = np.ascontiguousarray(theta, dtype=np.float64)
        requests = [
            eval_request(cfg.eval_seed, k, v, cfg.eval_deterministic)
            for v in range(len(self.variants))
            for k in range(cfg.eval_episodes)
        ]
        trajs = self._executor.run(requests, [theta])
        rets = np.array([t.episode_return for t in trajs]).reshape(len(self.variants), -1)
        lengths = [t.length for t in trajs]
        self._counters["eval_episodes"] += len(trajs)
        self._counters["eval_env_steps"] += int(sum(lengths))
        out = {
            "return_mean": float(rets.mean(axis=1).mean()),
            "return_std": float(rets.std()),
            "episode_length_mean": float(np.mean(lengths)),
        }
        if len(self.variants) > 1:
            for name, row in zip(self.variants, rets, strict=True):
                out[f"return_mean/{name}"] = float(row.mean())
                out[f"return_std/{name}"] = float(row.std())
        return out

    def counters(self) -> dict[str, int]:
        """Return the counters.

        ``trajectories_simulated`` (rolled out to their end), ``trajectories_consumed``,
        ``trajectories_discarded``, ``trajectories_abandoned`` (``per_step`` jobs stopped when
        cancelled), ``trajectories_cached``, ``rollout_batches``, ``env_steps`` (every training
        step simulated, abandoned ones included), ``eval_episodes``, ``eval_env_steps``.
        """
        return dict(self._counters, trajectories_cached=len(self._cache))

    def close(self) -> None:
        """Shut down worker processes / actors and close the environments."""
        self._executor.close()
        if self._stepwise is not None:
            self._stepwise.close()

    # ----------------------------------------------------------------- internals
    def _point(self, job: Job) -> np.ndarray:
        point = np.ascontiguousarray(job.point, dtype=np.float64)
        if point.shape != (self.dim,):
            raise ValueError(f"job {job.key}: point shape {point.shape} != ({self.dim},)")
        return point

    def _distinct_points(self, jobs: Sequence[Job]) -> tuple[list[np.ndarray], list[int]]:
        """The distinct points of ``jobs`` and, per job, the index of its point among them."""
        thetas: list[np.ndarray] = []
        index: dict[bytes, int] = {}
        theta_of = []
        for job in jobs:
            point = self._point(job)
            k = index.setdefault(point.tobytes(), len(thetas))
            if k == len(thetas):
                thetas.append(point)
            theta_of.append(k)
        return thetas, theta_of

    def _store(self, job: Job, traj: Trajectory) -> None:
        """Cache a finished trajectory until consumed."""
        self._cache[job.key] = traj
        self.call_log.append(job.key)
        job.stats = {"env_steps": traj.length, "episode_return": traj.episode_return}
        self._counters["trajectories_simulated"] += 1

    def _consume(self, jobs: Sequence[Job]) -> None:
        newest: dict[int, int] = {}
        for job in jobs:
            if self._cache.pop(job.key, None) is not None:
                self._counters["trajectories_consumed"] += 1
            newest[job.worker] = max(newest.get(job.worker, -1), job.index)
        stale = [k for k in self._cache if k[0] in newest and k[1] < newest[k[0]]]
        for key in stale:
            del self._cache[key]
            self._counters["trajectories_discarded"] += 1
