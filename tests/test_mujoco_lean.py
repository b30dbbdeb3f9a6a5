"""Lean stepping is bit-identical to gymnasium's ``step``, per task and through rollouts."""

from __future__ import annotations

import warnings
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest

from apga_sim.oracles.mujoco import MujocoOracleConfig
from apga_sim.oracles.mujoco.envs import (
    EnvBank,
    VariantEnv,
    VariantSpec,
    default_horizon,
    variant_specs,
)
from apga_sim.oracles.mujoco.lean import BatchStepper, lean_task
from apga_sim.oracles.mujoco.policy import PolicyLayout
from apga_sim.oracles.mujoco.rollout import job_request, rollout_batch

INF = float("inf")


def same_bits(a, b) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def random_actions(rng: np.random.Generator, env: VariantEnv, n: int) -> np.ndarray:
    """Uniform over twice the action box; some rows far out of it, some on its bounds."""
    act = env.center + env.half_range * rng.uniform(-2.0, 2.0, (n, env.half_range.size))
    far = rng.random(n) < 0.1
    act[far] = env.center + 50.0 * (act[far] - env.center)
    edge = rng.random(n) < 0.1
    act[edge] = env.center + env.half_range * np.sign(act[edge] - env.center)
    return act


def compare(spec: VariantSpec, rounds: int, batch: int, seed: int) -> dict[str, int]:
    """Lockstep episodes of lean envs vs gymnasium (+ TimeLimit); count how episodes end.

    Each round resets ``batch`` env pairs with random seeds and steps them with the same random
    actions until every episode is terminated or truncated (slots leave the batch as they end).
    """
    rng = np.random.default_rng(seed)
    horizon = default_horizon(spec.env_id)
    lean = [VariantEnv(spec) for _ in range(batch)]
    ref = [VariantEnv(replace(spec, stepping="gymnasium")) for _ in range(batch)]
    limited = [gym.wrappers.TimeLimit(e.env, horizon) for e in ref]
    ends = {"terminated": 0, "truncated": 0}
    for _ in range(rounds):
        for env, gym_env in zip(lean, limited, strict=True):
            reset_seed = int(rng.integers(2**31))
            env.reset(reset_seed)
            gym_env.reset(seed=reset_seed)
        stepper = BatchStepper(lean)
        slots, t = np.arange(batch), 0
        while slots.size:
            act = random_actions(rng, lean[0], slots.size)
            obs, reward, terminated = stepper.step(slots, act)
            truncated = t + 1 >= horizon
            for k, j in enumerate(slots):
                o, r, term, trunc, _ = limited[j].step(act[k])
                assert same_bits(obs[k], ref[j].transform(o)), (t, j)
                assert same_bits(reward[k], r), (t, j)
                assert (terminated[k], truncated) == (term, trunc), (t, j)
            ends["terminated"] += int(terminated.sum())
            ends["truncated"] += int(truncated) * int((~terminated).sum())
            slots = slots[~(terminated | truncated)]
            t += 1
    return ends


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # v4 deprecations, out-of-bounds actions
        yield


# (env id, rounds x batch of default episodes, kwargs of one extra episode run to the horizon)
TASKS = [
    ("Hopper-v4", 8, 6, {"terminate_when_unhealthy": False}),
    ("Hopper-v5", 8, 6, {"terminate_when_unhealthy": False}),
    ("Walker2d-v4", 8, 6, {"terminate_when_unhealthy": False}),
    ("Walker2d-v5", 8, 6, {"terminate_when_unhealthy": False}),
    ("Reacher-v4", 4, 5, None),
    ("Reacher-v5", 4, 5, None),
    ("Humanoid-v4", 3, 5, {"terminate_when_unhealthy": False}),
    ("Humanoid-v5", 3, 5, {"terminate_when_unhealthy": False}),
    ("HalfCheetah-v4", 0, 0, {}),
    ("HalfCheetah-v5", 0, 0, {}),
]


@pytest.mark.parametrize(("env_id", "rounds", "batch", "long_kwargs"), TASKS)
def test_lean_step_equals_gymnasium(env_id, rounds, batch, long_kwargs):
    spec = VariantSpec("v", env_id)
    assert lean_task(VariantEnv(spec)) is not None
    ends = compare(spec, rounds, batch, seed=len(env_id))
    terminates = env_id.split("-")[0] in ("Hopper", "Walker2d", "Humanoid")
    assert ends["terminated"] > 0 if terminates else ends["truncated"] == rounds * batch
    if long_kwargs is not None:
        long = compare(replace(spec, env_kwargs=long_kwargs), 1, 1, seed=1)
        assert long == {"terminated": 0, "truncated": 1}


