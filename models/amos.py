"""AMOS unit: at most one spike per neuron, space-multiplexed (Stöckl & Maass 2020, §1.1–1.2).

K neurons i = 1..K with integer parameters c_i, T_i, d_i and h_ij (j < i)::

    z_i = Θ(c_i·x − Σ_{j<i} h_ij·z_j − T_i)          (eq. 2, 4)
    y   = Σ_i d_i·z_i                                 (eq. 5–6, before the weight w)

Two-input form (Fig. 2): z_i = Θ(c_i·x + c'_i·x' − Σ_{j<i} h_ij·z_j − T_i).
ReLU: c_i = 1, T_i = d_i = 2^(K−i), h_ij = 2^(K−j): the digits of
clamp(x, 0, 2^K−1), like the FS neuron, but in space. Pipelined with one
stage per neuron, the unit accepts a new x every cycle; latency K cycles.

Math, sources, widths, counts and the RTL schedule: docs/cores/amos.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from .base import (Counts, Params, check_int, check_int_seq, check_width, check_int_array,
                   set_field, signed_bits, unsigned_bits, width_range)
from .errors import ConfigError
from .fs import binary_digits, popcount_sum, relu_tables

__all__ = ["AMOSParams", "AMOSResult", "amos_golden", "amos_steps", "amos_param_count", "gain_form"]

_LIM = 1 << 40
MAX_K = 40          # the largest unit of the AMOS paper's Table 3 (two-input mult, K = 40)
MAX_U_BITS = 62     # gate potentials are computed in int64


def amos_param_count(K, two_inputs=False):
    """Parameters of a trained AMOS unit: 3K + K(K−1)/2 (4K + … for two inputs)."""
    return (4 if two_inputs else 3) * K + K * (K - 1) // 2


def gain_form(g):
    """How a constant gain g is applied to an input: ``("zero",)``, ``("shift", k, negative)``
    for g = ±2^k (±1 is k = 0), or ``("mult", g)`` for a constant multiplication."""
    if g == 0:
        return ("zero",)
    if abs(g) & (abs(g) - 1) == 0:
        return ("shift", abs(g).bit_length() - 1, g < 0)
    return ("mult", g)


@dataclass(frozen=True)
class AMOSParams(Params):
    """Parameters of one AMOS unit.

    Parameters
    ----------
    K : int
        Number of threshold neurons, 1..40. Default 8.
    x_bits : int
        Width of the signed input x. Default 12.
    c, T, d : tuple of K ints, optional
        Input gains, thresholds and output weights. Omitted (unset): ReLU values.
        In effect: :attr:`c_table`, :attr:`T_table`, :attr:`d_table`.
    h : tuple of K tuples, optional
        Inhibition; row i holds h_ij for j < i (row 0 empty). Omitted: ReLU.
        In effect: :attr:`h_table`.
    c2 : tuple of K ints, optional
        Gains c'_i of a second input x' (two-input form). Omitted: one input.
    x2_bits : int
        Width of the signed second input. Default 12 (ignored without ``c2``).
    u_bits : int, optional
        Declared signed width of the gate potential u_i. Omitted: derived bound.
        In effect: :attr:`u_width`.
    """

    K: int = 8
    x_bits: int = 12
    c: tuple | None = None
    T: tuple | None = None
    d: tuple | None = None
    h: tuple | None = None
    c2: tuple | None = None
    x2_bits: int = 12
    u_bits: int | None = None

    DERIVED = {"c": "c_table", "T": "T_table", "d": "d_table", "h": "h_table", "u_bits": "u_width"}

    def __post_init__(self):
        K = check_int("K", self.K, 1, MAX_K)
        check_int("x_bits", self.x_bits, 2, 62)
        check_int("x2_bits", self.x2_bits, 2, 62)
        for name in ("c", "T", "d"):
            if getattr(self, name) is not None:
                set_field(self, name, check_int_seq(name, getattr(self, name), K, -_LIM, _LIM))
        if self.h is not None:
            if isinstance(self.h, (str, bytes)) or not hasattr(self.h, "__iter__"):
                raise ConfigError(f"h must be a list of K rows, not {self.h!r}")
            rows = list(self.h)
            if len(rows) != K:
                raise ConfigError(f"h must have {K} rows (row i holds h_ij for j < i), not {len(rows)}")
            set_field(self, "h", tuple(check_int_seq(f"h[{i}]", row, i, -_LIM, _LIM)
                                       for i, row in enumerate(rows)))
        if self.c2 is not None:
            set_field(self, "c2", check_int_seq("c2", self.c2, K, -_LIM, _LIM))
        lo, hi = self.u_interval
        need = max(2, signed_bits(lo, hi))
        if need > MAX_U_BITS:   # c·x would wrap in int64 even under a narrower declared u_bits
            raise ConfigError(f"u_bits: the gate potentials need {need} bits (range [{lo}, {hi}]), "
                              f"more than the {MAX_U_BITS} the golden model computes exactly; "
                              f"narrow x_bits, x2_bits or the gains")
        if self.u_bits is not None:
            check_int("u_bits", self.u_bits, 2, 62)

    @classmethod
    def relu(cls, K=8, x_bits=12):
        return cls(K=K, x_bits=x_bits)

    # -- values in effect of the omittable fields (read by the golden model and by hdl/amos.py) --
    @cached_property
    def c_table(self):
        """Gains c_i in effect: the declared ``c``, else 1."""
        return (1,) * int(self.K) if self.c is None else self.c

    @cached_property
    def T_table(self):
        """Thresholds T_i in effect: the declared ``T``, else 2^(K−i)."""
        return relu_tables(int(self.K)) if self.T is None else self.T

    @cached_property
    def d_table(self):
        """Output weights d_i in effect: the declared ``d``, else 2^(K−i)."""
        return relu_tables(int(self.K)) if self.d is None else self.d

    @cached_property
    def h_table(self):
        """Inhibition rows in effect: the declared ``h``, else h_ij = 2^(K−j)."""
        if self.h is not None:
            return self.h
        r = relu_tables(int(self.K))
        return tuple(tuple(r[j] for j in range(i)) for i in range(int(self.K)))

    @cached_property
    def u_width(self):
        """Signed width of the gate potentials in effect: the declared ``u_bits``, else the
        smallest width (at least 2) that :attr:`u_interval` proves sufficient."""
        return max(2, signed_bits(*self.u_interval)) if self.u_bits is None else self.u_bits

    # -- derived quantities --
    @property
    def two_inputs(self):
        return self.c2 is not None

    @property
    def is_relu(self):
        r = relu_tables(self.K)
        return (self.c_table == (1,) * self.K and self.T_table == r and self.d_table == r
                and not self.two_inputs and all(row == r[:i] for i, row in enumerate(self.h_table)))

    @property
    def shared_inhibition(self):
        """True if h_ij depends on j only: one residual carries all inhibition."""
        h = self.h_table
        return all(h[i][j] == h[j + 1][j] for i in range(self.K) for j in range(i))

    @cached_property
    def u_interval(self):
        """Bound on every gate potential u_i = c_i·x (+ c'_i·x') − Σ h_ij z_j − T_i."""
        xlo, xhi = width_range(self.x_bits, True)
        x2lo, x2hi = width_range(self.x2_bits, True)
        lo = hi = 0
        for i in range(self.K):
            a = sorted((self.c_table[i] * xlo, self.c_table[i] * xhi))
            if self.two_inputs:
                b = sorted((self.c2[i] * x2lo, self.c2[i] * x2hi))
                a = [a[0] + b[0], a[1] + b[1]]
            inh_lo = sum(min(0, -v) for v in self.h_table[i])
            inh_hi = sum(max(0, -v) for v in self.h_table[i])
            lo = min(lo, a[0] + inh_lo - self.T_table[i])
            hi = max(hi, a[1] + inh_hi - self.T_table[i])
        return lo, hi

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
        """Bit widths of the counted operations, for the energy proxy (gate potentials u)."""
        return {"add": self.u_width, "state": self.u_width, "word": 0, "mult": self.x_bits}

    @property
    def latency(self):
        """Cycles from accepting x to the spikes: one pipeline stage per neuron."""
        return self.K

    @property
    def initiation_interval(self):
        return 1

    @property
    def param_count(self):
        return amos_param_count(self.K, self.two_inputs)

    @property
    def uniform_gains(self):
        """True if every neuron has the same gains (c_i = c, c'_i = c')."""
        return len(set(self.c_table)) == 1 and (not self.two_inputs or len(set(self.c2)) == 1)

    @property
    def folded_gains(self):
        """True if the pipeline carries the gate potential itself (shared inhibition and
        uniform gains): c·x (+ c'·x') is formed once, in stage 1, and x is not carried."""
        return self.shared_inhibition and self.uniform_gains

    @property
    def gain_multiplications(self):
        """Constant multiplications per input (gains not 0, ±1 or ±2^k): one per such gain,
        or only those of neuron 1 when the gains are folded (see :attr:`folded_gains`)."""
        n = 1 if self.folded_gains else self.K
        gains = list(self.c_table[:n]) + (list(self.c2[:n]) if self.two_inputs else [])
        return sum(1 for g in gains if gain_form(g)[0] == "mult")

    @property
    def shared_h(self):
        """h_j of shared inhibition (h_ij = h_j for every i > j), j = 1..K−1."""
        return tuple(self.h_table[j + 1][j] for j in range(self.K - 1))

    @property
    def residual_start(self):
        """Value of the residual entering stage 1 before the gain terms: −T_1."""
        return -self.T_table[0]

    @property
    def residual_steps(self):
        """Shared inhibition: the residual v carried from stage i to stage i+1 is
        v_i = v_(i−1) + step_i[z_i], step_i = (T_i − T_(i+1), T_i − T_(i+1) − h_i), i = 1..K−1.

        With v_0 = −T_1 (+ c·x + c'·x' when folded) the gate potential of stage i is
        u_i = v_(i−1) (+ c_i·x + c'_i·x' when not folded): v_i = −T_(i+1) − Σ_(j≤i) h_j·z_j.
        """
        if not self.shared_inhibition:
            raise ConfigError("residual_steps: the inhibition is not shared (h_ij depends on i)")
        T, h = self.T_table, self.shared_h
        return tuple((T[i] - T[i + 1], T[i] - T[i + 1] - h[i]) for i in range(self.K - 1))

    @property
    def inhibition_fanout(self):
        """Inhibition additions caused by one spike of neuron j (j = 1..K): 1 for j < K under
        shared inhibition (one residual update), else the number of later nonzero h_ij."""
        if self.shared_inhibition:
            return tuple(1 if j < self.K - 1 else 0 for j in range(self.K))
        return tuple(sum(1 for i in range(j + 1, self.K) if self.h_table[i][j]) for j in range(self.K))


@dataclass(frozen=True)
class AMOSResult:
    """Spikes ``z`` (shape ``x.shape + (K,)``, neuron 1 first), outputs ``y``, ``counts``."""

    z: np.ndarray
    y: np.ndarray
    counts: Counts


def amos_golden(p: AMOSParams, x, x2=None) -> AMOSResult:
    """Run the AMOS unit on a batch of integer inputs (any shape).

    Equal to :func:`amos_steps` (neuron by neuron, the oracle), with every width
    check, at a cost of O(1) NumPy calls for the ReLU unit.
    """
    return amos_run(p, x, x2)


def amos_run(p: AMOSParams, x, x2=None, spikes=True) -> AMOSResult:
    """:func:`amos_golden`; with ``spikes=False`` the result's ``z`` is None."""
    x, x2, xr, x2r = _amos_inputs(p, x, x2)
    if xr is None:
        return amos_steps(p, x, x2)
    info = _amos_static(p)
    # every gate potential u_i lies in the interval of u_interval, taken over the actual inputs
    ulo, uhi = width_range(p.u_width, True)
    lo = hi = None
    for c, c2, inh_lo, inh_hi in info.gates:
        a, b = sorted((c * xr[0], c * xr[1]))
        if c2 is not None:
            a2, b2 = sorted((c2 * x2r[0], c2 * x2r[1]))
            a, b = a + a2, b + b2
        lo = a + inh_lo if lo is None else min(lo, a + inh_lo)
        hi = b + inh_hi if hi is None else max(hi, b + inh_hi)
    if lo < ulo or hi > uhi:
        return amos_steps(p, x, x2)     # the exact neuron and value of the overflow
    K, n = p.K, int(x.size)
    if info.relu:                       # the spikes are the binary digits of clamp(x, 0, 2^K − 1)
        y = np.asarray(np.minimum(np.maximum(x, 0), (1 << K) - 1))   # an array also for 0-d x
        z = binary_digits(y, K) if spikes or not info.lsb_only else None
        n_spikes = int(z.sum()) if z is not None else popcount_sum(y, K)
        if info.lsb_only:               # every neuron but the last inhibits through the residual
            inhibition_adds = n_spikes - int(np.count_nonzero(y & 1))
        else:
            inhibition_adds = int(z.reshape(-1, K).sum(axis=0, dtype=np.int64) @ info.fanout)
    else:
        z = np.zeros(x.shape + (K,), dtype=np.uint8)
        y = np.zeros(x.shape, dtype=np.int64)
        h = p.h_table
        for i in range(K):
            u = p.c_table[i] * x - p.T_table[i]
            if x2 is not None:
                u = u + p.c2[i] * x2
            for j in range(i):
                if h[i][j]:
                    u = u - h[i][j] * z[..., j].astype(np.int64)
            zi = u >= 0
            z[..., i] = zi
            y += p.d_table[i] * zi
        n_spikes = int(z.sum())
        inhibition_adds = int(z.reshape(-1, K).sum(axis=0, dtype=np.int64) @ info.fanout)
    counts = Counts(inferences=n, spikes=n_spikes, synaptic_adds=n_spikes + inhibition_adds,
                    state_updates=n * K, multiplications=n * info.gain_multiplications, memory_reads=0,
                    cycles=n * info.initiation_interval + info.latency - info.initiation_interval)
    return AMOSResult(z=z if spikes else None, y=y, counts=counts)


