"""TTFS integrator layer: one spike per neuron, value in the spike time
(Stanojevic 2023, ch. 2 and ch. 3, linearly mappable form eq. 3.9–3.10).

Discrete time, one tick = one activation LSB, local to the layer: input
spikes arrive at ticks 0 … B_in (B_in = 2^in_bits − 1), an input of value x
spikes at tick B_in − x. The window of this layer starts at T0 = B_in
(t_min(n) = t_max(n−1)) and has B = 2^out_bits − 1 ticks; an output spike at
tick T0 + k encodes y = B − k.

Order of events inside tick t, for every neuron i (this is the contract the
RTL implements)::

    1. slope_i += Σ W_ij over the input spikes j arriving at tick t
    2. at t = T0:  at-most-one variant: slope_i := 2^F
                   exactly-one variant: slope_i += α_i,  α_i = 2^F − Σ_j W_ij
    3. V_i += slope_i
    4. if T0 ≤ t ≤ T0 + k_max and i has not fired and V_i ≥ ϑ_i: i fires at t (once)
    5. exactly-one variant, t = T0 + B: every neuron that has not fired fires

k_max = B − 1 in the at-most-one variant (a spike at t_max would encode 0,
so inactive neurons stay silent and downstream slopes are completed at T0),
k_max = B in the exactly-one variant. Since every input has arrived by T0
the slope in the window is 2^F for every neuron (α_i = 1 − Σ_j W_ij in the
paper's units): SNN weights equal ANN weights. With ϑ_i = 2^F·(B+1) − b_i the
layer computes exactly y_i = clamp(floor((Σ_j W_ij·x_j + b_i) / 2^F), 0, B),
the floor-quantised ReLU clipped to the window.

``out_bits = None`` is the non-spiking output integrator: it stops at the end
of tick T0 and reads V_i − ϑ_i (ϑ_i = 2^F − b_i gives the logits W·x + b).

Max pooling is the earliest spike of the pool (see ``ttfs_maxpool``).

Math, sources, departures from the thesis, widths, counts and the RTL
schedule: docs/cores/ttfs.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from .base import (WeightedLayer, DEFAULT_WEIGHTS, Counts, Params, check_choice, check_int, check_int_array,
                   check_int_seq, check_weighted_layer, check_width, derived_width, exact_matmul,
                   set_field, signed_bits, unsigned_bits, weight_sums)
from .errors import ConfigError

__all__ = ["TTFSParams", "TTFSResult", "ttfs_golden", "ttfs_ticks", "ttfs_maxpool",
           "times_from_values", "VARIANTS"]

VARIANTS = ("at_most_one", "exactly_one")
NO_SPIKE = -1


@dataclass(frozen=True)
class TTFSParams(WeightedLayer, Params):
    """A layer of TTFS integrate-and-fire neurons (multiplication-free).

    Parameters
    ----------
    weights : n_out × n_in ints
        Synaptic weights W (added to the slope when a spike arrives).
        Default: :data:`~spikeforge.models.base.DEFAULT_WEIGHTS`.
    thresholds : n_out ints, optional
        ϑ_i. Omitted (unset): 2^F·(B+1) (spiking) or 2^F (output), i.e. bias 0.
        In effect: :attr:`threshold_values`.
    slope_shift : int
        F: the slope in the window is 2^F. Default 4.
    in_bits : int
        Input window B_in = 2^in_bits − 1 ticks. Default 4.
    out_bits : int or None
        Output window B = 2^out_bits − 1 ticks; None: non-spiking output integrator. Default 4.
    variant : str
        ``"at_most_one"`` (default; inactive neurons stay silent) or ``"exactly_one"``.
    w_bits : int
        Declared signed weight width. Default 8.
    slope_bits, v_bits : int, optional
        Declared signed widths of slope and potential; omitted: proven bounds.
        In effect: :attr:`slope_width`, :attr:`v_width`.
    """

    weights: tuple = DEFAULT_WEIGHTS
    thresholds: tuple | None = None
    slope_shift: int = 4
    in_bits: int = 4
    out_bits: int | None = 4
    variant: str = "at_most_one"
    w_bits: int = 8
    slope_bits: int | None = None
    v_bits: int | None = None

    DERIVED = {"thresholds": "threshold_values", "slope_bits": "slope_width", "v_bits": "v_width"}

    def __post_init__(self):
        n_out, _ = check_weighted_layer(self)
        check_int("slope_shift", self.slope_shift, 0, 30)
        check_int("in_bits", self.in_bits, 1, 16)
        if self.out_bits is not None:
            check_int("out_bits", self.out_bits, 1, 16)
        check_choice("variant", self.variant, VARIANTS)
        if self.thresholds is not None:
            set_field(self, "thresholds", check_int_seq("thresholds", self.thresholds, n_out,
                                                        -(1 << 60), 1 << 60))
        for name in ("slope_bits", "v_bits"):
            if getattr(self, name) is None:
                self.effective(name)        # derive now: a bound beyond MAX_STATE_BITS is refused here
            else:
                check_int(name, getattr(self, name), 2, 62)

    @classmethod
    def from_relu_layer(cls, weights, bias, shift, in_bits, out_bits, variant="at_most_one", w_bits=8):
        """The TTFS layer equal to clamp(floor((W·x + b) / 2^shift), 0, 2^out_bits − 1)."""
        F = check_int("shift", shift, 0, 30)
        if out_bits is not None:
            check_int("out_bits", out_bits, 1, 16)
        bias = check_int_seq("bias", bias)          # no silent truncation of 1.5 by int()
        base = (1 << F) if out_bits is None else (1 << F) * (1 << out_bits)
        th = tuple(base - b for b in bias)
        return cls(weights=weights, thresholds=th, slope_shift=F, in_bits=in_bits,
                   out_bits=out_bits, variant=variant, w_bits=w_bits)

    # -- values in effect of the omittable fields (read by the golden model and by hdl/ttfs.py) --
    @cached_property
    def threshold_values(self):
        """ϑ_i in effect: the declared ``thresholds``, else 2^F·(B+1) (spiking) or 2^F."""
        if self.thresholds is not None:
            return self.thresholds
        base = self.slope * (self.B + 1) if self.spiking else self.slope
        return (base,) * self.n_out

    @cached_property
    def slope_width(self):
        """Signed slope width in effect: the declared ``slope_bits``, else the proven bound."""
        if self.slope_bits is not None:
            return self.slope_bits
        return derived_width("slope_bits", *self.slope_interval)

    @cached_property
    def v_width(self):
        """Signed potential width in effect: the declared ``v_bits``, else the proven bound."""
        return derived_width("v_bits", *self.v_interval) if self.v_bits is None else self.v_bits

    # -- derived quantities (read by the golden model and by hdl/ttfs.py) --
    @property
    def slope(self):
        """The slope 2^F of every neuron's potential once the window has begun."""
        return 1 << self.slope_shift

    @property
    def spiking(self):
        return self.out_bits is not None

    @property
    def B_in(self):
        return (1 << self.in_bits) - 1

    @property
    def B(self):
        return (1 << self.out_bits) - 1 if self.spiking else 0

    @property
    def T0(self):
        """First tick of this layer's window, t_min(n) = t_max(n−1)."""
        return self.B_in

    @property
    def k_max(self):
        return self.B if self.variant == "exactly_one" else self.B - 1

    @property
    def last_tick(self):
        return self.T0 + self.B if self.spiking else self.T0

    @property
    def ticks(self):
        return self.last_tick + 1

    @cached_property
    def theta(self):
        return np.array(self.threshold_values, dtype=np.int64)

    @cached_property
    def alpha(self):
        """Per-neuron α_i = 2^F − Σ_j W_ij (exactly-one variant)."""
        return self.slope - self.W.sum(axis=1)

    @property
    def equivalent_bias(self):
        """The ANN bias b_i this layer realises."""
        base = self.slope * ((self.B + 1) if self.spiking else 1)
        return tuple(base - t for t in self.threshold_values)

    @cached_property
    def slope_interval(self):
        pos, neg = weight_sums(self.weights)
        f = self.slope
        lo, hi = min(0, *neg), max(f, *pos)
        if self.variant == "exactly_one":   # inputs that never arrived leave α uncancelled
            lo = min(lo, *(f - p for p in pos))
            hi = max(hi, *(f - n for n in neg))
        return lo, hi

    @cached_property
    def v_interval(self):
        pos, neg = weight_sums(self.weights)
        slo, shi = self.slope_interval
        steps = self.last_tick - self.T0 + 1
        lo = min(neg) * self.B_in + min(0, slo) * steps
        hi = max(pos) * self.B_in + max(0, shi) * steps
        return min(lo, 0), hi

    # -- interface widths and schedule of the RTL (hdl/ttfs.py) --
    @property
    def in_tick_bits(self):
        """Width of the input event's ``tick`` field (0 … T0)."""
        return unsigned_bits(self.T0)

    @property
    def out_tick_bits(self):
        """Width of the output spike's ``tick`` field (0 … last_tick)."""
        return unsigned_bits(self.last_tick)

    @cached_property
    def readout_interval(self):
        """Range of the output integrator's readout V_i − ϑ_i at the end of tick T0."""
        lo, hi = self.v_interval
        return lo - max(self.threshold_values), hi - min(self.threshold_values)

    @property
    def readout_bits(self):
        """Signed width of the readout ``value`` (non-spiking output layer)."""
        return signed_bits(*self.readout_interval)

    @property
    def fixed_out_beats(self):
        """Output beats per inference besides the spikes: the end beat (spiking layer)
        or the n_out readouts (output integrator)."""
        return 1 if self.spiking else self.n_out

    def cycle_count(self, in_spikes, out_spikes, inferences=1):
        """Clock cycles of the RTL schedule for back-to-back inferences with o.ready high.

        Per inference: one cycle per input spike event (adds W[:, j] to the
        slopes), one tick-advance cycle per tick (steps 2–5 of the event
        order), one cycle per output beat (spikes are serialised and stall
        the tick process; then the end beat, or the n_out readouts), counted
        from the first cycle the first input beat is offered to the last
        output beat, inclusive::

            cycles = inferences·(ticks + fixed_out_beats) + in_spikes + out_spikes
        """
        return inferences * (self.ticks + self.fixed_out_beats) + in_spikes + out_spikes

    @property
    def op_widths(self):
        """Bit widths of the counted operations, for the energy proxy: slope adds per
        input spike, potential updates per tick, weight reads."""
        return {"add": self.slope_width, "state": self.v_width, "word": self.w_bits, "mult": 0}

    @property
    def latency(self):
        """None: data-dependent (see :meth:`cycle_count`); no fixed latency to check."""
        return None

    @property
    def initiation_interval(self):
        """None: data-dependent (see :meth:`cycle_count`); no fixed interval to check."""
        return None

    @property
    def cycles_per_inference_min(self):
        """Cycles with no input events and no output spikes: ticks + fixed output beats."""
        return self.cycle_count(0, 0)


