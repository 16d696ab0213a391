"""Rate-coded IF layer: test vectors, golden transactions and cycle counts for co-simulation.

An input is a T × n_in 0/1 spike train (spike input) or an n_in vector of
unsigned values (direct input).
"""

from __future__ import annotations

import numpy as np

from ..models.base import width_range
from ..models.rate_if import if_golden
from .ann import steer
from .vectors import Transactions, dedup

__all__ = ["corner_inputs", "random_inputs", "transactions", "timing"]


def corner_inputs(p):
    """Spike input: no spikes, all spikes, each input alone every step, only the positive
    or only the negative weights of each neuron, alternating steps, and for each neuron
    the input subset whose current comes nearest to ϑ − 1, ϑ and ϑ + 1, every step
    (searched exhaustively up to 12 inputs). Direct input: 0, max,
    and for each neuron x steered to a current of ϑ − 1, ϑ, ϑ + 1, 0 and −1 (as near as the
    weights allow), its largest and its most negative current."""
    T, n_in = p.time_steps, p.n_in
    if not p.direct_input:
        trains = [np.zeros((T, n_in), int), np.ones((T, n_in), int)]
        for j in range(n_in):
            one = np.zeros((T, n_in), int)
            one[:, j] = 1
            trains.append(one)
        for row in p.weights:
            for sign in (1, -1):
                trains.append(np.tile([int(w * sign > 0) for w in row], (T, 1)))
        alt = np.zeros((T, n_in), int)
        alt[::2] = 1
        trains.append(alt)
        if n_in <= 12:
            subsets = np.array([[(k >> j) & 1 for j in range(n_in)] for k in range(1 << n_in)])
            for row, b in zip(p.weights, p.bias_values):
                current = subsets @ np.array(row) + b
                for target in (p.threshold - 1, p.threshold, p.threshold + 1):
                    trains.append(np.tile(subsets[np.argmin(np.abs(current - target))], (T, 1)))
        return dedup(tr.tolist() for tr in trains)
    lo, hi = width_range(p.in_bits, False)
    vecs = [[0] * n_in, [hi] * n_in]
    for row, b in zip(p.weights, p.bias_values):
        vecs += [[hi if w > 0 else 0 for w in row], [hi if w < 0 else 0 for w in row]]
        for target in (p.threshold - 1, p.threshold, p.threshold + 1, 0, -1):
            vecs.append(steer(row, b, target, lo, hi))
    return dedup(vecs)


def random_inputs(p, rng, n):
    """Spike trains with a random rate per train (so sparse and dense ones both occur),
    or uniform direct inputs."""
    if p.direct_input:
        return rng.integers(0, 1 << p.in_bits, (n, p.n_in)).tolist()
    rates = rng.random(n)
    return [(rng.random((p.time_steps, p.n_in)) < r).astype(int).tolist() for r in rates]


def _events(steps):
    """Spike events of each step in ascending index, then an end-of-step beat."""
    beats = []
    for s in steps:
        beats += [{"index": int(j), "end": 0} for j in np.flatnonzero(s)]
        beats.append({"index": 0, "end": 1})
    return beats


def transactions(p, inputs):
    """Stimuli on ``i`` (events or values) and golden beats on ``o`` (events or final v)."""
    arr = np.array(inputs, dtype=np.int64)
    r = if_golden(p, arr)
    if p.direct_input:
        stim = [int(v) for x in inputs for v in x]
    else:
        stim = [b for train in arr for b in _events(train)]
    if p.spiking:
        expected = [b for k in range(len(inputs)) for b in _events(r.spikes[k])]
    else:
        expected = [{"index": i, "value": int(r.v[k, i]), "end": int(i == p.n_out - 1)}
                    for k in range(len(inputs)) for i in range(p.n_out)]
    return Transactions({"i": stim}, {"o": expected}, r.counts)


def timing(p, res):
    """Measured spikes, synaptic adds and cycles from the first input to the last output.

    Adds: n_out per input spike event (accepted input beats less the T end beats of each
    inference); direct input: n_out per input value, plus n_out per step.
    """
    acc, beats = res.accepted["i"], res.beats["o"]
    T = p.time_steps
    if p.spiking:
        spikes = sum(1 for _, b in beats if not b["end"])
        inferences = (len(beats) - spikes) // T
    else:
        spikes, inferences = 0, len(beats) // p.n_out
    if p.direct_input:
        adds = len(acc) * p.n_out + inferences * T * p.n_out
    else:
        adds = (len(acc) - inferences * T) * p.n_out
    return {"spikes": spikes, "synaptic_adds": adds,
            "cycles": beats[-1][0] - acc[0] if acc and beats else 0}
