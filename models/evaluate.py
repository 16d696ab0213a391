"""Golden evaluation of a network: accuracy, agreement with the integer ANN,
spikes, operation counts, energy proxy and predicted cycles."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .base import check_int_array
from .energy import energy_breakdown
from .errors import ConfigError
from .network import Network
from .simulate import run_network

__all__ = ["Evaluation", "evaluate"]


@dataclass
class Evaluation:
    """Figures of one golden run (per inference unless named otherwise)."""

    coding: str
    name: str
    samples: int
    accuracy: float | None
    agreement: float
    spikes_per_neuron: float
    spikes: float
    synaptic_ops: float
    state_updates: float
    multiplications: float
    memory_reads: float
    cycles: float
    energy_pj: dict
    layers: list = field(default_factory=list)

    def to_dict(self):
        return asdict(self)


def evaluate(net: Network, x, y=None) -> Evaluation:
    """Run ``net`` and its integer ANN reference on integer inputs ``x``.

    ``y`` (labels) is optional; without it accuracy is None.
    """
    x = check_int_array("x", x)
    if y is not None:
        y = check_int_array("labels", y)
        if y.shape != (x.shape[0],):
            raise ConfigError(f"labels must have shape ({x.shape[0]},), not {y.shape}")
    r = run_network(net, x)
    ref = r if net.coding == "ann" else run_network(net.reference(), x)
    per = r.total.per_inference()
    n = x.shape[0]
    layers = [{"name": s.name, "neurons": s.neurons,
               "spikes": s.counts.spikes / n,
               "spikes_per_neuron": (s.counts.spikes / n / s.neurons) if s.neurons else None,
               "synaptic_ops": s.counts.synaptic_adds / n, "cycles": s.counts.cycles / n}
              for s in r.layers]
    return Evaluation(
        coding=net.coding, name=net.name, samples=n,
        accuracy=None if y is None else float(np.mean(r.predictions == y)),
        agreement=float(np.mean(r.predictions == ref.predictions)),
        spikes_per_neuron=r.spikes_per_neuron(), spikes=per["spikes"],
        synaptic_ops=per["synaptic_adds"], state_updates=per["state_updates"],
        multiplications=per["multiplications"], memory_reads=per["memory_reads"],
        cycles=per["cycles"], energy_pj=energy_breakdown(r.layers), layers=layers)
