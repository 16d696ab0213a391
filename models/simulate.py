"""Golden run of a whole :class:`~spikeforge.models.network.Network`.

Each coding has an engine that moves its own representation between layers
and calls the core golden models:

- ``ann``: integer activations; the MAC core per layer.
- ``fs``: input values are sent as FS spikes (binary digits, MSB first, K =
  input_bits). A receiving layer accumulates MSB first by Horner's rule,
  acc ← 2·acc + Σ_j W_ij·z_j(t), then adds the bias; its FS neurons take
  acc >> shift. (Tables other than ReLU are decoded as Σ_t d(t)·W·z(t).)
- ``amos``: like fs, but all K digits arrive at once from an AMOS unit and
  the receiver adds Σ_i d_i·W·z_i.
- ``ttfs``: spike ticks, local to each layer; max-pool = earliest spike.
- ``lif``: LFSR rate-encoded input spikes, shift-and-add LIF layers; readout
  by spike count (ties broken by the final membrane), final membrane of a
  non-spiking output layer, or van Rossum distance.
- ``if``: direct (constant) input into the first layer, soft-reset IF layers,
  non-spiking output integrator read at T.

Predicted cycles: layers run one after another, so an inference's cycles are
the sum over layers. Layers built from a layer core (ttfs, lif, if, ann) take
the cycles of that core's RTL, which the co-simulation tests measure and the
core's parameter object documents (e.g. ``TTFSParams.cycle_count``). For fs
and amos, whose RTL core is the neuron, the receiving side is modelled: all
neurons of a layer in parallel, one incoming spike per cycle plus one cycle
per step (fs: spikes_in + K_in, Horner doubling per step; amos: spikes_in +
1 + K, the unit's pipeline).

See docs/network.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .amos import AMOSParams, amos_golden
from .ann import ann_golden
from .base import Counts, check_int_array, check_width, exact_matmul, floor_shift
from .errors import ConfigError
from .fs import FSParams, fs_golden
from .lif import lif_golden, van_rossum_classify
from .lfsr import LFSRParams, rate_encode
from .network import MaxPool, Network, layer_params
from .rate_if import if_golden
from .ttfs import times_from_values, ttfs_golden, ttfs_maxpool

__all__ = ["LayerStats", "NetworkResult", "run_network"]


@dataclass
class LayerStats:
    """Counts of one stage of a network run.

    ``neurons``: neurons whose spikes are counted here (0 for pure accumulators);
    ``widths``: bit widths of the operations, for the energy proxy
    (``add`` synaptic adder, ``state`` neuron state, ``mult`` multiplier,
    ``word`` memory word).
    """

    name: str
    neurons: int
    counts: Counts
    widths: dict = field(default_factory=dict)


@dataclass
class NetworkResult:
    """Scores (batch, classes), predicted classes, per-layer stats and, per
    dense hidden layer, the decoded integer activations. With ``trace``,
    ``layer_inputs[i]`` holds what the core of dense layer i receives, in that
    core's own input format (activations, spike ticks, spike trains; for
    fs/amos the pre-activations entering layer i's neurons)."""

    scores: np.ndarray
    predictions: np.ndarray
    layers: list
    activations: list
    layer_inputs: dict = field(default_factory=dict)

    @property
    def total(self) -> Counts:
        c = Counts()
        for s in self.layers:
            c = c + Counts(**{**s.counts.to_dict(), "inferences": 0})
        return Counts(**{**c.to_dict(), "inferences": self.layers[0].counts.inferences})

    def spikes_per_neuron(self):
        """Spikes per neuron per inference over all spiking stages (input included)."""
        n = sum(s.neurons for s in self.layers)
        spikes = sum(s.counts.spikes for s in self.layers)
        return spikes / max(1, n) / max(1, self.layers[0].counts.inferences)


def _check_input(net, x):
    x = check_int_array("x", x)
    if x.ndim != 2 or x.shape[1] != net.n_inputs:
        raise ConfigError(f"input must have shape (batch, {net.n_inputs}), not {x.shape}")
    check_width("input_bits", x, net.input_bits, signed=False)
    return x


# ---------------------------------------------------------------- engines

def _run_ann(net, x, trace):
    a, stats, acts = x, [], []
    for i, layer in enumerate(net.layers):
        if isinstance(layer, MaxPool):
            a = layer.apply(a)
            if acts:
                acts[-1] = a
            continue
        p = layer_params(net, i)
        trace[i] = a
        r = ann_golden(p, a)
        a = r.y
        if layer.out_bits is not None:
            acts.append(a)
        stats.append(LayerStats(f"dense{i}", 0, r.counts, p.op_widths))
    return a, stats, acts


def _decode_digits(z, W, d, horner):
    """Σ_t d(t)·(W·z(t)) over spikes z (batch, n_in, K); Horner's rule when d = 2^(K−t)."""
    K = z.shape[-1]
    acc = np.zeros((z.shape[0], W.shape[0]), dtype=np.int64)
    for t in range(K):
        part = exact_matmul(z[..., t].astype(np.int64), W.T)
        acc = 2 * acc + part if horner else acc + d[t] * part
    return acc


