"""A whole network as one circuit: its parameters, schedule and hardware counters.

:class:`CircuitParams` is the one description the network generator
(:mod:`spikeforge.hdl.network`) and the golden model both read: the integer
:class:`~spikeforge.models.network.Network` plus the parallelism P of every
dense layer, from which each layer's *engine* parameters follow. What an
engine is depends on the coding; the coding's entry in the registry names
its circuit model, a module with

- ``engine_params(network, i, P)``: the engine parameters of dense layer i;
- ``run(cp, x)``: the golden run of the circuit per sample (scores, the
  counters the circuit reports, cycles of a sample that finds the circuit
  idle, and the lower bound of its cycles), a :class:`CircuitResult`;
- ``latency(cp)``: the cycles of every sample if they do not depend on the
  data (integer ANN), else None.

Schedules and counters of every engine: docs/network.md ("Network circuits").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Counts, WeightedLayer, check_int, unsigned_bits
from .errors import ConfigError
from .network import Dense, Network
from .registry import get_core

__all__ = ["CircuitParams", "CircuitResult", "LayerOps", "Lanes", "LayerLanes", "partial_sums", "circuit_energy", "circuit_golden", "circuit_model",
           "default_parallelism", "COUNTER_BITS", "finish"]

#: width of every hardware counter (per inference)
COUNTER_BITS = 32

#: the counters the circuit reports per sample, in the order of its ``c`` port
COUNTERS = ("cycles", "synaptic_ops", "spikes", "state_updates")


def default_parallelism(net):
    """A sensible P per dense layer: 1 (one multiplier or one neuron at a time: the smallest
    circuit; the cycles then follow the synaptic events)."""
    return tuple(1 for i in net.dense_indices)


def circuit_model(coding):
    """The circuit model module of ``coding`` (see the module docstring)."""
    return get_core(coding).resolve("circuit")


@dataclass(frozen=True)
class CircuitParams:
    """A network and the parallelism of each of its dense layers.

    Parameters
    ----------
    network : Network
        The integer network (any coding with a network engine in the registry).
    parallelism : int or tuple of int, optional
        P per dense layer (one int: the same P everywhere, capped at each
        layer's neuron count). Omitted: :func:`default_parallelism`.
    """

    network: Network
    parallelism: int | tuple | None = None

    #: where the Verilog header points for the schedule and counters
    docs_page = "docs/network.md"

    def __post_init__(self):
        net = self.network
        if not isinstance(net, Network):
            raise ConfigError(f"expected a Network, not {type(net).__name__}")
        core = get_core(net.coding)
        if core.engine is None:
            have = ", ".join(c.name for c in _engines())
            raise ConfigError(f"coding {net.coding!r} has no network engine yet; available: {have}")
        if any(not isinstance(l, Dense) for l in net.layers):
            raise ConfigError("network circuits take dense layers only (no max-pool yet)")
        dense = net.dense_indices
        P = self.parallelism
        if P is None:
            P = default_parallelism(net)
        elif isinstance(P, (int, np.integer)) and not isinstance(P, bool):
            P = tuple(min(int(P), net.layers[i].n_out) for i in dense)
        if not isinstance(P, (tuple, list)) or len(P) != len(dense):
            raise ConfigError(f"parallelism must be one int or {len(dense)} ints (one per dense layer), "
                              f"not {P!r}")
        P = tuple(check_int(f"parallelism[{k}]", v, 1, net.layers[i].n_out) for k, (i, v) in
                  enumerate(zip(dense, P)))
        object.__setattr__(self, "parallelism", P)
        object.__setattr__(self, "_engines", None)

    @property
    def model(self):
        """The coding's circuit model module."""
        return circuit_model(self.network.coding)

    @property
    def engines(self):
        """The engine parameter object of every dense layer, in order (made once)."""
        if self._engines is None:
            make = self.model.engine_params
            object.__setattr__(self, "_engines", tuple(
                make(self.network, i, P) for i, P in zip(self.network.dense_indices, self.parallelism)))
        return list(self._engines)

    @property
    def input_bits(self):
        return self.network.input_bits

    @property
    def n_inputs(self):
        return self.network.n_inputs

    @property
    def n_outputs(self):
        return self.network.n_outputs

    @property
    def score_bits(self):
        """Width of a score (the last layer's accumulator)."""
        return self.engines[-1].acc_width

    @property
    def data_dependent(self):
        """Whether the cycles of a sample depend on its data (spikes), not only on the circuit."""
        return self.model.latency(self) is None

    def latency(self):
        """Cycles from the first input beat to the last score beat, for one sample alone, if
        they do not depend on the data; else ConfigError (see :func:`circuit_golden`)."""
        lat = self.model.latency(self)
        if lat is None:
            raise ConfigError(f"the cycles of a {self.network.coding} circuit depend on the spikes of each "
                              "sample: see circuit_golden(cp, x).counters['cycles']")
        return lat

    def to_dict(self):
        return {"type": "network", "design": self.network.name, "coding": self.network.coding,
                "n_inputs": self.n_inputs, "n_outputs": self.n_outputs,
                "layers": [[l.n_in, l.n_out] for l in self.network.layers],
                "parallelism": list(self.parallelism)}

    def effective_dict(self):
        lat = self.model.latency(self)
        return {**self.to_dict(), "score_bits": self.score_bits,
                "latency_cycles": "per sample (spikes)" if lat is None else lat}

    def field_docs(self):
        return {"parallelism": "P per dense layer (multipliers or neurons working at once)",
                "latency_cycles": "first input beat to last score beat, one sample alone",
                "score_bits": "width of each signed score on o"}

    def __eq__(self, other):
        return isinstance(other, CircuitParams) and (self.network, self.parallelism) == \
            (other.network, other.parallelism)

    def __hash__(self):
        return hash((self.network.name, self.parallelism))


class Lanes(WeightedLayer):
    """What every engine parameter object shares: ``weights`` (n_out × n_in, shape as the
    weighted layer cores') served by ``lanes`` = P lanes, in G = ⌈n_out / P⌉ groups of
    neurons one after another."""

    @property
    def lane_count(self):
        return self.lanes

    @property
    def groups(self):
        return -(-self.n_out // self.lanes)

    @property
    def group_sizes(self):
        """Neurons in each group: P each, the rest in the last one."""
        return tuple(min(self.lanes, self.n_out - g * self.lanes) for g in range(self.groups))

    @property
    def index_bits(self):
        """Width of an incoming event's neuron index."""
        return unsigned_bits(max(1, self.n_in - 1))

    @property
    def out_index_bits(self):
        """Width of an outgoing event's neuron index."""
        return unsigned_bits(max(1, self.n_out - 1))

    def check_lanes(self):
        """ConfigError unless 1 ≤ lanes ≤ n_out."""
        if isinstance(self.lanes, bool) or not isinstance(self.lanes, int) or not 1 <= self.lanes <= self.n_out:
            raise ConfigError(f"lanes must be 1..{self.n_out}, not {self.lanes!r}")


class LayerLanes(Lanes):
    """An engine built around a layer core's parameter object ``layer``: its weights, weight
    width and time steps are the layer's."""

    @property
    def weights(self):
        return self.layer.weights

    @property
    def w_bits(self):
        return self.layer.w_bits

    @property
    def time_steps(self):
        return self.layer.time_steps


def partial_sums(weights, bias, lo, hi):
    """Bound on every partial sum b_i + Σ_j W_ij·x_j over any subset of the terms, each x_j in
    [lo, hi] (lo ≤ 0 ≤ hi): the bias plus all the negative, or all the positive, terms of a
    neuron. Returns (least, greatest), 0 and every bias included."""
    W = np.array(weights, dtype=object)
    up = np.maximum(W * hi, W * lo).sum(axis=1)
    down = np.minimum(W * hi, W * lo).sum(axis=1)
    his = [int(b + u) for b, u in zip(bias, up)]
    los = [int(b + d) for b, d in zip(bias, down)]
    return min([0] + los + list(bias)), max([0] + his + list(bias))


def _engines():
    from .registry import CORES
    return [c for c in CORES.values() if c.engine is not None]


@dataclass
class CircuitResult:
    """What the circuit reports per sample: scores (n, n_out), predictions, and counters
    (n,) each: ``synaptic_ops``, ``spikes``, ``state_updates``, ``cycles`` (one sample
    alone); ``lower_bound`` (n,): the cycles no schedule of these engines can beat
    (synaptic events / P per layer plus the output beats); ``energy_pj``: the energy
    proxy per inference of this circuit by part (see :func:`circuit_energy`)."""

    scores: np.ndarray
    predictions: np.ndarray
    counters: dict
    counts: Counts
    lower_bound: np.ndarray
    energy_pj: dict


@dataclass
class LayerOps:
    """Operations of one engine per sample (arrays (n,)) and their widths, for the energy proxy:
    weight words read from memory, words re-read from its input/event buffer, adds into the
    accumulators, multiplications, neuron updates."""

    weight_reads: np.ndarray
    weight_bits: int
    buffer_reads: np.ndarray
    buffer_bits: int
    adds: np.ndarray
    add_bits: int
    mults: np.ndarray
    mult_bits: int
    updates: np.ndarray
    state_bits: int


def circuit_energy(ops):
    """Energy proxy per inference (mean over the samples, pJ) of a circuit whose engines
    did ``ops`` (one :class:`LayerOps` each), by part and in total.

    The model of the built circuit (docs/network.md, "Energy proxy of a circuit"):
    the weights sit in block RAM, so every weight word read — P weights, one
    per lane — costs one memory read of that width; so does every word the
    engine re-reads from its buffer; adds, multiplications and neuron updates
    cost their widths' entries of :mod:`spikeforge.models.energy`."""
    from .energy import add_pj, mem_pj, mult_pj
    out = {"weight_reads": 0.0, "buffer_reads": 0.0, "synaptic_adds": 0.0, "multiplications": 0.0,
           "state_updates": 0.0}
    for o in ops:
        out["weight_reads"] += float(np.mean(o.weight_reads)) * mem_pj(o.weight_bits)
        out["buffer_reads"] += float(np.mean(o.buffer_reads)) * mem_pj(o.buffer_bits)
        out["synaptic_adds"] += float(np.mean(o.adds)) * add_pj(o.add_bits)
        out["multiplications"] += float(np.mean(o.mults)) * mult_pj(o.mult_bits)
        out["state_updates"] += float(np.mean(o.updates)) * add_pj(o.state_bits)
    out["total"] = sum(out.values())
    return out


def finish(scores, predictions, per, lower, ops) -> CircuitResult:
    """A :class:`CircuitResult` from per-sample counters ``per`` (refused if one would
    not fit :data:`COUNTER_BITS` bits) and the engines' operations ``ops``."""
    n = scores.shape[0]
    per = {name: np.asarray(per[name], dtype=np.int64).reshape(n) for name in COUNTERS}
    for name, v in per.items():
        if n and int(v.max()) >= 1 << COUNTER_BITS:
            raise ConfigError(f"counter {name} would exceed {COUNTER_BITS} bits")
    mults = int(sum(np.sum(o.mults) for o in ops))
    counts = Counts(inferences=n, spikes=int(per["spikes"].sum()), synaptic_adds=int(per["synaptic_ops"].sum()),
                    state_updates=int(per["state_updates"].sum()), multiplications=mults,
                    memory_reads=int(sum(np.sum(o.weight_reads) + np.sum(o.buffer_reads) for o in ops)),
                    cycles=int(per["cycles"].sum()))
    energy = circuit_energy(ops) if n else {}
    return CircuitResult(scores, predictions, per, counts, np.asarray(lower, dtype=np.int64).reshape(n), energy)


def circuit_golden(cp: CircuitParams, x) -> CircuitResult:
    """Golden run of the circuit: the network's golden run plus the circuit's counters."""
    if not isinstance(cp, CircuitParams):
        raise ConfigError(f"expected a CircuitParams, not {cp!r}")
    return cp.model.run(cp, x)
