"""FS neuron: few spikes, time-multiplexed (Stöckl & Maass 2021, §1.1, §1.2.2).

Integer form (see docs/cores/fs.md; paper eqs. 1–3)::

    v(1) = x
    for t = 1..K:   z(t) = Θ(v(t) − T(t));   v(t+1) = v(t) − h(t)·z(t)
    y = Σ_t d(t)·z(t)

with Θ(u) = 1 if u ≥ 0 else 0. The ReLU constructor sets T(t) = h(t) = d(t) =
2^(K−t): the spikes are then the binary digits of clamp(x, 0, 2^K−1), MSB
first, and y is that clamp. A downstream synapse adds w·d(t) per spike; for
the ReLU tables that is w << (K−t), or MSB-first by Horner's rule
acc ← 2·acc + Σ w·z(t).

Math, sources, widths, counts and the RTL schedule: docs/cores/fs.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .base import (Counts, Params, check_int, check_int_seq, check_width, check_int_array,
                   set_field, signed_bits, unsigned_bits, width_range)

__all__ = ["FSParams", "FSResult", "fs_golden", "fs_steps", "relu_tables"]

MAX_K = 32


def relu_tables(K):
    """The bit-shift ReLU table 2^(K−t), t = 1..K (T, h and d alike)."""
    return tuple(1 << (K - t) for t in range(1, K + 1))


@dataclass(frozen=True)
class FSParams(Params):
    """Parameters of one FS neuron.

    Parameters
    ----------
    K : int
        Number of time steps (spikes at most), 1..32. Default 8.
    x_bits : int
        Width of the signed input x. Default 12.
    T, h, d : tuple of K ints, optional
        Threshold, reset and output tables. Omitted (``None``, unset) means the
        bit-shift ReLU tables 2^(K−t). In effect: :attr:`T_table`,
        :attr:`h_table`, :attr:`d_table`.
    v_bits : int, optional
        Declared signed width of the residual v. Omitted means the smallest
        width that interval analysis of the tables proves sufficient. In
        effect: :attr:`v_width`.

    Raises
    ------
    ConfigError
        On a bad K, width or table, naming the field.
    """

    K: int = 8
    x_bits: int = 12
    T: tuple | None = None
    h: tuple | None = None
    d: tuple | None = None
    v_bits: int | None = None

    DERIVED = {"T": "T_table", "h": "h_table", "d": "d_table", "v_bits": "v_width"}

    def __post_init__(self):
        K = check_int("K", self.K, 1, MAX_K)
        check_int("x_bits", self.x_bits, 2, 62)
        for name in ("T", "h", "d"):
            table = getattr(self, name)
            if table is not None:
                set_field(self, name, check_int_seq(name, table, K, -(1 << 40), 1 << 40))
        if self.v_bits is not None:
            check_int("v_bits", self.v_bits, 2, 62)

    @classmethod
    def relu(cls, K=8, x_bits=12):
        """The bit-shift ReLU neuron: T = h = d = 2^(K−t)."""
        return cls(K=K, x_bits=x_bits)

    # -- values in effect of the omittable fields (read by the golden model and by hdl/fs.py) --
    @cached_property
    def T_table(self):
        """Thresholds T(t) in effect: the declared ``T``, else 2^(K−t)."""
        return relu_tables(int(self.K)) if self.T is None else self.T

    @cached_property
    def h_table(self):
        """Resets h(t) in effect: the declared ``h``, else 2^(K−t)."""
        return relu_tables(int(self.K)) if self.h is None else self.h

    @cached_property
    def d_table(self):
        """Outputs d(t) in effect: the declared ``d``, else 2^(K−t)."""
        return relu_tables(int(self.K)) if self.d is None else self.d

    @cached_property
    def v_width(self):
        """Signed width of v in effect: the declared ``v_bits``, else the smallest width
        that :attr:`v_interval` proves sufficient."""
        return signed_bits(*self.v_interval) if self.v_bits is None else self.v_bits

    # -- derived quantities (read by the golden model and by hdl/fs.py) --
    @property
    def is_relu(self):
        r = relu_tables(self.K)
        return self.T_table == r and self.h_table == r and self.d_table == r

    @cached_property
    def v_interval(self):
        """Range of v over all steps and inputs, by interval propagation (sound; may
        exceed the reachable range by a little, as each step keeps only the hull)."""
        lo, hi = width_range(self.x_bits, True)
        vmin, vmax = lo, hi
        for T, h in zip(self.T_table, self.h_table):
            parts = []
            if lo < T:                      # z = 0 possible
                parts.append((lo, min(hi, T - 1)))
            if hi >= T:                     # z = 1 possible
                parts.append((max(lo, T) - h, hi - h))
            lo = min(p[0] for p in parts)
            hi = max(p[1] for p in parts)
            vmin, vmax = min(vmin, lo), max(vmax, hi)
        return vmin, vmax

    @property
    def y_interval(self):
        return sum(min(v, 0) for v in self.d_table), sum(max(v, 0) for v in self.d_table)

    @property
    def y_signed(self):
        return self.y_interval[0] < 0

    @property
    def y_bits(self):
        lo, hi = self.y_interval
        return signed_bits(lo, hi) if lo < 0 else unsigned_bits(hi)

    @property
    def op_widths(self):
        """Bit widths of the counted operations, for the energy proxy: decode adds (y),
        residual updates (v), table reads (0: the ReLU form reads no table)."""
        word = 0 if self.is_relu else max(signed_bits(min(t), max(t))
                                          for t in (self.T_table, self.h_table, self.d_table))
        return {"add": self.y_bits, "state": self.v_width, "word": word, "mult": 0}

    @property
    def latency(self):
        """Cycles from accepting x to the last spike (one step per cycle)."""
        return self.K

    @property
    def initiation_interval(self):
        """Cycles between accepted inputs: a new x every K cycles."""
        return self.K

    @property
    def param_count(self):
        return 3 * self.K


@dataclass(frozen=True)
class FSResult:
    """Golden-model output: spikes ``z`` (shape ``x.shape + (K,)``, MSB first),
    decoded outputs ``y`` and operation ``counts``."""

    z: np.ndarray
    y: np.ndarray
    counts: Counts


def fs_golden(p: FSParams, x) -> FSResult:
    """Run the FS neuron on a batch of integer inputs (any shape).

    Equal to :func:`fs_steps` (the integer form step by step, the oracle), with
    every width check, at a cost of O(1) NumPy calls for the ReLU tables.
    """
    return fs_run(p, x)


def fs_run(p: FSParams, x, spikes=True) -> FSResult:
    """:func:`fs_golden`; with ``spikes=False`` the result's ``z`` is None (saves the
    spike array where only the decoded values and counts are needed)."""
    x = check_int_array("x", x)
    xr = check_width("x_bits", x, p.x_bits, signed=True)
    if xr is None:
        return fs_steps(p, x)
    K, relu = p.K, p.is_relu
    if relu:
        # v falls from x to x − clamp(x, 0, 2^K − 1), and x − clamp(x) is monotone in x:
        # the extremes of v over all steps are max x and min x − clamp(min x), exactly
        top = (1 << K) - 1
        lo, hi = xr[0] - min(max(xr[0], 0), top), xr[1]
    else:
        lo, hi = _v_range(p.T_table, p.h_table, *xr)      # a sound bound
    vlo, vhi = width_range(p.v_width, True)
    if lo < vlo or hi > vhi:
        return fs_steps(p, x)           # the exact step and value of the overflow
    if relu:                            # the spikes are the binary digits of clamp(x)
        y = np.asarray(np.minimum(np.maximum(x, 0), top))     # an array also for 0-d x
        z = binary_digits(y, K) if spikes else None
        n_spikes = int(z.sum()) if spikes else popcount_sum(y, K)
    else:
        v, z = x, np.zeros(x.shape + (K,), dtype=np.uint8)
        y = np.zeros(x.shape, dtype=np.int64)
        for t in range(K):
            zt = v >= p.T_table[t]
            z[..., t] = zt
            v = v - p.h_table[t] * zt
            y += p.d_table[t] * zt
        n_spikes = int(z.sum())
        z = z if spikes else None
    n = int(x.size)
    counts = Counts(inferences=n, spikes=n_spikes, synaptic_adds=n_spikes,
                    state_updates=n * K, memory_reads=0 if relu else 3 * K * n,
                    cycles=n * p.initiation_interval)
    return FSResult(z=z, y=y, counts=counts)


def fs_steps(p: FSParams, x) -> FSResult:
    """Step-by-step reference of :func:`fs_golden`: the integer form of the module
    docstring, literally, with a width check after every step."""
    x = check_int_array("x", x)
    check_width("x_bits", x, p.x_bits, signed=True)
    v = x.copy()
    check_width("v_bits", v, p.v_width, signed=True)     # v(1) = x is held in v as well
    z = np.zeros(x.shape + (p.K,), dtype=np.uint8)
    y = np.zeros(x.shape, dtype=np.int64)
    for t in range(p.K):
        zt = v >= p.T_table[t]
        z[..., t] = zt
        v = v - p.h_table[t] * zt
        check_width("v_bits", v, p.v_width, signed=True)
        y += p.d_table[t] * zt
    n = int(x.size)
    spikes = int(z.sum())
    counts = Counts(inferences=n, spikes=spikes, synaptic_adds=spikes,
                    state_updates=n * p.K, memory_reads=0 if p.is_relu else 3 * p.K * n,
                    cycles=n * p.initiation_interval)
    return FSResult(z=z, y=y, counts=counts)


def _v_range(T, h, lo, hi):
    """Interval of v over all steps for inputs in [lo, hi] (the propagation of
    :attr:`FSParams.v_interval`, from the actual input range)."""
    vmin, vmax = lo, hi
    for Tt, ht in zip(T, h):
        parts = []
        if lo < Tt:
            parts.append((lo, min(hi, Tt - 1)))
        if hi >= Tt:
            parts.append((max(lo, Tt) - ht, hi - ht))
        lo = min(q[0] for q in parts)
        hi = max(q[1] for q in parts)
        vmin, vmax = min(vmin, lo), max(vmax, hi)
    return vmin, vmax


def binary_digits(y, K):
    """The K binary digits of non-negative ints y < 2^K, MSB first: uint8 (y.shape + (K,))."""
    nb = 1 if K <= 8 else 2 if K <= 16 else 4
    b = np.asarray(y).reshape(-1).astype(f">u{nb}").view(np.uint8).reshape(np.shape(y) + (nb,))
    z = np.unpackbits(b, axis=-1)
    return z if K == 8 * nb else np.ascontiguousarray(z[..., 8 * nb - K:])


def popcount_sum(y, K):
    """Σ over all elements of the number of one bits of non-negative ints y < 2^K."""
    if hasattr(np, "bitwise_count"):                        # NumPy ≥ 2.0
        return int(np.bitwise_count(y).sum())
    return int(binary_digits(y, K).sum())
