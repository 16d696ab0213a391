"""The integer network description shared by golden runs, RTL and reports.

A :class:`Network` is an input width, a coding and a list of layers:
:class:`Dense` (integer weights, bias in accumulator units, re-quantization
shift, output width) and :class:`MaxPool`. Its dense layers *are* the integer
ANN every coding is compared against::

    acc = W·a + b;   a' = clamp(acc >> shift, 0, 2^out_bits − 1)   (hidden)
    scores = acc                                                   (output layer)

Coding-specific numbers (rate thresholds, FS/AMOS tables) live in each
layer's ``core`` dict and network-wide ones in ``options``.
:func:`layer_params` is the one place that turns a layer into the parameter
object of its core; the golden run and the RTL generator both call it.
See docs/network.md.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .ann import MACParams
from .base import (WeightedLayer, check_choice, check_int, check_int_seq, check_matrix, round_shift, signed_bits,
                   width_range)
from .errors import ConfigError
from .io import atomic_write_text, read_json
from .lfsr import LFSRParams
from .lif import LIFParams, check_leak_shifts
from .rate_if import IFParams
from .registry import CORES, REFERENCE, codings, get_core
from .ttfs import VARIANTS, TTFSParams

__all__ = ["Dense", "MaxPool", "Network", "layer_params", "CODINGS", "SCHEMA",
           "load_network", "save_network", "LIF_READOUTS", "DEFAULT_OPTIONS"]

SCHEMA = "spikeforge.network/1"
#: the codings, in registry order (read from the registry)
CODINGS = codings()
LIF_READOUTS = ("count", "membrane", "vanrossum")

#: Network-wide options per coding, with their defaults (from the registry).
DEFAULT_OPTIONS = {name: core.options for name, core in CORES.items()}


@dataclass(frozen=True)
class Dense(WeightedLayer):
    """A fully connected layer of the integer network.

    ``weights`` is n_out × n_in; ``out_bits`` None marks the output layer.
    """

    weights: tuple
    bias: tuple
    shift: int = 0
    out_bits: int | None = 8
    core: dict = field(default_factory=dict)

    def __post_init__(self):
        W = check_matrix("weights", self.weights)
        big = 1 << 62
        lo, hi = min(map(min, W)), max(map(max, W))
        if lo < -big or hi > big:
            raise ConfigError(f"weights: {lo if lo < -big else hi} is beyond ±2^62")
        object.__setattr__(self, "weights", W)
        object.__setattr__(self, "bias", check_int_seq("bias", self.bias, len(W), -big, big))
        check_int("shift", self.shift, 0, 62)
        if self.out_bits is not None:
            check_int("out_bits", self.out_bits, 1, 16)
        if not isinstance(self.core, dict):
            raise ConfigError(f"core must be an object, not {self.core!r}")

    def to_dict(self):
        return {"type": "dense", "weights": [list(r) for r in self.weights], "bias": list(self.bias),
                "shift": self.shift, "out_bits": self.out_bits, "core": self.core}


@dataclass(frozen=True)
class MaxPool:
    """Non-overlapping max pooling of a (channels, height, width) activation map.

    Activations are flattened channel-major (C, H, W). In TTFS it is the
    earliest spike of each pool; FS/AMOS pool the pre-activation before the
    neurons (equal, since the activation is monotone).
    """

    shape: tuple
    pool: int = 2

    def __post_init__(self):
        shape = check_int_seq("shape", self.shape, 3, 1, 1 << 16)
        object.__setattr__(self, "shape", shape)
        p = check_int("pool", self.pool, 2, 64)
        C, H, W = shape
        if H % p or W % p:
            raise ConfigError(f"max-pool: height {H} and width {W} must be multiples of pool {p}")

    @property
    def n_in(self):
        C, H, W = self.shape
        return C * H * W

    @property
    def n_out(self):
        C, H, W = self.shape
        return C * (H // self.pool) * (W // self.pool)

    @cached_property
    def groups(self):
        """Index array (n_out, pool²): the inputs of each pooled output."""
        C, H, W = self.shape
        p = self.pool
        idx = np.arange(C * H * W).reshape(C, H // p, p, W // p, p)
        return idx.transpose(0, 1, 3, 2, 4).reshape(-1, p * p)

    def apply(self, a):
        return np.asarray(a)[..., self.groups].max(axis=-1)

    def to_dict(self):
        return {"type": "maxpool", "shape": list(self.shape), "pool": self.pool}


def _layer_from_dict(i, d):
    if not isinstance(d, dict):
        raise ConfigError(f"layers[{i}]: expected an object, not {type(d).__name__}")
    d = dict(d)
    typ = d.pop("type", None)
    cls = {"dense": Dense, "maxpool": MaxPool}.get(typ) if isinstance(typ, str) else None
    if cls is None:
        raise ConfigError(f"layers[{i}]: type must be 'dense' or 'maxpool', not {typ!r}")
    try:
        return cls(**d)
    except TypeError as e:
        raise ConfigError(f"layers[{i}]: {e}") from None
    except ConfigError as e:
        raise ConfigError(f"layers[{i}]: {e}") from None


@dataclass(frozen=True)
class Network:
    """An integer network in one coding.

    Parameters
    ----------
    coding : str
        One of ``fs, amos, ttfs, lif, if, ann``.
    input_bits : int
        Width of the unsigned inputs (values in [0, 2^input_bits − 1]).
    layers : tuple of Dense / MaxPool
        The last layer is a Dense output layer (``out_bits`` None).
    w_bits : int
        Declared signed weight width of the integer ANN. Default 8.
    options : dict
        Coding-wide options (time steps, readout, TTFS variant, LFSR, leak);
        missing keys take :data:`DEFAULT_OPTIONS`.
    name : str
        A label for reports.
    meta : dict
        Free-form provenance (data set, calibration, float accuracy).
    """

    coding: str
    input_bits: int
    layers: tuple
    w_bits: int = 8
    options: dict = field(default_factory=dict)
    name: str = "network"
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.coding, str):
            raise ConfigError(f"coding must be a string, not {type(self.coding).__name__}")
        check_choice("coding", self.coding, CODINGS)
        check_int("input_bits", self.input_bits, 1, 16)
        check_int("w_bits", self.w_bits, 2, 32)
        if (not isinstance(self.name, str) or not 0 < len(self.name) <= 200
                or not self.name.isprintable() or "/" in self.name or "\\" in self.name
                or self.name in (".", "..")):
            raise ConfigError(f"name must be a printable string of 1 to 200 characters without "
                              f"path separators, not {str(self.name)[:40]!r}")
        if not isinstance(self.meta, dict):
            raise ConfigError(f"meta must be an object, not {type(self.meta).__name__}")
        if not isinstance(self.layers, (list, tuple)):
            raise ConfigError(f"layers must be a list, not {type(self.layers).__name__}")
        layers = tuple(self.layers)
        if not layers:
            raise ConfigError("a network needs at least one layer")
        object.__setattr__(self, "layers", layers)
        if not isinstance(self.options, dict):
            raise ConfigError(f"options must be an object, not {self.options!r}")
        core = get_core(self.coding)
        opts = dict(core.options)
        unknown = sorted(set(self.options) - set(opts))
        if unknown:
            raise ConfigError(f"options: unknown key(s) {', '.join(unknown)} for coding {self.coding!r}")
        opts.update(self.options)
        object.__setattr__(self, "options", opts)
        core.resolve("check_options")(opts)
        self._validate_layers(core)
        # Core parameter objects are pure functions of this frozen network: build each once
        # (which also reports any bad number now) and keep them for every later run.
        object.__setattr__(self, "_cores", {})
        for i, layer in enumerate(layers):
            if isinstance(layer, Dense):
                try:
                    self._cores[i] = core.resolve("layer_params")(self, i)
                except ConfigError as e:
                    raise ConfigError(f"layers[{i}] ({self.coding}): {e}") from None

    def _validate_layers(self, core):
        n = None
        prev_dense_hidden = True
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, (Dense, MaxPool)):
                raise ConfigError(f"layers[{i}] must be Dense or MaxPool, not {type(layer).__name__}")
            if n is not None and layer.n_in != n:
                raise ConfigError(f"layers[{i}] expects {layer.n_in} inputs but the previous layer "
                                  f"has {n} outputs")
            last = i == len(self.layers) - 1
            if isinstance(layer, Dense):
                if last and layer.out_bits is not None:
                    raise ConfigError(f"layers[{i}]: the output layer must have out_bits null (logits)")
                if not last and layer.out_bits is None:
                    raise ConfigError(f"layers[{i}]: a hidden layer needs out_bits (its activation width)")
                lo, hi = width_range(self.w_bits, True)
                if int(layer.W.min()) < lo or int(layer.W.max()) > hi:
                    bad = int(layer.W.min()) if int(layer.W.min()) < lo else int(layer.W.max())
                    raise ConfigError(f"layers[{i}]: weight {bad} does not fit w_bits={self.w_bits}")
                extra = sorted(set(layer.core) - core.core_keys)
                if extra:
                    raise ConfigError(f"layers[{i}].core: unknown key(s) {', '.join(extra)} "
                                      f"for coding {self.coding!r}")
                prev_dense_hidden = True
            else:
                if last:
                    raise ConfigError(f"layers[{i}]: the network must end with a dense output layer")
                if core.time_steps:
                    ok = ", ".join(c.name for c in CORES.values() if not c.time_steps)
                    raise ConfigError(f"layers[{i}]: max-pool is not defined for rate coding "
                                      f"({self.coding!r}); use {ok}")
                if not prev_dense_hidden:
                    raise ConfigError(f"layers[{i}]: two max-pool layers in a row")
                prev_dense_hidden = False
            n = layer.n_out

    # -- derived --
    @property
    def n_inputs(self):
        return self.layers[0].n_in

    @property
    def n_outputs(self):
        return self.layers[-1].n_out

    @property
    def dense_indices(self):
        return [i for i, l in enumerate(self.layers) if isinstance(l, Dense)]

    def in_bits(self, i):
        """Activation width arriving at layer i (max-pool keeps the width)."""
        for layer in reversed(self.layers[:i]):
            if isinstance(layer, Dense):
                return layer.out_bits
        return self.input_bits

    def mac_params(self, i):
        """The integer ANN (MAC) parameters of dense layer i: the reference."""
        key = ("mac", i)
        if key not in self._cores:
            self._cores[key] = self._mac_params(i)
        return self._cores[key]

    def _mac_params(self, i):
        l = self.layers[i]
        in_bits, in_signed = self.in_bits(i), False
        prev = self._prev_neuron(i)
        if prev is not None:            # fitted FS/AMOS tables: the inputs are the neurons' outputs
            lo, hi = prev.y_interval
            if lo < 0 or hi >= 1 << in_bits:
                in_signed = lo < 0
                in_bits = signed_bits(lo, hi) if in_signed else max(1, hi.bit_length())
        return MACParams(weights=l.weights, bias=l.bias, shift=l.shift, in_bits=in_bits, in_signed=in_signed,
                         w_bits=self.w_bits, out_bits=l.out_bits)

    def _prev_neuron(self, i):
        """The neuron parameter object (fs/amos) feeding layer i, if the coding has one there."""
        for k in range(i - 1, -1, -1):
            if isinstance(self.layers[k], Dense):
                p = self._cores.get(k)
                return p if hasattr(p, "y_interval") else None
        return None

    def with_coding(self, coding, options=None, cores=None):
        """The same integer network in another coding (cores: per-layer dicts)."""
        layers = []
        for i, l in enumerate(self.layers):
            if isinstance(l, Dense):
                core = (cores or {}).get(i, {})
                l = Dense(l.weights, l.bias, l.shift, l.out_bits, core)
            layers.append(l)
        return Network(coding, self.input_bits, tuple(layers), self.w_bits, options or {},
                       self.name, dict(self.meta))

    def reference(self):
        """The integer ANN this network was converted from."""
        return self.with_coding(REFERENCE)

    # -- JSON --
    def to_dict(self):
        return {"schema": SCHEMA, "name": self.name, "coding": self.coding,
                "input_bits": self.input_bits, "w_bits": self.w_bits, "options": self.options,
                "layers": [l.to_dict() for l in self.layers], "meta": self.meta}

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict):
            raise ConfigError("a network file must hold a JSON object")
        d = dict(d)
        schema = d.pop("schema", None)
        if schema != SCHEMA:
            raise ConfigError(f"unsupported schema {schema!r}; this version reads {SCHEMA!r}")
        allowed = {"name", "coding", "input_bits", "w_bits", "options", "layers", "meta"}
        unknown = sorted(set(d) - allowed)
        if unknown:
            raise ConfigError(f"unknown network field(s) {', '.join(unknown)}")
        for key in ("coding", "input_bits", "layers"):
            if key not in d:
                raise ConfigError(f"network field {key!r} is missing")
        if not isinstance(d["layers"], list):
            raise ConfigError("layers must be a list")
        d["layers"] = tuple(_layer_from_dict(i, l) for i, l in enumerate(d["layers"]))
        return cls(**d)


def _bits_of_range(lo, hi):
    return signed_bits(min(lo, 0), max(hi, 0))


def layer_params(net: Network, i: int):
    """The core parameter object of dense layer ``i`` in the network's coding.

    fs/amos: the neuron of the layer (None for the output layer, which is a
    plain accumulator); ttfs/lif/if/ann: the whole layer. One derivation,
    read by the golden run and by the RTL generator alike.
    """
    if not isinstance(net.layers[i], Dense):
        raise ConfigError(f"layer {i} is not a dense layer")
    return net._cores[i]


# -------------------------------------------- per coding (named by the registry)

def no_options(options):
    """Codings without network-wide options."""


def check_ttfs_options(o):
    check_choice("options.variant", o["variant"], VARIANTS)


def check_rate_options(o):
    check_int("options.time_steps", o["time_steps"], 1, 1 << 16)


def check_lif_options(o):
    check_rate_options(o)
    o["leak_shifts"] = list(check_leak_shifts("options.leak_shifts", o["leak_shifts"]))
    check_choice("options.readout", o["readout"], LIF_READOUTS)
    LFSRParams.from_dict(o["lfsr"])


def mac_layer(net, i):
    """The integer ANN: every dense layer is a MAC layer."""
    return net.mac_params(i)


def digits_layer(net, i):
    """fs/amos: the neuron of layer ``i`` (None for the output layer, a plain accumulator)."""
    layer = net.layers[i]
    if layer.out_bits is None:
        return None
    lo, hi = net.mac_params(i).acc_interval
    x_bits = max(2, _bits_of_range(lo >> layer.shift, hi >> layer.shift))
    return get_core(net.coding).params(K=layer.out_bits, x_bits=x_bits, **layer.core)


def ttfs_layer(net, i):
    layer = net.layers[i]
    return TTFSParams.from_relu_layer(layer.weights, layer.bias, layer.shift, net.in_bits(i),
                                      layer.out_bits, net.options["variant"], net.w_bits)


def _rate_common(net, i):
    """Rate codings: a spike of the previous layer stands for ``in_scale`` activation LSBs; the
    scaled weights and the bias are re-quantized by ``weight_shift`` (rounding) to stay near w_bits."""
    layer = net.layers[i]
    if "threshold" not in layer.core:
        raise ConfigError("rate-coded layers need core.threshold (convert the network first)")
    scale = check_int("core.in_scale", layer.core.get("in_scale", 1), 1, 1 << 20)
    r = check_int("core.weight_shift", layer.core.get("weight_shift", 0), 0, 40)
    W = round_shift(layer.W * scale, r)
    w_bits = max(net.w_bits, _bits_of_range(int(W.min()), int(W.max())))
    return dict(weights=W.tolist(), bias=round_shift(layer.b, r).tolist(),
                threshold=layer.core["threshold"], time_steps=net.options["time_steps"], w_bits=w_bits)


def if_layer(net, i):
    first = i == net.dense_indices[0]
    return IFParams(direct_input=first, in_bits=net.input_bits, spiking=net.layers[i].out_bits is not None,
                    **_rate_common(net, i))


def lif_layer(net, i):
    o = net.options
    spiking = net.layers[i].out_bits is not None or o["readout"] != "membrane"
    return LIFParams(leak_shifts=tuple(o["leak_shifts"]), spiking=spiking, **_rate_common(net, i))


# ------------------------------------------------------------------ files

def save_network(net: Network, path):
    """Write ``net`` as JSON atomically (temp file, then rename)."""
    atomic_write_text(path, json.dumps(net.to_dict(), indent=1, sort_keys=True) + "\n")


def load_network(path) -> Network:
    """Read a network JSON file; any problem is a one-line :class:`ConfigError`."""
    path = os.fspath(path)
    d = read_json(path)
    try:
        return Network.from_dict(d)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