@dataclass(frozen=True)
class TTFSResult:
    """``t_out``: local tick of each output spike (−1: none); ``y``: decoded
    values (spiking layer) or readouts V−ϑ (output integrator); ``counts``."""

    t_out: np.ndarray
    y: np.ndarray
    counts: Counts


def times_from_values(x, bits, variant="at_most_one"):
    """Spike ticks of values ``x`` in a window of 2^bits − 1 ticks (−1: no spike).

    ``x`` must be unsigned ``bits``-wide integers (WidthError naming ``in_bits`` otherwise).
    """
    check_choice("variant", variant, VARIANTS)
    x = check_int_array("x", x)
    check_width("in_bits", x, bits, signed=False)    # 2^bits would otherwise become tick −1
    B = (1 << bits) - 1
    t = B - x
    if variant == "at_most_one":
        t = np.where(x > 0, t, NO_SPIKE)
    return t


def _check_times(p, t_in):
    t_in = check_int_array("t_in", t_in)
    if t_in.ndim < 1 or t_in.shape[-1] != p.n_in:
        raise ConfigError(f"t_in must have shape (..., {p.n_in}), not {t_in.shape}")
    if t_in.size and (np.minimum.reduce(t_in, axis=None) < NO_SPIKE
                      or np.maximum.reduce(t_in, axis=None) > p.T0):
        bad = (t_in < NO_SPIKE) | (t_in > p.T0)
        v = int(t_in[bad].flat[0])
        raise ConfigError(f"t_in: spike tick {v} outside the input window [0, {p.T0}] (−1 = no spike)")
    return t_in