def _run_digits(net, x, golden, trace):
    """fs and amos: binary-digit spike codes, time- or space-multiplexed.

    The neurons of a layer emit while the next layer receives, so their
    cycles are counted once, on the receiving side; their synaptic adds too.
    """
    fs = net.coding == "fs"
    neuron = FSParams if fs else AMOSParams
    # the input layer: ReLU neurons of K = input_bits fed with the (pooled) input values
    u, stats, acts = x, [], []
    name, p, owner = "input", neuron.relu(net.input_bits, net.input_bits + 1), None
    for i, layer in enumerate(net.layers):
        if isinstance(layer, MaxPool):
            u = layer.apply(u)
            if owner is not None:
                trace[owner] = u
            continue
        r = golden(p, u)
        if name != "input":
            acts.append(r.y)
        own = replace(r.counts, inferences=x.shape[0], cycles=0,
                      synaptic_adds=r.counts.synaptic_adds - r.counts.spikes)
        stats.append(LayerStats(name, u.shape[1], own, p.op_widths))
        # receiving side of dense layer i
        acc = _decode_digits(r.z, layer.W, p.d_table, horner=p.is_relu) + layer.b
        check_width("acc_bits", acc, net.mac_params(i).acc_width)
        batch, spikes_in, K_in = x.shape[0], int(r.z.sum()), p.K
        steps = K_in if fs else 1 + K_in
        recv = Counts(inferences=batch, synaptic_adds=spikes_in * layer.n_out,
                      state_updates=batch * layer.n_out * (K_in if fs and p.is_relu else 1),
                      memory_reads=spikes_in * layer.n_out, cycles=batch * steps + spikes_in)
        stats.append(LayerStats(f"dense{i}", 0, recv, net.mac_params(i).op_widths))
        if layer.out_bits is None:
            return acc, stats, acts
        u = floor_shift(acc, layer.shift)
        name, p, owner = f"neurons{i}", layer_params(net, i), i
        trace[i] = u                       # before a max-pool; replaced below if one follows
    raise ConfigError("network has no output layer")  # unreachable: validated


def _run_ttfs(net, x, trace):
    variant = net.options["variant"]
    t = times_from_values(x, net.input_bits, variant)
    stats = [LayerStats("input", x.shape[1], Counts(inferences=x.shape[0], spikes=int((t >= 0).sum())),
                        {})]
    acts, window = [], (1 << net.input_bits) - 1
    for i, layer in enumerate(net.layers):
        if isinstance(layer, MaxPool):
            t = ttfs_maxpool(t, layer.groups)
            if acts:
                acts[-1] = np.where(t >= 0, window - t, 0)
            if stats[-1].name == "input":     # pooled input spikes are the ones sent on
                stats[-1].neurons = layer.n_out
                stats[-1].counts = Counts(inferences=x.shape[0], spikes=int((t >= 0).sum()))
            continue
        p = layer_params(net, i)
        trace[i] = t
        r = ttfs_golden(p, t)
        stats.append(LayerStats(f"dense{i}", layer.n_out if p.spiking else 0, r.counts, p.op_widths))
        if not p.spiking:
            return r.y, stats, acts
        acts.append(r.y)
        t = np.where(r.t_out >= 0, r.t_out - p.T0, -1)     # into the next layer's local time
        window = p.B
    raise ConfigError("network has no output layer")


def _run_lif(net, x, trace):
    o = net.options
    T = o["time_steps"]
    s = rate_encode(LFSRParams.from_dict(o["lfsr"]), x, net.input_bits, T)
    stats = [LayerStats("input", x.shape[1], Counts(inferences=x.shape[0], spikes=int(s.sum())),
                        {})]
    acts = []
    for i, layer in enumerate(net.layers):
        p = layer_params(net, i)
        trace[i] = s
        r = lif_golden(p, s)
        out = layer.out_bits is None
        stats.append(LayerStats(f"dense{i}", layer.n_out if p.spiking else 0, r.counts, p.op_widths))
        if out:
            readout = o["readout"]
            if readout == "membrane":
                return r.v, stats, acts
            if readout == "vanrossum":
                _, dist = van_rossum_classify(r.spikes, tuple(o["leak_shifts"]))
                return -dist, stats, acts
            return _count_scores(r.spikes, r.v), stats, acts
        acts.append(r.spikes.sum(axis=-2))
        s = r.spikes
    raise ConfigError("network has no output layer")


def _count_scores(spikes, v):
    """Spike count first, final membrane as tie-break, folded into one integer score."""
    counts = spikes.sum(axis=-2).astype(np.int64)
    rank = np.argsort(np.argsort(v, axis=-1, kind="stable"), axis=-1)   # 0..C−1 by membrane
    return counts * v.shape[-1] + rank


def _run_if(net, x, trace):
    a, stats, acts = x, [], []
    for i, layer in enumerate(net.layers):
        p = layer_params(net, i)
        trace[i] = a
        r = if_golden(p, a)
        stats.append(LayerStats(f"dense{i}", layer.n_out if p.spiking else 0, r.counts, p.op_widths))
        if layer.out_bits is None:
            return r.v, stats, acts
        acts.append(r.spikes.sum(axis=-2))
        a = r.spikes
    raise ConfigError("network has no output layer")


def run_network(net: Network, x, trace=False) -> NetworkResult:
    """Golden run of ``net`` on inputs ``x`` (batch, n_inputs) of unsigned ints.

    ``trace`` keeps every dense layer's input (see :class:`NetworkResult`).
    """
    if not isinstance(net, Network):
        raise ConfigError(f"expected a Network, not {type(net).__name__}")
    x = _check_input(net, x)
    c, inputs = net.coding, {}
    if c == "ann":
        scores, stats, acts = _run_ann(net, x, inputs)
    elif c == "fs":
        scores, stats, acts = _run_digits(net, x, fs_golden, inputs)
    elif c == "amos":
        scores, stats, acts = _run_digits(net, x, amos_golden, inputs)
    elif c == "ttfs":
        scores, stats, acts = _run_ttfs(net, x, inputs)
    elif c == "lif":
        scores, stats, acts = _run_lif(net, x, inputs)
    else:
        scores, stats, acts = _run_if(net, x, inputs)
    return NetworkResult(scores=scores, predictions=np.argmax(scores, axis=-1), layers=stats,
                         activations=acts, layer_inputs=inputs if trace else {})
