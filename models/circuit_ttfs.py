"""Circuit model of the ``ttfs`` coding: spike events (neuron, time), crossing ticks in closed form.

Between layers travel spike *events* {index, tick, end}: neuron ``index``
fired at local tick ``tick`` of its layer's window, in time order (ties:
lowest neuron first); every sample's events end with one end beat. A neuron
fires at most once (exactly once in the ``exactly_one`` variant).

**Closed form** (:mod:`spikeforge.models.ttfs`, event order of its docstring).
A layer with input window T0 = 2^in_bits − 1 receives the events (j, t_j).
Every input has arrived by T0 and from T0 on the slope is 2^F for every
neuron, so the potential at the end of tick T0 − 1 is
V_i = Σ_j W_ij·(T0 − t_j) and at the end of tick T0 + k it is
V_i + 2^F·(k + 1). Each event therefore adds W_ij·x_j with x_j = T0 − t_j
(= the sender's value: ~t_j on in_bits bits) to an accumulator that starts
at the layer's bias b_i = 2^F·(B + 1) − ϑ_i (``equivalent_bias``):
acc_i = V_i + b_i. With ϑ_i the first k with V_i + 2^F·(k+1) ≥ ϑ_i is
k = max(⌈(ϑ_i − V_i)/2^F⌉ − 1, 0) = max(B − (acc_i >> F), 0), so with

    y_i = clamp(acc_i >> F, 0, B)          (an arithmetic shift and a clamp)

neuron i fires at local tick k_i = B − y_i (a subtraction) if y_i ≥ 1
(at-most-one: k ≤ k_max = B − 1; y_i = 0 means the potential never reaches
ϑ_i in the window, no spike) or always (exactly-one: a neuron that has not
fired by T0 + B is forced to fire there, k = B, y = 0). A neuron whose
potential is already above ϑ_i at T0 (acc_i >> F > B) fires at k = 0, as
the model's step 4 (no firing before T0) gives. The non-spiking output
layer (ϑ_i = 2^F − b_i) reads V_i + 2^F − ϑ_i = acc_i: the scores are the
accumulators. The first engine turns its input values x_j into the events
(j, B_in − x_j) of ``times_from_values`` (at-most-one: x_j = 0 sends none);
since an event adds W·x_j, it adds the value itself.

**Engine** of dense layer l with P lanes (G = ⌈n_out/P⌉ groups of P
neurons, :class:`~spikeforge.hdl.ttfs_engine.TTFSEngine`), the weights in a
memory (one word of P weights per group and input):

- *group 0* takes the events as they arrive (the first engine: its n_in
  input values, one item each, an event or — a value without spike — a null
  item; other engines: the events, then the end beat as a null item),
  reads the event's weight word (stage 1) and adds w·x per lane one cycle
  later (stage 2, a multiplication per lane); the events are kept in a
  buffer;
- groups 1 … G−1 replay the buffer right behind, one event per cycle
  without a bubble (a group without events: one null item); an item marked
  *first* loads bias + w·x, so the accumulators need no reset cycle;
- *eval*, the cycle after a group's last add: y per lane as above, into the
  layer's result registers (one per neuron: its tick and whether it fires;
  the output layer: its score);
- *emit* (hidden layers), once every group is evaluated: one spike per
  cycle, the pending neuron of the earliest tick (lowest index on a tie; a
  tree of comparisons over the result registers), then the end beat. The
  output layer sends its scores in neuron order as soon as their group is
  evaluated, while the next groups replay.

The work follows the events: e·G weight words, e·n_out multiply-adds, n_out
neuron evaluations and s emitted spikes per layer — no tick is visited.

**Counters** per sample: ``spikes`` = the input events (nonzero inputs in
the at-most-one variant, all inputs in the exactly-one one) plus every
hidden neuron that fires, ``synaptic_ops`` = Σ_l e_l·n_out_l (e_l the
events into dense layer l) — both equal to the golden network run's stage
counts; ``state_updates`` = Σ_l n_out_l, one evaluation per neuron (the
circuit's own count: the golden layer model counts one potential update per
neuron and tick, which this engine never does).

**Cycles** of a sample alone (input beats back to back from cycle 0, every
consumer ready, a register slice after each engine): let a_l be the cycle in
which engine l's last group-0 item is in stage 1 (a_0 = n_in − 1; a_l =
E_{l−1} + 1 for the others, the end beat through the slice), e_l its input
events and m_l = max(e_l, 1). Group g is evaluated at

    v_g = a_l + g·m_l + 2.

A hidden engine with s_l spikes sends them at v_{G−1} + 1 … v_{G−1} + s_l
and its end beat at E_l = v_{G−1} + s_l + 1. The output engine sends the
scores of group g from o_g = max(v_g + 1, o_{g−1} + size_{g−1}) (o_0 = v_0 + 1)
to o_g + size_g − 1; the last score passes the final slice one cycle later:

    cycles = o_{G−1} + size_{G−1}.

Lower bound: Σ_l ⌈e_l·n_out_l / P_l⌉ + n_outputs (the events over P, layer
after layer, plus the output beats).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .base import exact_matmul, signed_bits, unsigned_bits
from .circuit import Lanes, LayerOps, finish, partial_sums
from .errors import ConfigError
from .network import layer_params
from .simulate import run_network
from .ttfs import VARIANTS, TTFSParams

__all__ = ["TTFSEngineParams", "engine_params", "latency", "run", "layer_outputs"]


@dataclass(frozen=True)
class TTFSEngineParams(Lanes):
    """A dense layer of a ttfs network as a circuit engine.

    Parameters
    ----------
    weights : n_out × n_in ints
    bias : n_out ints
        b_i = 2^F·(B + 1) − ϑ_i (spiking) or 2^F − ϑ_i (output): the accumulator's start.
    slope_shift : int
        F (the slope 2^F in the window).
    in_bits : int
        The input window T0 = 2^in_bits − 1; an event at tick t adds W·(T0 − t).
    out_bits : int or None
        The output window B = 2^out_bits − 1; None: the output layer (scores out).
    variant : str
        ``"at_most_one"`` or ``"exactly_one"``.
    lanes : int
        P, neurons updated at once.
    w_bits : int
        Signed weight width (a memory word holds P weights).
    encode : bool
        The first engine: it takes the n_in input values (unsigned in_bits) and
        makes their spike events itself.
    """

    weights: tuple
    bias: tuple
    slope_shift: int
    in_bits: int
    out_bits: int | None
    variant: str
    lanes: int
    w_bits: int
    encode: bool = False

    def __post_init__(self):
        W = self.weights
        if not isinstance(W, (tuple, list)) or not W or not all(isinstance(r, (tuple, list)) for r in W) \
                or not W[0] or any(len(r) != len(W[0]) for r in W):
            raise ConfigError("weights must be a non-empty n_out × n_in table of ints")
        if len(self.bias) != self.n_out:
            raise ConfigError(f"bias must have {self.n_out} values (one per neuron), not {len(self.bias)}")
        self.check_lanes()
        if self.variant not in VARIANTS:
            raise ConfigError(f"variant must be one of {', '.join(VARIANTS)}, not {self.variant!r}")
        if not isinstance(self.in_bits, int) or not 1 <= self.in_bits <= 16:
            raise ConfigError(f"in_bits must be 1..16, not {self.in_bits!r}")
        if self.out_bits is not None and (not isinstance(self.out_bits, int) or not 1 <= self.out_bits <= 16):
            raise ConfigError(f"out_bits must be 1..16 or None, not {self.out_bits!r}")
        if not isinstance(self.slope_shift, int) or not 0 <= self.slope_shift <= 30:
            raise ConfigError(f"slope_shift must be 0..30, not {self.slope_shift!r}")
        lim = 1 << (self.w_bits - 1)
        if any(not -lim <= int(w) < lim for r in W for w in r):
            raise ConfigError(f"weights must fit signed w_bits = {self.w_bits}")

    @property
    def spiking(self):
        return self.out_bits is not None

    @property
    def T0(self):
        return (1 << self.in_bits) - 1

    @property
    def B(self):
        return (1 << self.out_bits) - 1 if self.spiking else 0

    @cached_property
    def acc_interval(self):
        """Bound on every partial sum b_i + Σ W_ij·x_j over any subset of a sample's events
        (0 ≤ x_j ≤ T0): the bias plus all negative, or all positive, terms of a neuron."""
        return partial_sums(self.weights, self.bias, 0, self.T0)
    @property
    def acc_width(self):
        return max(2, signed_bits(*self.acc_interval))

    @property
    def tick_bits(self):
        """Width of an incoming event's tick (0 … T0) and of x = T0 − tick."""
        return self.in_bits

    @property
    def out_tick_bits(self):
        return unsigned_bits(max(1, self.B))

    @property
    def max_events(self):
        return self.n_in

    @property
    def fires_at_zero(self):
        """Whether y = 0 still fires (at tick B): the exactly-one variant."""
        return self.variant == "exactly_one"


