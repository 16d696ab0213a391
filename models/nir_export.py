"""NIR export: a spikeforge network as a NIR graph (see :mod:`~spikeforge.models.nir_io` for the import).

Needs the optional extra ``spikeforge[nir]`` (the ``nir`` package and h5py);
the mapping is documented in docs/frontends.md.

Export (:func:`to_nir`, :func:`write_nir`): a chain ``input → affine<i> →
[neuron<i>] → … → output``. Each dense layer is an ``Affine`` node holding
the integer weights and bias its core adds (for rate codings: per incoming
spike, after the layer's ``in_scale`` and ``weight_shift``). Rate codings add
their neurons: ``lif`` hidden layers (and a spiking output layer) as ``LIF``
with the network's leak λ = Σ 2^−ι as τ = dt/(1 − λ), r = τ/dt (the input
enters unscaled each step), v_leak = 0, v_reset = 0; a membrane readout as
``LI``; ``if`` hidden layers as ``IF`` with r = 1/dt and the output
integrator as ``I``. Thresholds are in the units of the integer weights:
v_threshold = ϑ − ½ (spikeforge fires at the integer state v ≥ ϑ, NIR at
v > v_threshold). Codings without a NIR neuron model (fs, amos, ttfs, ann)
hold only the Affine chain. Everything spikeforge needs to rebuild the
identical :class:`~spikeforge.models.network.Network` — coding, options,
shifts, scales, FS/AMOS tables, TTFS windows, the reset rule, the time step,
the network's ``meta`` — is stored as JSON text under the graph's metadata
key :data:`META_KEY` (``"spikeforge"``), schema :data:`NIR_SCHEMA`.
"""

from __future__ import annotations

import io
import json

import numpy as np

from .errors import ConfigError
from .io import atomic_write_bytes
from .lif import leak_factor
from .network import Dense, Network, layer_params
from .registry import get_core

__all__ = ["META_KEY", "NIR_SCHEMA", "DEFAULT_DT", "to_nir", "write_nir"]

#: Graph metadata key holding the spikeforge facts (JSON text).
META_KEY = "spikeforge"
#: Schema of the JSON under :data:`META_KEY`.
NIR_SCHEMA = "spikeforge.nir/1"
#: Time step (s) written into exported graphs: τ and r of the neuron nodes are stated for it.
DEFAULT_DT = 1e-3


def _nir():
    try:
        import nir
    except ImportError:
        raise ConfigError("NIR files need the nir package: pip install spikeforge[nir]") from None
    return nir


# ------------------------------------------------------------------ export

def _plain(v):
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        return v.item()
    return v


def _core_facts(p):
    """A layer core's parameters (declared and derived, weights left out) as JSON data."""
    if p is None:
        return None
    d = {k: v for k, v in p.to_dict().items() if k not in ("weights", "bias")}
    for f, prop in getattr(type(p), "DERIVED", {}).items():
        if f not in ("weights", "bias") and hasattr(p, prop):
            d[f] = _plain(getattr(p, prop))
    for attr in ("T0", "B"):                        # a TTFS layer's window
        if hasattr(p, attr):
            d[attr] = _plain(getattr(p, attr))
    return _plain(d)


def _affine_of(net, i):
    """(weights, bias) an Affine node holds for dense layer ``i``: what its core adds."""
    layer = net.layers[i]
    if get_core(net.coding).time_steps:
        p = layer_params(net, i)
        return np.asarray(p.weights, dtype=np.int64), np.asarray(p.bias_values, dtype=np.int64)
    return np.asarray(layer.weights, dtype=np.int64), np.asarray(layer.bias, dtype=np.int64)


