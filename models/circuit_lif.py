"""Circuit model of the shift-and-add LIF coding (``lif``): LFSR rate input, spike events per step.

The network (:func:`~spikeforge.models.simulate.run_lif`) rate-encodes its
input values with the LFSR (input j spikes at step t iff x_j > r_{t,j}, the
draw t·n_in + j of the LFSR re-seeded per sample), then runs shift-and-add
LIF layers (:mod:`~spikeforge.models.lif`) for T steps; the output layer is
read out by spike count (ties broken by the final membrane) or by its final
membrane. Between layers travel spike *events*: per step t = 0 … T−1 the
indices of the neurons that spiked at t, ascending, then one end-of-step beat;
only spikes are visited. Engine of a dense layer with P lanes and
G = ⌈n_out/P⌉ groups (:class:`~spikeforge.hdl.lif_engine.LIFEngine`):

- *step masks*: the first engine keeps the sample's n_in values and compares
  them with the T·n_in LFSR draws, a step at a time (the draws are the same
  for every sample, since the LFSR is re-seeded: a memory of T words of
  n_in draws); the masks of step t are x_j > r_{t,j}. A later engine
  collects the incoming events of a step into a mask of n_in bits and writes
  it, at the end-of-step beat, into a ring of T masks: it never stalls the
  layer before it (the ring holds a whole sample).
- *steps*: for t = 0 … T−1 and g = 0 … G−1 the events of the step's mask are
  issued one per cycle, lowest input first (a priority encoder over the
  mask; a step without events issues one empty item), and the group's
  weight word of each is read (one word of P weights per group and input);
  one cycle later it is added. The first item of a group starts from the
  leaked state: acc = b + (1 − χ_{t−1})·Σ_ι (v >> ι) (0 at t = 0, χ_{t−1} =
  v ≥ ϑ of a spiking layer), so that after its last item acc = v_t: that
  cycle (the group's *finalize*) writes v_t back (and the spike count of an
  output neuron) and sends the group's spikes v_t ≥ ϑ to the emitter. The
  states sit in a memory of G words of P states (registers if G = 1).
- *emitter* (hidden layers): a group's spikes leave one per cycle, lowest
  neuron first, after the last group of a step the end-of-step beat; the next
  finalize waits until the emitter's last beat leaves.
- *scores* (output layer): after the last finalize of step T − 1 the n_out
  scores leave one per cycle: count·C + rank of the final membrane (rank_i =
  #{j: v_j < v_i} + #{j < i: v_j = v_i}, the stable order of
  ``_count_scores``, by comparisons of the final membranes), or the final
  membrane (readout "membrane"). The van Rossum readout has no circuit.

Counters per sample: spikes = input spikes + every layer's spikes (those of
a spiking output layer included); synaptic operations = Σ_l e_l·n_out_l (e_l
the events into layer l); state updates = Σ_l T·n_out_l.

Cycles of a sample alone (input beats back to back from cycle 0, the consumer
always ready, a register slice after each engine). Per engine, with e_t the
events of step t, n_t = max(e_t, 1) the items per group, s_{t,g} the spikes
of group g at step t, and its step masks ready from cycle R_t, the groups
q = (t, g) in order start issuing at S_q and finalize at F_q:

    S_(0,0) = R_0 + 1,   S_(t,0) = max(F_(t−1,G−1), R_t + 1),   S_(t,g) = F_(t,g−1)
    F_q     = max(S_q + n_t, F_(q−1) + max(1, s_(q−1) + end_(q−1)))   (hidden)
    F_q     = S_q + n_t                                              (output)

(end_q = 1 for the last group of a step: its end beat). A hidden group's spikes
leave at F_q + 1 … F_q + s_q, the end beat of step t at F_(t,G−1) +
s_(t,G−1) + 1; the next engine writes it into its ring one cycle later (the
slice), so its R_t = that end beat + 2. The first engine: R_t = n_in (its last
input value arrives at n_in − 1). The output layer's scores leave at F_last + 1
… F_last + n_out, the last one passes the slice a cycle later:

    cycles = F_(T−1,G−1) + n_out + 1     (of the output engine).

Lower bound, as the other network circuits state it: Σ_l ⌈e_l·n_out_l / P_l⌉ +
n_outputs (each layer's synaptic events over its lanes, then the score beats).
The engines of a lif circuit overlap in time (layer l + 1 works on step t while
layer l works on step t + 1), so a sample's cycles may be below this sum: it
is the layers' work one after another, not a bound on this schedule (which
is at least max_l ⌈e_l·n_out_l / P_l⌉ + n_outputs). See docs/network.md
("Network circuits").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .base import signed_bits, unsigned_bits
from .circuit import LayerLanes, LayerOps, finish
from .errors import ConfigError
from .lfsr import LFSRParams, lfsr_draws
from .lif import LIFParams, lif_golden
from .network import layer_params
from .simulate import run_network

__all__ = ["LIFEngineParams", "READOUTS", "engine_params", "latency", "run"]

#: the readouts of the output layer the circuit computes
READOUTS = ("count", "membrane")


@dataclass(frozen=True)
class LIFEngineParams(LayerLanes):
    """A dense layer of a ``lif`` network as a circuit engine.

    Parameters
    ----------
    layer : LIFParams
        The layer in effect (rescaled weights, bias, threshold, leak shifts, T, widths).
    lanes : int
        P, neurons updated at once.
    readout : str or None
        The output layer's readout ("count" or "membrane"); None for a hidden layer.
    lfsr : LFSRParams or None
        The first engine's rate encoder (it takes the input values); None after it.
    in_bits : int
        Width of the input values (the first engine).
    """

    layer: LIFParams
    lanes: int
    readout: str | None = None
    lfsr: LFSRParams | None = None
    in_bits: int = 8

    def __post_init__(self):
        p = self.layer
        if not isinstance(p, LIFParams):
            raise ConfigError(f"expected LIFParams, not {type(p).__name__}")
        self.check_lanes()
        if self.readout is not None and self.readout not in READOUTS:
            raise ConfigError(f"the lif network circuit computes the readouts {', '.join(READOUTS)}; "
                              f"readout {self.readout!r} has no circuit yet")
        if self.readout is None and not p.spiking:
            raise ConfigError("a hidden lif layer must spike")
        if self.readout is not None and p.spiking != (self.readout == "count"):
            raise ConfigError(f"readout {self.readout!r} needs an output layer that "
                              f"{'spikes' if self.readout == 'count' else 'does not spike'}")
        if self.lfsr is not None:
            if not isinstance(self.lfsr, LFSRParams):
                raise ConfigError(f"lfsr must be an LFSRParams, not {self.lfsr!r}")
            if not isinstance(self.in_bits, int) or not 1 <= self.in_bits <= self.lfsr.width:
                raise ConfigError(f"input width {self.in_bits!r} must be 1..{self.lfsr.width} (the LFSR width)")

    @property
    def output(self):
        """Whether this is the output layer (scores out), else a hidden layer (spike events out)."""
        return self.readout is not None

    @property
    def encode(self):
        """Whether this engine takes the input values (and rate-encodes them)."""
        return self.lfsr is not None

    @property
    def v_bits(self):
        """Width of a stored state v (the layer's ``v_width``)."""
        return self.layer.v_width

    @property
    def count_bits(self):
        """Width of an output neuron's spike count (0..T)."""
        return unsigned_bits(self.time_steps)

    @cached_property
    def sum_bits(self):
        """Width of the accumulator: the leaked state of any v_bits-wide v (or 0) plus any
        partial sum of the bias and the weights of a step's events."""
        p = self.layer
        lo, hi = -(1 << (p.v_width - 1)), (1 << (p.v_width - 1)) - 1
        leak_lo = min(0, sum(lo >> s for s in p.leak_shifts))
        leak_hi = max(0, sum(hi >> s for s in p.leak_shifts))
        c_lo, c_hi = p.current_interval
        return signed_bits(min(c_lo, min(p.bias_values)) + leak_lo, max(c_hi, max(p.bias_values)) + leak_hi)

    @property
    def acc_width(self):
        """Width of the scores (output layer) or of the accumulator (hidden layers)."""
        if not self.output:
            return self.sum_bits
        if self.readout == "membrane":
            return self.v_bits
        C = self.n_out
        return signed_bits(0, self.time_steps * C + C - 1)

    @cached_property
    def draws(self):
        """The first engine's LFSR draws r_{t,j}, T rows of n_in (the same for every sample)."""
        if not self.encode:
            return None
        r = lfsr_draws(self.lfsr, self.time_steps * self.n_in, self.in_bits)
        return tuple(tuple(int(v) for v in row) for row in r.reshape(self.time_steps, self.n_in))

    @property
    def max_syn(self):
        """The most synaptic operations of one sample."""
        return self.time_steps * self.n_in * self.n_out

    @property
    def max_spikes(self):
        """The most spikes one engine reports per sample (its own, and the input's if it encodes)."""
        own = self.time_steps * self.n_out if self.layer.spiking else 0
        return own + (self.time_steps * self.n_in if self.encode else 0)


def engine_params(net, i, P):
    """The engine of dense layer ``i`` of a ``lif`` network at parallelism ``P``."""
    o = net.options
    dense = net.dense_indices
    last = i == dense[-1]
    first = i == dense[0]
    readout = o["readout"] if last else None
    if last and readout not in READOUTS:
        raise ConfigError(f"the lif network circuit computes the readouts {', '.join(READOUTS)}; "
                          f"readout {readout!r} has no circuit yet")
    return LIFEngineParams(layer=layer_params(net, i), lanes=int(P), readout=readout,
                           lfsr=LFSRParams.from_dict(o["lfsr"]) if first else None,
                           in_bits=net.input_bits)


def latency(cp):
    """None: the cycles follow the spikes of each sample."""
    return None


def schedule(p, events, spikes, ready):
    """Finalize cycles of one engine (see the module docstring), per sample.

    ``events`` (n, T): events into the engine per step; ``spikes`` (n, T, G): its spikes
    per step and group; ``ready`` (n, T): R_t, the cycle its mask of step t is ready.
    Returns ``(F_last, ends)``: the last finalize (n,) and, for a hidden layer, the
    cycle (n, T) its end beat of each step leaves.
    """
    n, T = events.shape
    G = p.groups
    items = np.maximum(events, 1)
    ends = np.zeros((n, T), dtype=np.int64)
    f = owed = None
    for t in range(T):
        for g in range(G):
            if g > 0:
                s = f
            elif t == 0:
                s = ready[:, 0] + 1
            else:
                s = np.maximum(f, ready[:, t] + 1)
            nf = s + items[:, t]
            if not p.output and f is not None:
                nf = np.maximum(nf, f + np.maximum(1, owed))
            f = nf
            end = int(g == G - 1)
            owed = spikes[:, t, g] + end
            if end:
                ends[:, t] = f + spikes[:, t, g] + 1
    return f, ends


def run(cp, x):
    """Golden run of the circuit: the network's golden scores; per sample the spikes,
    synaptic operations, state updates, cycles (see the module docstring) and lower bound."""
    net = cp.network
    engines = cp.engines                         # refuses what has no circuit first
    r = run_network(net, x, trace=True)
    n = r.scores.shape[0]
    dense = net.dense_indices
    stages = [np.asarray(r.layer_inputs[i]) for i in dense]                 # (n, T, n_in) each
    last = lif_golden(engines[-1].layer, stages[-1]).spikes if engines[-1].layer.spiking else None
    outs = stages[1:] + [last]                                             # each layer's spikes
    syn = np.zeros(n, dtype=np.int64)
    spikes = stages[0].sum(axis=(1, 2), dtype=np.int64)                    # the input spikes
    upd = np.zeros(n, dtype=np.int64)
    lower = np.zeros(n, dtype=np.int64)
    ready = np.full((n, engines[0].time_steps), engines[0].n_in, dtype=np.int64)
    ops = []
    for k, p in enumerate(engines):
        ev = stages[k].sum(axis=2, dtype=np.int64)                         # (n, T)
        e = ev.sum(axis=1)
        syn += e * p.n_out
        upd += p.time_steps * p.n_out
        lower += -(-e * p.n_out // p.lanes)
        z = outs[k]
        if z is not None:
            spikes += z.sum(axis=(1, 2), dtype=np.int64)
            zg = np.add.reduceat(z.astype(np.int64), np.arange(0, p.n_out, p.lanes), axis=2)
        else:
            zg = np.zeros((n, p.time_steps, p.groups), dtype=np.int64)
        f, ends = schedule(p, ev, zg, ready)
        ready = ends + 2
        ops.append(_ops(p, e))
    cycles = f + engines[-1].n_out + 1
    lower += engines[-1].n_out
    per = {"cycles": cycles, "synaptic_ops": syn, "spikes": spikes, "state_updates": upd}
    return finish(r.scores, r.predictions, per, lower, ops)


def _ops(p, e):
    """An engine's operations per sample with ``e`` (n,) incoming events: G·e weight words
    (P weights each; the events of a step are replayed for every group), T step masks
    read (the first engine: T words of n_in draws), e·n_out adds, T·n_out neuron updates
    (leak by shifts and adds, threshold); the state words read and written per step and
    group are not counted."""
    T = p.time_steps
    return LayerOps(weight_reads=p.groups * e, weight_bits=p.lanes * p.w_bits,
                    buffer_reads=np.full(e.shape, T), buffer_bits=p.n_in * (p.in_bits if p.encode else 1),
                    adds=e * p.n_out, add_bits=p.sum_bits, mults=np.zeros_like(e), mult_bits=p.w_bits,
                    updates=np.full(e.shape, T * p.n_out), state_bits=p.v_bits)
