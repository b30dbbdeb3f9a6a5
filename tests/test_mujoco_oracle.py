"""MujocoOracle: batching, reproducibility, laziness, variants and evaluation."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from apga_sim.oracles.base import Job, Oracle
from apga_sim.oracles.mujoco import MujocoOracle, MujocoOracleConfig
from apga_sim.oracles.mujoco.envs import VariantEnv, VariantSpec

HOPPER = dict(kind="mujoco", env="Hopper-v4", horizon=50, hidden=[32, 32])
TWO_VARIANTS = [
    dict(name="plain", workers=[1, 3], obs_append=[0.0]),
    dict(name="neg", workers=[2], obs_negate=True, obs_append=[1.0], gravity_scale=0.8),
]


@pytest.fixture(scope="module")
def hopper():
    oracle = MujocoOracle(MujocoOracleConfig(**HOPPER), n=4, seed=5)
    yield oracle
    oracle.close()


def test_protocol_and_shapes(hopper):
    assert isinstance(hopper, Oracle)
    assert hopper.variants == ["all"]
    assert hopper.worker_variant(3) == "all"
    theta = hopper.initial_point()
    assert theta.dtype == np.float64 and theta.shape == (hopper.dim,)
    assert hopper.dim == (11 * 32 + 32) + (32 * 32 + 32) + 2 * (32 * 3 + 3)
    again = MujocoOracle(MujocoOracleConfig(**HOPPER), n=2, seed=5).initial_point()
    np.testing.assert_array_equal(theta, again)
    other = MujocoOracle(MujocoOracleConfig(**HOPPER), n=4, seed=6).initial_point()
    assert not np.array_equal(theta, other)


def points(oracle: MujocoOracle, k: int) -> list[np.ndarray]:
    rng = np.random.default_rng(42)
    base = oracle.initial_point()
    return [base + 0.05 * rng.standard_normal(oracle.dim) for _ in range(k)]


def test_batch_equals_sum_of_singles(hopper):
    pts = points(hopper, 3)
    jobs = [Job(1 + k % 4, 100 + k, pts[k % 3], 0) for k in range(12)]
    weights = list(np.linspace(0.1, 1.0, 12))
    batched = hopper.gradient(jobs, weights)
    singles = sum(
        w * hopper.gradient([Job(j.worker, j.index, j.point, 0)], [1.0])
        for j, w in zip(jobs, weights, strict=True)
    )
    assert np.linalg.norm(batched - singles) <= 1e-6 * np.linalg.norm(singles)


def test_trajectory_bit_identical_alone_and_in_batch(hopper):
    pts = points(hopper, 2)
    target = Job(2, 17, pts[1], 0)
    alone = MujocoOracle(MujocoOracleConfig(**HOPPER), n=4, seed=5).rollout([target])[0]
    batch = [Job(1 + k % 4, 200 + k, pts[k % 2], 0) for k in range(49)]
    batch.insert(23, Job(2, 17, pts[1], 0))
    trajs = hopper.rollout(batch)
    hopper.discard(batch)
    inside = trajs[23]
    for name in ("obs", "u", "rewards"):
        np.testing.assert_array_equal(getattr(alone, name), getattr(inside, name))
    assert batch[23].stats == {"env_steps": alone.length, "episode_return": alone.episode_return}


def finish(oracle: MujocoOracle, job: Job) -> int:
    """Roll ``job`` out step by step (the per_step path) to its end; return its length."""
    oracle.start(job)
    for _ in range(oracle.horizon):
        (length,) = oracle.advance([job])
        if length is not None:
            return length
    raise AssertionError("a job must end by the horizon")


def test_stepwise_rollout_equals_batch_and_abandon_counts_steps(hopper):
    pts = points(hopper, 3)
    jobs = [Job(1 + k % 3, 300 + k, pts[k % 3], 0) for k in range(6)]
    batch = MujocoOracle(MujocoOracleConfig(**HOPPER), n=4, seed=5).rollout(jobs)
    for job in jobs:  # interleaved, as the engine advances several jobs
        hopper.start(job)
    ended: dict[int, int] = {}
    while len(ended) < len(jobs):
        live = [j for j in jobs if j.index not in ended]
        for job, length in zip(live, hopper.advance(live), strict=True):
            if length is not None:
                ended[job.index] = length
    stepwise = hopper.rollout(jobs)  # cached by the stepwise path: nothing rolled out again
    for a, b in zip(batch, stepwise, strict=True):
        for name in ("obs", "u", "rewards"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert a.terminated == b.terminated
    hopper.discard(jobs)
    cancelled = Job(2, 400, pts[0], 0)
    hopper.start(cancelled)
    hopper.advance([cancelled])
    hopper.advance([cancelled])
    assert hopper.abandon(cancelled) == 2 and cancelled.stats == {"env_steps": 2}


def test_steps_then_gradient_rolls_out_once_and_cancelled_never():
    oracle = MujocoOracle(MujocoOracleConfig(**HOPPER), n=2, seed=0)
    theta = oracle.initial_point()
    a, b, cancelled = Job(1, 0, theta, 0), Job(2, 0, theta, 0), Job(1, 1, theta, 0)
    T = finish(oracle, a)
    assert a.stats["env_steps"] == T and 1 <= T <= 50
    assert oracle.call_log == [(1, 0)]
    g = oracle.gradient([a, b], [0.5, 0.5])
    assert oracle.call_log == [(1, 0), (2, 0)]
    assert cancelled.key not in oracle.call_log and not cancelled.stats
    c = oracle.counters()
    assert c["trajectories_simulated"] == 2 and c["trajectories_consumed"] == 2
    assert c["env_steps"] == a.stats["env_steps"] + b.stats["env_steps"]
    assert c["trajectories_cached"] == 0
    # A per_step job that is then discarded is dropped once a newer job of its worker is consumed.
    finish(oracle, Job(1, 2, theta, 0))
    oracle.gradient([Job(1, 3, theta, 0)], [1.0])
    c = oracle.counters()
    assert c["trajectories_discarded"] == 1 and c["trajectories_cached"] == 0
    # Deterministic: the same jobs in a fresh oracle give the same gradient.
    fresh = MujocoOracle(MujocoOracleConfig(**HOPPER), n=2, seed=0)
    np.testing.assert_array_equal(fresh.gradient([a, b], [0.5, 0.5]), g)


def test_variant_coverage_is_validated():
    cfg = MujocoOracleConfig(**HOPPER, variants=TWO_VARIANTS)
    with pytest.raises(ValueError, match="belong to no variant"):
        MujocoOracle(cfg, n=4, seed=0)
    with pytest.raises(ValueError, match="outside 1..2"):
        MujocoOracle(cfg, n=2, seed=0)
    dup = [dict(TWO_VARIANTS[0]), dict(TWO_VARIANTS[1], workers=[2, 3])]
    with pytest.raises(ValueError, match="worker 3 is listed by variants"):
        MujocoOracle(MujocoOracleConfig(**HOPPER, variants=dup), n=3, seed=0)
    oracle = MujocoOracle(cfg, n=3, seed=0)
    assert oracle.variants == ["plain", "neg"]
    assert [oracle.worker_variant(i) for i in (1, 2, 3)] == ["plain", "neg", "plain"]


def test_variants_with_different_shapes_are_refused():
    bad = [dict(name="a", workers=[1], obs_append=[0.0]), dict(name="b", workers=[2])]
    with pytest.raises(ValueError, match="variant 'b' gives .* must share"):
        MujocoOracle(MujocoOracleConfig(**HOPPER, variants=bad), n=2, seed=0)


def test_observation_transform():
    plain = VariantEnv(VariantSpec("p", "Hopper-v4"))
    neg = VariantEnv(VariantSpec("n", "Hopper-v4", obs_negate=True, obs_append=(1.0, 2.5)))
    s, t = plain.reset(7), neg.reset(7)
    np.testing.assert_array_equal(t, np.concatenate([-s, [1.0, 2.5]]))
    action = np.array([0.3, -0.2, 0.5])
    for _ in range(5):
        (s, rs, _), (t, rt, _) = plain.step(action), neg.step(action)
        np.testing.assert_array_equal(t, np.concatenate([-s, [1.0, 2.5]]))
        assert rs == rt


def test_physics_edits():
    base = VariantEnv(VariantSpec("p", "Hopper-v4")).env.model
    spec = VariantSpec(
        "e", "Hopper-v4", gravity_scale=0.5, mass_scale=2.0, friction_scale=0.7, gear_scale=1.5
    )
    env = VariantEnv(spec)
    m = env.env.model
    np.testing.assert_allclose(m.opt.gravity, 0.5 * base.opt.gravity)
    np.testing.assert_allclose(m.body_mass, 2.0 * base.body_mass)
    np.testing.assert_allclose(m.body_inertia, 2.0 * base.body_inertia)
    np.testing.assert_allclose(m.geom_friction, 0.7 * base.geom_friction)
    np.testing.assert_allclose(m.actuator_gear, 1.5 * base.actuator_gear)
    assert base.opt.gravity[2] < 0 and np.any(base.actuator_gear[:, 0] != 0)
    # The edits act on the dynamics: same reset and action, different next state.
    plain = VariantEnv(VariantSpec("p", "Hopper-v4"))
    plain.reset(0), env.reset(0)
    a = np.ones(3)
    assert not np.array_equal(plain.step(a)[0], env.step(a)[0])
    assert isinstance(m, mujoco.MjModel)


def test_evaluate_with_variants():
    cfg = MujocoOracleConfig(**HOPPER, variants=TWO_VARIANTS, eval_episodes=3)
    oracle = MujocoOracle(cfg, n=3, seed=1)
    theta = oracle.initial_point()
    ev = oracle.evaluate(theta)
    assert set(ev) >= {"return_mean", "return_std", "return_mean/plain", "return_mean/neg"}
    assert ev["return_mean"] == pytest.approx((ev["return_mean/plain"] + ev["return_mean/neg"]) / 2)
    assert ev == oracle.evaluate(theta)
    c = oracle.counters()
    assert c["eval_episodes"] == 12 and c["env_steps"] == 0 and c["eval_env_steps"] > 0
    det = MujocoOracle(cfg.model_copy(update={"eval_deterministic": True}), n=3, seed=1)
    assert det.evaluate(theta) != ev
    # The heterogeneous gradient runs each worker in its own variant.
    jobs = [Job(i, 0, theta, 0) for i in (1, 2, 3)]
    assert np.all(np.isfinite(oracle.gradient(jobs, [1 / 3] * 3)))


def test_evaluate_homogeneous_keys(hopper):
    ev = hopper.evaluate(hopper.initial_point())
    assert "return_mean" in ev and "return_std" in ev
    assert not any("/" in k for k in ev)


def test_prefetched_jobs_wait_until_a_missing_trajectory_starts_a_batch():
    oracle = MujocoOracle(MujocoOracleConfig(**HOPPER), n=3, seed=0)
    theta = oracle.initial_point()
    a, b, c = Job(1, 0, theta, 0), Job(2, 0, theta, 0), Job(3, 0, theta, 0)
    oracle.prefetch([a, b])
    oracle.gradient([a], [1.0])  # a is missing: a and b roll out together
    oracle.prefetch([c])
    oracle.gradient([b], [1.0])  # b is cached: c keeps waiting
    assert oracle.call_log == [(1, 0), (2, 0)]
    assert oracle.counters()["rollout_batches"] == 1
    oracle.gradient([c], [1.0])
    assert oracle.call_log == [(1, 0), (2, 0), (3, 0)]
    assert oracle.counters()["rollout_batches"] == 2
    oracle.close()
