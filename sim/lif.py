"""LIF layer and LFSR rate encoder: test vectors, golden transactions and timing checks.

The LIF part follows the per-core interface of :mod:`spikeforge.sim.vectors`
(``verify("lif", params)`` uses it). The rate encoder is not a registered
core; :func:`verify_encoder` runs it the same way, and :func:`verify_chain`
runs the encoder feeding a LIF layer (:class:`EncoderLIF`) against
``lif_golden(rate_encode(x))``.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
from ..hdl.lfsr import LFSREncoder
from ..hdl.lif import EncoderLIF
from ..models.base import Counts
from ..models.errors import ConfigError, SimulationMismatch
from ..models.lfsr import RateEncoderParams, lfsr_draws, rate_encode, rate_encoder_golden
from ..models.lif import lif_golden
from .runner import cosim
from .vectors import Transactions, dedup

ChainParams = EncoderLIF.Params

__all__ = ["events", "corner_inputs", "random_inputs", "transactions", "timing",
           "encoder_corner_inputs", "encoder_random_inputs", "encoder_transactions", "encoder_timing",
           "verify_encoder", "chain_transactions", "verify_chain"]

_MAX_SUBSET_SEARCH = 12          # exhaustive threshold ± 1 search up to 2^12 input subsets


def events(spikes):
    """Event beats of a (T, n) 0/1 spike array: per step the spikes in ascending index
    ({"index": j, "end": 0}), then {"index": 0, "end": 1}."""
    out = []
    for row in np.asarray(spikes):
        out += [{"index": int(j), "end": 0} for j in np.flatnonzero(row)]
        out.append({"index": 0, "end": 1})
    return out


# ------------------------------------------------------------------ LIF layer

def corner_inputs(p):
    """Spike trains (T × n_in lists): none, all, only the positive (saturation) or only
    the negative weights of each neuron, every input alone, spikes only in the last
    step, and input sets whose first-step current b_i + Σ W_ij is β − 1, β or β + 1,
    once and at every step."""
    T, n = p.time_steps, p.n_in
    trains = [np.zeros((T, n), dtype=int), np.ones((T, n), dtype=int)]
    last = np.zeros((T, n), dtype=int)
    last[-1] = 1
    diag = np.zeros((T, n), dtype=int)
    for j in range(n):
        diag[j % T, j] = 1
    trains += [last, diag]
    for row in p.weights:
        for sign in (1, -1):
            sel = np.array([sign * w > 0 for w in row], dtype=int)
            trains.append(np.tile(sel, (T, 1)))
    if n <= _MAX_SUBSET_SEARCH:
        for row, b in zip(p.weights, p.bias_values):
            for target in (p.threshold - 1, p.threshold, p.threshold + 1):
                for bits in itertools.product((0, 1), repeat=n):
                    if b + sum(w for w, s in zip(row, bits) if s) == target:
                        once = np.zeros((T, n), dtype=int)
                        once[0] = bits
                        trains += [once, np.tile(bits, (T, 1))]
                        break
    return dedup(t.tolist() for t in trains)


def random_inputs(p, rng, n):
    """Random spike trains, each input with its own rate in [0.05, 0.95]."""
    out = []
    for _ in range(n):
        rate = rng.uniform(0.05, 0.95, p.n_in)
        out.append((rng.random((p.time_steps, p.n_in)) < rate).astype(int).tolist())
    return out


def _lif_expected(p, r):
    if p.spiking:
        return [b for sp in r.spikes for b in events(sp)]
    return [{"index": i, "value": int(v[i]), "end": int(i == p.n_out - 1)}
            for v in r.v.reshape(-1, p.n_out) for i in range(p.n_out)]


def transactions(p, trains):
    """Event beats on ``i``; spike events (spiking) or final membranes (non-spiking) on ``o``."""
    s_in = np.array(trains, dtype=np.int64).reshape(-1, p.time_steps, p.n_in)
    r = lif_golden(p, s_in)
    stimuli = [b for train in s_in for b in events(train)]
    return Transactions({"i": stimuli}, {"o": _lif_expected(p, r)}, r.counts)


def timing(p, res):
    """Measured spikes, synaptic adds and cycles (first accepted input → last output beat)."""
    acc, beats = res.accepted["i"], res.beats["o"]
    ends = sum(b["end"] for _, b in beats)
    inferences = ends // p.time_steps if p.spiking else ends
    spikes = sum(1 - b["end"] for _, b in beats) if p.spiking else 0
    return {"spikes": spikes,
            "synaptic_adds": (len(acc) - inferences * p.time_steps) * p.n_out,
            "cycles": beats[-1][0] - acc[0] if acc and beats else 0}


# --------------------------------------------------------------- rate encoder

def encoder_corner_inputs(ep):
    """x = 0, 1, max − 1, max, alternating 0/max, and x_j equal to (and ± 1 from) the
    first draw of input j, where the comparison x_j > r flips."""
    top = (1 << ep.in_bits) - 1
    n = ep.n_in
    vecs = [[v] * n for v in (0, 1, top - 1, top)] + [[top * (j % 2) for j in range(n)]]
    first = lfsr_draws(ep.lfsr, n, ep.in_bits)
    for d in (-1, 0, 1):
        vecs.append([min(max(int(r) + d, 0), top) for r in first])
    return dedup(vecs)


def encoder_random_inputs(ep, rng, n):
    return rng.integers(0, 1 << ep.in_bits, (n, ep.n_in)).tolist()


def encoder_transactions(ep, xs):
    """n_in value beats per inference on ``i``; the spike events of rate_encode on ``o``."""
    x = np.array(xs, dtype=np.int64).reshape(-1, ep.n_in)
    r = rate_encoder_golden(ep, x)
    beats = [b for sp in r.spikes for b in events(sp)]
    return Transactions({"i": [int(v) for v in x.ravel()]}, {"o": beats}, r.counts)


def encoder_timing(ep, res):
    """Latency of each inference (its first input → its last end beat), interval between
    the first inputs of consecutive inferences, spikes and cycles."""
    first = res.accepted["i"][::ep.n_in]
    ends = [c for c, b in res.beats["o"] if b["end"]]
    last = ends[ep.time_steps - 1::ep.time_steps]
    return {"latency": [b - a for a, b in zip(first, last)],
            "interval": [b - a for a, b in zip(first, first[1:])],
            "spikes": sum(1 - b["end"] for _, b in res.beats["o"]),
            "cycles": last[-1] - first[0] if first and last else 0}


def _check_counts(what, simulator, measured, want):
    for key, value in want.items():
        if key in measured and measured[key] != value:
            raise SimulationMismatch("end", key, value, measured[key],
                                     f"{simulator}, {what}: circuit count differs from the golden model")


def verify_encoder(ep, *, simulator="verilator", n_random=20, seed=0, inputs=None, idle=None,
                   ready=None, golden=None):
    """Co-simulate :class:`LFSREncoder` at ``ep`` against :func:`rate_encoder_golden`;
    check spikes, cycles, latency and interval (the last three without stalls)."""
    if not isinstance(ep, RateEncoderParams):
        raise ConfigError(f"expected a RateEncoderParams, not {ep!r}")
    if inputs is None:
        rng = np.random.default_rng(seed)
        inputs = encoder_corner_inputs(ep) + encoder_random_inputs(ep, rng, n_random)
    tx = (golden or encoder_transactions)(ep, inputs)
    t0 = time.perf_counter()
    res = cosim("rate_encoder", ep, LFSREncoder(ep), tx.stimuli, tx.expected, simulator=simulator,
                idle=idle, ready=ready)
    wall = time.perf_counter() - t0
    m = encoder_timing(ep, res)
    stalls = bool(idle or ready)
    want = {"spikes": tx.counts.spikes}
    if not stalls:
        want["cycles"] = tx.counts.cycles
        doc = {"latency": ep.latency, "interval": ep.initiation_interval}
        bad = [(k, key, v) for key in doc for k, v in enumerate(m[key]) if v != doc[key]]
        if bad:
            k, key, v = bad[0]
            raise SimulationMismatch(res.accepted["i"][k * ep.n_in], key, doc[key], v,
                                     f"{simulator}, rate encoder, input {k}: documented {key} not met")
    _check_counts("rate encoder", simulator, m, want)
    return {"simulator": simulator, "inputs": len(inputs), "wall_s": round(wall, 2),
            "spikes": m["spikes"], "cycles": m["cycles"],
            "latency": sorted(set(m["latency"])), "interval": sorted(set(m["interval"]))}


# ------------------------------------------------------ encoder → LIF chain

def chain_transactions(ep, p, xs):
    """x beats in; the LIF layer's golden output on rate_encode(x) out."""
    x = np.array(xs, dtype=np.int64).reshape(-1, ep.n_in)
    r = lif_golden(p, rate_encode(ep.lfsr, x, ep.in_bits, ep.time_steps))
    counts = Counts(inferences=x.shape[0], spikes=r.counts.spikes)
    return Transactions({"i": [int(v) for v in x.ravel()]}, {"o": _lif_expected(p, r)}, counts)


def verify_chain(ep, p, *, simulator="verilator", n_random=10, seed=0, idle=None, ready=None):
    """Co-simulate the encoder feeding the LIF layer against lif_golden(rate_encode(x))."""
    rng = np.random.default_rng(seed)
    xs = encoder_corner_inputs(ep) + encoder_random_inputs(ep, rng, n_random)
    tx = chain_transactions(ep, p, xs)
    res = cosim("rate_lif", ChainParams(ep, p), EncoderLIF(ep, p), tx.stimuli, tx.expected,
                simulator=simulator, idle=idle, ready=ready)
    _check_counts("rate encoder → LIF", simulator, timing(p, res), {"spikes": tx.counts.spikes})
    return {"simulator": simulator, "inputs": len(xs), "spikes": tx.counts.spikes}
