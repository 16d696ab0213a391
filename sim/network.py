"""Co-simulate a whole network layer by layer on real data.

A golden run with ``trace`` gives every dense layer's input in its core's
own format; each layer core (ttfs, lif, if, ann — and for fs/amos the
neuron core on every pre-activation the network produced) is then
co-simulated on exactly those inputs and compared beat by beat with its
golden model. Since every layer's golden output is the next layer's golden
input, a network whose layers all pass equals its golden model end to end.
"""

from __future__ import annotations

import numpy as np

from ..models.network import layer_params
from ..models.registry import get_core
from ..models.simulate import run_network
from .verify import verify

__all__ = ["verify_network"]


def verify_network(net, x, *, simulator="verilator", progress=lambda *a, **k: None):
    """Per-layer co-simulation results of ``net`` on integer inputs ``x``."""
    r = run_network(net, np.asarray(x), trace=True)
    out = []
    for i, inputs in sorted(r.layer_inputs.items()):
        p = layer_params(net, i)
        if p is None:                    # fs/amos output layer: an accumulator, no neuron core
            continue
        data = np.asarray(inputs)
        if not get_core(net.coding).layer_core:
            data = data.ravel()          # one neuron core fed with every pre-activation
        progress(f"co-simulating layer {i} of {net.name} ({net.coding}) on {len(data)} inputs")
        res = verify(net.coding, p, inputs=data.tolist(), simulator=simulator)
        out.append({"layer": i, **res})
    return out