def _neuron_node(nir, net, i, dt):
    """The NIR neuron node of dense layer ``i`` of a rate-coded net (None for other codings)."""
    if not get_core(net.coding).time_steps:
        return None
    p = layer_params(net, i)
    n = len(p.weights)
    ones = np.ones(n)
    th = (p.threshold - 0.5) * ones
    if hasattr(p, "leak_shifts"):                   # shift-add LIF: one leak λ for the network
        lam = leak_factor(p.leak_shifts)
        tau = dt / (1.0 - lam) * ones
        if not p.spiking:
            return nir.LI(tau=tau, r=tau / dt, v_leak=0 * ones)
        return nir.LIF(tau=tau, r=tau / dt, v_leak=0 * ones, v_threshold=th, v_reset=0 * ones)
    if not p.spiking:                               # IF output integrator
        return nir.I(r=ones / dt)
    return nir.IF(r=ones / dt, v_threshold=th, v_reset=0 * ones)


def to_nir(net: Network, dt=DEFAULT_DT):
    """The network as a NIR graph, spikeforge's facts under :data:`META_KEY`.

    Parameters
    ----------
    net : Network
        Any coding. Networks with max-pool layers are refused (NIR has no
        max-pool node).
    dt : float
        The time step the neuron nodes' τ and r are stated for (seconds).

    Returns
    -------
    nir.NIRGraph
    """
    nir = _nir()
    if not isinstance(net, Network):
        raise ConfigError(f"expected a Network, not {type(net).__name__}")
    if any(not isinstance(l, Dense) for l in net.layers):
        raise ConfigError(f"{net.name}: NIR has no max-pool node; a network with max-pool layers cannot "
                          "be exported to NIR")
    rate = get_core(net.coding).time_steps
    nodes = {"input": nir.Input(input_type=np.array([net.n_inputs]))}
    edges, prev, layers = [], "input", []
    for i, layer in enumerate(net.layers):
        W, b = _affine_of(net, i)
        name = f"affine{i}"
        nodes[name] = nir.Affine(weight=W, bias=b)
        edges.append((prev, name))
        prev = name
        d = layer.to_dict()
        same = np.array_equal(W, np.asarray(layer.weights)) and np.array_equal(b, np.asarray(layer.bias))
        if same:
            d.pop("weights")
            d.pop("bias")
        d["affine"] = name
        d["affine_is_layer"] = same
        d["core_params"] = _core_facts(layer_params(net, i))
        neuron = _neuron_node(nir, net, i, dt)
        if neuron is not None:
            nname = f"{type(neuron).__name__.lower()}{i}"
            nodes[nname] = neuron
            edges.append((prev, nname))
            prev = nname
            d["neuron"] = nname
        layers.append(d)
    nodes["output"] = nir.Output(output_type=np.array([net.n_outputs]))
    edges.append((prev, "output"))
    doc = net.to_dict()
    doc["layers"] = layers
    facts = {
        "schema": NIR_SCHEMA, "network": doc, "dt": dt,
        "threshold_rule": "a neuron fires when its integer state v >= threshold; v_threshold = threshold - 0.5",
        "reset": ("subtract the threshold" if rate and not hasattr(layer_params(net, net.dense_indices[0]),
                                                                     "leak_shifts")
                  else "to zero" if rate else None),
        "input": ("LFSR rate code of the unsigned inputs, P(spike) = x / 2^input_bits per step"
                  if rate and hasattr(layer_params(net, 0), "leak_shifts") else
                  "constant current x (unsigned input_bits integers) every step" if rate else
                  "unsigned input_bits integers"),
        "neurons": None if rate else ("none in NIR: each hidden layer's activation is clamp(acc >> shift, 0, "
                                      "2^out_bits - 1), realised by the coding's neurons (see network.layers)"),
    }
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata={META_KEY: json.dumps(facts, sort_keys=True)},
                         type_check=True)
    return graph


def _graph_bytes(graph):
    nir = _nir()
    buf = io.BytesIO()
    nir.write(buf, graph)
    return buf.getvalue()


def write_nir(net: Network, path, dt=DEFAULT_DT):
    """Write ``net`` as a NIR file (HDF5), atomically (temporary name, then rename)."""
    atomic_write_bytes(path, _graph_bytes(to_nir(net, dt)))


