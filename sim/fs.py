"""FS neuron: test vectors, golden transactions and timing checks for co-simulation."""

from __future__ import annotations

import numpy as np

from ..models.base import width_range
from ..models.fs import fs_golden
from .vectors import Transactions, dedup

__all__ = ["corner_inputs", "random_inputs", "transactions", "timing"]


def corner_inputs(p):
    """0, ±1, extremes of x_bits, and every threshold T(t) ± 1 (clipped to the input range)."""
    lo, hi = width_range(p.x_bits, True)
    vals = [0, 1, -1, lo, hi, (1 << p.K) - 1, 1 << p.K]
    acc = 0
    for T in p.T_table:
        acc += max(T, 0)
        vals += [T - 1, T, T + 1, acc - 1, acc, acc + 1]
    return dedup(v for v in vals if lo <= v <= hi)


def random_inputs(p, rng, n):
    lo, hi = width_range(p.x_bits, True)
    return rng.integers(lo, hi + 1, n).tolist()


def transactions(p, xs):
    """x beats on ``i``; K beats {spike, last} per x on ``o``."""
    r = fs_golden(p, np.array(xs, dtype=np.int64))
    beats = [{"spike": int(r.z[k, t]), "last": int(t == p.K - 1)}
             for k in range(len(xs)) for t in range(p.K)]
    return Transactions({"i": list(map(int, xs))}, {"o": beats}, r.counts)


def timing(p, res):
    """Latency from each accepted x to its last spike beat, and the interval between accepts."""
    acc = res.accepted["i"]
    last = [c for c, b in res.beats["o"] if b["last"]]
    return {"latency": [l - a for a, l in zip(acc, last)],
            "interval": [b - a for a, b in zip(acc, acc[1:])],
            "spikes": sum(b["spike"] for _, b in res.beats["o"]),
            "cycles": last[-1] - acc[0] if acc else 0}
