"""Activation functions beyond ReLU, in float (front-end code: fitting and training).

Each :class:`Activation` names a function f, its derivative (for training a
float MLP), and where the papers fit it: the interval, the region that gets
more weight in the loss and the number of neurons K of the FS and AMOS units.

- Swish(x) = x·sigmoid(x) (Stöckl & Maass 2020, eq. 1): FS K = 16 on
  [−8, 12], main region [−2, 2] (Stöckl & Maass 2021, §1.2.1); AMOS K = 12
  (Stöckl & Maass 2020, Fig. 5, Table 3).
- sigmoid(x) = 1/(1 + e^−x): FS K = 12 on [−10, 10] (Stöckl & Maass 2021,
  §1.2.1, Fig. 3); AMOS K = 8 (Stöckl & Maass 2020, Fig. 4, Table 3).
- GELU(x) = x·Φ(x), Φ the standard normal distribution function: not in the
  papers; fitted like Swish (its closest relative), FS K = 16 on [−8, 12],
  AMOS K = 12.
- ReLU, for comparison (its FS/AMOS tables are exact and need no fitting).

The intervals and regions of GELU and of the AMOS units are this package's
choice (the AMOS paper states none); docs/cores/fs.md and docs/cores/amos.md
say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .errors import ConfigError

__all__ = ["Activation", "ACTIVATIONS", "get_activation", "swish", "sigmoid", "gelu", "relu"]


def sigmoid(x):
    """1/(1 + e^−x), without overflow warnings for large |x|."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _dsigmoid(x):
    s = sigmoid(x)
    return s * (1.0 - s)


def swish(x):
    """x·sigmoid(x)."""
    x = np.asarray(x, dtype=np.float64)
    return x * sigmoid(x)


def _dswish(x):
    s = sigmoid(x)
    return s + x * s * (1.0 - s)


def _phi(x):
    from scipy.special import erf          # scipy comes with scikit-learn
    return 0.5 * (1.0 + erf(np.asarray(x, dtype=np.float64) / np.sqrt(2.0)))


def gelu(x):
    """x·Φ(x) (the exact form, not the tanh approximation)."""
    x = np.asarray(x, dtype=np.float64)
    return x * _phi(x)


def _dgelu(x):
    x = np.asarray(x, dtype=np.float64)
    return _phi(x) + x * np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)


def relu(x):
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)


def _drelu(x):
    return (np.asarray(x) > 0).astype(np.float64)


@dataclass(frozen=True)
class Activation:
    """A float activation function and where its spiking units are fitted.

    Members
    -------
    name : str
    f, df : callable
        The function and its derivative (NumPy, elementwise).
    interval : (float, float)
        The fitting interval [lo, hi] of the FS neuron and the AMOS unit.
    main : (float, float) or None
        The region given more weight in the fitting loss (``main_weight``).
    fs_K, amos_K : int
        Neurons (steps) of the shipped FS table and AMOS unit.
    """

    name: str
    f: Callable
    df: Callable
    interval: tuple
    main: tuple | None
    fs_K: int
    amos_K: int
    main_weight: float = 5.0

    def __call__(self, x):
        return self.f(x)


ACTIVATIONS = {a.name: a for a in (
    Activation("swish", swish, _dswish, (-8.0, 12.0), (-2.0, 2.0), 16, 12),
    Activation("sigmoid", sigmoid, _dsigmoid, (-10.0, 10.0), None, 12, 8),
    Activation("gelu", gelu, _dgelu, (-8.0, 12.0), (-2.0, 2.0), 16, 12),
    Activation("relu", relu, _drelu, (-8.0, 12.0), None, 16, 12),
)}


def get_activation(name) -> Activation:
    """The :class:`Activation` called ``name``; unknown names raise ConfigError listing the known ones."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {name!r}") from None
