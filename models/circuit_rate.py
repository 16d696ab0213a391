"""Circuit model of the rate-coded IF coding (``if``): direct input, spike events per step.

The network is a direct-input spiking IF layer (soft reset) followed by the
non-spiking output integrator (:func:`~spikeforge.models.simulate.run_if`).
Between them travel spike *events*: per time step t = 1 … T the indices of
the neurons that spiked at t, ascending, then one end-of-step beat. Only
spikes are visited. Engine of a dense layer with P lanes, G = ⌈n_out/P⌉
groups of neurons, weights in a memory (one word of P weights per group and
input, :class:`~spikeforge.hdl.rate_engine.IFEngine`):

- *first layer* (direct input): the current I = W·x + b is computed once per
  sample by a multiply-accumulate per lane (group-major as the MAC engine:
  group 0 as the input values arrive, groups 1 … G−1 from the input buffer,
  no bubble between groups) and kept in a memory of G words of P currents;
  the membranes v sit in a second such memory (registers if G = 1), so that
  they persist across steps. Then for t = 1 … T and g = 0 … G−1: m = v + I
  (v = 0 at t = 1), spike if m ≥ ϑ, v = m − ϑ·s written back; the group's
  spikes leave one per cycle, lowest neuron first, then one cycle closes the
  group (the end-of-step beat after the last group, else a silent cycle in
  which the next group's words are read).
- *output layer* (non-spiking integrator): linear, so the order of the steps
  does not matter: v = T·b + Σ_events W[:, j]. The events of all T steps are
  added as they arrive to group 0 and kept for groups 1 … G−1 (the output
  layer of :class:`~spikeforge.hdl.digit_engine.DigitEngine`, with d(t) = 1
  for every step and bias T·b; end-of-step beats before the T-th are taken
  without an add). Then the scores r.v leave, one per cycle.

Counters per sample: spikes = the first layer's output spikes (the output
layer does not spike); synaptic operations = n_in·n_out multiply-
accumulates of the direct layer plus its T·n_out adds v += I, and e·n_out
adds in the output layer (e its input events) — the golden model's
``synaptic_adds``; state updates = T·n_out per layer.

Cycles of a sample alone (input beats back to back from cycle 0, the consumer
always ready, a register slice after each engine, which the output layer's
input never stalls): with S the first layer's spikes in the sample (the
output layer's input events e = S), the first layer's last end beat leaves at

    E = G₀·n_in + T·G₀ + S

(last MAC issue at G₀·n_in − 1, its execute also reads the first words, the
first step starts at G₀·n_in + 1, and each step takes Σ_g (s_{t,g} + 1)
cycles); the output layer takes it at a = E + 1; its group g's scores leave
at o_g … o_g + size_g − 1 with o_0 = a + 1 and o_{g+1} = o_g + size_g + S + 1;
the last score passes the slice one cycle later:

    cycles = E + 2 + Σ_{g<G₁−1} (size_g + S + 1) + size_{G₁−1}
           = G₀·(n_in + T) + G₁·(S + 1) + n_out₁ + 1.

Lower bound: Σ_l ⌈synaptic operations_l / P_l⌉ + n_outputs, i.e.
⌈(n_in + T)·n_out₀/P₀⌉ + ⌈S·n_out₁/P₁⌉ + n_out₁ (the schedule is at least
this plus 2, since G₀·(n_in + T) and G₁·S bound the two terms). See
docs/network.md ("Network circuits").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .circuit import LayerLanes, LayerOps, finish
from .circuit_digits import DigitEngineParams
from .errors import ConfigError
from .network import layer_params
from .rate_if import IFParams
from .simulate import run_network

__all__ = ["IFEngineParams", "engine_params", "latency", "run"]


@dataclass(frozen=True)
class IFEngineParams(LayerLanes):
    """A dense layer of an ``if`` network as a circuit engine.

    Parameters
    ----------
    layer : IFParams
        The layer in effect (rescaled weights, bias, threshold, T, widths):
        direct input and spiking (the first layer), or spike input and not
        spiking (the output integrator).
    lanes : int
        P, neurons updated at once.
    """

    layer: IFParams
    lanes: int

    def __post_init__(self):
        p = self.layer
        if not isinstance(p, IFParams):
            raise ConfigError(f"expected IFParams, not {type(p).__name__}")
        self.check_lanes()
        if p.direct_input and not p.spiking:
            raise ConfigError("the if network engine needs a hidden layer: a one-layer if network "
                              "(direct input into the output integrator) has no circuit yet")
        if not p.direct_input and p.spiking:
            raise ConfigError("the if network engine takes one hidden layer: a spiking IF layer after "
                              "the first (spike input) has no circuit yet")
        if not p.spiking:
            self.digit                          # its widths are checked now

    @property
    def output(self):
        """Whether this is the output integrator (scores out), else the direct-input layer."""
        return not self.layer.spiking

    @cached_property
    def digit(self):
        """The output integrator as a digit engine's output layer: d(t) = 1 for all T steps
        (so its accumulator bound covers T spikes per input) and bias T·b."""
        if not self.output:
            return None
        p = self.layer
        T = p.time_steps
        return DigitEngineParams(weights=p.weights, bias=tuple(T * int(b) for b in p.bias_values), shift=0,
                                 in_d=(1,) * T, neuron=None, lanes=self.lanes, w_bits=p.w_bits)

    @property
    def acc_width(self):
        """Width of the scores (output layer) or of the currents I (first layer)."""
        return self.digit.acc_width if self.output else self.layer.current_bits

    @property
    def max_syn(self):
        """The most synaptic operations of one sample."""
        p = self.layer
        if p.direct_input:
            return (p.n_in + p.time_steps) * p.n_out
        return p.time_steps * p.n_in * p.n_out


def engine_params(net, i, P):
    """The engine of dense layer ``i`` of an ``if`` network at parallelism ``P``."""
    return IFEngineParams(layer=layer_params(net, i), lanes=int(P))


def latency(cp):
    """None: the cycles follow the spikes of each sample."""
    return None


def run(cp, x):
    """Golden run of the circuit: the network's golden scores; per sample the spikes,
    synaptic operations, state updates, cycles (see the module docstring) and lower bound."""
    net = cp.network
    r = run_network(net, x, trace=True)
    n = r.scores.shape[0]
    dense = net.dense_indices
    engines = cp.engines
    syn = np.zeros(n, dtype=np.int64)
    spikes = np.zeros(n, dtype=np.int64)
    upd = np.zeros(n, dtype=np.int64)
    lower = np.zeros(n, dtype=np.int64)
    a = e = z = None
    ops = []
    for k, p in enumerate(engines):
        T, G = p.time_steps, p.groups
        upd += T * p.n_out
        if not p.output:                                    # the direct-input layer
            z = np.asarray(r.layer_inputs[dense[k + 1]])    # its spikes (n, T, n_out)
            e = z.sum(axis=(1, 2), dtype=np.int64)
            spikes += e
            work = (p.n_in + T) * p.n_out
            syn += work
            lower += -(-work // p.lanes)
            a = G * p.n_in + T * G + e + 1                  # its last end beat, through the slice
            ops.append(_direct_ops(p, n))
        else:                                               # the output integrator, e events in
            syn += e * p.n_out
            lower += -(-e * p.n_out // p.lanes)
            ops.append(_integrator_ops(p, e, z))
            o = a + 1
            for size in p.group_sizes:
                end = o + size - 1                          # its last score
                o = o + size + e + 1
            a = end + 1
    lower += engines[-1].n_out
    per = {"cycles": a, "synaptic_ops": syn, "spikes": spikes, "state_updates": upd}
    return finish(r.scores, r.predictions, per, lower, ops)


def _direct_ops(p, n):
    """The first layer's operations per sample: G·n_in weight words (P weights each),
    (G−1)·n_in buffered inputs re-read, n_in·n_out multiply-adds into the currents, and
    T·n_out neuron updates m = v + I, v = m − ϑ·s (the state words read and written per
    step and group are not counted)."""
    L, full = p.layer, lambda v: np.full(n, v)   # noqa: E731
    return LayerOps(weight_reads=full(p.groups * p.n_in), weight_bits=p.lanes * p.w_bits,
                    buffer_reads=full((p.groups - 1) * p.n_in), buffer_bits=L.in_bits,
                    adds=full(p.n_in * p.n_out), add_bits=L.current_bits,
                    mults=full(p.n_in * p.n_out), mult_bits=max(p.w_bits, L.in_bits),
                    updates=full(p.time_steps * p.n_out), state_bits=L.v_width)


def _integrator_ops(p, e, z):
    """The output integrator's operations per sample with ``e`` (n,) events, the spikes
    ``z`` (n, T, n_in) of the layer before: per group pass one weight word per run of
    equal consecutive event indices (the digit engine reads a sender's word once; runs
    meet only across steps), (G−1)·e buffered events re-read, e·n_out adds, n_out scores
    (the bias T·b is folded)."""
    d = p.digit
    n_in = z.shape[2]
    last = np.full(z.shape[0], -1)
    same = np.zeros(z.shape[0], dtype=np.int64)
    for t in range(z.shape[1]):
        zt = z[:, t, :] != 0
        any_ = zt.any(axis=1)
        first = np.argmax(zt, axis=1)
        same += any_ & (first == last)
        last = np.where(any_, n_in - 1 - np.argmax(zt[:, ::-1], axis=1), last)
    return LayerOps(weight_reads=p.groups * (e - same), weight_bits=p.lanes * p.w_bits,
                    buffer_reads=(p.groups - 1) * e, buffer_bits=d.index_bits + d.step_bits,
                    adds=e * p.n_out, add_bits=d.acc_width, mults=np.zeros_like(e), mult_bits=p.w_bits,
                    updates=np.full(e.shape, p.n_out), state_bits=d.acc_width)
