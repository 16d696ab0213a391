"""Circuit model of the digit codings (fs, amos): spike events, shift-and-add, weights in memory.

Between layers travel spike *events* (neuron, step), step t of a neuron's
code standing for d(t) of its value (FS: the steps of the neuron, in time;
AMOS: its K threshold neurons, in space; ReLU: d(t) = 2^(K−t), the binary
digits MSB first). Every sample's events end with one end beat. A layer's
engine adds w·d(t) for each event to each of its neurons — w << (K−t) for
the ReLU tables, no multiplier — so the order of the events does not matter
and only spikes are visited (Stöckl & Maass 2021, §1.1: y = Σ_t d(t)·z(t)).

Engine of dense layer i with P lanes (G = ⌈n_out/P⌉ groups of neurons):

- *in*: one event per cycle; each reads the group-0 weights of its input
  (one memory word of P weights; a sender's events are consecutive, so its
  word is read once) and adds them one cycle later; the events are kept in
  a buffer for groups 1 … G−1. The end beat closes the input.
- *eval* (hidden layers, group g, the cycle after the end beat or after its
  replay, once the emitter is empty): u = acc >> shift per lane, the
  neuron's spikes z(t) from u (ReLU: the digits of clamp(u); FS: the K steps
  of v ≥ T(t), v −= h(t) unrolled; AMOS: the K gates), into the emitter's
  register; the next group's replay starts in the following cycle (the
  buffered events at one per cycle, 2 cycles of pipeline); the next eval
  waits until the emitter has been empty for a cycle.
- *emit*: meanwhile the emitter sends the group's spikes, one event per
  cycle, lowest neuron and step first; after the last group, the end beat.
- the output layer instead sends its n_out scores (acc, bias included), one
  per cycle; the next group's replay starts in the cycle of a group's last
  score.
- the first engine encodes the input values itself: value x_j becomes its
  ReLU digits (K = input_bits), one event per cycle, MSB first; a value
  without spikes still takes its cycle.

Cycles of a sample alone (the consumer always ready, a register slice
between engines): with e events into an engine, s_g spikes out of group g,
and its end beat accepted at cycle a: a hidden layer evaluates group 0 at
v_0 = a + 1, sends its spikes at v_g + 1 … v_g + s_g, evaluates the next
group at v_{g+1} = v_g + max(e, s_g) + 2 (the replay takes e + 1 cycles; the
emitter counts as empty one cycle after its last beat), and sends the end
beat at v_{G−1} + s_{G−1} + 2; an output layer's first group sends from o_0 = a + 1,
its scores leave at o_g … o_g + size_g − 1 and the next group sends from
o_{g+1} = o_g + size_g + e + 1. The encoder's end beat leaves at
Σ_{j<n−1} max(1, pc_j) + pc_{n−1} + 1 (pc_j the spikes of x_j). See
docs/network.md ("Network circuits").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .base import signed_bits, unsigned_bits
from .circuit import Lanes, LayerOps, finish, partial_sums
from .network import layer_params
from .registry import get_core
from .simulate import run_network

__all__ = ["DigitEngineParams", "engine_params", "latency", "run"]


@dataclass(frozen=True)
class DigitEngineParams(Lanes):
    """A dense layer of an fs/amos network as a circuit engine.

    Parameters
    ----------
    weights : n_out × n_in ints
    bias : n_out ints
    shift : int
        u = acc >> shift enters the layer's neurons.
    in_d : tuple of ints
        d(t) of the incoming events' step t (the sending neurons' output table; any sign).
    neuron : FSParams or AMOSParams or None
        The layer's neuron (None: the output layer, which sends its scores).
    lanes : int
        P, neurons updated at once.
    w_bits : int
        Signed weight width (a memory word holds P weights).
    encode_bits : int or None
        The first engine: the width of the input values it encodes itself.
    """

    weights: tuple
    bias: tuple
    shift: int
    in_d: tuple
    neuron: object
    lanes: int
    w_bits: int
    encode_bits: int | None = None

    def __post_init__(self):
        self.check_lanes()

    @property
    def K_in(self):
        return len(self.in_d)

    @property
    def K_out(self):
        return 0 if self.neuron is None else self.neuron.K

    @property
    def bias_values(self):
        return tuple(self.bias)

    @cached_property
    def in_shifts(self):
        """log2 d(t) per step if every d(t) is a power of two (or 0: −1), else None (a multiplier)."""
        out = []
        for d in self.in_d:
            if d < 0 or d & (d - 1):
                return None
            out.append(d.bit_length() - 1)
        return tuple(out)

    @cached_property
    def acc_interval(self):
        """Bound on every partial sum b + Σ w·d(t) over any subset of a sample's events: the
        bias plus all negative, or all positive, terms w·d(t) of a neuron (a sender's events
        add w·y', y' a partial sum of its d(t), between the sums of its negative and of its
        positive d)."""
        return partial_sums(self.weights, self.bias, sum(d for d in self.in_d if d < 0),
                            sum(d for d in self.in_d if d > 0))

    @property
    def acc_width(self):
        return max(2, signed_bits(*self.acc_interval))

    @property
    def step_bits(self):
        return unsigned_bits(max(1, self.K_in - 1))

    @property
    def out_step_bits(self):
        return unsigned_bits(max(1, self.K_out - 1))

    @property
    def max_events(self):
        return self.n_in * self.K_in


def _input_neuron(net):
    """The input stage's neuron: ReLU, K = input_bits (its spikes are the digits of x)."""
    return get_core(net.coding).params.relu(net.input_bits, net.input_bits + 1)


