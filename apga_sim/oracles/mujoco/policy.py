"""The paper's Gaussian MLP policy: flat float64 parameters, numpy inference for rollouts.

Parameters are one flat float64 vector, laid out as ``[W_1, b_1, ..., W_L, b_L, W_mu, b_mu,
W_sigma, b_sigma]`` with each ``W`` stored ``(fan_in, fan_out)`` row-major. The policy is

    h = act(... act(s W_1 + b_1) ...),   mu = h W_mu + b_mu,
    sigma = softplus(h W_sigma + b_sigma) + STD_FLOOR,   u ~ N(mu, diag sigma^2),

and the environment receives ``a = center + half_range * tanh(u)`` (``center = 0`` and
``half_range`` = the action bound for the usual symmetric boxes).

Rollout inference uses ``np.einsum('bi,ij->bj', optimize=False)`` (``'bi,bij->bj'`` when rows
have their own parameters), which was measured to be row-independent (a row's bits do not
depend on the other rows of the batch), unlike BLAS/MKL matrix products. So a job's
trajectory is bit-identical whatever batch or process runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

STD_FLOOR = 1e-6
"""Added to softplus so that sigma > 0 even if softplus underflows."""

INIT_TAG = 0x696E6974
"""Stream tag (``b"init"``) of the initial parameters: ``default_rng([seed, INIT_TAG])``."""


@dataclass(frozen=True)
class PolicyLayout:
    """Shapes of the policy and the offsets of its tensors in the flat parameter vector.

    Attributes:
        obs_dim: Observation size (after the variant's transform).
        act_dim: Action size.
        hidden: Hidden layer widths.
        activation: ``"tanh"`` or ``"relu"``.

    """

    obs_dim: int
    act_dim: int
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        """Shapes of ``W_1, b_1, ..., W_mu, b_mu, W_sigma, b_sigma`` in layout order."""
        sizes = [self.obs_dim, *self.hidden]
        out: list[tuple[int, ...]] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            out += [(fan_in, fan_out), (fan_out,)]
        last = sizes[-1]
        out += [(last, self.act_dim), (self.act_dim,), (last, self.act_dim), (self.act_dim,)]
        return out

    @property
    def dim(self) -> int:
        """Number of parameters ``d``."""
        return int(sum(int(np.prod(s)) for s in self.shapes))

    def unpack(self, theta: np.ndarray) -> list[np.ndarray]:
        """Split a flat parameter vector into (read-only views of) its tensors."""
        if theta.shape != (self.dim,):
            raise ValueError(f"expected parameters of shape ({self.dim},), got {theta.shape}")
        out, pos = [], 0
        for shape in self.shapes:
            size = int(np.prod(shape))
            out.append(theta[pos : pos + size].reshape(shape))
            pos += size
        return out

    def initial(self, seed: int, init_std: float = 0.5) -> np.ndarray:
        """Return initial parameters, a function of ``seed`` only.

        Hidden layers use PyTorch's default ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` for weights
        and biases; both heads start with weights of that law times 0.01, ``b_mu = 0`` and
        ``b_sigma = softplus^-1(init_std)``, so ``mu ~ 0`` and ``sigma ~ init_std``.
        """
        rng = np.random.default_rng([seed, INIT_TAG])
        shapes = self.shapes
        n_hidden = len(self.hidden)
        parts: list[np.ndarray] = []
        for k in range(n_hidden):
            w_shape, b_shape = shapes[2 * k], shapes[2 * k + 1]
            bound = 1.0 / np.sqrt(w_shape[0])
            parts.append(rng.uniform(-bound, bound, w_shape).ravel())
            parts.append(rng.uniform(-bound, bound, b_shape))
        last = shapes[2 * n_hidden][0]
        bound = 1.0 / np.sqrt(last)
        parts.append(0.01 * rng.uniform(-bound, bound, (last, self.act_dim)).ravel())
        parts.append(np.zeros(self.act_dim))
        parts.append(0.01 * rng.uniform(-bound, bound, (last, self.act_dim)).ravel())
        target = max(init_std - STD_FLOOR, 1e-8)
        parts.append(np.full(self.act_dim, target + np.log(-np.expm1(-target))))
        theta = np.concatenate(parts).astype(np.float64)
        assert theta.shape == (self.dim,)
        return theta


class NumpyPolicy:
    """Row-independent float64 inference of parameter vectors (no autograd).

    Rows of a batch may each use their own vector: ``einsum('bi,bij->bj')`` sums each output
    in the same order as ``einsum('bi,ij->bj')``, so a row's bits are those of computing it
    alone with its own vector, in one call for a whole batch of distinct points.

    Args:
        layout: Policy shapes.
        thetas: The parameter vectors, indexed by ``which`` in :meth:`__call__`.

    """

    def __init__(self, layout: PolicyLayout, thetas: Sequence[np.ndarray]) -> None:
        unpacked = [layout.unpack(np.asarray(th, dtype=np.float64)) for th in thetas]
        stacked = [np.stack(tensors) for tensors in zip(*unpacked, strict=True)]
        n_hidden = len(layout.hidden)
        self._layers = [(stacked[2 * k], stacked[2 * k + 1]) for k in range(n_hidden)]
        w_mu, b_mu, w_sig, b_sig = stacked[2 * n_hidden :]
        self._w_head = np.concatenate([w_mu, w_sig], axis=2)
        self._b_head = np.concatenate([b_mu, b_sig], axis=1)
        self._act = np.tanh if layout.activation == "tanh" else _relu
        self._a = layout.act_dim
        self._in_order = np.arange(len(unpacked))

    def __call__(self, x: np.ndarray, which: int | np.ndarray = 0) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(mu, sigma)``, each ``(batch, act_dim)``, for observations ``(batch, obs)``.

        Args:
            x: Observations.
            which: Index of the vector every row uses, or an int array: row ``b`` uses vector
                ``which[b]``.

        """
        rows: int | np.ndarray | slice = which
        if not isinstance(which, int) and np.array_equal(which, self._in_order):
            rows = slice(None)  # every vector in order: views of the stacks, no copy
        h = x
        for w, b in self._layers:
            h = self._act(_dense(h, w, b, rows))
        head = _dense(h, self._w_head, self._b_head, rows)
        mu = head[:, : self._a]
        sigma = np.logaddexp(0.0, head[:, self._a :]) + STD_FLOOR
        return mu, sigma


def _dense(
    h: np.ndarray, w: np.ndarray, b: np.ndarray, which: int | np.ndarray | slice
) -> np.ndarray:
    """``h W + b`` with the stacked ``w`` and ``b`` of vector ``which`` (or of each row's)."""
    if isinstance(which, int):
        return np.einsum("bi,ij->bj", h, w[which], optimize=False) + b[which]
    return np.einsum("bi,bij->bj", h, w[which], optimize=False) + b[which]


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)
