"""The MuJoCo policy-gradient oracle (real REINFORCE gradients on gymnasium MuJoCo tasks).

``MujocoOracleConfig`` is importable without torch/gymnasium; ``MujocoOracle`` is loaded lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from apga_sim.oracles.mujoco.config import MujocoOracleConfig, VariantConfig

if TYPE_CHECKING:
    from apga_sim.oracles.mujoco.oracle import MujocoOracle

__all__ = ["MujocoOracle", "MujocoOracleConfig", "VariantConfig"]


def __getattr__(name: str) -> Any:
    if name == "MujocoOracle":
        from apga_sim.oracles.mujoco.oracle import MujocoOracle

        return MujocoOracle
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