def engine_params(net, i, P):
    """The engine of dense layer ``i`` of an fs/amos network at parallelism ``P``."""
    dense = net.dense_indices
    k = dense.index(i)
    sender = _input_neuron(net) if k == 0 else layer_params(net, dense[k - 1])
    layer = net.layers[i]
    return DigitEngineParams(weights=layer.weights, bias=tuple(int(b) for b in layer.b),
                             shift=layer.shift, in_d=tuple(int(d) for d in sender.d_table),
                             neuron=layer_params(net, i), lanes=P, w_bits=net.w_bits,
                             encode_bits=net.input_bits if k == 0 else None)


def latency(cp):
    """None: the cycles follow the spikes of each sample."""
    return None


def _spikes(net, r, x):
    """Spikes (n, neurons, K) of every stage: the input's digits, then each hidden layer's."""
    core = get_core(net.coding)
    out = [core.golden(_input_neuron(net), x).z]
    for i in net.dense_indices[:-1]:
        out.append(core.golden(layer_params(net, i), r.layer_inputs[i]).z)
    return out


def run(cp, x):
    """Golden run of the circuit: the network's golden scores; per sample the spikes,
    synaptic operations, neuron updates, cycles (see the module docstring) and lower bound."""
    net = cp.network
    r = run_network(net, x, trace=True)
    x = np.asarray(x, dtype=np.int64)
    n = x.shape[0]
    stages = _spikes(net, r, x)
    pc = stages[0].sum(axis=2, dtype=np.int64)                          # (n, n_in)
    a = pc[:, :-1].clip(min=1).sum(axis=1) + pc[:, -1] + 1              # encoder's end beat
    syn = np.zeros(n, dtype=np.int64)
    lower = np.zeros(n, dtype=np.int64)
    engines, ops = cp.engines, []
    for k, p in enumerate(engines):
        e = stages[k].sum(axis=(1, 2), dtype=np.int64)                 # events into this engine
        senders = (stages[k].sum(axis=2) > 0).sum(axis=1)             # inputs with a spike
        ops.append(_ops(p, e, senders))
        syn += e * p.n_out
        lower += -(-e * p.n_out // p.lanes)
        last = k == len(engines) - 1
        o = a + 1                               # the first group's scores, or its eval cycle
        for g, size in enumerate(p.group_sizes):
            if last:
                end = o + size - 1                                      # its last score
                o = o + size + e + 1
            else:
                s = stages[k + 1][:, g * p.lanes:g * p.lanes + size].sum(axis=(1, 2), dtype=np.int64)
                end = o + s + 2                                         # the end beat, if the last
                o = o + np.maximum(e, s) + 2                            # the next group's eval
        a = end + 1                                                     # through the register slice
    lower += engines[-1].n_out
    per = {"cycles": a, "synaptic_ops": syn, "spikes": sum(s.sum(axis=(1, 2), dtype=np.int64) for s in stages),
           "state_updates": np.full(n, sum(p.n_out for p in engines))}
    return finish(r.scores, r.predictions, per, lower, ops)


def _ops(p, e, senders):
    """An engine's operations per sample with ``e`` (n,) incoming events from ``senders``
    (n,) inputs: G·senders weight words (P weights each; a sender's events are consecutive
    and share one read), (G−1)·e buffered events re-read, e·n_out adds (and as many
    multiplications when d(t) is not a power of two), n_out neuron updates."""
    d_bits = max(abs(d) for d in p.in_d).bit_length() + 1
    return LayerOps(weight_reads=p.groups * senders, weight_bits=p.lanes * p.w_bits,
                    buffer_reads=(p.groups - 1) * e, buffer_bits=p.index_bits + p.step_bits,
                    adds=e * p.n_out, add_bits=p.acc_width,
                    mults=np.zeros_like(e) if p.in_shifts is not None else e * p.n_out,
                    mult_bits=max(p.w_bits, d_bits), updates=np.full(e.shape, p.n_out), state_bits=p.acc_width)
