"""Golden evaluation of a network: accuracy, agreement with the integer ANN,
spikes, operation counts, energy proxy and predicted cycles."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .base import check_int_array
from .energy import energy_breakdown
from .errors import ConfigError
from .inputs import limit, limit_error
from .network import Network
from .registry import get_core
from .simulate import LayerStats, NetworkResult, run_network

__all__ = ["Evaluation", "evaluate", "run_chunked", "chunk_size"]


def chunk_size(net: Network, n):
    """Samples per golden run so that samples × time steps × widest layer stays within the
    ``run_elements`` limit (see :mod:`spikeforge.models.inputs`)."""
    steps = int(net.options.get("time_steps", 1) or 1)
    width = max([net.n_inputs] + [l.n_out for l in net.layers])
    per_sample = steps * width
    cap = limit("run_elements")
    if per_sample > cap:
        raise limit_error("run_elements", f"one sample of {net.name!r} ({steps} time steps × "
                          f"{width} neurons)", per_sample)
    return max(1, min(n, cap // per_sample))


def run_chunked(net: Network, x):
    """:func:`run_network` in chunks of :func:`chunk_size` samples; results and counts are
    those of one run over all of ``x`` (counts add up, predictions concatenate)."""
    n = x.shape[0]
    step = chunk_size(net, n) if n else 1
    if step >= n:
        return run_network(net, x)
    parts = [run_network(net, x[i:i + step]) for i in range(0, n, step)]
    layers = [LayerStats(s.name, s.neurons, sum((p.layers[k].counts for p in parts[1:]), s.counts),
                         s.widths) for k, s in enumerate(parts[0].layers)]
    return NetworkResult(scores=np.concatenate([p.scores for p in parts]),
                         predictions=np.concatenate([p.predictions for p in parts]), layers=layers,
                         activations=[np.concatenate(a) for a in zip(*(p.activations for p in parts))])


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
    r = run_chunked(net, x)
    ref = r if get_core(net.coding).is_reference else run_chunked(net.reference(), x)
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
