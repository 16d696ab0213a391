"""ANN MAC layer: test vectors, golden transactions and timing checks for co-simulation."""

from __future__ import annotations

import numpy as np

from ..models.ann import ann_golden
from ..models.base import width_range
from .vectors import Transactions, dedup

__all__ = ["corner_inputs", "random_inputs", "transactions", "timing", "steer"]


def steer(row, bias, target, lo, hi):
    """An input vector in [lo, hi]^n that brings b + row·x to ``target`` or as near as a
    greedy pass gets (exact whenever a ±1 weight remains for the last step)."""
    order = sorted(range(len(row)), key=lambda j: -abs(row[j]))
    x, acc = [0] * len(row), bias
    for j in order:
        w = row[j]
        if w:
            x[j] = min(max((target - acc) // w, lo), hi)
            acc += w * x[j]
    return x


def corner_inputs(p):
    """Zeros, extremes, the vectors that drive each accumulator to its bounds, and for each
    neuron vectors steered to every re-quantization edge ± 1: acc >> shift at 0 (ReLU)
    and at 2^out_bits − 1 (saturation); logits: acc at 0 ± 1."""
    lo, hi = width_range(p.in_bits, p.in_signed)
    n = p.n_in
    vecs = [[0] * n, [hi] * n, [lo] * n, [lo if j % 2 else hi for j in range(n)]]
    edges = [0] if p.out_bits is None else [0, ((1 << p.out_bits) - 1) << p.shift, (1 << p.out_bits) << p.shift]
    for row, b in zip(p.weights, p.bias_values):
        vecs.append([hi if w > 0 else lo for w in row])
        vecs.append([lo if w > 0 else hi for w in row])
        for e in edges:
            for d in (-1, 0, 1):
                vecs.append(steer(row, b, e + d, lo, hi))
    return dedup(vecs)


def random_inputs(p, rng, n):
    lo, hi = width_range(p.in_bits, p.in_signed)
    return rng.integers(lo, hi + 1, (n, p.n_in)).tolist()


def transactions(p, xs):
    """n_in beats on ``i`` per input vector; n_out beats {value, last} on ``o``."""
    r = ann_golden(p, np.array(xs, dtype=np.int64).reshape(-1, p.n_in))
    stim = [int(v) for x in xs for v in x]
    beats = [{"value": int(r.y[k, i]), "last": int(i == p.n_out - 1)}
             for k in range(len(xs)) for i in range(p.n_out)]
    return Transactions({"i": stim}, {"o": beats}, r.counts)


def timing(p, res):
    """Per inference: first input accepted -> last output beat (latency) and first input
    -> next first input (interval); total cycles; adds = accepted inputs × n_out."""
    acc = res.accepted["i"]
    first = acc[::p.n_in]
    last = [c for c, b in res.beats["o"] if b["last"]]
    return {"latency": [l - a for a, l in zip(first, last)],
            "interval": [b - a for a, b in zip(first, first[1:])],
            "spikes": 0, "synaptic_adds": len(acc) * p.n_out,
            "cycles": last[-1] - first[0] if acc and last else 0}