KWARGS_AND_VARIANTS = [
    VariantSpec(
        "hopper",
        "Hopper-v5",
        {
            "ctrl_cost_weight": 0.05,
            "healthy_reward": -0.5,
            "healthy_angle_range": (-0.3, 0.3),
            "healthy_state_range": (-4.0, 1.0),
            "exclude_current_positions_from_observation": False,
            "frame_skip": 2,
        },
        obs_negate=True,
        obs_append=(1.0, -2.0),
        gravity_scale=0.7,
        mass_scale=1.2,
        friction_scale=0.8,
        gear_scale=1.1,
    ),
    VariantSpec(
        "walker",
        "Walker2d-v4",
        {"forward_reward_weight": 2.0, "healthy_z_range": (0.9, 1.8)},
        mass_scale=1.3,
        obs_append=(0.5,),
    ),
    VariantSpec(
        "humanoid5",
        "Humanoid-v5",
        {
            "include_cinert_in_observation": False,
            "include_qfrc_actuator_in_observation": False,
            "contact_cost_weight": 1e-3,
            "contact_cost_range": (-INF, 0.5),
            "exclude_current_positions_from_observation": False,
        },
        obs_negate=True,
        gravity_scale=0.5,
    ),
    VariantSpec(
        "humanoid4",
        "Humanoid-v4",
        {"ctrl_cost_weight": 0.5, "exclude_current_positions_from_observation": False},
        mass_scale=0.9,
    ),
    VariantSpec(
        "reacher5",
        "Reacher-v5",
        {"reward_dist_weight": 2.0, "reward_control_weight": 0.3, "frame_skip": 3},
        gear_scale=2.0,
        obs_append=(1.0,),
    ),
    VariantSpec("reacher4", "Reacher-v4", friction_scale=0.5, obs_negate=True),
    VariantSpec(
        "cheetah",
        "HalfCheetah-v4",
        {"ctrl_cost_weight": 0.2, "exclude_current_positions_from_observation": False},
        mass_scale=1.5,
    ),
]


@pytest.mark.parametrize("spec", KWARGS_AND_VARIANTS, ids=lambda s: s.name)
def test_lean_step_follows_kwargs_and_variants(spec):
    long = spec.env_id.startswith(("Reacher", "Hopper", "Walker2d"))
    compare(spec, rounds=2 if long else 1, batch=3, seed=7)


def test_stepping_option_reaches_the_envs_and_stays_out_of_default_dumps():
    lean = MujocoOracleConfig(kind="mujoco", env="Hopper-v4")
    ref = MujocoOracleConfig(kind="mujoco", env="Hopper-v4", stepping="gymnasium")
    assert [s.stepping for s in variant_specs(lean)] == ["lean"]
    assert [s.stepping for s in variant_specs(ref)] == ["gymnasium"]
    assert "stepping" not in lean.model_dump(mode="json")
    assert MujocoOracleConfig.model_validate(ref.model_dump(mode="json")) == ref


def test_fallbacks():
    assert lean_task(VariantEnv(VariantSpec("v", "Hopper-v4", stepping="gymnasium"))) is None
    assert lean_task(VariantEnv(VariantSpec("v", "InvertedPendulum-v5"))) is None
    compare(VariantSpec("v", "InvertedPendulum-v5"), rounds=1, batch=2, seed=3)


@pytest.mark.parametrize("env_id", ["Hopper-v4", "Humanoid-v5"])
def test_rollout_batch_identical_with_lean_and_gymnasium_stepping(env_id):
    def rollouts(stepping: str) -> list:
        specs = [
            VariantSpec("plain", env_id, obs_append=(0.0,), stepping=stepping),
            VariantSpec("neg", env_id, obs_negate=True, obs_append=(1.0,), gravity_scale=0.8),
            VariantSpec("gym", env_id, obs_append=(2.0,), mass_scale=1.1, stepping="gymnasium"),
        ]
        if stepping == "gymnasium":
            specs[1] = replace(specs[1], stepping="gymnasium")
        bank = EnvBank(specs)
        layout = PolicyLayout(*bank.probe(), hidden=(16, 16))
        base = layout.initial(3)
        thetas = [base, base + 0.3 * np.random.default_rng(0).standard_normal(layout.dim)]
        requests = [job_request(3, 1 + k % 3, k, k % 3, k % 2) for k in range(9)]
        return rollout_batch(bank, layout, 40, requests, thetas)

    lean, ref = rollouts("lean"), rollouts("gymnasium")
    assert {t.terminated for t in ref} == {True, False}
    for a, b in zip(lean, ref, strict=True):
        assert same_bits(a.obs, b.obs) and same_bits(a.u, b.u)
        assert same_bits(a.rewards, b.rewards) and a.terminated == b.terminated