def _finish(p, t_in, t_out, v_readout):
    if p.spiking:
        y = np.where(t_out >= 0, p.T0 + p.B - t_out, 0)
    else:
        y = v_readout - p.theta
    batch = math.prod(t_in.shape[:-1])
    in_spikes = int(np.count_nonzero(t_in >= 0))
    spikes = int(np.count_nonzero(t_out >= 0))
    counts = Counts(inferences=batch, spikes=spikes, synaptic_adds=in_spikes * p.n_out,
                    state_updates=batch * p.ticks * p.n_out, memory_reads=in_spikes * p.n_out,
                    cycles=p.cycle_count(in_spikes, spikes, batch))
    return TTFSResult(t_out=t_out, y=y, counts=counts)


def ttfs_ticks(p: TTFSParams, t_in) -> TTFSResult:
    """Tick-by-tick reference simulation: the event order of the module docstring, literally."""
    t_in = _check_times(p, t_in)
    shape = t_in.shape[:-1] + (p.n_out,)
    slope = np.zeros(shape, dtype=np.int64)
    V = np.zeros(shape, dtype=np.int64)
    t_out = np.full(shape, NO_SPIKE, dtype=np.int64)
    f = p.slope
    for t in range(p.last_tick + 1):
        slope += exact_matmul((t_in == t).astype(np.int64), p.W.T)
        if t == p.T0:
            if p.variant == "at_most_one":
                slope[...] = f
            else:
                slope += p.alpha
        check_width("slope_bits", slope, p.slope_width)
        V += slope
        check_width("v_bits", V, p.v_width)
        if p.spiking and p.T0 <= t <= p.T0 + p.k_max:
            fire = (t_out < 0) & (V >= p.theta)
            if p.variant == "exactly_one" and t == p.T0 + p.B:
                fire = t_out < 0
            t_out[fire] = t
    return _finish(p, t_in, t_out, V)


