"""Scenario models of the oracles (kept free of heavy imports)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, PositiveInt

from apga_sim.oracles.mujoco.config import MujocoOracleConfig


class QuadraticConfig(BaseModel):
    """A noisy concave quadratic with a known optimum, for fast tests and theory checks.

    Worker i maximises ``J_i(x) = -1/2 sum_k a_k (x_k - c_ik)^2`` with curvatures ``a_k``
    log-spaced in ``[mu, L]``. Optima ``c_i = c + heterogeneity * z_i`` differ per worker when
    ``heterogeneity > 0`` (Malenia's setting). A gradient is ``grad J_i(x) + sigma * xi`` with
    ``xi ~ N(0, I)`` drawn from the stream ``(seed, worker, job index)``. The reported return is
    ``J(x) - J*`` for ``J = (1/n) sum_i J_i``: it is <= 0 and 0 at the optimum.
    """

    model_config = ConfigDict(extra="forbid")
    kind: Literal["quadratic"]
    dim: PositiveInt = Field(10, description="Number of parameters d.")
    sigma: NonNegativeFloat = Field(1.0, description="Gradient noise standard deviation.")
    mu: PositiveFloat = Field(1.0, description="Smallest curvature.")
    L: PositiveFloat = Field(1.0, description="Largest curvature.")
    heterogeneity: NonNegativeFloat = Field(0.0, description="Spread of the workers' optima.")
    init_distance: PositiveFloat = Field(3.0, description="||x_0 - x*|| of the initial point.")
    steps_per_job: PositiveInt = Field(1, description="T of a job, for charge: per_step.")


OracleConfig = Annotated[QuadraticConfig | MujocoOracleConfig, Field(discriminator="kind")]
