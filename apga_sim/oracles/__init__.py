"""Gradient oracles: the synthetic quadratic and the MuJoCo policy-gradient oracle."""

from __future__ import annotations

from apga_sim.oracles.base import Job, Oracle
from apga_sim.oracles.config import OracleConfig


def build_oracle(config: OracleConfig, n: int, seed: int) -> Oracle:
    """Create the oracle a scenario describes, for ``n`` workers and one seed."""
    if config.kind == "quadratic":
        from apga_sim.oracles.quadratic import QuadraticOracle

        return QuadraticOracle(config, n, seed)
    from apga_sim.oracles.mujoco import MujocoOracle

    return MujocoOracle(config, n, seed)


__all__ = ["Job", "Oracle", "OracleConfig", "build_oracle"]
