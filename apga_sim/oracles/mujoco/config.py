"""Scenario models of the MuJoCo policy-gradient oracle (pydantic only, no heavy imports)."""

from __future__ import annotations

import difflib
import math
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

if TYPE_CHECKING:
    from gymnasium import Env

MUJOCO_PACKAGE = "gymnasium.envs.mujoco"
"""Only environments whose entry point lives in this package may be named."""
NOT_ENV_KWARGS = {"max_episode_steps": "set oracle.horizon instead"}


def check_env_id(env: str) -> str:
    """Return ``env`` if it names a registered gymnasium MuJoCo task; never imports a module.

    Raises:
        ValueError: naming close registered ids ("did you mean"), as gymnasium does.

    """
    from gymnasium.envs.registration import registry

    mujoco = sorted(
        k
        for k, spec in registry.items()
        if isinstance(spec.entry_point, str) and spec.entry_point.startswith(MUJOCO_PACKAGE)
    )
    if env in mujoco:
        return env
    if ":" in env:
        raise ValueError(f"{env!r}: module paths are not allowed; give a registered id")
    if env in registry:
        raise ValueError(f"{env!r} is not a MuJoCo task; choose one of {', '.join(mujoco)}")
    close = difflib.get_close_matches(env.lower(), [k.lower() for k in mujoco], n=3)
    names = [k for k in mujoco if k.lower() in close]
    hint = f"did you mean {' or '.join(names)}?" if names else f"choose one of {', '.join(mujoco)}"
    raise ValueError(f"{env!r} is not a registered gymnasium MuJoCo task; {hint}")


def _kinds(env: str) -> dict[str, type]:
    """The keyword arguments of ``env``'s constructor and the kind of value each takes."""
    import inspect
    import typing

    from gymnasium.envs.registration import load_env_creator, registry

    # ``env`` passed check_env_id: its entry point is a "module:Class" string of MUJOCO_PACKAGE,
    # so the creator is the env class itself.
    entry_point = cast(str, registry[env].entry_point)
    creator = cast("type[Env[Any, Any]]", load_env_creator(entry_point))
    try:
        hints = typing.get_type_hints(creator.__init__)
    except Exception:  # unresolvable annotations: fall back to the defaults
        hints = {}
    kinds = {}
    for name, param in inspect.signature(creator.__init__).parameters.items():
        if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL) or name == "self":
            continue
        hint = hints.get(name)
        kind = hint if hint in (bool, int, float, str) else type(param.default)
        kinds[name] = float if kind is int and hint is None else kind
    return kinds


def _kwarg_problem(kind: type, value: Any) -> str | None:
    """Why ``value`` cannot be given where the constructor expects a ``kind``, or ``None``."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind is bool and not isinstance(value, bool):
        return "must be true or false"
    if kind is int and not (number and float(value).is_integer()):
        return "must be an integer"
    if kind is float and not (number and math.isfinite(value)):
        return "must be a finite number"
    if kind is str and not isinstance(value, str):
        return "must be a string"
    if kind is tuple and not (
        isinstance(value, list)
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
        and not any(math.isnan(x) for x in value)
    ):
        return "must be a list of numbers"
    return None


def check_env_kwargs(env: str, kwargs: dict[str, Any]) -> list[tuple[str, str]]:
    """Problems of ``kwargs`` for ``env``'s constructor, as ``(key, message)`` pairs."""
    kinds = _kinds(env)
    problems = []
    for key, value in kwargs.items():
        if key in NOT_ENV_KWARGS:
            problems.append((key, f"not an environment argument; {NOT_ENV_KWARGS[key]}"))
        elif key not in kinds:
            allowed = ", ".join(kinds) or "none"
            problems.append((key, f"{env} has no such argument; allowed: {allowed}"))
        elif problem := _kwarg_problem(kinds[key], value):
            problems.append((key, f"{problem} (got {str(value)[:40]!r})"))
    return problems


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
    (docs/estimator.md). ``stepping`` chooses how environments are stepped (lean by
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

    @field_validator("env")
    @classmethod
    def _registered(cls, env: str) -> str:
        return check_env_id(env)

    @model_validator(mode="after")
    def _kwargs_fit(self) -> MujocoOracleConfig:
        where = [("env_kwargs", self.env_kwargs)] + [
            (f"variants.{k}.env_kwargs", v.env_kwargs) for k, v in enumerate(self.variants or [])
        ]
        problems = [
            f"{loc}.{key}: {msg}"
            for loc, kwargs in where
            for key, msg in check_env_kwargs(self.env, kwargs)
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self
