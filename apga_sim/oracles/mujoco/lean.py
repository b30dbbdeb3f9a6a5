"""Lean stepping: a rollout's environments stepped without gymnasium's per-step Python.

The physics of each env runs through ``mujoco.mj_step(model, data, nstep=frame_skip)`` (plus
``mj_rnePostConstraint`` where the observation reads contact forces); observations, rewards and
terminations are then computed for the whole batch with numpy, replicating each task's
gymnasium ``step`` operation by operation, so the results are bit-identical to it
(``tests/test_mujoco_lean.py`` proves it per task). Task parameters (``env_kwargs``) are read
from the unwrapped env and variants work unchanged (physics edits live in the model, the
observation transform is :meth:`VariantEnv.transform`).

Covered: Hopper, Walker2d, HalfCheetah, Reacher and Humanoid, v4 and v5. Any other task,
``render_mode="human"`` or ``stepping="gymnasium"`` steps through gymnasium's ``env.step``.
Actions are float64 rows (what rollouts pass); resets stay in gymnasium.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

import mujoco
import numpy as np
from gymnasium.envs.mujoco import (
    half_cheetah_v4,
    half_cheetah_v5,
    hopper_v4,
    hopper_v5,
    humanoid_v4,
    humanoid_v5,
    reacher_v4,
    reacher_v5,
    walker2d_v4,
    walker2d_v5,
)

from apga_sim.oracles.mujoco.envs import VariantEnv, VariantSpec

Outcome = tuple[np.ndarray, np.ndarray, np.ndarray]
"""``(observations (n, obs_dim), rewards (n,), terminated (n,))`` of one batched step."""
Health = tuple[int, np.ndarray, np.ndarray]
"""``(start, low, high)``: healthy iff ``low < (qpos, qvel)[start:start + len(low)] < high``."""


class _Task(Protocol):
    """One task's step arithmetic on stacked ``mjData`` fields (rows = envs)."""

    fields: tuple[str, ...]
    """``mjData`` fields read after the physics, stacked across the batch."""
    rne: bool
    """Whether gymnasium's ``mj_rnePostConstraint`` matters (contact forces are observed)."""

    def carry(self, f: list[np.ndarray]) -> np.ndarray:
        """What the next step needs from this state (gymnasium reads it before the physics)."""
        ...

    def outcome(
        self, f: list[np.ndarray], before: np.ndarray, after: np.ndarray, act: np.ndarray
    ) -> Outcome:
        """Raw observations, rewards and terminations after the physics (``after = carry(f)``)."""
        ...


def _health(start: int, ranges: Sequence[Sequence[float]]) -> Health:
    """Open ranges of the columns ``start, start + 1, ...`` of ``(qpos, qvel)``."""
    low, high = np.array(ranges, dtype=np.float64).T
    return start, low, high


def _hopper_health(env: Any) -> Health:
    """Hopper: height ``qpos[1]``, angle ``qpos[2]`` and all of ``(qpos, qvel)[2:]`` in range.

    The angle's two ranges become their intersection, which is exact: ``a < x < b and
    c < x < d`` iff ``max(a, c) < x < min(b, d)``.
    """
    z, angle, state = env._healthy_z_range, env._healthy_angle_range, env._healthy_state_range
    both = (max(angle[0], state[0]), min(angle[1], state[1]))
    return _health(1, [z, both, *[state] * (env.model.nq + env.model.nv - 3)])


def _walker_health(env: Any) -> Health:
    """Walker2d: height ``qpos[1]`` and angle ``qpos[2]`` in range."""
    return _health(1, [env._healthy_z_range, env._healthy_angle_range])


def _humanoid_health(env: Any) -> Health:
    """Humanoid: height ``qpos[2]`` in range."""
    return _health(2, [env._healthy_z_range])


