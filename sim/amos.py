"""AMOS unit: test vectors, golden transactions and timing checks for co-simulation.

An input is an int x, or an (x, x2) pair for the two-input form.
"""

from __future__ import annotations

import numpy as np

from ..models.amos import amos_golden
from ..models.base import width_range
from .vectors import Transactions, dedup

__all__ = ["corner_inputs", "random_inputs", "transactions", "timing"]


def _crossings(p, gains):
    """Inputs where a gate potential changes sign with the other input at 0: for every
    neuron i and every partial sum s of its inhibition row, the smallest x with
    g_i·x ≥ T_i + s (g_i = 1: T_i + s, the thresholds and partial sums of thresholds)."""
    out = []
    for i, g in enumerate(gains):
        if g == 0:
            continue
        s = 0
        for h in (0,) + p.h_table[i]:
            s += h
            t = p.T_table[i] + s
            out.append(-((-t) // g) if g > 0 else (t // g))   # ceil(t / g), or floor for g < 0
    return out


def _around(values, lo, hi):
    """Each value and its neighbours ± 1, clipped to [lo, hi]."""
    return [w for v in values for w in (v - 1, v, v + 1) if lo <= w <= hi]


def corner_inputs(p):
    """0, ±1, extremes, every threshold T_i ± 1 and partial sums of thresholds ± 1
    (as sign changes of c_i·x − Σ h_ij − T_i), and the same for x2 in the two-input form."""
    lo, hi = width_range(p.x_bits, True)
    acc, sums = 0, []
    for T in p.T_table:
        acc += T
        sums += [T, acc]
    xs = dedup(_around([0, lo, hi] + sums + _crossings(p, p.c_table), lo, hi))
    if not p.two_inputs:
        return xs
    lo2, hi2 = width_range(p.x2_bits, True)
    x2s = dedup(_around([0, lo2, hi2] + _crossings(p, p.c2), lo2, hi2))
    edges = [(a, b) for a in (lo, -1, 0, 1, hi) for b in (lo2, -1, 0, 1, hi2)]
    return dedup(edges + [(x, 0) for x in xs] + [(0, x2) for x2 in x2s])


def _window(values, lo, hi):
    return max(lo, min(values) - 2), min(hi, max(values) + 2)


def random_inputs(p, rng, n):
    """Half uniform over the input range, half near the thresholds (where spikes change)."""
    lo, hi = width_range(p.x_bits, True)
    wlo, whi = _window([0] + _crossings(p, p.c_table), lo, hi)
    near = n // 2
    xs = rng.integers(lo, hi + 1, n - near).tolist() + rng.integers(wlo, whi + 1, near).tolist()
    if not p.two_inputs:
        return xs
    lo2, hi2 = width_range(p.x2_bits, True)
    x2s = rng.integers(lo2, hi2 + 1, n).tolist()
    return list(zip(xs, x2s))


def transactions(p, inputs):
    """x (or {x, x2}) beats on ``i``; one beat {z} per input on ``o``, bit i−1 = z_i."""
    if p.two_inputs:
        xs = [int(a) for a, _ in inputs]
        x2s = [int(b) for _, b in inputs]
        r = amos_golden(p, np.array(xs, dtype=np.int64), np.array(x2s, dtype=np.int64))
        stimuli = [{"x": a, "x2": b} for a, b in zip(xs, x2s)]
    else:
        xs = [int(a) for a in inputs]
        r = amos_golden(p, np.array(xs, dtype=np.int64))
        stimuli = xs
    beats = [{"z": sum(int(b) << i for i, b in enumerate(row))} for row in r.z.reshape(-1, p.K)]
    return Transactions({"i": stimuli}, {"o": beats}, r.counts)


def timing(p, res):
    """Latency from each accepted input to its output beat, interval between accepts, spikes,
    synaptic adds (spikes plus the inhibition adds they cause) and cycles."""
    acc = res.accepted["i"]
    out = [c for c, _ in res.beats["o"]]
    zs = [[(b["z"] >> i) & 1 for i in range(p.K)] for _, b in res.beats["o"]]
    spikes = sum(map(sum, zs))
    inhibition = sum(zi * f for z in zs for zi, f in zip(z, p.inhibition_fanout))
    return {"latency": [o - a for a, o in zip(acc, out)],
            "interval": [b - a for a, b in zip(acc, acc[1:])],
            "spikes": spikes,
            "synaptic_adds": spikes + inhibition,
            "cycles": out[-1] - acc[0] if acc and out else 0}
