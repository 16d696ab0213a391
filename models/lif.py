"""Shift-and-add LIF layer (Stanojevic 2023, §A.2, eqs. A.11–A.19), multiplication-free.

For neuron i at time step t = 1..T (s_0 = 0, χ_0 = 0)::

    s_t,i = b_i + Σ_{j: χ^in_t,j = 1} W_ij + (1 − χ_{t−1,i})·Σ_{ι∈I} (s_{t−1,i} >> ι)
    χ_t,i = Θ(s_t,i − β)

The leak v is approximated by Σ_{ι∈I} 2^−ι; every shift floors (arithmetic
right shift), so the integer leak of a negative state is slightly stronger in
magnitude than v·s. Reset to zero after a spike (the (1 − χ) factor).
Default I = (1, 2, 5, 6): v = 0.796875 ≈ 0.8. ``spiking = False`` makes a
non-spiking integrator (membrane readout).

Readouts (output layer): spike count, final membrane s_T, or the van Rossum
distance of eq. A.18–A.19 with a shift-and-add filter (:func:`van_rossum_classify`).

Circuit (``hdl/lif.py``): all n_out neurons in parallel, one input event per
cycle (the spikes of a step, then an end-of-step beat); the golden
``Counts.cycles`` is the circuit's schedule, :meth:`LIFParams.cycles`.

Math, sources, widths, counts and the RTL schedule: docs/cores/lif.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from .base import (WeightedLayer, DEFAULT_WEIGHTS, Counts, Params, check_int, check_int_array, check_int_seq,
                   check_weighted_layer, check_width, derived_width, exact_matmul,
                   set_field, signed_bits, weight_sums, width_range)
from .errors import ConfigError, WidthError

__all__ = ["LIFParams", "LIFResult", "lif_golden", "lif_steps", "leak_factor", "check_leak_shifts",
           "van_rossum_trace", "van_rossum_classify", "DEFAULT_LEAK_SHIFTS"]

DEFAULT_LEAK_SHIFTS = (1, 2, 5, 6)


def check_leak_shifts(name, shifts):
    shifts = check_int_seq(name, shifts, None, 1, 62)
    if len(set(shifts)) != len(shifts):
        raise ConfigError(f"{name} must be distinct shifts; got {shifts}")
    return tuple(sorted(shifts))


def leak_factor(shifts):
    """The leak v = Σ 2^−ι realised by a shift set (exact as a float for ι ≤ 52)."""
    return sum(2.0 ** -s for s in shifts)


def _leak(s, shifts):
    out = np.zeros_like(s)
    for i in shifts:
        out += s >> i
    return out


@dataclass(frozen=True)
class LIFParams(WeightedLayer, Params):
    """A layer of shift-and-add LIF neurons.

    Parameters
    ----------
    weights : n_out × n_in ints
        Synaptic weights (added per input spike). Default DEFAULT_WEIGHTS.
    bias : n_out ints, optional
        Constant input current per step (omitted: 0). In effect: :attr:`bias_values`.
    threshold : int
        β ≥ 1. Default 16.
    leak_shifts : tuple of distinct ints ≥ 1
        The set I; v = Σ 2^−ι. Default (1, 2, 5, 6): v = 0.796875.
    time_steps : int
        T ≥ 1. Default 16.
    spiking : bool
        False: non-spiking integrator (membrane readout). Default True.
    w_bits : int
        Declared signed weight width. Default 8.
    v_bits : int, optional
        Declared signed state width; omitted: proven bound over T steps.
        In effect: :attr:`v_width`.
    """

    weights: tuple = DEFAULT_WEIGHTS
    bias: tuple | None = None
    threshold: int = 16
    leak_shifts: tuple = DEFAULT_LEAK_SHIFTS
    time_steps: int = 16
    spiking: bool = True
    w_bits: int = 8
    v_bits: int | None = None

    DERIVED = {"bias": "bias_values", "v_bits": "v_width"}

    def __post_init__(self):
        check_weighted_layer(self)
        check_int("threshold", self.threshold, 1, 1 << 40)
        set_field(self, "leak_shifts", check_leak_shifts("leak_shifts", self.leak_shifts))
        check_int("time_steps", self.time_steps, 1, 1 << 16)
        if not isinstance(self.spiking, bool):
            raise ConfigError(f"spiking must be true or false, not {self.spiking!r}")
        if self.v_bits is None:
            self.effective("v_bits")        # derive now: a bound beyond MAX_STATE_BITS is refused here
        else:
            check_int("v_bits", self.v_bits, 2, 62)

    @cached_property
    def v_width(self):
        """Signed state width in effect: the declared ``v_bits``, else the proven bound."""
        return derived_width("v_bits", *self.v_interval) if self.v_bits is None else self.v_bits

    @property
    def leak(self):
        return leak_factor(self.leak_shifts)

    @cached_property
    def current_interval(self):
        """Range of one step's input current b_i + Σ_{j spiking} W_ij over every neuron and
        every set of input spikes (it also bounds every partial sum taken in index order)."""
        pos, neg = weight_sums(self.weights)
        return (min(n + b for n, b in zip(neg, self.bias_values)),
                max(p + b for p, b in zip(pos, self.bias_values)))

    @property
    def op_widths(self):
        """Bit widths of the counted operations, for the energy proxy."""
        return {"add": self.v_width, "state": self.v_width, "word": self.w_bits, "mult": 0}

    @cached_property
    def v_interval(self):
        """Bound on s over T steps by iterating the worst case of the update."""
        pos, neg = weight_sums(self.weights)
        i_hi = max(p + max(b, 0) for p, b in zip(pos, self.bias_values))
        i_lo = min(n + min(b, 0) for n, b in zip(neg, self.bias_values))
        lo = hi = 0
        for _ in range(self.time_steps):
            # a spiking neuron carries at most β − 1 into the leak; a non-spiking one anything
            carry_hi = min(hi, self.threshold - 1) if self.spiking else hi
            new_lo = min(lo, i_lo + sum(lo >> s for s in self.leak_shifts))
            new_hi = max(hi, i_hi + sum(max(carry_hi, 0) >> s for s in self.leak_shifts))
            if (new_lo, new_hi) == (lo, hi):
                break
            lo, hi = new_lo, new_hi
        return min(lo, i_lo), max(hi, i_hi, self.threshold)

    # -- derived quantities of the circuit (read by hdl/lif.py and by the golden model) --
    @property
    def acc_bits(self):
        """Signed width of the per-step current accumulator (holds :attr:`current_interval`)."""
        return signed_bits(*self.current_interval)

    def out_beats(self, spikes_out, inferences=1):
        """Output beats: spiking, one per spike plus one end-of-step beat per step;
        non-spiking, n_out membrane beats per inference."""
        if self.spiking:
            return spikes_out + inferences * self.time_steps
        return inferences * self.n_out

    def cycles(self, spikes_in, spikes_out, inferences=1):
        """Cycles from the first accepted input beat to the last output beat, back to back.

        The layer takes one input beat per cycle (spikes_in + T per inference) and
        presents one output beat per cycle; input waits while a step's spikes (or the
        final membranes) are presented, except on the last beat of each output group,
        where the next input beat is taken in the same cycle. Hence
        in_beats + out_beats − groups, groups = T per inference if spiking, else 1::

            spiking:      spikes_in + spikes_out + T·inferences
            non-spiking:  spikes_in + (T + n_out − 1)·inferences
        """
        groups = self.time_steps if self.spiking else 1
        in_beats = spikes_in + inferences * self.time_steps
        return in_beats + self.out_beats(spikes_out, inferences) - inferences * groups


@dataclass(frozen=True)
class LIFResult:
    """``spikes`` (..., T, n_out) uint8, ``v`` final state s_T (..., n_out), ``counts``."""

    spikes: np.ndarray
    v: np.ndarray
    counts: Counts


def lif_golden(p: LIFParams, spikes_in) -> LIFResult:
    """Run the layer on input spikes (..., T, n_in) of 0/1.

    Equal to :func:`lif_steps` (the update step by step, the oracle), with every
    width check: the currents of all steps are one product and the state update
    is a table lookup per step (:func:`lif_run`).
    """
    s_in = _check_spikes(p, spikes_in)
    batch = s_in.shape[:-2]
    n = int(np.prod(batch))
    s_t = s_in.reshape(n, p.time_steps, p.n_in).transpose(1, 0, 2)
    r = lif_run(p, s_t, int(s_in.sum()), reference=lambda: lif_steps(p, s_in))
    if r.result is not None:
        return r.result
    spikes = np.ascontiguousarray(r.spikes().transpose(1, 0, 2)).view(np.uint8)
    return LIFResult(spikes=spikes.reshape(batch + (p.time_steps, p.n_out)),
                     v=r.v.reshape(batch + (p.n_out,)), counts=r.counts)


def _check_spikes(p, spikes_in):
    s_in = check_int_array("spikes_in", spikes_in)
    if s_in.ndim < 2 or s_in.shape[-2:] != (p.time_steps, p.n_in):
        raise ConfigError(f"spikes_in must have shape (..., {p.time_steps}, {p.n_in}), not {s_in.shape}")
    if s_in.size and (np.minimum.reduce(s_in, axis=None) < 0 or np.maximum.reduce(s_in, axis=None) > 1):
        raise ConfigError("spikes_in must hold only 0 and 1")
    return s_in


def lif_steps(p: LIFParams, spikes_in) -> LIFResult:
    """Step-by-step reference of :func:`lif_golden`: the update of the module
    docstring, literally, with a width check after every step."""
    s_in = _check_spikes(p, spikes_in)
    shape = s_in.shape[:-2] + (p.n_out,)
    current = exact_matmul(s_in, p.W.T) + p.b               # (..., T, n_out)
    s = np.zeros(shape, dtype=np.int64)
    chi = np.zeros(shape, dtype=bool)
    out = np.zeros(s_in.shape[:-2] + (p.time_steps, p.n_out), dtype=np.uint8)
    for t in range(p.time_steps):
        s = current[..., t, :] + np.where(chi, 0, _leak(s, p.leak_shifts))
        check_width("v_bits", s, p.v_width)
        if p.spiking:
            chi = s >= p.threshold
            out[..., t, :] = chi
    n = int(np.prod(s_in.shape[:-2]))
    in_spikes = int(s_in.sum())
    counts = Counts(inferences=n, spikes=int(out.sum()), synaptic_adds=in_spikes * p.n_out,
                    state_updates=n * p.time_steps * p.n_out * (len(p.leak_shifts) + 1),
                    memory_reads=in_spikes * p.n_out,
                    cycles=p.cycles(in_spikes, int(out.sum()), n))
    return LIFResult(spikes=out, v=s, counts=counts)


# ------------------------------------------------------------ time-major runs

class RateRun:
    """A rate-coded layer run in time-major layout (the network engine's format).

    ``v`` (N, n_out) int64 final states, ``counts``; :meth:`spikes` (T, N, n_out)
    bool and :meth:`totals` (N, n_out) spikes per neuron, each made on first use
    (``spikes`` may be given as an array or as a function making it). ``result``:
    the reference's own result where the fast path did not apply.
    """

    def __init__(self, v, counts, spikes=None, totals=None, result=None):
        self.v, self.counts, self.result = v, counts, result
        self._spikes, self._totals = spikes, totals

    def spikes(self):
        if callable(self._spikes):
            self._spikes = self._spikes()
        return self._spikes

    def totals(self):
        if self._totals is None:
            self._totals = spike_totals(self.spikes())
        return self._totals

    @classmethod
    def of_result(cls, r, n, time_steps):
        """From a batch-major result (``spikes`` (..., T, n_out), ``v``, ``counts``)."""
        n_out = r.spikes.shape[-1]
        spikes = r.spikes.reshape(n, time_steps, n_out).transpose(1, 0, 2)
        return cls(r.v.reshape(n, n_out), r.counts, np.ascontiguousarray(spikes).view(bool), result=r)


#: Largest state table (entries) of :func:`stepped_states`; wider states use the reference.
TABLE_MAX = 1 << 22


def spike_totals(spikes):
    """Spikes per neuron (N, n) int64 of a time-major 0/1 train (T, N, n)."""
    a = spikes.view(np.uint8) if spikes.dtype == bool else spikes
    return np.add.reduce(a, axis=0, dtype=np.int16 if len(a) < 1 << 15 else np.int32).astype(np.int64)


def stepped_states(p, s_t, table, lo, hi):
    """States of s_t = C_t + f(s_(t−1)), s_0 = 0, t = 1..T, with the currents
    C_t = W·spikes_t + b of a weighted layer ``p`` on time-major spikes ``s_t`` (T, N, n_in).

    The currents of all steps are one product; each step is one lookup in
    ``table(dtype)`` (entry k = f(lo + k), k = 0..hi − lo, |f(s)| ≤ max(−lo, hi);
    the domain holds 0 and f(0) = 0) and one addition, in the narrowest integer
    type no sum can overflow. Returns ``(U, smin, smax)``: U = s − lo (T, N, n_out) and the
    extremes of s; or None if a state left the domain (the lookups after it would
    be wrong: the caller falls back to its reference).
    """
    T, n = s_t.shape[0], s_t.shape[1]
    Wt, off, cmax = _layer_consts(p, lo)
    tmax = max(-lo, hi)
    if cmax < 1 << 24:                  # float32 holds every partial sum of W·s exactly
        dtype = np.int16 if cmax + tmax < 1 << 15 else np.int32
        Cp = (s_t.reshape(T * n, p.n_in).astype(np.float32) @ Wt).astype(dtype).reshape(T, n, p.n_out)
        Cp += off[dtype]
    else:
        C = exact_matmul(s_t, p.W.T, a_max=1) + off[np.int64]
        cmax = max(-int(np.minimum.reduce(C, axis=None)), int(np.maximum.reduce(C, axis=None)))
        Cp = C.astype(np.int32 if cmax + tmax < 1 << 31 else np.int64)
    # in place: U_1 = C_1 − lo (f(0) = 0), U_t = (C_t − lo) + table[U_(t−1)]
    take, add, f = table(Cp.dtype).take, np.add, np.empty(Cp.shape[1:], dtype=Cp.dtype)
    rows = list(Cp)
    for prev, row in zip(rows, rows[1:]):
        take(prev, out=f, mode="clip")  # a state outside the domain is caught below
        add(row, f, out=row)
    umin, umax = int(np.minimum.reduce(Cp, axis=None)), int(np.maximum.reduce(Cp, axis=None))
    if umin < 0 or umax > hi - lo:
        return None
    return Cp, umin + lo, umax + lo


def _layer_consts(p, lo):
    """W.T as float32, b − lo by integer type, and the bound on |W·s + b − lo| of the
    weighted layer ``p`` for spikes s; derived once and kept on ``p`` (as a cached
    property would be)."""
    consts = p.__dict__.get("_golden_consts")
    if consts is None or consts[0] != lo:
        off = p.b - lo
        off_max = int(np.abs(off).max(initial=0))
        offs = {t: off.astype(t) for t in (np.int16, np.int32, np.int64) if off_max <= np.iinfo(t).max}
        cmax = p.n_in * (1 << (p.w_bits - 1)) + off_max
        consts = lo, np.ascontiguousarray(p.W.T, dtype=np.float32), offs, cmax
        p.__dict__["_golden_consts"] = consts
    return consts[1:]


@lru_cache(maxsize=64)
def _lif_table(shifts, threshold, lo, hi, dtype):
    """f(s) = 0 if s ≥ threshold (reset; None: never) else Σ_ι (s >> ι), s in [lo, hi]."""
    s = np.arange(lo, hi + 1, dtype=np.int64)
    f = _leak(s, shifts)
    if threshold is not None:
        f[s >= threshold] = 0
    f = f.astype(dtype)
    f.setflags(write=False)
    return f


#: Product operands (rows × (n_in + n_out)) per block of :func:`_table_run`: blocks this
#: size keep the operands near the core and cost few calls per step.
BLOCK_ELEMS = 200_000
#: Batch from which :func:`_table_run` takes two time steps per product row (below it the
#: extra calls cost more than the halved product saves).
PAIR_MIN_BATCH = 64
#: States per step up to which a run holds them as intp (no index conversion per lookup).
SMALL_STATES = 4096
#: States per step from which int16 states leak by shifts and adds instead of a table
#: lookup (on long rows a few vectorised passes beat the gather).
ARITH_STATES = 16384


class _LIFPlan:
    """What a table run of a :class:`LIFParams` needs that depends only on the parameters:
    the state domain [lo, hi] (0 included), the states accepted without the reference
    (U = s − lo in [ufloor, ulim]: in the domain and within ``v_bits``), W.T and b − lo
    as float32, whether float32 holds every partial sum of W·s + b − lo exactly, the
    narrowest state type no U_(t−1) lookup plus current can overflow, and per state type
    the state table and whether one maximum of the unsigned view checks [0, ulim].

    With shifts ι ≤ 8, lo is rounded down to a multiple of 2^max ι (the domain grows by
    less than 2^8), so that (U + lo) >> ι = (U >> ι) + (lo >> ι) for every U ≥ 0: the
    leak of int16 states is then exact by shifts of U (:func:`_leak_step`)."""

    def __init__(self, p):
        lo, hi = p.v_interval
        lo, hi = min(lo, 0), max(hi, 0)
        smax = max(p.leak_shifts, default=0)
        if smax <= 8:
            lo -= lo % (1 << smax)
        self.lo, self.hi = lo, hi
        vlo, vhi = width_range(p.v_width, True)
        self.ufloor, self.ulim = max(lo, vlo) - lo, min(hi, vhi) - lo
        off = p.b - lo
        cmax = p.n_in * (1 << (p.w_bits - 1)) + int(np.abs(off).max(initial=0))
        self.exact32 = cmax < 1 << 24
        self.umax = cmax + max(-lo, hi)         # bound on |C_t − lo + f(s)|
        self.dtype = np.int16 if self.umax < 1 << 15 else np.int32 if self.umax < 1 << 31 else np.int64
        self.Wt = np.ascontiguousarray(p.W.T, dtype=np.float32)
        self.off = off.astype(np.float32)       # exact where exact32 (|b − lo| ≤ cmax)
        # two steps per product row: W·(s_t + 2^k·s_(t+1)) = (W·s_t) + 2^k·(W·s_(t+1)), both
        # in [neg, neg + a], a = Σ|W_i·| < 2^k; exact in float32 if a·(2^k + 1) < 2^24
        a = int(np.abs(p.W).sum(axis=1).max(initial=0))
        k = max(1, a.bit_length())
        self.pair_bits = k if a * ((1 << k) + 1) < 1 << 24 else 0
        neg = np.minimum(p.W, 0).sum(axis=1)
        self.pair_off = (-((1 << k) + 1) * neg).astype(np.float32)   # both fields ≥ 0
        self.pair_c = neg + p.b - lo            # field + pair_c = W·s + b − lo, in [0, cmax]
        self.spiking, self.th = p.spiking, (p.threshold if p.spiking else None)
        self.spike_at = p.threshold - lo
        self.shifts, self.n_out = p.leak_shifts, p.n_out
        self.arith = self.dtype is np.int16 and smax <= 8
        self.leak_lo = sum(lo >> i for i in p.leak_shifts)      # Σ (lo >> ι)
        # int16 states (U ≤ umax < 2^15) reset where U − spike_at ≥ 0; none reaches 2^15
        self.reset_at = self.spike_at if p.spiking and self.spike_at < 1 << 15 else None
        self.updates = p.time_steps * p.n_out * (len(p.leak_shifts) + 1)   # per inference
        self._unsigned = {}

    def table(self, dtype):
        """``(table, unsigned)`` for states of ``dtype``: f over the domain (shared through
        :func:`_lif_table`'s cache, never kept on the parameters), and the unsigned type of
        that width if every state U outside [0, ulim] shows in its view as a value above ulim
        (one maximum then checks the range), else None."""
        unsigned = self._unsigned.get(dtype, False)
        if unsigned is False:
            bits = 8 * np.dtype(dtype).itemsize
            one_pass = self.ufloor == 0 and (1 << bits) - self.umax > self.ulim
            unsigned = self._unsigned[dtype] = np.dtype(f"u{bits // 8}") if one_pass else None
        return _lif_table(self.shifts, self.th, self.lo, self.hi, dtype), unsigned


def _plan(p):
    """The :class:`_LIFPlan` of ``p``, made once and kept on ``p`` (as a cached property would be)."""
    plan = p.__dict__.get("_lif_plan")
    if plan is None:
        plan = p.__dict__["_lif_plan"] = _LIFPlan(p)
    return plan


def _table_run(plan, s_t):
    """States U_t = C_t − lo + f(s_(t−1)) of a layer on time-major spikes ``s_t`` (T, N, n_in),
    C_t = W·spikes_t + b, in blocks of time steps (about :data:`BLOCK_ELEMS` operands each).

    Per block: the currents by one float32 product (exact: ``plan.exact32``), of two steps
    per row where ``plan.pair_bits`` allows (the fields then split by a mask and a shift);
    then per step one table lookup and one addition; the block's states are checked
    against [ufloor, ulim] and compared with the threshold while in cache. Returns
    ``(spikes, v, out_spikes)`` (``spikes`` (T, N, n_out) bool, or a function making
    them for a non-spiking layer), or None if a state left the accepted range (the
    caller asks the reference).
    """
    T, n, n_in = s_t.shape
    n_out = plan.n_out
    dtype = np.intp if n * n_out <= SMALL_STATES else plan.dtype
    kb = plan.pair_bits if T > 1 and n >= PAIR_MIN_BATCH else 0
    per_row = 2 if kb else 1                    # steps per product row
    tau = max(1, min(T, BLOCK_ELEMS // (n * (n_in + n_out)))) * per_row
    if dtype is np.intp and not kb and tau >= T:
        return _small_run(plan, s_t)
    tau = min(tau, T + (T & 1) if kb else T)
    table, unsigned = plan.table(dtype)
    take, add = table.take, np.add
    g_max = -(-tau // per_row)
    F = np.empty((g_max, n, n_in), dtype=np.float32)
    M = np.empty((g_max * n, n_out), dtype=np.float32)
    U = np.empty((tau, n, n_out), dtype=dtype)
    f = np.empty((n, n_out), dtype=dtype)
    arith = plan.arith and dtype is plan.dtype and n * n_out >= ARITH_STATES
    if arith:
        scratch = np.empty((n, n_out), dtype=dtype)
    if kb:
        P = np.empty((g_max, n, n_out), dtype=np.int32)
        scale, mask, c = np.float32(1 << kb), (1 << kb) - 1, plan.pair_c.astype(dtype)
        off = plan.pair_off
    else:
        off = plan.off
    spikes = np.empty((T, n, n_out), dtype=bool) if plan.spiking else None
    Wt, lim, floor_ = plan.Wt, plan.ulim, plan.ufloor
    out_spikes = 0
    for t0 in range(0, T, tau):
        k = min(tau, T - t0)
        g = -(-k // per_row)
        Fg, Mg, Uk = F[:g], M[:g * n], U[:k]
        if kb:
            h = k // 2                          # rows holding two steps; with k odd, one more
            np.multiply(s_t[t0 + 1:t0 + k:2], scale, out=Fg[:h], casting="unsafe")
            np.add(Fg[:h], s_t[t0:t0 + 2 * h:2], out=Fg[:h], casting="unsafe")
            if g > h:
                np.copyto(Fg[h], s_t[t0 + k - 1], casting="unsafe")
        else:
            np.copyto(Fg, s_t[t0:t0 + k], casting="unsafe")
        np.matmul(Fg.reshape(g * n, n_in), Wt, out=Mg)
        add(Mg, off, out=Mg)
        if kb:
            Pg = P[:g]
            np.copyto(Pg.reshape(g * n, n_out), Mg, casting="unsafe")
            np.bitwise_and(Pg, mask, out=Uk[0::2], casting="unsafe")
            np.right_shift(Pg[:h], kb, out=Uk[1::2], casting="unsafe")
            add(Uk, c, out=Uk)
        else:
            np.copyto(Uk.reshape(k * n, n_out), Mg, casting="unsafe")
        rows = list(Uk)
        if t0:
            add(rows[0], f, out=rows[0])        # f = f(U of the previous block's last step)
        if arith:
            for prev, row in zip(rows, rows[1:]):
                _leak_step(plan, prev, f, scratch)
                add(row, f, out=row)
        else:
            for prev, row in zip(rows, rows[1:]):
                take(prev, None, f, "clip")     # a state outside the domain is caught below
                add(row, f, row)
        if unsigned is not None:
            if int(np.maximum.reduce(Uk.view(unsigned), axis=None)) > lim:
                return None
        elif (int(np.minimum.reduce(Uk, axis=None)) < floor_
              or int(np.maximum.reduce(Uk, axis=None)) > lim):
            return None
        if spikes is not None:
            sk = spikes[t0:t0 + k]
            np.greater_equal(Uk, plan.spike_at, out=sk)
            out_spikes += int(np.count_nonzero(sk))
        if t0 + k < T:
            if arith:
                _leak_step(plan, rows[-1], f, scratch)
            else:
                take(rows[-1], out=f, mode="clip")
    v = np.add(U[k - 1], plan.lo, dtype=np.int64)
    if spikes is None:
        shape = (T, n, n_out)
        spikes = lambda: np.zeros(shape, dtype=bool)  # noqa: E731
    return spikes, v, out_spikes


def _small_run(plan, s_t):
    """:func:`_table_run` in one block of intp states (no index conversion per lookup)
    with the fewest calls: the run of a few inferences (batch 1, the co-simulation's)."""
    T, n, n_in = s_t.shape
    n_out = plan.n_out
    table, unsigned = plan.table(np.intp)
    M = np.matmul(s_t.reshape(T * n, n_in), plan.Wt, dtype=np.float32)
    U = np.add(M, plan.off, out=np.empty((T, n, n_out), dtype=np.intp).reshape(T * n, n_out),
               casting="unsafe").reshape(T, n, n_out)
    add, rows = np.add, list(U)
    try:
        for prev, row in zip(rows, rows[1:]):
            add(row, table[prev], row)          # a state below the domain is caught below
    except IndexError:                          # a state above it
        return None
    if unsigned is not None:
        if int(np.maximum.reduce(U.view(unsigned), axis=None)) > plan.ulim:
            return None
    elif (int(np.minimum.reduce(U, axis=None)) < plan.ufloor
          or int(np.maximum.reduce(U, axis=None)) > plan.ulim):
        return None
    v = np.add(rows[-1], plan.lo, dtype=np.int64)
    if not plan.spiking:
        return (lambda: np.zeros((T, n, n_out), dtype=bool)), v, 0
    spikes = np.greater_equal(U, plan.spike_at)
    return spikes, v, int(np.count_nonzero(spikes))


def _leak_step(plan, u, f, g):
    """f = f(s) of int16 states U = s − lo (``plan.arith``): Σ_ι (U >> ι) + Σ_ι (lo >> ι),
    and 0 where U ≥ spike_at (the reset: U − spike_at >> 15 is −1 below it, else 0).
    Exact, and no intermediate overflows while U is in [0, ulim]. ``g``: scratch."""
    shifts = plan.shifts
    if not shifts:
        f.fill(0)
        return
    np.right_shift(u, shifts[0], out=f)
    for i in shifts[1:]:
        np.right_shift(u, i, out=g)
        np.add(f, g, out=f)
    if plan.leak_lo:
        np.add(f, plan.leak_lo, out=f)
    if plan.reset_at is not None:
        np.subtract(u, plan.reset_at, out=g)
        np.right_shift(g, 15, out=g)
        np.bitwise_and(f, g, out=f)


def lif_run(p: LIFParams, s_t, in_spikes, reference=None) -> RateRun:
    """Run the layer on time-major input spikes ``s_t`` (T, N, n_in), bool or checked 0/1.

    ``in_spikes``: the number of input spikes. The states of all neurons at all
    steps come from table lookups over the proven state range
    (:attr:`LIFParams.v_interval`): :func:`_table_run` where float32 holds the
    currents exactly, else :func:`stepped_states`; every state is checked against
    the domain and ``v_bits``. If that check fails or the range is too wide for a
    table, ``reference()`` (default :func:`lif_steps` on the batch-major spikes)
    gives the exact result or error.
    """
    T, n = s_t.shape[0], s_t.shape[1]
    plan = _plan(p)
    lo, hi, run = plan.lo, plan.hi, None
    if hi - lo < TABLE_MAX and n:
        if plan.exact32:
            run = _table_run(plan, s_t)
        else:
            try:
                st = stepped_states(p, s_t, lambda dtype: plan.table(dtype)[0], lo, hi)
            except WidthError:          # a loose product bound: the reference decides
                st = None
            if st is not None and st[1] - lo >= plan.ufloor and st[2] - lo <= plan.ulim:
                U = st[0]
                spikes = U >= plan.spike_at if p.spiking else np.zeros(U.shape, dtype=bool)
                run = spikes, U[T - 1].astype(np.int64) + lo, int(np.count_nonzero(spikes))
    if run is None:
        if reference is None:
            s_in = np.ascontiguousarray(s_t.transpose(1, 0, 2)).astype(np.uint8)
            reference = lambda: lif_steps(p, s_in)  # noqa: E731
        return RateRun.of_result(reference(), n, T)
    spikes, v, out_spikes = run
    counts = Counts(inferences=n, spikes=out_spikes, synaptic_adds=in_spikes * p.n_out,
                    state_updates=n * plan.updates, memory_reads=in_spikes * p.n_out,
                    cycles=p.cycles(in_spikes, out_spikes, n))
    return RateRun(v, counts, spikes)


def van_rossum_trace(spikes, shifts, frac_bits):
    """Shift-and-add exponential filter of eq. A.18 in fixed point.

    X̃_t = Σ_{ι∈I} (X̃_{t−1} >> ι) + X_t·2^frac_bits, over axis −2 (time).
    """
    spikes = np.asarray(spikes, dtype=np.int64)
    tr = np.zeros(spikes.shape, dtype=np.int64)
    prev = np.zeros(spikes.shape[:-2] + spikes.shape[-1:], dtype=np.int64)
    for t in range(spikes.shape[-2]):
        prev = _leak(prev, shifts) + (spikes[..., t, :] << frac_bits)
        tr[..., t, :] = prev
    return tr


def van_rossum_classify(out_spikes, shifts=DEFAULT_LEAK_SHIFTS, frac_bits=8):
    """Class = target pattern nearest in the L1 van Rossum distance (eq. A.19).

    The target pattern of class c has output neuron c spiking at every step
    and all other output neurons silent. Returns (classes, distances (..., C)).
    """
    out_spikes = np.asarray(out_spikes, dtype=np.int64)
    T, C = out_spikes.shape[-2:]
    tr = van_rossum_trace(out_spikes, shifts, frac_bits)                 # (..., T, C)
    on = van_rossum_trace(np.ones((1, T, 1), dtype=np.int64), shifts, frac_bits)[0, :, 0]  # (T,)
    # distance to target c: Σ_t Σ_o |tr_o − tgt_c,o|, tgt_c,o = on if o == c else 0
    abs_all = np.abs(tr).sum(axis=-2)                                     # (..., C): |tr − 0|
    abs_on = np.abs(tr - on[:, None]).sum(axis=-2)                        # (..., C): |tr − on|
    dist = abs_all.sum(axis=-1, keepdims=True) - abs_all + abs_on
    return np.argmin(dist, axis=-1), dist
