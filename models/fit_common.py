"""Shared parts of the FS and AMOS fitting front-ends (float; NumPy only).

- :class:`Adam`: the optimizer (Kingma & Ba's update, bias-corrected).
- :func:`triangle`: the triangle-shaped pseudo-derivative of the Heaviside
  step Θ used in place of its derivative (Stöckl & Maass 2021, §1.2.1;
  Stöckl & Maass 2020, §1.2): dΘ(u)/du ≈ max(0, 1 − |u|/ε)/ε, a triangle of
  half-width ε and area 1.
- :func:`loss_grid`: the points and weights of the fitting loss.
- :func:`to_grid`: quantization of a parameter to Q bits: the 2^Q signed
  integers k ∈ [−2^(Q−1), 2^(Q−1) − 1] times the step 2^(4−Q), i.e. 2^Q equally
  spaced values on [−8, 8) (Stöckl & Maass 2021, §1.5; the top value is
  8 − 2^(4−Q): the grid of a Q-bit two's-complement number, so that 0 is a
  level and the step is a power of two).
- :func:`weighted_lstsq`: the output weights d that minimize the weighted
  squared error for fixed spikes (d enters the output linearly);
  :func:`integer_lstsq` improves rounded integer d by exact coordinate descent.
- :func:`error_stats`: MSE and maximum error, overall and in/outside a region.

Everything here is deterministic: no BLAS product decides a result (sums are
NumPy reductions), and the only randomness is a seeded generator.
"""

from __future__ import annotations

import numpy as np

from .base import check_int
from .errors import ConfigError

__all__ = ["Adam", "triangle", "loss_grid", "grid_step", "to_grid", "weighted_lstsq", "integer_lstsq", "error_stats",
           "check_positive", "Q_RANGE"]

#: the table precisions Q accepted (bits per parameter)
Q_RANGE = (2, 16)


def check_positive(name, value, hi=None):
    """``float(value)`` after checking it is a finite number > 0 (and ≤ hi)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value <= 0 or (hi is not None and value > hi):
        limit = f" and at most {hi}" if hi is not None else ""
        raise ConfigError(f"{name} must be a number > 0{limit}, not {value!r}")
    return float(value)


class Adam:
    """Adam on a list of NumPy arrays (updated in place)."""

    def __init__(self, params, lr, b1=0.9, b2=0.999, eps=1e-8):
        self.params, self.lr, self.b1, self.b2, self.eps = params, lr, b1, b2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)


def triangle(u, width):
    """The triangle pseudo-derivative max(0, 1 − |u|/ε)/ε of Θ at u (half-width ε)."""
    return np.maximum(0.0, 1.0 - np.abs(u) / width) / width


def loss_grid(lo, hi, points, main=None, main_weight=1.0):
    """``points`` equally spaced x on [lo, hi] and loss weights summing to 1
    (``main_weight`` times larger inside the region ``main``)."""
    x = np.linspace(lo, hi, points)
    w = np.ones_like(x)
    if main is not None:
        w[(x >= main[0]) & (x <= main[1])] *= main_weight
    return x, w / w.sum()


def grid_step(Q):
    """The step 2^(4−Q) of the Q-bit parameter grid on [−8, 8)."""
    Q = check_int("Q", Q, *Q_RANGE)
    return 2.0 ** (4 - Q)


def to_grid(v, Q):
    """Integers k = clip(round(v / 2^(4−Q)), −2^(Q−1), 2^(Q−1) − 1) (int64 array)."""
    step = grid_step(Q)
    top = (1 << (Q - 1)) - 1
    return np.clip(np.rint(np.asarray(v, dtype=np.float64) / step), -top - 1, top).astype(np.int64)


def weighted_lstsq(Z, y, w, ridge=1e-9):
    """d minimizing Σ_n w_n (Σ_k d_k Z_kn − y_n)^2 (Z: K × N spikes), with a tiny ridge
    so that neurons that never fire get d = 0."""
    A = np.einsum("kn,ln,n->kl", Z, Z, w)
    b = np.einsum("kn,n,n->k", Z, y, w)
    return np.linalg.solve(A + ridge * np.eye(len(A)), b)


def integer_lstsq(Z, y, w, step, k0, lo, hi, sweeps=50):
    """Integers k in [lo, hi] that lower Σ_n w_n (step·Σ_t k_t Z_tn − y_n)^2, by exact coordinate
    descent from ``k0`` (each k_t in turn set to its best integer given the others) until no
    entry changes: never worse than ``k0``, often much better than rounding the real optimum."""
    k = np.array(k0, dtype=np.int64)
    pred = step * np.einsum("t,tn->n", k, Z)
    zz = np.einsum("tn,tn,n->t", Z, Z, w)
    for _ in range(sweeps):
        changed = False
        for t in range(len(k)):
            if zz[t] == 0:
                continue
            r = y - (pred - step * k[t] * Z[t])
            best = int(np.clip(np.rint(np.sum(w * Z[t] * r) / (step * zz[t])), lo, hi))
            if best != k[t]:
                pred += step * (best - k[t]) * Z[t]
                k[t] = best
                changed = True
        if not changed:
            break
    return k


def error_stats(yhat, y, x=None, main=None):
    """``{"mse", "max"}`` of yhat − y, plus ``mse_main``/``mse_outside`` for a region of x."""
    e = np.asarray(yhat, dtype=np.float64) - y
    out = {"mse": float(np.mean(e * e)), "max": float(np.abs(e).max())}
    if main is not None and x is not None:
        inside = (x >= main[0]) & (x <= main[1])
        out["mse_main"] = float(np.mean(e[inside] ** 2))
        out["mse_outside"] = float(np.mean(e[~inside] ** 2))
    return out
