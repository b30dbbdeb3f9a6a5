"""Benchmark (b): a full Rennala NIGT run on Humanoid-v4 against a naive implementation.

Both runs simulate the same scenario (n = 10, h_i = sqrt(i), M = 20, a fixed number of updates)
with the same engine. The naive oracle is what a first implementation would do: one
``gymnasium.make`` env (with its wrappers) per job, per-step torch inference with autograd
(``torch.distributions.Normal``), and every job computed eagerly when it starts -- cancelled jobs
included. Ratio = naive seconds / apga-sim seconds, and per environment step (targets: >= 5x
for apga-sim in one process and >= 10x with its rollouts spread over 2 processes (``parallel:
processes``)), which batching jobs that share a point makes possible. apga-sim's one-off set-up
(building its environments, starting its processes) is done before the clock starts; the naive
implementation builds an environment per job by design.
Run: ``python -m bench.rennala_naive``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence

import gymnasium as gym
import numpy as np
import torch

import apga_sim.engine as engine_module
from apga_sim.engine import Engine
from apga_sim.oracles.base import Job
from apga_sim.oracles.mujoco import MujocoOracle
from apga_sim.runner import build_engine
from apga_sim.scenario import parse_scenario
from apga_sim.trace import Recorder

UPDATES = 16
TARGETS = {"serial": 5, "processes": 10}
"""Targets on the wall-time ratio, per backend."""
SCENARIO = {
    "n": 10,
    "oracle": {"kind": "mujoco", "env": "Humanoid-v4"},
    "h": {"kind": "sqrt"},
    "methods": [{"name": "rennala_nigt", "alpha": 0.05, "eta": 0.1, "M": 20}],
    "budget": {"updates": UPDATES},
}


class NaivePolicy(torch.nn.Module):
    """The Gaussian MLP as torch modules, loaded from a flat parameter vector."""

    def __init__(self, oracle: MujocoOracle, theta: np.ndarray) -> None:
        super().__init__()
        layout = oracle.layout
        tensors = [torch.tensor(t) for t in layout.unpack(theta)]
        sizes = [layout.obs_dim, *layout.hidden]
        self.hidden = torch.nn.ModuleList()
        for k in range(len(layout.hidden)):
            layer = torch.nn.Linear(sizes[k], sizes[k + 1]).double()
            layer.weight.data, layer.bias.data = tensors[2 * k].T.clone(), tensors[2 * k + 1]
            self.hidden.append(layer)
        self.mu = torch.nn.Linear(sizes[-1], layout.act_dim).double()
        self.sig = torch.nn.Linear(sizes[-1], layout.act_dim).double()
        w_mu, b_mu, w_sig, b_sig = tensors[2 * len(layout.hidden) :]
        self.mu.weight.data, self.mu.bias.data = w_mu.T.clone(), b_mu
        self.sig.weight.data, self.sig.bias.data = w_sig.T.clone(), b_sig

    def forward(self, obs: torch.Tensor) -> torch.distributions.Normal:
        h = obs
        for layer in self.hidden:
            h = torch.tanh(layer(h))
        return torch.distributions.Normal(self.mu(h), torch.nn.functional.softplus(self.sig(h)))

    def flat_grad(self) -> np.ndarray:
        parts = []
        for layer in [*self.hidden, self.mu, self.sig]:
            parts += [layer.weight.grad.T.reshape(-1), layer.bias.grad.reshape(-1)]
        return torch.cat(parts).numpy()


class NaiveOracle:
    """Eager, per-step, wrapper-laden policy gradients (same estimator as apga-sim's)."""

    def __init__(self, fast: MujocoOracle, seed: int) -> None:
        self.fast, self.seed, self.dim, self.variants = fast, seed, fast.dim, ["all"]
        self.grads: dict[tuple[int, int], np.ndarray] = {}
        self.env_steps = 0

    def compute(self, job: Job) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            env = gym.make(self.fast.config.env, max_episode_steps=self.fast.horizon)
        torch.manual_seed(hash((self.seed, job.worker, job.index)) % 2**31)
        policy = NaivePolicy(self.fast, job.point)
        obs, _ = env.reset(seed=self.seed * 100_003 + job.worker * 1009 + job.index)
        scale = torch.tensor(env.action_space.high)
        logps, rewards, done = [], [], False
        while not done:
            dist = policy(torch.tensor(obs))
            u = dist.sample()
            logps.append(dist.log_prob(u).sum())
            obs, r, terminated, truncated, _ = env.step((scale * torch.tanh(u)).numpy())
            rewards.append(r)
            done = terminated or truncated
        gamma = self.fast.config.gamma
        disc = np.array(rewards) * gamma ** np.arange(len(rewards))
        to_go = torch.tensor(np.cumsum(disc[::-1])[::-1].copy())
        (to_go * torch.stack(logps)).sum().backward()
        self.grads[job.key] = policy.flat_grad()
        self.env_steps += len(rewards)
        env.close()

    def initial_point(self) -> np.ndarray:
        return self.fast.initial_point()

    def gradient(self, jobs: Sequence[Job], weights: Sequence[float]) -> np.ndarray:
        return sum(w * self.grads[j.key] for j, w in zip(jobs, weights, strict=True))


def run(oracle) -> tuple[float, Engine]:
    s = parse_scenario(SCENARIO)
    engine = build_engine(s, s.methods[0], 0, oracle, Recorder())
    t0 = time.perf_counter()
    engine.run()
    return time.perf_counter() - t0, engine


def main() -> None:
    torch.set_num_threads(1)
    s = parse_scenario(SCENARIO)
    timings = {}
    for backend in ("serial", "processes"):
        config = s.oracle.model_copy(update={"parallel": backend, "processes": 2})
        fast = MujocoOracle(config, s.n, 0)
        warm = [Job(i, 10**6, fast.initial_point(), 0) for i in range(1, s.n + 1)]
        fast.gradient(warm, [0.0] * s.n)  # start processes, build envs: a one-off cost
        before = fast.counters()["env_steps"]
        seconds, engine = run(fast)
        timings[backend] = (seconds, fast.counters()["env_steps"] - before, engine.counters)
        fast.close()
    naive = NaiveOracle(MujocoOracle(s.oracle, s.n, 0), 0)

    class EagerJob(Job):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            naive.compute(self)

    engine_module.Job = EagerJob  # every job is computed the moment it starts
    try:
        naive_seconds, _ = run(naive)
    finally:
        engine_module.Job = Job
    print(f"(b) Rennala NIGT, Humanoid-v4, n=10, h=sqrt(i), M=20, {UPDATES} updates")
    print(
        f"    naive:    {naive_seconds:.2f} s, {naive.env_steps} env steps, "
        f"{len(naive.grads)} jobs computed eagerly"
    )
    for backend, (seconds, steps, c) in timings.items():
        per_step = (naive_seconds / naive.env_steps) / (seconds / steps)
        print(
            f"    apga-sim ({backend}): {seconds:.2f} s, {steps} env steps, "
            f"{c.jobs_computed} jobs computed, {c.jobs_cancelled} cancelled (never computed)"
            f" -> {naive_seconds / seconds:.1f}x wall time, {per_step:.1f}x per env step "
            f"(target >= {TARGETS[backend]}x)"
        )


if __name__ == "__main__":
    main()