def _amos_inputs(p, x, x2):
    """Checked inputs and their (min, max) ranges (None for an empty x or no x2)."""
    x = check_int_array("x", x)
    xr = check_width("x_bits", x, p.x_bits, signed=True)
    x2r = None
    if p.two_inputs:
        if x2 is None:
            raise ConfigError("this AMOS unit has two inputs (c2 set): pass x2")
        x2 = check_int_array("x2", x2)
        if x2.shape != x.shape:
            raise ConfigError(f"x2 must have the shape of x {x.shape}, not {x2.shape}")
        x2r = check_width("x2_bits", x2, p.x2_bits, signed=True)
    elif x2 is not None:
        raise ConfigError("this AMOS unit has one input: x2 given but c2 is not set")
    return x, x2, xr, x2r


@dataclass(frozen=True)
class _AMOSStatic:
    relu: bool
    gates: tuple            # per neuron: c_i, c'_i (None), Σ min(0, −h_ij) − T_i, Σ max(0, −h_ij) − T_i
    fanout: np.ndarray
    lsb_only: bool          # fanout (1, …, 1, 0): shared inhibition
    gain_multiplications: int
    latency: int
    initiation_interval: int


def _amos_static(p):
    """What a run reads from the parameters besides the inputs, once per parameter set."""
    try:
        return _amos_static_cached(p)
    except TypeError:                   # unhashable field values: derive without the cache
        return _amos_static_cached.__wrapped__(p)


