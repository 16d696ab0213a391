"""Integer ANN MAC: the reference every spiking design is compared against (see docs/cores/ann.md).

For each output neuron i::

    acc_i = b_i + Σ_j W_ij·x_j                  (multiply-accumulate)
    y_i   = clamp(acc_i >> s, 0, 2^out_bits − 1)  (shift re-quantization + ReLU)

``out_bits = None`` is an output layer: y = acc (logits, no shift, no clamp).
Right shifts are arithmetic (floor). Lanes: ``lanes`` multipliers work in
parallel, each on one output neuron; the n_out neurons form G =
ceil(n_out/lanes) groups processed one after another. Schedule (the RTL's,
one input beat or one output beat per cycle): per group n_in MAC cycles,
then one output beat per neuron of the group (re-quantized as it leaves);
the first MAC cycle of the next group, or the first input of the next
inference, shares the cycle of the previous group's last output beat. So an
inference takes G·n_in + n_out − G cycles from its first input to its last
output, and back to back a new inference starts every that many cycles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .base import (WeightedLayer, DEFAULT_WEIGHTS, Counts, Params, check_int, check_int_array, check_weighted_layer, check_width,
                   exact_matmul, floor_shift, set_field, signed_bits, width_range)
from .errors import ConfigError

__all__ = ["MACParams", "MACResult", "ann_golden", "DEFAULT_WEIGHTS"]

@dataclass(frozen=True)
class MACParams(WeightedLayer, Params):
    """An integer ANN layer computed by multiply-accumulate.

    Parameters
    ----------
    weights : n_out × n_in ints
        Signed weights; must fit ``w_bits``. Default :data:`DEFAULT_WEIGHTS`.
    bias : n_out ints, optional
        Bias in accumulator units (omitted: 0). In effect: :attr:`bias_values`.
    shift : int
        Re-quantization shift s ≥ 0. Default 0.
    in_bits : int
        Input activation width. Default 8.
    in_signed : bool
        Inputs are signed (default False: ReLU activations are unsigned).
    w_bits : int
        Declared signed weight width. Default 8.
    out_bits : int or None
        Output activation width (clamp to [0, 2^out_bits−1]); None: logits.
    acc_bits : int, optional
        Declared signed accumulator width; omitted: the exact worst-case bound.
        In effect: :attr:`acc_width`.
    lanes : int, optional
        Parallel multipliers (1..n_out); omitted: n_out. In effect: :attr:`lane_count`.
    """

    weights: tuple = DEFAULT_WEIGHTS
    bias: tuple | None = None
    shift: int = 0
    in_bits: int = 8
    in_signed: bool = False
    w_bits: int = 8
    out_bits: int | None = 8
    acc_bits: int | None = None
    lanes: int | None = None

    DERIVED = {"bias": "bias_values", "acc_bits": "acc_width", "lanes": "lane_count"}

    def __post_init__(self):
        n_out, n_in = check_weighted_layer(self)
        check_int("shift", self.shift, 0, 62)
        check_int("in_bits", self.in_bits, 1, 32)
        if not isinstance(self.in_signed, bool):
            raise ConfigError(f"in_signed must be true or false, not {self.in_signed!r}")
        if self.out_bits is not None:
            check_int("out_bits", self.out_bits, 1, 32)
        if self.acc_bits is not None:
            check_int("acc_bits", self.acc_bits, 2, 62)
        if self.lanes is not None:
            set_field(self, "lanes", check_int("lanes", self.lanes, 1, n_out))

    @cached_property
    def acc_width(self):
        """Signed accumulator width in effect: the declared ``acc_bits``, else the smallest
        width (at least 2) that :attr:`acc_interval` proves sufficient."""
        return max(2, signed_bits(*self.acc_interval)) if self.acc_bits is None else self.acc_bits

    @property
    def lane_count(self):
        """Parallel multipliers in effect: the declared ``lanes``, else n_out."""
        return self.n_out if self.lanes is None else self.lanes

    @property
    def out_max(self):
        """Top of the ReLU clamp, 2^out_bits − 1 (None for logits)."""
        return None if self.out_bits is None else (1 << self.out_bits) - 1

    @property
    def op_widths(self):
        """Bit widths of the counted operations, for the energy proxy."""
        return {"add": self.acc_width, "state": self.acc_width, "word": self.w_bits,
                "mult": max(self.w_bits, self.in_bits)}

    @cached_property
    def acc_interval(self):
        xlo, xhi = width_range(self.in_bits, self.in_signed)
        W = np.array(self.weights, dtype=object)
        pos = np.where(W > 0, W, 0).sum(axis=1)
        neg = np.where(W < 0, W, 0).sum(axis=1)
        bias = self.bias_values
        lo = min(int(b + pos[i] * xlo + neg[i] * xhi) for i, b in enumerate(bias))
        hi = max(int(b + pos[i] * xhi + neg[i] * xlo) for i, b in enumerate(bias))
        return min(lo, 0, *bias), max(hi, 0, *bias)

    @property
    def groups(self):
        """Neuron groups G = ceil(n_out / lanes), processed one after another."""
        return math.ceil(self.n_out / self.lane_count)

    @property
    def group_sizes(self):
        """Neurons in each group: ``lanes`` each, the rest in the last one."""
        lanes = self.lane_count
        return tuple(min(lanes, self.n_out - g * lanes) for g in range(self.groups))

    @property
    def cycles_per_inference(self):
        """G·n_in MAC cycles + n_out output beats − G shared cycles (see the module docstring)."""
        return self.groups * self.n_in + self.n_out - self.groups

    @property
    def latency(self):
        """Cycles from an inference's first accepted input to its last output beat."""
        return self.cycles_per_inference

    @property
    def initiation_interval(self):
        """Cycles between the first inputs of back-to-back inferences."""
        return self.cycles_per_inference


@dataclass(frozen=True)
class MACResult:
    y: np.ndarray
    acc: np.ndarray
    counts: Counts


def ann_golden(p: MACParams, x) -> MACResult:
    """Run the MAC layer on a batch of input vectors ``x`` of shape (..., n_in)."""
    x = check_int_array("x", x)
    if x.ndim < 1 or x.shape[-1] != p.n_in:
        raise ConfigError(f"x must have shape (..., {p.n_in}), not {x.shape}")
    xr = check_width("in_bits", x, p.in_bits, signed=p.in_signed)
    acc = exact_matmul(x, p.W.T, a_max=None if xr is None else max(-xr[0], xr[1]),
                       b_max=1 << (p.w_bits - 1)) + p.b
    check_width("acc_bits", acc, p.acc_width, signed=True)
    if p.out_bits is None:
        y = acc
    else:
        y = np.minimum(np.maximum(floor_shift(acc, p.shift), 0), p.out_max)   # the ReLU clamp
    n = math.prod(x.shape[:-1])
    macs = n * p.n_in * p.n_out
    counts = Counts(inferences=n, synaptic_adds=macs, multiplications=macs, memory_reads=macs,
                    state_updates=n * p.n_out, cycles=n * p.cycles_per_inference)
    return MACResult(y=y, acc=acc, counts=counts)
