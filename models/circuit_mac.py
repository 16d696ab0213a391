"""Circuit model of the integer ANN (reference coding): MAC engines, weights in memory.

A MAC engine with weights in a memory issues one multiply-accumulate per
cycle (address and operand registered, the product added one cycle later),
group by group: group 0 as its inputs arrive, groups 1 … G−1 from its input
buffer. A group's outputs leave one per cycle from the second cycle after
its last issue; the next group's first issue shares the cycle of the
previous group's last output beat; a register slice after every engine
passes each beat on one cycle later. Cycles per inference are counted from
the first input beat accepted to the last score beat, for a sample that
finds the circuit idle; they do not depend on the data.

See docs/network.md ("Network circuits") and
:class:`~spikeforge.hdl.mac_engine.MACEngine`.
"""

from __future__ import annotations

import numpy as np

from .circuit import LayerOps, finish
from .simulate import run_network

__all__ = ["engine_params", "schedule", "latency", "score_cycles", "run"]


def engine_params(net, i, P):
    """The MAC engine of dense layer ``i`` at parallelism ``P``: its MACParams, ``lanes = P``."""
    return net.mac_params(i).replace(lanes=P)


def schedule(p, arrivals):
    """Output beat cycles of a MAC engine whose input beats are accepted at ``arrivals``.

    ``p``: its MACParams (``groups``, ``group_sizes``, ``n_in``). Assumes the
    consumer is ready (true for one sample in flight). See the module docstring.
    """
    out, issue_last = [], arrivals[-1]
    for g, size in enumerate(p.group_sizes):
        if g > 0:
            issue_last = out[-1] + p.n_in - 1     # first issue shares the last output beat
        first = issue_last + 2
        out.extend(first + k for k in range(size))
    return out


def score_cycles(cp):
    """Cycle of every score beat after the first input beat (one sample alone): each
    engine's schedule, then one cycle through the register slice after it."""
    times = list(range(cp.n_inputs))
    for p in cp.engines:
        times = [t + 1 for t in schedule(p, times)]
    return times


def latency(cp):
    """Cycles from the first input beat to the last score beat (the same for every sample)."""
    return score_cycles(cp)[-1]


def lower_bound(cp):
    """Multiply-accumulates / P of every layer plus the last layer's output beats."""
    return sum(-(-p.n_in * p.n_out // p.lane_count) for p in cp.engines) + cp.engines[-1].n_out


def run(cp, x):
    """Golden run of the circuit: the network's scores; counters fixed by the layer sizes."""
    r = run_network(cp.network, x)
    n = r.scores.shape[0]
    syn = sum(p.n_in * p.n_out for p in cp.engines)
    per = {"synaptic_ops": np.full(n, syn), "spikes": np.zeros(n),
           "state_updates": np.full(n, sum(p.n_out for p in cp.engines)), "cycles": np.full(n, latency(cp))}
    return finish(r.scores, r.predictions, per, np.full(n, lower_bound(cp)), [_ops(p, n) for p in cp.engines])


def _ops(p, n):
    """A MAC engine's operations per sample: G·n_in weight words (P weights each), (G−1)·n_in
    buffered inputs re-read, n_in·n_out multiply-adds, n_out outputs."""
    full = lambda v: np.full(n, v)    # noqa: E731
    return LayerOps(weight_reads=full(p.groups * p.n_in), weight_bits=p.lane_count * p.w_bits,
                    buffer_reads=full((p.groups - 1) * p.n_in), buffer_bits=p.in_bits,
                    adds=full(p.n_in * p.n_out), add_bits=p.acc_width,
                    mults=full(p.n_in * p.n_out), mult_bits=max(p.w_bits, p.in_bits),
                    updates=full(p.n_out), state_bits=p.acc_width)