def engine_params(net, i, P):
    """The engine of dense layer ``i`` of a ttfs network at parallelism ``P``."""
    p = layer_params(net, i)
    if not isinstance(p, TTFSParams):
        raise ConfigError(f"layer {i}: expected a ttfs layer, not {type(p).__name__}")
    first = i == net.dense_indices[0]
    if first and p.in_bits != net.input_bits:
        raise ConfigError(f"layer {i}: the first layer's input window ({p.in_bits} bits) must be the "
                          f"input width ({net.input_bits} bits)")
    if p.v_width < signed_bits(*p.v_interval) or p.slope_width < signed_bits(*p.slope_interval):
        raise ConfigError(f"layer {i}: declared v_bits/slope_bits narrower than their proven ranges "
                          "(the golden model then wraps tick by tick); the network engine needs the full widths")
    return TTFSEngineParams(weights=tuple(tuple(int(w) for w in r) for r in p.weights),
                            bias=tuple(int(b) for b in p.equivalent_bias), slope_shift=p.slope_shift,
                            in_bits=p.in_bits, out_bits=p.out_bits, variant=p.variant, lanes=int(P),
                            w_bits=p.w_bits, encode=first)


def latency(cp):
    """None: the cycles follow the events of each sample."""
    return None


def layer_outputs(p, x, events):
    """The closed form of one engine: from the values x (n, n_in) of its input events
    (``events``: which inputs sent one) the accumulators (n, n_out), and for a hidden
    layer the values y of its neurons and which of them fire (their tick is B − y)."""
    xin = np.where(events, x, 0).astype(np.int64)
    acc = exact_matmul(xin, np.array(p.weights, dtype=np.int64).T, a_max=p.T0,
                       b_max=1 << (p.w_bits - 1)) + np.array(p.bias, dtype=np.int64)
    if not p.spiking:
        return acc, None, None
    y = np.clip(acc >> p.slope_shift, 0, p.B)
    fires = np.ones(y.shape, dtype=bool) if p.fires_at_zero else y >= 1
    return acc, y, fires