def ttfs_golden(p: TTFSParams, t_in) -> TTFSResult:
    """Event-form simulation, equal to :func:`ttfs_ticks` (proved by tests).

    Uses that the potential is piecewise linear between events: V at the end
    of tick T0−1 and the slope from T0 on determine the first crossing. Falls
    back to the tick model when declared widths are narrower than the proven
    bounds, so that an overflow is caught at the tick it happens.
    """
    t_in = _check_times(p, t_in)
    if p.v_width < _signed_bits(*p.v_interval) or p.slope_width < _signed_bits(*p.slope_interval):
        return ttfs_ticks(p, t_in)
    T0 = p.T0
    # V at the end of tick T0−1: Σ_j W_ij·(T0 − t_j) over the spikes before T0 (one at T0 adds 0)
    v_pre = exact_matmul(np.where(t_in >= 0, T0 - t_in, 0), p.W.T, a_max=T0, b_max=1 << (p.w_bits - 1))
    if p.variant == "at_most_one" and p.spiking:
        # slope 2^F from T0 on: the first k with 2^F·(k+1) ≥ ϑ − V is ⌈(ϑ − V)/2^F⌉ − 1
        k = np.maximum(((p.theta - v_pre + (p.slope - 1)) >> p.slope_shift) - 1, 0)
        return _finish(p, t_in, np.where(k <= p.k_max, T0 + k, NO_SPIKE), None)
    if p.variant == "at_most_one":
        slope = np.full(v_pre.shape, p.slope, dtype=np.int64)
    else:
        slope = exact_matmul(((t_in >= 0) & (t_in <= T0)).astype(np.int64), p.W.T) + p.alpha
    if not p.spiking:
        return _finish(p, t_in, np.full(v_pre.shape, NO_SPIKE, dtype=np.int64), v_pre + slope)
    need = p.theta - v_pre                                    # fire at first k with slope·(k+1) ≥ need
    pos = slope > 0
    k = np.where(pos, np.maximum(0, -(-need // np.where(pos, slope, 1)) - 1),
                 np.where(slope >= need, 0, p.k_max + 1))
    t_out = np.where(k <= p.k_max, T0 + k, NO_SPIKE)
    if p.variant == "exactly_one":
        t_out = np.where(t_out < 0, T0 + p.B, t_out)
    return _finish(p, t_in, t_out, None)


_signed_bits = lru_cache(maxsize=256)(signed_bits)


def ttfs_maxpool(t, groups):
    """Max pooling in TTFS: the earliest spike of each group (−1 = no spike).

    ``t``: spike ticks (..., n); ``groups``: (n_pooled, pool) index array.
    """
    t = np.asarray(t, dtype=np.int64)
    big = np.iinfo(np.int64).max
    g = np.where(t >= 0, t, big)[..., groups]
    m = g.min(axis=-1)
    return np.where(m == big, NO_SPIKE, m)
