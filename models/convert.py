"""Front-ends and conversion: trained ReLU ANN → integer Network in any coding.

Pipeline (docs/network.md)::

    sklearn MLPClassifier / .npz ──▶ FloatNet ──calibrate + quantize──▶ Network('ann')
                                                  ──to_coding──▶ Network(fs|amos|ttfs|lif|if)

Quantization (all re-quantization between layers is a power-of-two shift):

- inputs x ∈ [0, 1] become round(x·(2^input_bits − 1));
- hidden layer l gets an activation LSB Δ_l = X_l / (2^act_bits − 1), X_l the
  calibrated maximum (``max``) or a percentile (``percentile``) of its float
  activations on the calibration data;
- the integer weights are W = round(w·Δ_{l−1}·2^s / Δ_l), the bias
  b = round(b_f·2^s / Δ_l), with the largest shift s that keeps |W| within
  w_bits; then a_l = clamp((W·a + b) >> s, 0, 2^act_bits − 1). Because ReLU
  is positively homogeneous the per-layer scale sits in the integer weights
  and only the shift remains in hardware;
- the output layer keeps the logits (scale chosen to fill w_bits).

FS, AMOS and TTFS realise this integer ANN exactly. Rate codings need a
spike value λ_l per layer (the activation a spike stands for): max norm
(λ = max activation) or robust norm (99.9th percentile), Rueckauer et al.
2017 as used by Ding et al. 2021; thresholds ϑ_l = λ_l·2^s_l. The LIF leak
makes the rate function non-linear, so its threshold is λ_l·2^s_l scaled by a
factor picked from a small grid for the best agreement with the integer ANN
on the calibration data (documented in ``meta``).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from .activations import get_activation
from .base import check_choice, check_int, check_int_array, signed_bits
from .errors import ConfigError, warn
from .inputs import read_npz
from .lif import check_leak_shifts
from .network import LIF_READOUTS, Dense, Network
from .rnl import RNL_LAMBDA, rnl_spike_values
from .registry import REFERENCE, codings, get_core
from .ttfs import VARIANTS
from .simulate import run_network

__all__ = ["FloatNet", "from_sklearn", "from_npz", "quantize", "to_coding", "convert",
           "check_quantize_options", "check_coding_options", "quantize_inputs",
           "calibrate_rate", "LIF_THRESHOLD_GRID", "RATE_NORMS"]

RELU = "relu"
LIF_SEARCH_SAMPLES = 512
#: spike-value rules of the rate codings: max norm, robust norm, Rate Norm Layer
RATE_NORMS = ("max", "robust", "rnl")
LIF_THRESHOLD_GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: weights λ of the Rate Inference Loss tried by the Rate Norm Layer conversion
RNL_LAMBDAS = (0.001, 0.003, 0.01, 0.03, 0.1)


@dataclass(frozen=True)
class FloatNet:
    """A trained float network: dense layers (W of shape (n_out, n_in), b) with
    ReLU between them and linear logits at the end; optional max-pool stages
    given as ``(index_before_which, MaxPool)``. ``activations`` names the
    activation of each hidden layer (:data:`~spikeforge.models.activations.ACTIVATIONS`;
    omitted: ReLU everywhere). Only ReLU networks quantize to the integer ANN
    (:func:`quantize`); others convert to FS/AMOS with fitted tables
    (:func:`~spikeforge.models.convert_act.convert_activation_net`)."""

    weights: tuple
    biases: tuple
    pools: tuple = ()
    activations: tuple = ()

    def __post_init__(self):
        if len(self.weights) == 0:
            raise ConfigError("the model has no layers")
        if len(self.weights) != len(self.biases):
            raise ConfigError(f"{len(self.weights)} weight matrices but {len(self.biases)} bias vectors")
        ws, bs = [], []
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            for what, a in (("weights", w), ("bias", b)):
                kind = np.asarray(a).dtype.kind
                if kind not in "iuf":
                    raise ConfigError(f"layer {i}: {what} must be real numbers, not dtype "
                                      f"{np.asarray(a).dtype}")
            w = np.asarray(w, dtype=np.float64)
            b = np.asarray(b, dtype=np.float64)
            if w.ndim != 2:
                raise ConfigError(f"layer {i}: weights must be a 2-D matrix, not shape {w.shape}")
            if 0 in w.shape:
                raise ConfigError(f"layer {i}: weights of shape {w.shape} (a layer needs at least one "
                                  "input and one neuron)")
            if b.shape != (w.shape[0],):
                raise ConfigError(f"layer {i}: bias has shape {b.shape}, expected ({w.shape[0]},)")
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
                raise ConfigError(f"layer {i}: weights or bias contain NaN or infinite values")
            ws.append(w)
            bs.append(b)
        object.__setattr__(self, "weights", tuple(ws))
        object.__setattr__(self, "biases", tuple(bs))
        acts = tuple(self.activations) or (RELU,) * (len(ws) - 1)
        if len(acts) != len(ws) - 1:
            raise ConfigError(f"activations: {len(ws) - 1} hidden layers but {len(acts)} activations")
        for a in acts:
            get_activation(a)
        object.__setattr__(self, "activations", acts)
        pools = dict(self.pools)
        n = ws[0].shape[1] if 0 not in pools else pools[0].n_in
        for i, w in enumerate(ws):
            if i in pools:
                if pools[i].n_in != n:
                    raise ConfigError(f"max-pool before layer {i} expects {pools[i].n_in} inputs, got {n}")
                n = pools[i].n_out
            if w.shape[1] != n:
                raise ConfigError(f"layer {i} expects {w.shape[1]} inputs but receives {n}")
            n = w.shape[0]

    @property
    def n_inputs(self):
        pools = dict(self.pools)
        return pools[0].n_in if 0 in pools else self.weights[0].shape[1]

    def forward(self, x, upto=None):
        """Float forward pass; returns the list of hidden activations and the logits."""
        pools = dict(self.pools)
        a, hidden = np.asarray(x, dtype=np.float64), []
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            if i in pools:
                a = pools[i].apply(a)
            z = a @ w.T + b
            if i == len(self.weights) - 1:
                return hidden, z
            a = np.maximum(z, 0.0) if self.activations[i] == RELU else get_activation(self.activations[i])(z)
            hidden.append(a)
        raise AssertionError("unreachable")

    @property
    def is_relu(self):
        """Every hidden layer is ReLU (the network quantizes to the integer ANN)."""
        return all(a == RELU for a in self.activations)


def from_sklearn(model) -> FloatNet:
    """Read a fitted scikit-learn ``MLPClassifier`` with ReLU activation."""
    name = type(model).__name__
    if not hasattr(model, "coefs_"):
        raise ConfigError(f"expected a fitted sklearn MLPClassifier, got {name} without coefs_ "
                          "(not fitted?)")
    act = getattr(model, "activation", None)
    if act != "relu":
        raise ConfigError(f"only ReLU networks can be converted; this {name} uses activation {act!r}")
    ws = [np.asarray(c).T for c in model.coefs_]
    bs = [np.asarray(b) for b in model.intercepts_]
    if ws[-1].shape[0] == 1:        # binary classifier: logit z vs 0
        ws[-1] = np.vstack([np.zeros_like(ws[-1]), ws[-1]])
        bs[-1] = np.concatenate([[0.0], bs[-1]])
    return FloatNet(tuple(ws), tuple(bs))


def from_npz(path) -> FloatNet:
    """Read a float ReLU network from a ``.npz`` file.

    Parameters
    ----------
    path : str or os.PathLike
        Arrays ``w0, b0, w1, b1, …`` (or ``W0, B0, …``: letter case does not
        matter), w_i of shape (n_in, n_out) as sklearn's ``coefs_``; an
        optional text entry ``activation`` that must be 'relu'; optionally
        the model's own data split ``x_train, y_train, x_test, y_test`` (read
        by :func:`spikeforge.models.userdata.load_data`, ignored here). Any
        other key is an error naming it.

    Returns
    -------
    FloatNet
    """
    from .userdata import DATA_KEYS, fold_keys, is_model_key

    path = os.fspath(path)
    data = read_npz(path, kinds="iuf", text_keys=("activation", "ACTIVATION", "Activation"))
    keys = fold_keys(data, path)                       # lower-case key -> key as stored
    extra = sorted(k for low, k in keys.items() if not is_model_key(low) and low not in DATA_KEYS)
    if "activation" in keys:
        entry = data[keys["activation"]]
        act = str(entry)
        if entry.dtype.kind != "U" or entry.ndim != 0 or act.lower() != "relu":
            raise ConfigError(f"{path}: only ReLU networks can be converted; activation is {act!r}")
    n = 0
    while f"w{n}" in keys:
        n += 1
    if n == 0:
        raise ConfigError(f"{path}: no weight arrays w0, w1, … (or W0, W1, …) found (keys: {sorted(data)})")
    expected = {f"w{i}" for i in range(n)} | {f"b{i}" for i in range(n)}
    model_keys = {low for low in keys if is_model_key(low) and low != "activation"}
    missing = sorted(expected - model_keys)
    extra = sorted(extra + [keys[k] for k in model_keys - expected])
    if missing or extra:
        raise ConfigError(f"{path}: expected arrays w0..w{n-1}, b0..b{n-1}; "
                          f"missing {missing}, unexpected {extra}")
    for i in range(n):
        w = data[keys[f"w{i}"]]
        if w.ndim != 2:
            raise ConfigError(f"{path}: {keys[f'w{i}']} must be a 2-D matrix (n_in, n_out), not shape {w.shape}")
    ws = tuple(data[keys[f"w{i}"]].astype(np.float64).T for i in range(n))
    bs = tuple(data[keys[f"b{i}"]].astype(np.float64) for i in range(n))
    try:
        return FloatNet(ws, bs)
    except ConfigError as e:
        hint = ""
        if "expects" in str(e) or "inputs but receives" in str(e):
            hint = " (weights are (n_in, n_out) as sklearn's coefs_; transpose a PyTorch (out, in) weight)"
        raise ConfigError(f"{path}: {e}{hint}") from None


def _as_floatnet(model):
    if isinstance(model, FloatNet):
        return model
    if isinstance(model, (str, os.PathLike)):
        return from_npz(model)
    return from_sklearn(model)


def _check_calibration_data(fnet, x):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != fnet.n_inputs:
        raise ConfigError(f"calibration data must have shape (n, {fnet.n_inputs}), not {x.shape}")
    if x.shape[0] == 0:
        raise ConfigError("calibration data is empty")
    if not np.all(np.isfinite(x)):
        raise ConfigError("calibration data contains NaN or infinite values")
    if x.min() < 0 or x.max() > 1:
        raise ConfigError("inputs must be scaled to [0, 1] before conversion")
    return x


def quantize_inputs(x, bits, *, clip=False, what="inputs"):
    """x ∈ [0, 1] → round(x·(2^bits − 1)) as int64.

    Parameters
    ----------
    x : array_like
        Float inputs, scaled to [0, 1].
    bits : int
        Input width.
    clip : bool
        False (default): a value outside [0, 1] is an error. True: such
        values are clipped to [0, 1], and a warning says how many.
    what : str
        Names the inputs in the message.

    Returns
    -------
    numpy.ndarray
        int64 values in [0, 2^bits − 1].
    """
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ConfigError(f"{what} contain NaN or infinite values")
    outside = int(np.count_nonzero((x < 0) | (x > 1))) if x.size else 0
    if outside:
        if not clip:
            raise ConfigError(f"{what}: {outside:,} of {x.size:,} values lie outside [0, 1] "
                              f"(from {x.min():g} to {x.max():g}); scale them to [0, 1] first "
                              "(command line: --input-range LO,HI)")
        warn(f"{what}: {outside:,} of {x.size:,} values lie outside [0, 1] and were clipped")
    return np.clip(np.rint(x * ((1 << bits) - 1)), 0, (1 << bits) - 1).astype(np.int64)


def check_quantize_options(input_bits=8, act_bits=8, w_bits=8, calibration="max", percentile=99.99):
    """Check the quantization options (before any work is done)."""
    check_int("input_bits", input_bits, 1, 16)
    check_int("act_bits", act_bits, 1, 16)
    check_int("w_bits", w_bits, 2, 16)
    check_choice("calibration", calibration, ("max", "percentile"))
    if not (isinstance(percentile, (int, float)) and 50 <= percentile <= 100):
        raise ConfigError(f"percentile must be a number in [50, 100], not {percentile!r}")


def check_coding_options(coding, time_steps=None, rate_norm="max", ttfs_variant="at_most_one",
                         lif_readout=None, lif_threshold_scale=None, leak_shifts=None):
    """Check the options of :func:`to_coding` (before any work is done)."""
    check_choice("coding", coding, codings())
    if time_steps is not None:
        check_int("time_steps", time_steps, 1, 1 << 16)
    check_choice("rate_norm", rate_norm, RATE_NORMS)
    check_choice("ttfs_variant", ttfs_variant, VARIANTS)
    if lif_readout is not None:
        check_choice("lif_readout", lif_readout, LIF_READOUTS)
    if lif_threshold_scale is not None and not (isinstance(lif_threshold_scale, (int, float))
                                                and 0 < lif_threshold_scale <= 4):
        raise ConfigError(f"lif_threshold_scale must be in (0, 4], not {lif_threshold_scale!r}")
    if leak_shifts is not None:
        check_leak_shifts("leak_shifts", leak_shifts)


def quantize(model, calib_x, *, input_bits=8, act_bits=8, w_bits=8, calibration="max",
             percentile=99.99, name="network") -> Network:
    """Calibrate and quantize a float ReLU network into the integer ANN (coding 'ann')."""
    fnet = _as_floatnet(model)
    check_quantize_options(input_bits, act_bits, w_bits, calibration, percentile)
    if not fnet.is_relu:
        raise ConfigError(f"only ReLU networks quantize to the integer ANN; this one has activations "
                          f"{', '.join(fnet.activations)} (convert it to fs or amos with "
                          f"convert_activation_net)")
    x = _check_calibration_data(fnet, calib_x)
    xq = quantize_inputs(x, input_bits)
    delta_in = 1.0 / ((1 << input_bits) - 1)
    hidden, _ = fnet.forward(xq * delta_in)
    wlim = (1 << (w_bits - 1)) - 1
    pools = dict(fnet.pools)
    layers, scales, delta = [], [], delta_in
    L = len(fnet.weights)
    for i, (w, b) in enumerate(zip(fnet.weights, fnet.biases)):
        if i in pools:
            layers.append(pools[i])
        wmax = float(np.abs(w).max()) if w.size else 0.0
        if i == L - 1:                                   # logits: fill the weight range
            g = wlim / (wmax * delta) if wmax > 0 else 1.0
            W = np.rint(w * delta * g)
            B = np.rint(b * g)
            layers.append(Dense(W.astype(np.int64).tolist(), B.astype(np.int64).tolist(), 0, None))
            break
        a = hidden[i]
        X = float(a.max()) if calibration == "max" else float(np.percentile(a, percentile))
        if X <= 0:
            X = float(a.max())
        if X <= 0:
            raise ConfigError(f"layer {i}: every activation is zero on the calibration data; "
                              "cannot calibrate (dead layer)")
        d_out = X / ((1 << act_bits) - 1)
        ratio = wmax * delta / d_out                     # |W| at shift 0
        if ratio > wlim:                                 # coarser activation LSB so s = 0 fits
            d_out = wmax * delta / wlim
            ratio = wlim
        s = int(np.floor(np.log2(wlim / ratio))) if ratio > 0 else 0
        s = max(0, min(s, 30))
        while s > 0 and np.abs(np.rint(w * delta * 2.0 ** s / d_out)).max() > wlim:
            s -= 1
        W = np.rint(w * delta * 2.0 ** s / d_out)
        B = np.rint(b * 2.0 ** s / d_out)
        layers.append(Dense(W.astype(np.int64).tolist(), B.astype(np.int64).tolist(), s, act_bits))
        scales.append({"layer": i, "activation_lsb": d_out, "calibrated_max": X, "shift": s})
        delta = d_out
    meta = {"calibration": calibration, "percentile": percentile if calibration == "percentile" else None,
            "input_lsb": delta_in, "layers": scales}
    return Network(REFERENCE, input_bits, tuple(layers), w_bits, {}, name, meta)


def calibrate_rate(ann_net, xq, norm="max", percentile=99.9, record=None, rnl_lambda=None):
    """Spike values λ_l of every dense layer from the integer ANN on ``xq``:
    the maximum (max norm) or a percentile (robust norm) of its activations,
    for the output layer of its positive logits; or (``rnl``) the hidden layers'
    thresholds trained as Rate Norm Layers from the max-norm values (Ding et al.
    2021, :mod:`~spikeforge.models.rnl`), the output layer's by max norm.
    ``record`` (a dict) receives the RNL training record; ``rnl_lambda`` is the weight of
    its Rate Inference Loss (default :data:`~spikeforge.models.rnl.RNL_LAMBDA`)."""
    check_choice("rate_norm", norm, RATE_NORMS)
    r = run_network(ann_net, xq)
    lam = []
    for a in list(r.activations) + [np.maximum(r.scores, 0)]:
        v = float(np.percentile(a, percentile)) if norm == RATE_NORMS[1] else float(a.max())
        lam.append(max(1, int(np.ceil(v))))
    if norm == RATE_NORMS[2]:
        hidden, rec = rnl_spike_values(ann_net, xq, lam[:-1],
                                       lam=RNL_LAMBDA if rnl_lambda is None else rnl_lambda)
        lam = hidden + lam[-1:]
        if record is not None:
            record.update(rec)
    return lam


def to_coding(ann_net: Network, coding, calib_xq=None, *, time_steps=None, rate_norm="max",
              ttfs_variant="at_most_one", lif_readout=None, lif_threshold_scale=None,
              leak_shifts=None) -> Network:
    """The integer ANN ``ann_net`` in ``coding``. Rate codings need integer
    calibration inputs ``calib_xq`` for their thresholds; options that do not
    apply to ``coding`` are ignored (each core's ``convert_options`` in the registry)."""
    if not isinstance(ann_net, Network) or not get_core(ann_net.coding).is_reference:
        raise ConfigError(f"to_coding expects the integer ANN (a Network with coding {REFERENCE!r})")
    check_coding_options(coding, time_steps, rate_norm, ttfs_variant, lif_readout,
                         lif_threshold_scale, leak_shifts)
    core = get_core(coding)
    given = dict(time_steps=time_steps, rate_norm=rate_norm, ttfs_variant=ttfs_variant,
                 lif_readout=lif_readout, lif_threshold_scale=lif_threshold_scale, leak_shifts=leak_shifts)
    return core.resolve("convert")(ann_net, coding, calib_xq,
                                   **{k: given[k] for k in core.convert_options})


# ------------------------------------------- per coding (named by the registry)

def plain_coding(ann_net, coding, calib_xq=None):
    """fs, amos, ann: the integer ANN's numbers as they are."""
    return ann_net.with_coding(coding)


def ttfs_coding(ann_net, coding, calib_xq=None, *, ttfs_variant="at_most_one"):
    return ann_net.with_coding(coding, {"variant": ttfs_variant})


def _rate_build(ann_net, coding, opts, lam, first_scale, factor):
    """The rate network with thresholds ϑ_l = factor·λ_l·2^(s_l − r_l)."""
    cores, prev = {}, first_scale
    for k, i in enumerate(ann_net.dense_indices):
        layer = ann_net.layers[i]
        big = int(np.abs(layer.W).max()) * prev          # re-quantize scaled weights to w_bits
        r = max(0, signed_bits(-big, big) - ann_net.w_bits)
        th = max(1, int(round(factor * lam[k] * 2.0 ** (layer.shift - r))))
        cores[i] = {"in_scale": prev, "weight_shift": r, "threshold": th}
        prev = lam[k]
    return ann_net.with_coding(coding, opts, cores)


def _rate_coding(ann_net, coding, calib_xq, opts, rate_norm, first_scale, factor_search=None):
    """Thresholds ϑ_l = factor·λ_l·2^(s_l − r_l) of a rate coding; ``factor_search(build)``
    picks the factor (LIF) or it is 1. With the Rate Norm Layer, its loss weight λ is
    picked from :data:`RNL_LAMBDAS` for the best agreement with the integer ANN on up to
    :data:`LIF_SEARCH_SAMPLES` calibration inputs at the coding's T (ties: the grid's middle)."""
    if calib_xq is None:
        raise ConfigError(f"coding {coding!r} needs calibration inputs for its thresholds")
    xq = check_int_array("calibration inputs", calib_xq)
    grid = RNL_LAMBDAS if rate_norm == RATE_NORMS[2] else (None,)
    xs, ref, best = xq[:LIF_SEARCH_SAMPLES], None, None
    scores = []
    for k, weight in enumerate(grid):
        record = {}
        lam = calibrate_rate(ann_net, xq, rate_norm, record=record, rnl_lambda=weight)
        build = functools.partial(_rate_build, ann_net, coding, opts, lam, first_scale)
        factor = 1.0 if factor_search is None else factor_search(build, xq)
        score = 0.0
        if len(grid) > 1:
            ref = run_network(ann_net, xs).predictions if ref is None else ref
            score = float(np.mean(run_network(build(factor), xs).predictions == ref))
            scores.append(score)
        key = (score, -abs(k - len(grid) // 2))
        if best is None or key > best[0]:
            best = (key, lam, record, factor, build)
    _, lam, record, factor, build = best
    meta = {**ann_net.meta, "rate_norm": rate_norm, "spike_values": lam}
    if record:
        meta["rate_norm_layer"] = {**record, "lambda_grid": list(grid), "agreement": scores}
    if factor_search is not None:
        meta["threshold_scale"] = factor
    net = build(factor)
    return Network(net.coding, net.input_bits, net.layers, net.w_bits, net.options, net.name, meta)


def if_coding(ann_net, coding, calib_xq=None, *, time_steps=None, rate_norm="max"):
    """Rate IF with direct input: a spike into the first layer stands for 1."""
    opts = dict(get_core(coding).options)
    if time_steps is not None:
        opts["time_steps"] = time_steps
    return _rate_coding(ann_net, coding, calib_xq, opts, rate_norm, 1)


def lif_coding(ann_net, coding, calib_xq=None, *, time_steps=None, rate_norm="max", lif_readout=None,
               leak_shifts=None, lif_threshold_scale=None):
    """Shift-add LIF with an LFSR rate code: a spike into the first layer stands for
    2^input_bits; the threshold scale is picked from :data:`LIF_THRESHOLD_GRID` for the
    best agreement with the integer ANN on the calibration data, unless given."""
    opts = dict(get_core(coding).options)
    if time_steps is not None:
        opts["time_steps"] = time_steps
    if leak_shifts is not None:
        opts["leak_shifts"] = list(leak_shifts)
    if lif_readout is not None:
        opts["readout"] = lif_readout

    def search(build, xq):
        if lif_threshold_scale is not None:
            return float(lif_threshold_scale)
        xs = xq[:LIF_SEARCH_SAMPLES]
        ref = run_network(ann_net, xs).predictions
        return max(LIF_THRESHOLD_GRID, key=lambda f: (np.mean(run_network(build(f), xs).predictions == ref),
                                                      -abs(f - 0.8)))

    return _rate_coding(ann_net, coding, calib_xq, opts, rate_norm, 1 << ann_net.input_bits, search)


def convert(model, calib_x, coding=REFERENCE, *, input_bits=8, act_bits=8, w_bits=8, calibration="max",
            percentile=99.99, name="network", **coding_options) -> Network:
    """Float model → integer ANN → ``coding`` in one call (calib_x floats in [0, 1])."""
    ann = quantize(model, calib_x, input_bits=input_bits, act_bits=act_bits, w_bits=w_bits,
                   calibration=calibration, percentile=percentile, name=name)
    if get_core(coding).is_reference:
        return ann
    xq = quantize_inputs(np.asarray(calib_x, dtype=np.float64), input_bits)
    return to_coding(ann, coding, xq, **coding_options)