class _Locomotion:
    """Reward ``forward + healthy - costs`` and termination of the locomotion tasks.

    Args:
        env: The unwrapped gymnasium env (its ``env_kwargs`` attributes).
        health: Healthy flags, or None for a task that never terminates (reward
            ``forward - costs``).
        v4: v4 pays the healthy reward while ``healthy or terminate_when_unhealthy``; v5 only
            while healthy.

    """

    def __init__(self, env: Any, health: Health | None, v4: bool) -> None:
        self.dt = env.dt
        self.forward_weight = env._forward_reward_weight
        self.ctrl_weight = env._ctrl_cost_weight
        self.health = health
        self.v4 = v4
        if health is not None:
            self.healthy_reward = env._healthy_reward
            self.terminate = bool(env._terminate_when_unhealthy)

    def reward(
        self, q: np.ndarray, v: np.ndarray, x_velocity: np.ndarray, costs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rewards and terminations from the stacked state."""
        forward = self.forward_weight * x_velocity
        if self.health is None:
            return forward - costs, np.zeros(q.shape[0], dtype=bool)
        start, low, high = self.health
        state = np.concatenate([q, v], axis=1)[:, start : start + low.size]
        # A row-wise reduction of a 2-D array: numpy's stubs also allow a scalar here.
        healthy = cast(np.ndarray, ((low < state) & (state < high)).all(axis=1))
        alive = healthy | self.terminate if self.v4 else healthy
        return (forward + alive * self.healthy_reward) - costs, ~healthy & self.terminate

    def ctrl_cost(self, act: np.ndarray) -> np.ndarray:
        """``ctrl_cost_weight * sum(a^2)`` per row."""
        return self.ctrl_weight * np.square(act).sum(axis=1)


class _Planar(_Locomotion):
    """Hopper, Walker2d, HalfCheetah: progress of ``qpos[0]``, observation ``(qpos, qvel)``.

    Args:
        env: The unwrapped gymnasium env.
        health: See :class:`_Locomotion`.
        v4: See :class:`_Locomotion`.
        clip: Clip the observed velocities to ``[-10, 10]`` (Hopper, Walker2d).

    """

    fields: tuple[str, ...] = ("qpos", "qvel")
    rne = False

    def __init__(self, env: Any, health: Health | None, v4: bool, clip: bool) -> None:
        super().__init__(env, health, v4)
        self.skip = int(env._exclude_current_positions_from_observation)
        self.clip = clip

    def carry(self, f: list[np.ndarray]) -> np.ndarray:
        """``qpos[0]``."""
        return f[0][:, 0]

    def outcome(
        self, f: list[np.ndarray], before: np.ndarray, after: np.ndarray, act: np.ndarray
    ) -> Outcome:
        """Gymnasium's ``step`` after ``do_simulation``."""
        q, v = f
        x_velocity = (after - before) / self.dt
        reward, terminated = self.reward(q, v, x_velocity, self.ctrl_cost(act))
        obs = np.concatenate([q[:, self.skip :], np.clip(v, -10, 10) if self.clip else v], 1)
        return obs, reward, terminated


class _Humanoid(_Locomotion):
    """Humanoid: progress of the mass center, contact forces observed (and costed in v5)."""

    fields: tuple[str, ...] = (
        "qpos",
        "qvel",
        "cinert",
        "cvel",
        "qfrc_actuator",
        "cfrc_ext",
        "xipos",
    )
    rne = True

    def __init__(self, env: Any, v4: bool) -> None:
        super().__init__(env, _humanoid_health(env), v4)
        self.mass = env.model.body_mass
        self.skip = 2 * int(env._exclude_current_positions_from_observation)
        self.contact_weight = None if v4 else env._contact_cost_weight
        self.contact_range = None if v4 else env._contact_cost_range
        # (field index, first row kept) of cinert, cvel, qfrc_actuator and cfrc_ext in the
        # observation; v5 drops the world body and the free joint, and may leave parts out.
        self.parts = [(2, 0), (3, 0), (4, 0), (5, 0)]
        if not v4:
            flags = (
                env._include_cinert_in_observation,
                env._include_cvel_in_observation,
                env._include_qfrc_actuator_in_observation,
                env._include_cfrc_ext_in_observation,
            )
            self.parts = [
                (k, start)
                for k, start, on in zip((2, 3, 4, 5), (1, 1, 6, 1), flags, strict=True)
                if on is True
            ]

    def carry(self, f: list[np.ndarray]) -> np.ndarray:
        """Gymnasium's ``mass_center``: the (x, y) of the mass center."""
        return (np.einsum("b,nbj->nj", self.mass, f[6]) / self.mass.sum())[:, 0:2]

    def outcome(
        self, f: list[np.ndarray], before: np.ndarray, after: np.ndarray, act: np.ndarray
    ) -> Outcome:
        """Gymnasium's ``step`` after ``do_simulation`` (``data.ctrl`` is the action)."""
        q, v = f[0], f[1]
        x_velocity = ((after - before) / self.dt)[:, 0]
        costs = self.ctrl_cost(act)
        if self.contact_range is not None:
            contact = self.contact_weight * np.square(f[5]).sum(axis=(1, 2))
            costs = costs + np.clip(contact, *self.contact_range)
        reward, terminated = self.reward(q, v, x_velocity, costs)
        n = q.shape[0]
        obs = np.concatenate(
            [q[:, self.skip :], v, *(f[k][:, start:].reshape(n, -1) for k, start in self.parts)],
            axis=1,
        )
        return obs, reward, terminated


class _Reacher:
    """Reacher: distance fingertip-target and control cost.

    Args:
        env: The unwrapped gymnasium env.
        v4: v4 rewards the state before the physics (v5 after) and observes the 3-D
            fingertip-target vector (v5 its first two components).

    """

    fields: tuple[str, ...] = ("qpos", "qvel", "xpos")
    rne = False

    def __init__(self, env: Any, v4: bool) -> None:
        self.v4 = v4
        self.tip = env.model.body("fingertip").id
        self.target = env.model.body("target").id
        self.dist_weight = 1.0 if v4 else env._reward_dist_weight
        self.ctrl_weight = 1.0 if v4 else env._reward_control_weight

    def carry(self, f: list[np.ndarray]) -> np.ndarray:
        """``fingertip - target`` positions."""
        return f[2][:, self.tip] - f[2][:, self.target]

    def outcome(
        self, f: list[np.ndarray], before: np.ndarray, after: np.ndarray, act: np.ndarray
    ) -> Outcome:
        """Gymnasium's ``step`` (v4's unit weights are exact)."""
        q, v = f[0], f[1]
        dist = before if self.v4 else after
        reward = -np.linalg.norm(dist, axis=1) * self.dist_weight + (
            -np.square(act).sum(axis=1) * self.ctrl_weight
        )
        obs = np.concatenate(
            [
                np.cos(q[:, :2]),
                np.sin(q[:, :2]),
                q[:, 2:],
                v[:, :2],
                after[:, : 3 if self.v4 else 2],
            ],
            axis=1,
        )
        return obs, reward, np.zeros(q.shape[0], dtype=bool)


_TASKS: dict[type, Callable[[Any], _Task]] = {
    hopper_v4.HopperEnv: lambda e: _Planar(e, _hopper_health(e), v4=True, clip=True),
    hopper_v5.HopperEnv: lambda e: _Planar(e, _hopper_health(e), v4=False, clip=True),
    walker2d_v4.Walker2dEnv: lambda e: _Planar(e, _walker_health(e), v4=True, clip=True),
    walker2d_v5.Walker2dEnv: lambda e: _Planar(e, _walker_health(e), v4=False, clip=True),
    half_cheetah_v4.HalfCheetahEnv: lambda e: _Planar(e, None, v4=True, clip=False),
    half_cheetah_v5.HalfCheetahEnv: lambda e: _Planar(e, None, v4=False, clip=False),
    humanoid_v4.HumanoidEnv: lambda e: _Humanoid(e, v4=True),
    humanoid_v5.HumanoidEnv: lambda e: _Humanoid(e, v4=False),
    reacher_v4.ReacherEnv: lambda e: _Reacher(e, v4=True),
    reacher_v5.ReacherEnv: lambda e: _Reacher(e, v4=False),
}


def lean_task(env: VariantEnv) -> _Task | None:
    """The lean arithmetic of ``env``'s task, or None to step it through gymnasium."""
    make = _TASKS.get(type(env.env))
    if env.spec.stepping != "lean" or make is None or env.env.render_mode == "human":
        return None
    return make(env.env)


class _LeanGroup:
    """Envs of one variant stepped the lean way (``rows`` index ``envs``).

    The envs of a variant have identical models (built from the same spec), so all are
    stepped with the first env's model, which stays in cache.
    """

    def __init__(self, envs: Sequence[VariantEnv], task: _Task) -> None:
        self._task = task
        self._transform = envs[0].transform
        self._frame_skip = envs[0].env.frame_skip
        self._model = envs[0].env.model
        self._sims = [(e.env.data, e.env.data.ctrl) for e in envs]
        # (1, ...) views of each field, concatenated into (rows, ...) batches.
        self._views = [[getattr(e.env.data, name)[None] for e in envs] for name in task.fields]
        self._all = list(range(len(envs)))
        self._before = task.carry(self._gather(self._all))

    def _gather(self, rows: list[int]) -> list[np.ndarray]:
        if rows == self._all:
            return [np.concatenate(views) for views in self._views]
        return [np.concatenate([views[i] for i in rows]) for views in self._views]

    def step(self, rows: np.ndarray, act: np.ndarray) -> Outcome:
        """Step envs ``rows`` with actions ``act`` (one row each)."""
        model, sims, skip, rne = self._model, self._sims, self._frame_skip, self._task.rne
        rows_list = rows.tolist()
        for i, a in zip(rows_list, act, strict=True):
            data, ctrl = sims[i]
            ctrl[:] = a
            mujoco.mj_step(model, data, skip)
            if rne:
                mujoco.mj_rnePostConstraint(model, data)
        f = self._gather(rows_list)
        after = self._task.carry(f)
        obs, reward, terminated = self._task.outcome(f, self._before[rows], after, act)
        self._before[rows] = after
        return self._transform(obs), reward, terminated


class _GymGroup:
    """Envs stepped through gymnasium's ``env.step`` (the reference)."""

    def __init__(self, envs: Sequence[VariantEnv]) -> None:
        self._steps = [e.step for e in envs]

    def step(self, rows: np.ndarray, act: np.ndarray) -> Outcome:
        """Step envs ``rows`` with actions ``act`` (one row each)."""
        out = [self._steps[i](a) for i, a in zip(rows.tolist(), act, strict=True)]
        obs, reward, done = zip(*out, strict=True)
        return np.stack(obs), np.array(reward, dtype=np.float64), np.array(done, dtype=bool)


class BatchStepper:
    """Steps the envs of one rollout together, each variant (equal specs) lean or gymnasium.

    Build it once the envs are reset (lean stepping carries state from one step to the next,
    as gymnasium reads it before the physics).

    Args:
        envs: One env per rollout slot (distinct envs).

    """

    def __init__(self, envs: Sequence[VariantEnv]) -> None:
        specs: list[VariantSpec] = []
        of_spec: list[list[int]] = []
        for slot, env in enumerate(envs):
            if env.spec not in specs:
                specs.append(env.spec)
                of_spec.append([])
            of_spec[specs.index(env.spec)].append(slot)
        self._groups: list[_LeanGroup | _GymGroup] = []
        self._group_of = np.empty(len(envs), dtype=np.int64)
        self._local = np.empty(len(envs), dtype=np.int64)
        for g, slots in enumerate(of_spec):
            members = [envs[s] for s in slots]
            task = lean_task(members[0])
            self._groups.append(_GymGroup(members) if task is None else _LeanGroup(members, task))
            self._group_of[slots] = g
            self._local[slots] = np.arange(len(slots))

    def step(self, slots: np.ndarray, act: np.ndarray) -> Outcome:
        """Step the envs of ``slots`` with actions ``act``; outcome rows follow ``slots``.

        Args:
            slots: Slot indices (distinct).
            act: ``(len(slots), act_dim)`` float64 actions.

        Returns:
            Transformed observations, rewards and terminations.

        """
        if len(self._groups) == 1:
            return self._groups[0].step(slots, act)
        group_of = self._group_of[slots]
        out: list[np.ndarray] = []
        for g, group in enumerate(self._groups):
            sel = np.flatnonzero(group_of == g)
            if sel.size:
                part = group.step(self._local[slots[sel]], act[sel])
                if not out:
                    out = [np.empty((slots.size, *p.shape[1:]), dtype=p.dtype) for p in part]
                for whole, p in zip(out, part, strict=True):
                    whole[sel] = p
        obs, reward, terminated = out
        return obs, reward, terminated