@lru_cache(maxsize=256)
def _amos_static_cached(p):
    h, T = p.h_table, p.T_table
    gates = tuple((p.c_table[i], p.c2[i] if p.two_inputs else None,
                   sum(min(0, -v) for v in h[i]) - T[i], sum(max(0, -v) for v in h[i]) - T[i])
                  for i in range(p.K))
    fanout = tuple(p.inhibition_fanout)
    return _AMOSStatic(relu=p.is_relu, gates=gates, fanout=np.array(fanout, dtype=np.int64),
                       lsb_only=fanout == (1,) * (p.K - 1) + (0,),
                       gain_multiplications=p.gain_multiplications, latency=p.latency,
                       initiation_interval=p.initiation_interval)


def amos_steps(p: AMOSParams, x, x2=None) -> AMOSResult:
    """Neuron-by-neuron reference of :func:`amos_golden`: eq. 2 literally, with a width
    check of every gate potential."""
    x = check_int_array("x", x)
    check_width("x_bits", x, p.x_bits, signed=True)
    if p.two_inputs:
        if x2 is None:
            raise ConfigError("this AMOS unit has two inputs (c2 set): pass x2")
        x2 = check_int_array("x2", x2)
        if x2.shape != x.shape:
            raise ConfigError(f"x2 must have the shape of x {x.shape}, not {x2.shape}")
        check_width("x2_bits", x2, p.x2_bits, signed=True)
    elif x2 is not None:
        raise ConfigError("this AMOS unit has one input: x2 given but c2 is not set")
    z = np.zeros(x.shape + (p.K,), dtype=np.uint8)
    y = np.zeros(x.shape, dtype=np.int64)
    for i in range(p.K):
        u = p.c_table[i] * x - p.T_table[i]
        if p.two_inputs:
            u = u + p.c2[i] * x2
        for j in range(i):
            if p.h_table[i][j]:
                u = u - p.h_table[i][j] * z[..., j].astype(np.int64)
        check_width("u_bits", u, p.u_width, signed=True)
        zi = u >= 0
        z[..., i] = zi
        y += p.d_table[i] * zi
    n = int(x.size)
    spikes = int(z.sum())
    # Each spike of neuron j inhibits later neurons: with shared inhibition one
    # residual subtraction serves all of them, otherwise one add per later neuron.
    inhibition_adds = sum(int(z[..., j].sum()) * f for j, f in enumerate(p.inhibition_fanout))
    counts = Counts(inferences=n, spikes=spikes, synaptic_adds=spikes + inhibition_adds,
                    state_updates=n * p.K, multiplications=n * p.gain_multiplications,
                    memory_reads=0, cycles=n * p.initiation_interval + p.latency - p.initiation_interval)
    return AMOSResult(z=z, y=y, counts=counts)
