"""A whole network as one circuit: its parameters, schedule and hardware counters.

:class:`CircuitParams` is the one description the network generator
(:mod:`spikeforge.hdl.network`) and this golden model both read: the
integer :class:`~spikeforge.models.network.Network` plus the parallelism P
of every dense layer, from which each layer's *engine* parameters follow
(for the integer ANN: a :class:`~spikeforge.models.ann.MACParams` with
``lanes = P`` whose weights sit in a memory). :func:`circuit_golden` gives,
per sample, the scores and the counters the circuit reports with them
(synaptic operations, spikes, state updates, cycles), and the schedule of
every score beat, so that co-simulation can check each of them exactly.

Schedule (docs/network.md, "Network circuits"): layers are engines chained
by ready/valid streams. A MAC engine with weights in a memory issues one
multiply-accumulate per cycle (address and operand registered, the product
added one cycle later), group by group: group 0 as its inputs arrive,
groups 1 … G−1 from its input buffer. A group's outputs leave one per cycle
from the second cycle after its last issue; the next group's first issue
shares the cycle of the previous group's last output beat; a register
slice after every engine passes each beat on one cycle later. Cycles per
inference are counted from the first input beat accepted to the last
score beat, for a sample that finds the circuit idle (samples that follow
each other closely overlap in the pipeline; the counter then also counts
the time a sample waits).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Counts, check_int
from .errors import ConfigError
from .network import Dense, Network
from .registry import get_core
from .simulate import run_network

__all__ = ["CircuitParams", "CircuitResult", "circuit_golden", "default_parallelism", "COUNTER_BITS",
           "mac_engine_params", "mac_schedule"]

#: width of every hardware counter (per inference)
COUNTER_BITS = 32


def default_parallelism(net):
    """A sensible P per dense layer: 1 (one multiplier or one neuron at a time: the smallest
    circuit; the cycles then follow the synaptic events)."""
    return tuple(1 for i in net.dense_indices)


def mac_engine_params(net, i, P):
    """The MAC engine of dense layer ``i`` at parallelism ``P`` (the reference coding)."""
    return net.mac_params(i).replace(lanes=P)


def mac_schedule(p, arrivals):
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

    @property
    def engines(self):
        """The engine parameter object of every dense layer, in order."""
        make = get_core(self.network.coding).resolve("engine_params")
        return [make(self.network, i, P) for i, P in zip(self.network.dense_indices, self.parallelism)]

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

    def latency(self):
        """Cycles from the first input beat to the last score beat, for one sample alone."""
        return self.score_cycles()[-1]

    def score_cycles(self):
        """Cycle of every score beat after the first input beat (one sample alone): each
        engine's schedule, then one cycle through the register slice after it."""
        times = list(range(self.n_inputs))
        for p in self.engines:
            times = [t + 1 for t in mac_schedule(p, times)]
        return times

    def lower_bound(self):
        """Synaptic events / P of every layer plus the last layer's output beats: what no
        schedule of these engines can beat (the pipeline's fill comes on top)."""
        return sum(-(-p.n_in * p.n_out // p.lane_count) for p in self.engines) + self.engines[-1].n_out

    def to_dict(self):
        return {"type": "network", "design": self.network.name, "coding": self.network.coding,
                "n_inputs": self.n_inputs, "n_outputs": self.n_outputs,
                "layers": [[l.n_in, l.n_out] for l in self.network.layers],
                "parallelism": list(self.parallelism)}

    def effective_dict(self):
        return {**self.to_dict(), "score_bits": self.score_bits, "latency_cycles": self.latency()}

    def field_docs(self):
        return {"parallelism": "P per dense layer (multipliers or neurons working at once)",
                "latency_cycles": "first input beat to last score beat, one sample alone",
                "score_bits": "width of each signed score on o"}


def _engines():
    from .registry import CORES
    return [c for c in CORES.values() if c.engine is not None]


@dataclass
class CircuitResult:
    """What the circuit reports per sample: scores (n, n_out), predictions, and counters
    (n,) each: ``synaptic_ops``, ``spikes``, ``state_updates``, ``cycles`` (one sample alone)."""

    scores: np.ndarray
    predictions: np.ndarray
    counters: dict
    counts: Counts


def circuit_golden(cp: CircuitParams, x) -> CircuitResult:
    """Golden run of the circuit: the network's golden run plus the circuit's counters."""
    r = run_network(cp.network, x)
    n = r.scores.shape[0]
    syn = sum(p.n_in * p.n_out for p in cp.engines)
    per = {"synaptic_ops": np.full(n, syn, dtype=np.int64),
           "spikes": np.zeros(n, dtype=np.int64),
           "state_updates": np.full(n, sum(p.n_out for p in cp.engines), dtype=np.int64),
           "cycles": np.full(n, cp.latency(), dtype=np.int64)}
    for name, v in per.items():
        if n and int(v.max()) >= 1 << COUNTER_BITS:
            raise ConfigError(f"counter {name} would exceed {COUNTER_BITS} bits")
    counts = Counts(inferences=n, spikes=int(per["spikes"].sum()), synaptic_adds=int(per["synaptic_ops"].sum()),
                    state_updates=int(per["state_updates"].sum()),
                    multiplications=int(per["synaptic_ops"].sum()), cycles=int(per["cycles"].sum()))
    return CircuitResult(r.scores, r.predictions, per, counts)
