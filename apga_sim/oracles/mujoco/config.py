"""Scenario models of the MuJoCo policy-gradient oracle (pydantic only, no heavy imports)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveFloat, PositiveInt


class VariantConfig(BaseModel):
    """One environment variant of the heterogeneous setting (worker ``i`` samples its own MDP).

    The observation seen by the policy is ``(sign * s, *obs_append)`` with ``sign = -1`` when
    ``obs_negate``; e.g. the paper's figure 9 uses ``(s, 0)`` for worker 1 and ``(-s, 1)`` for
    worker 2. Physics edits scale the MuJoCo model once, when the environment is built.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Variant name, used in evaluation keys `return_mean/<name>`.")
    workers: list[PositiveInt] = Field(
        description="1-based worker ids using this variant; the variants must cover 1..n once."
    )
    obs_negate: bool = Field(False, description="Negate the environment's observation.")
    obs_append: list[float] = Field(
        default_factory=list, description="Constants appended to the (possibly negated) state."
    )
    gravity_scale: float = Field(1.0, description="Multiplies `model.opt.gravity`.")
    mass_scale: PositiveFloat = Field(
        1.0, description="Multiplies `model.body_mass` and `model.body_inertia` (uniform density)."
    )
    friction_scale: PositiveFloat = Field(
        1.0, description="Multiplies every column of `model.geom_friction`."
    )
    gear_scale: float = Field(1.0, description="Multiplies `model.actuator_gear` (motor strength).")
    env_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments merged over the base `env_kwargs`."
    )


class MujocoOracleConfig(BaseModel):
    """Real policy gradients of a Gaussian MLP policy on a gymnasium MuJoCo task.

    One gradient job rolls out one trajectory of at most ``horizon`` steps and returns the
    REINFORCE estimator ``g_H = sum_t (sum_{h>=t} gamma^h r_h) grad log N(u_t; mu, sigma)``
    (algorithms.md section 2). ``stepping`` chooses how environments are stepped (lean by
    default); trajectories are bit-identical either way.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["mujoco"]
    env: str = Field(description="Gymnasium id, e.g. `Hopper-v4`, `Humanoid-v5`.")
    env_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments of `gymnasium.make`."
    )
    horizon: PositiveInt | None = Field(
        None, description="H, the trajectory cap; None = the environment's `max_episode_steps`."
    )
    gamma: float = Field(0.99, ge=0.0, le=1.0, description="Discount factor.")
    discount: Literal["from_start", "from_step"] = Field(
        "from_start",
        description="`from_start`: weight gamma^h (the paper's unbiased g_H, default); "
        "`from_step`: gamma^(h-t).",
    )
    baseline: Literal["none", "mean"] = Field(
        "none",
        description="`mean`: subtract from each reward-to-go the leave-one-out mean, at the same "
        "time step, of the other trajectories consumed by the same gradient() call (no baseline "
        "for a lone job). Off by default (the paper uses none).",
    )
    hidden: list[PositiveInt] = Field(
        default_factory=lambda: [64, 64], description="Hidden layer widths."
    )
    activation: Literal["tanh", "relu"] = Field("tanh", description="Hidden activation.")
    init_std: PositiveFloat = Field(
        0.5,
        description="Initial policy std sigma(s) (std head bias; its weights start ~0). Decision "
        "(not in the paper): 0.5, since with the tanh squash std 1 saturates many actions.",
    )
    stepping: Literal["lean", "gymnasium"] = Field(
        "lean",
        description="How rollouts step the environments. `lean` (default): MuJoCo physics "
        "directly, then observations, rewards and terminations of the whole batch in numpy, "
        "bit-identical to gymnasium's `step` for Hopper, Walker2d, HalfCheetah, Reacher and "
        "Humanoid (v4 and v5, any env_kwargs and variant); other tasks and the `human` render "
        "mode fall back to gymnasium. `gymnasium`: every step through gymnasium's `env.step` "
        "(the reference). Traces are identical either way; the default is left out of dumps, so "
        "manifests (and the run identity of existing results) stay as before.",
        exclude_if=lambda v: v == "lean",
    )
    variants: list[VariantConfig] | None = Field(
        None, description="Per-worker environment variants (heterogeneous setting)."
    )
    eval_episodes: PositiveInt = Field(10, description="Evaluation episodes per variant.")
    eval_seed: NonNegativeInt = Field(
        10_000, description="Evaluation episode k resets with seed `eval_seed + k`."
    )
    eval_deterministic: bool = Field(
        False,
        description="Evaluate the mean action tanh(mu). Default False: evaluate the stochastic "
        "policy, whose expected return is the objective J being maximised.",
    )
    parallel: Literal["serial", "processes", "ray"] = Field(
        "serial", description="Where rollouts run; gradients are identical in every mode."
    )
    processes: PositiveInt = Field(2, description="Worker processes / Ray actors.")
    ray_address: str | None = Field(
        None, description="`ray.init(address=...)`; None = start a local Ray instance."
    )
