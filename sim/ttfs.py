"""TTFS integrator layer: test vectors, golden transactions and timing checks for co-simulation.

An input is one inference: a vector of n_in spike ticks (−1: no spike), as
:func:`~spikeforge.models.ttfs.ttfs_golden` takes it. On ``i`` it becomes its
spike events in tick order (ascending input index within a tick) and one end beat.
"""

from __future__ import annotations

import numpy as np

from ..models.ttfs import NO_SPIKE, times_from_values, ttfs_golden
from .vectors import Transactions, dedup

__all__ = ["corner_inputs", "random_inputs", "transactions", "timing", "events", "decode"]


def _trajectory(p, t_in):
    """V_i at the end of ticks T0 … T0 + k_max (batch, n_out, k): to find vectors that land on ϑ_i ± 1."""
    t_in = np.asarray(t_in, dtype=np.int64)
    W, T0 = p.W, p.T0
    before = (t_in >= 0) & (t_in < T0)
    v_pre = np.where(before, T0 - t_in, 0) @ W.T
    if p.variant == "at_most_one":
        slope = np.full(v_pre.shape, 1 << p.slope_shift, dtype=np.int64)
    else:
        slope = ((t_in >= 0) & (t_in <= T0)).astype(np.int64) @ W.T + p.alpha
    steps = np.arange(1, (p.k_max + 2) if p.spiking else 2)
    return v_pre[..., None] + slope[..., None] * steps


def corner_inputs(p):
    """No spike at all, all inputs at tick 0 / at T0, each input alone at 0 and at T0, the
    value vectors 0, 1, max, and vectors whose potential lands on ϑ_i − 1, ϑ_i, ϑ_i + 1 at a
    window tick (the readout V_i − ϑ_i ∈ {−1, 0, 1} for an output layer)."""
    n, T0 = p.n_in, p.T0
    vals = [[NO_SPIKE] * n, [0] * n, [T0] * n]
    for j in range(n):
        for t in (0, T0):
            row = [NO_SPIKE] * n
            row[j] = t
            vals.append(row)
    for x in (0, 1, p.B_in):
        vals.append(times_from_values(np.full(n, x), p.in_bits, p.variant).tolist())
    rng = np.random.default_rng(2024)
    pool = np.concatenate([_raw(p, rng, 3000),
                           times_from_values(rng.integers(0, p.B_in + 1, (3000, n)), p.in_bits, p.variant)])
    margin = _trajectory(p, pool) - p.theta[None, :, None]
    for i in range(p.n_out):
        for d in (-1, 0, 1):
            hits = np.flatnonzero((margin[:, i, :] == d).any(axis=-1))
            vals += pool[hits[:2]].tolist()
    return dedup(vals)


def _raw(p, rng, count):
    """Raw tick vectors: −1 with probability 0.3, T0 with 0.15, else uniform in 0 … T0."""
    u = rng.random((count, p.n_in))
    t = rng.integers(0, p.T0 + 1, (count, p.n_in))
    return np.where(u < 0.3, NO_SPIKE, np.where(u < 0.45, p.T0, t))


def random_inputs(p, rng, n):
    """Half value-coded vectors (times_from_values of uniform x), half raw tick vectors."""
    half = n // 2
    x = rng.integers(0, p.B_in + 1, (half, p.n_in))
    rows = times_from_values(x, p.in_bits, p.variant).tolist() + _raw(p, rng, n - half).tolist()
    return rows


def events(p, row, k=0):
    """The beats of one inference on ``i``: spike events in tick order, then the end beat
    (its other fields carry junk that the layer must ignore)."""
    evs = sorted((int(t), j) for j, t in enumerate(row) if t >= 0)
    beats = [{"index": j, "tick": t, "end": 0} for t, j in evs]
    beats.append({"index": k % p.n_in, "tick": (7 * k) % (p.T0 + 1), "end": 1})
    return beats


def transactions(p, inputs):
    """Events on ``i``; on ``o`` the golden spikes (tick order, ascending neuron) and an end
    beat per inference, or the n_out readouts V_i − ϑ_i of an output layer."""
    t_in = np.array(inputs, dtype=np.int64).reshape(-1, p.n_in)
    r = ttfs_golden(p, t_in)
    stim, out = [], []
    for k, row in enumerate(t_in):
        stim += events(p, row, k)
        if p.spiking:
            spikes = sorted((int(t), i) for i, t in enumerate(r.t_out[k]) if t >= 0)
            out += [{"index": i, "tick": t, "end": 0} for t, i in spikes]
            out.append({"index": 0, "tick": 0, "end": 1})
        else:
            out += [{"index": i, "value": int(v), "end": int(i == p.n_out - 1)} for i, v in enumerate(r.y[k])]
    return Transactions({"i": stim}, {"o": out}, r.counts)


def decode(p, beats):
    """Output beats (payloads) back to per-inference values: y = T0 + B − tick for a spike,
    0 for a silent neuron (spiking layer); the readouts (output layer)."""
    rows, cur = [], [0] * p.n_out
    for b in beats:
        if p.spiking:
            if b["end"]:
                rows.append(cur)
                cur = [0] * p.n_out
            else:
                cur[b["index"]] = p.T0 + p.B - b["tick"]
        else:
            cur[b["index"]] = b["value"]
            if b["end"]:
                rows.append(cur)
                cur = [0] * p.n_out
    return rows


def timing(p, res):
    """Spikes, cycles and synaptic adds measured on the circuit.

    ``cycles``: from cycle 0 (the testbench offers the first input beat in the
    first cycle after reset) to the cycle of the last output beat, inclusive;
    for a run that starts with a spike event that is the cycle of the first input
    accept. ``synaptic_adds``: accepted input beats other than end beats (one end
    beat per inference, one end beat or last readout per inference on o) × n_out.
    """
    beats = res.beats["o"]
    ends = sum(b["end"] for _, b in beats)
    return {"spikes": (len(beats) - ends) if p.spiking else 0,
            "cycles": beats[-1][0] + 1 if beats else 0,
            "synaptic_adds": (len(res.accepted["i"]) - ends) * p.n_out,
            "inferences": ends}
