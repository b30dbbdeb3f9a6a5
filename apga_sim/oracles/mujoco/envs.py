"""Environment construction: unwrapped gymnasium MuJoCo envs, variant physics and obs transforms."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.spaces import Box

from apga_sim.oracles.mujoco.config import MujocoOracleConfig, VariantConfig

if TYPE_CHECKING:
    from gymnasium.envs.mujoco.mujoco_env import MujocoEnv


@dataclass(frozen=True)
class VariantSpec:
    """Everything needed to build one variant's environments (picklable).

    Attributes:
        name: Variant name (``"all"`` for the homogeneous setting).
        env_id: Gymnasium id.
        env_kwargs: Keyword arguments of ``gymnasium.make`` (base merged with the variant's).
        obs_negate: Negate the raw observation.
        obs_append: Constants appended after the (negated) observation.
        gravity_scale: Factor on ``model.opt.gravity``.
        mass_scale: Factor on ``model.body_mass`` and ``model.body_inertia``.
        friction_scale: Factor on ``model.geom_friction``.
        gear_scale: Factor on ``model.actuator_gear``.
        stepping: ``"lean"`` or ``"gymnasium"`` (see :mod:`apga_sim.oracles.mujoco.lean`).

    """

    name: str
    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    obs_negate: bool = False
    obs_append: tuple[float, ...] = ()
    gravity_scale: float = 1.0
    mass_scale: float = 1.0
    friction_scale: float = 1.0
    gear_scale: float = 1.0
    stepping: Literal["lean", "gymnasium"] = "lean"


def variant_specs(config: MujocoOracleConfig) -> list[VariantSpec]:
    """Build the variants a config describes (one ``"all"`` variant without ``variants``)."""
    variants = config.variants or [VariantConfig(name="all", workers=[1])]
    return [
        VariantSpec(
            name=v.name,
            env_id=config.env,
            env_kwargs={**config.env_kwargs, **v.env_kwargs},
            obs_negate=v.obs_negate,
            obs_append=tuple(float(x) for x in v.obs_append),
            gravity_scale=v.gravity_scale,
            mass_scale=v.mass_scale,
            friction_scale=v.friction_scale,
            gear_scale=v.gear_scale,
            stepping=config.stepping,
        )
        for v in variants
    ]


@functools.lru_cache(maxsize=64)
def _probe(config_json: str) -> int:
    from apga_sim.oracles.mujoco.policy import PolicyLayout

    config = MujocoOracleConfig.model_validate_json(config_json)
    bank = EnvBank(variant_specs(config))
    try:
        obs_dim, act_dim = bank.probe()
    except ValueError:
        raise
    except Exception as exc:  # whatever gymnasium or MuJoCo raise for these arguments
        message = " ".join(str(exc).split())[:300]
        raise ValueError(f"gymnasium cannot build {config.env}: {message}") from None
    finally:
        bank.close()
    return PolicyLayout(obs_dim, act_dim, tuple(config.hidden), config.activation).dim


def policy_dim(config: MujocoOracleConfig) -> int:
    """Build each variant's environment once; return the policy's parameter count ``d``.

    Raises:
        ValueError: the environments cannot be built, or the variants' shapes differ.

    """
    return _probe(config.model_dump_json())


def default_horizon(env_id: str) -> int:
    """Return the environment's own ``max_episode_steps`` (error if it has none)."""
    steps = gym.spec(env_id).max_episode_steps
    if steps is None:
        raise ValueError(f"{env_id} has no max_episode_steps; set `horizon` explicitly")
    return int(steps)


class VariantEnv:
    """One unwrapped MuJoCo env of a variant, with its observation transform.

    Attributes:
        env: The unwrapped gymnasium ``MujocoEnv`` (no wrappers, no time limit).
        spec: The variant it implements.
        center: Action-space center ``(high + low) / 2``.
        half_range: Action-space half width ``(high - low) / 2`` (the action bound).

    """

    def __init__(self, spec: VariantSpec) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # v4 deprecation notices
            # The ids this module builds are MuJoCo tasks; ``.unwrapped`` is typed as a plain Env.
            self.env = cast("MujocoEnv", gym.make(spec.env_id, **spec.env_kwargs).unwrapped)
        self.spec = spec
        model = self.env.model
        if spec.gravity_scale != 1.0:
            model.opt.gravity[:] = model.opt.gravity * spec.gravity_scale
        if spec.mass_scale != 1.0:
            model.body_mass[:] = model.body_mass * spec.mass_scale
            model.body_inertia[:] = model.body_inertia * spec.mass_scale
        if spec.friction_scale != 1.0:
            model.geom_friction[:] = model.geom_friction * spec.friction_scale
        if spec.gear_scale != 1.0:
            model.actuator_gear[:] = model.actuator_gear * spec.gear_scale
        if spec.mass_scale != 1.0:
            mujoco.mj_setConst(model, self.env.data)  # derived constants (subtree masses, ...)
        # ``MujocoEnv._set_action_space`` builds a Box (typed as a plain Space on Env).
        action_space = cast(Box, self.env.action_space)
        low = np.asarray(action_space.low, dtype=np.float64)
        high = np.asarray(action_space.high, dtype=np.float64)
        self.center = (high + low) / 2.0
        self.half_range = (high - low) / 2.0
        self._append = np.asarray(spec.obs_append, dtype=np.float64)
        self._plain = not spec.obs_negate and not spec.obs_append
        self._step = self.env.step
        if self._plain:
            self.step = self._step_plain  # type: ignore[method-assign]

    def transform(self, obs: np.ndarray) -> np.ndarray:
        """Map raw observations ``s`` (rows of ``(..., dim)``) to ``(+-s, *obs_append)``."""
        obs = np.asarray(obs, dtype=np.float64)
        if self._plain:
            return obs
        if self.spec.obs_negate:
            obs = -obs
        if not self._append.size:
            return obs
        append = np.broadcast_to(self._append, (*obs.shape[:-1], self._append.size))
        return np.concatenate([obs, append], axis=-1)

    def reset(self, seed: int) -> np.ndarray:
        """Reset with a gymnasium seed; return the transformed first observation."""
        obs, _ = self.env.reset(seed=int(seed))
        return self.transform(obs)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        """Step once; return ``(transformed obs, reward, episode over)``."""
        obs, reward, terminated, truncated, _ = self._step(action)
        return self.transform(obs), float(reward), bool(terminated or truncated)

    def _step_plain(self, action: np.ndarray) -> tuple[np.ndarray, float, bool]:
        obs, reward, terminated, truncated, _ = self._step(action)
        return obs, reward, terminated or truncated

    def close(self) -> None:
        """Close the underlying env."""
        self.env.close()


class EnvBank:
    """Pools of environments per variant, built once and reused across rollouts.

    A rollout of ``k`` trajectories of a variant takes ``k`` distinct envs of its pool; the pool
    grows on demand. Every rollout resets its env with an explicit seed (``mj_resetData``), so
    an env's history never leaks into a trajectory.
    """

    def __init__(self, specs: Sequence[VariantSpec]) -> None:
        self.specs = list(specs)
        self._pools: list[list[VariantEnv]] = [[] for _ in self.specs]

    def take(self, variants: Sequence[int]) -> list[VariantEnv]:
        """One distinct env for each entry of ``variants`` (variant indices)."""
        used = [0] * len(self.specs)
        out = []
        for v in variants:
            pool = self._pools[v]
            if used[v] == len(pool):
                pool.append(VariantEnv(self.specs[v]))
            out.append(pool[used[v]])
            used[v] += 1
        return out

    def probe(self) -> tuple[int, int]:
        """Check that all variants share shapes; return ``(obs_dim, act_dim)``.

        Raises:
            ValueError: naming the first variant whose observation or action shape differs.

        """
        shapes = []
        for v, spec in enumerate(self.specs):
            env = self.take([v])[0]
            obs = env.reset(seed=0)
            act_shape = env.env.action_space.shape
            if obs.ndim != 1 or act_shape is None or len(act_shape) != 1:
                raise ValueError(f"variant {spec.name!r}: only flat Box observations/actions")
            shapes.append((obs.shape[0], act_shape[0]))
        for spec, shape in zip(self.specs, shapes, strict=True):
            if shape != shapes[0]:
                raise ValueError(
                    f"variant {spec.name!r} gives (obs_dim, act_dim) = {shape}, but variant "
                    f"{self.specs[0].name!r} gives {shapes[0]}; all variants must share the "
                    "observation and action shapes (adjust obs_append)"
                )
        return shapes[0]

    def close(self) -> None:
        """Close every env."""
        for pool in self._pools:
            for env in pool:
                env.close()
        self._pools = [[] for _ in self.specs]
