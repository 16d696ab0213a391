"""Networks beyond ReLU: a float MLP with Swish/sigmoid/GELU hidden layers → FS or AMOS.

ReLU is positively homogeneous, so :func:`~spikeforge.models.convert.quantize`
may put any scale into the integer weights. Other activations are not: the
neuron computes f on its input in the activation's own units. A hidden layer
l with activation f therefore uses the shipped fitted unit of f
(:mod:`~spikeforge.models.fitted`), whose input step q_x and output step q_y
are fixed by the table (FS: both 2^(4−Q)), and the integer weights carry the
change of units (docs/network.md, "Networks beyond ReLU")::

    W_l = round(w_l·q_(l−1)·2^s / q_x),   b_l = round(b_l·2^s / q_x)
    x_int = (W_l·y_(l−1) + b_l) >> s           ≈ ⌊(w_l·a_(l−1) + b_l)/q_x⌋
    y_l   = Σ_t d(t)·z(t)                       (the unit; its value is y_l·q_y)

with q_0 = 1/(2^input_bits − 1) the input step and s the largest shift that
keeps |W_l| within w_bits. The unit's tables go into the layer's ``core``
(K = out_bits = the unit's K). A ReLU hidden layer keeps the bit-shift ReLU
unit with K = act_bits and the calibrated step X/(2^act_bits − 1), as in
:func:`~spikeforge.models.convert.quantize`. The output layer holds the
logits, scaled to fill the weight range.

For the FS unit the integer neuron on ⌊x/q_x⌋ equals the quantized real neuron
exactly (docs/cores/fs.md), so the conversion error comes from the table's
fit, from rounding the weights and from the floor of the accumulator. The
reference of such a network is the float MLP (its integer ANN would be a ReLU
network): :func:`evaluate_activation_net` reports accuracy and agreement
against it.
"""

from __future__ import annotations

import numpy as np

from .activations import get_activation
from .convert import RELU, FloatNet, quantize_inputs
from .errors import ConfigError
from .fitted import find_table
from .network import Dense, Network
from .registry import CORES, get_core
from .simulate import run_network

__all__ = ["convert_activation_net", "evaluate_activation_net"]


def _shift_for(w, scale, wlim):
    """The largest s in 0..30 with every |round(w·scale·2^s)| ≤ wlim (or 0)."""
    s = 30
    while s > 0 and np.abs(np.rint(w * scale * 2.0 ** s)).max() > wlim:
        s -= 1
    return s


def convert_activation_net(fnet: FloatNet, calib_x, coding, *, input_bits=8, act_bits=8, w_bits=8,
                           name="network") -> Network:
    """The float network in ``coding`` (a neuron coding: fs or amos) with fitted units.

    Parameters
    ----------
    fnet : FloatNet
        Dense layers with an activation per hidden layer (no max-pool).
    calib_x : array (n, n_in)
        Calibration inputs in [0, 1] (the ReLU layers' ranges).
    coding : str
        A registered coding whose core is a neuron (``layer_core`` false).
    input_bits, act_bits, w_bits : int
        Input width, ReLU activation width, weight width.
    """
    core = get_core(coding)
    if core.layer_core:
        neuron = ", ".join(c.name for c in _neuron_cores())
        raise ConfigError(f"coding {coding!r} has no per-neuron tables; networks beyond ReLU convert to {neuron}")
    if fnet.pools:
        raise ConfigError("max-pool is not supported in networks beyond ReLU (Swish is not monotone)")
    x = np.asarray(calib_x, dtype=np.float64)
    xq = quantize_inputs(x, input_bits)
    q = 1.0 / ((1 << input_bits) - 1)
    hidden, _ = fnet.forward(xq * q)
    wlim = (1 << (w_bits - 1)) - 1
    layers, info = [], []
    L = len(fnet.weights)
    for i, (w, b) in enumerate(zip(fnet.weights, fnet.biases)):
        if i == L - 1:
            wmax = float(np.abs(w).max())
            g = wlim / (wmax * q) if wmax > 0 else 1.0
            layers.append(Dense(np.rint(w * q * g).astype(np.int64).tolist(),
                                np.rint(b * g).astype(np.int64).tolist(), 0, None))
            break
        act = fnet.activations[i]
        if act == RELU:
            X = float(hidden[i].max())
            if X <= 0:
                raise ConfigError(f"layer {i}: every activation is zero on the calibration data (dead layer)")
            qx = qy = X / ((1 << act_bits) - 1)
            K, tables, label = act_bits, {}, f"{core.name} ReLU (bit-shift tables)"
        else:
            t = find_table(coding, act)
            if t.data["inputs"] != 1:
                raise ConfigError(f"table {t.name} has two inputs; a hidden layer needs a one-input unit")
            qx, qy, K, tables, label = t.x_step, t.y_step, t.K, t.tables(), t.name
        s = _shift_for(w, q / qx, wlim)
        W = np.rint(w * q * 2.0 ** s / qx)
        B = np.rint(b * 2.0 ** s / qx)
        if np.abs(W).max() > wlim:
            raise ConfigError(f"layer {i}: the weights need more than w_bits={w_bits} at shift 0 "
                              f"(input step {q:g}, unit step {qx:g}); raise w_bits")
        layers.append(Dense(W.astype(np.int64).tolist(), B.astype(np.int64).tolist(), s, K, tables))
        info.append({"layer": i, "activation": act, "unit": label, "x_step": qx, "y_step": qy, "shift": s})
        q = qy
    meta = {"activations": list(fnet.activations), "units": info, "reference": "float network",
            "input_lsb": 1.0 / ((1 << input_bits) - 1)}
    return Network(coding, input_bits, tuple(layers), w_bits, {}, name, meta)


def _neuron_cores():
    return [c for c in CORES.values() if not c.layer_core]


def evaluate_activation_net(fnet: FloatNet, net: Network, x, y):
    """Accuracy of the float network and of its spiking conversion, their agreement, spikes
    per neuron and the fraction of hidden pre-activations outside each unit's fitting interval."""
    x = np.asarray(x, dtype=np.float64)
    xq = quantize_inputs(x, net.input_bits)
    _, logits = fnet.forward(xq / ((1 << net.input_bits) - 1))
    ref = np.argmax(logits, axis=1)
    r = run_network(net, xq)
    outside, a = [], xq / ((1 << net.input_bits) - 1)
    for i, act in enumerate(fnet.activations):
        z = a @ fnet.weights[i].T + fnet.biases[i]
        if act != RELU:
            lo, hi = find_table(net.coding, act).data["intervals"][0]
            outside.append(float(np.mean((z < lo) | (z > hi))))
        a = get_activation(act)(z)
    hidden = [st for st in r.layers[1:] if st.neurons]        # stage 0 sends the input values
    n_hidden = sum(st.neurons for st in hidden) * max(1, len(xq))
    return {"float_accuracy": float(np.mean(ref == y)), "accuracy": float(np.mean(r.predictions == y)),
            "agreement": float(np.mean(r.predictions == ref)), "spikes_per_neuron": r.spikes_per_neuron(),
            "hidden_spikes_per_neuron": sum(st.counts.spikes for st in hidden) / max(1, n_hidden),
            "outside_interval": outside}