def run(cp, x):
    """Golden run of the circuit: the closed form of every engine (scores equal to the
    network's golden run, :func:`~spikeforge.models.simulate.run_network`); per sample the
    spikes, synaptic operations, neuron evaluations, cycles (module docstring) and lower bound."""
    net = cp.network
    r = run_network(net, x)                          # checks x; the reference scores
    x = np.asarray(x, dtype=np.int64)
    n = x.shape[0]
    engines = cp.engines
    vals = x
    events = np.ones(x.shape, dtype=bool) if engines[0].fires_at_zero else x > 0
    spikes = events.sum(axis=1, dtype=np.int64)
    syn = np.zeros(n, dtype=np.int64)
    upd = np.zeros(n, dtype=np.int64)
    lower = np.zeros(n, dtype=np.int64)
    a = np.full(n, net.n_inputs - 1, dtype=np.int64)
    ops, scores = [], None
    for p in engines:
        e = events.sum(axis=1, dtype=np.int64)
        syn += e * p.n_out
        upd += p.n_out
        lower += -(-e * p.n_out // p.lanes)
        ops.append(_ops(p, e))
        acc, y, fires = layer_outputs(p, vals, events)
        m = np.maximum(e, 1)
        v = [a + g * m + 2 for g in range(p.groups)]
        if p.spiking:
            s = fires.sum(axis=1, dtype=np.int64)
            spikes += s
            a = v[-1] + s + 2                        # the end beat E, through the slice
            vals, events = y, fires
        else:
            o = v[0] + 1
            for g, size in enumerate(p.group_sizes):
                o = np.maximum(v[g] + 1, o)
                end = o + size                       # the last score of the group, through the slice
                o = o + size
            a = end
            scores = acc
    lower += engines[-1].n_out
    if not np.array_equal(scores, r.scores):         # the closed form must be the model's
        raise AssertionError("the ttfs circuit's closed form differs from the golden network run")
    per = {"cycles": a, "synaptic_ops": syn, "spikes": spikes, "state_updates": upd}
    return finish(r.scores, r.predictions, per, lower, ops)


def _ops(p, e):
    """An engine's operations per sample with ``e`` (n,) incoming events: G·e weight words
    (P weights each), (G−1)·e buffered events re-read, e·n_out multiply-adds (w·x, x the
    event's value), n_out neuron evaluations (shift, clamp, subtraction)."""
    return LayerOps(weight_reads=p.groups * e, weight_bits=p.lanes * p.w_bits,
                    buffer_reads=(p.groups - 1) * e, buffer_bits=p.index_bits + p.tick_bits,
                    adds=e * p.n_out, add_bits=p.acc_width, mults=e * p.n_out,
                    mult_bits=max(p.w_bits, p.in_bits), updates=np.full(e.shape, p.n_out),
                    state_bits=p.acc_width)
