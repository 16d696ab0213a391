"""Time-major batch engine of the rate-coded layers: LIF (:mod:`~spikeforge.models.lif`)
and IF (:mod:`~spikeforge.models.rate_if`), the format the network engine runs them in.

Spikes are (T, N, n) arrays, one contiguous block per time step. A layer's states
s_t = C_t + f(s_(t−1)), C_t = W·spikes_t + b, are computed over the proven state
interval: the currents of many steps by one float32 product (exact where every
partial sum stays below 2^24), then per step one lookup of f in a table over the
interval (or, for long rows of int16 states, the LIF leak by shifts and adds) and one
addition. Every state is checked against the interval and the declared width; where
that check fails, or no table fits, the caller's step-by-step reference
(:func:`~spikeforge.models.lif.lif_steps`, :func:`~spikeforge.models.rate_if.if_steps`)
gives the exact result or error. The results are bit-identical to those references
(tests/test_golden_fast.py).

The update, widths and counts: docs/cores/lif.md and docs/cores/if.md.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np

from .base import Counts, exact_matmul, width_range
from .errors import WidthError

__all__ = ["RateRun", "lif_run", "spike_totals", "stepped_states", "TABLE_MAX"]


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


# ------------------------------------------------------------------------ LIF

def _leak(s, shifts):
    """Σ_ι (s >> ι), the shift-and-add leak of the LIF update (docs/cores/lif.md)."""
    out = np.zeros_like(s)
    for i in shifts:
        out += s >> i
    return out


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
    """What a table run of a :class:`~spikeforge.models.lif.LIFParams` needs that depends
    only on the parameters: the state domain [lo, hi] (0 included), the states accepted
    without the reference (U = s − lo in [ufloor, ulim]: in the domain and within
    ``v_bits``), W.T and b − lo as float32, whether float32 holds every partial sum of
    W·s + b − lo exactly, the narrowest state type no U_(t−1) lookup plus current can
    overflow, and per state type whether one maximum of the unsigned view checks [0, ulim].

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
        self.key = (self.shifts, self.th, lo, hi)       # of the state tables (_lif_table)
        self.arith = self.dtype is np.int16 and smax <= 8
        self.leak_lo = sum(lo >> i for i in p.leak_shifts)      # Σ (lo >> ι)
        # int16 states (U ≤ umax < 2^15) reset where U − spike_at ≥ 0; none reaches 2^15
        self.reset_at = self.spike_at if p.spiking and self.spike_at < 1 << 15 else None
        self.updates = p.time_steps * p.n_out * (len(p.leak_shifts) + 1)   # per inference
        self._unsigned = {}
        self.small_unsigned = self.unsigned(np.intp)

    def unsigned(self, dtype):
        """The unsigned type of ``dtype``'s width if every state U outside [0, ulim] shows
        in its view as a value above ulim (one maximum then checks the range), else None."""
        unsigned = self._unsigned.get(dtype, False)
        if unsigned is False:
            bits = 8 * np.dtype(dtype).itemsize
            one_pass = self.ufloor == 0 and (1 << bits) - self.umax > self.ulim
            unsigned = self._unsigned[dtype] = np.dtype(f"u{bits // 8}") if one_pass else None
        return unsigned

    def table(self, dtype):
        """``(table, unsigned)`` for states of ``dtype``: f over the domain (shared through
        :func:`_lif_table`'s cache, never kept on the parameters) and :meth:`unsigned`."""
        return _lif_table(*self.key, dtype), self.unsigned(dtype)


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
    """:func:`_table_run` in one block of intp states with the fewest calls: the run of a
    few inferences (batch 1, the co-simulation's). The states of a step are one flat row
    of N·n_out in a scratch array of this thread (:func:`_scratch`), so the rows need no
    new views per call; a step is one lookup and one addition on 1-d rows (the cheapest
    calls). A state above the table raises in the lookup, one below shows in the range
    check; the final states are looked up in :func:`_state_values`."""
    T, n, n_in = s_t.shape
    n_out = plan.n_out
    U, pairs = _scratch(T, n * n_out)
    np.add(np.matmul(s_t.reshape(T * n, n_in), plan.Wt), plan.off, out=U.reshape(T * n, n_out),
           casting="unsafe")
    table, add = _lif_table(*plan.key, np.intp), np.add
    try:
        for prev, row in pairs:
            add(row, table[prev], row)
    except IndexError:                          # a state above the domain
        return None
    unsigned = plan.small_unsigned
    if unsigned is not None:
        if int(np.maximum.reduce(U.view(unsigned), axis=None)) > plan.ulim:
            return None
    elif (int(np.minimum.reduce(U, axis=None)) < plan.ufloor
          or int(np.maximum.reduce(U, axis=None)) > plan.ulim):
        return None
    last = U[T - 1]
    v = (_state_values(plan.lo, plan.hi)[last] if plan.hi - plan.lo < VALUES_MAX
         else (last + plan.lo).astype(np.int64)).reshape(n, n_out)
    if not plan.spiking:
        return (lambda: np.zeros((T, n, n_out), dtype=bool)), v, 0
    spikes = np.greater_equal(U, plan.spike_at).reshape(T, n, n_out)
    return spikes, v, int(np.count_nonzero(spikes))


_SCRATCH = threading.local()
#: Largest scratch (states, all steps) :func:`_scratch` keeps for the next run.
SCRATCH_STATES = 1 << 16


def _scratch(T, m):
    """A (T, m) intp array of this thread and the pairs (row t−1, row t) of its rows,
    t = 1..T−1, made once per shape (up to :data:`SCRATCH_STATES` states): the states of
    :func:`_small_run`, which returns nothing that views them."""
    bufs = _SCRATCH.__dict__
    hit = bufs.get((T, m))
    if hit is None:
        U = np.empty((T, m), dtype=np.intp)
        rows = list(U)
        hit = U, tuple(zip(rows, rows[1:]))
        if T * m <= SCRATCH_STATES:
            if len(bufs) >= 16:
                bufs.clear()
            bufs[(T, m)] = hit
    return hit


#: Largest domain whose state values :func:`_small_run` looks up (a table of int64 each).
VALUES_MAX = 1 << 16


@lru_cache(maxsize=64)
def _state_values(lo, hi):
    """s = lo + U for U = 0..hi − lo, int64 (read-only): the final states by one lookup."""
    s = np.arange(lo, hi + 1, dtype=np.int64)
    s.setflags(write=False)
    return s


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


def lif_run(p, s_t, in_spikes, reference=None) -> RateRun:
    """Run the LIF layer ``p`` on time-major input spikes ``s_t`` (T, N, n_in), bool or
    checked 0/1.

    ``in_spikes``: the number of input spikes. The states of all neurons at all
    steps come from table lookups over the proven state range
    (:attr:`~spikeforge.models.lif.LIFParams.v_interval`): :func:`_table_run` where
    float32 holds the currents exactly, else :func:`stepped_states`; every state is
    checked against the domain and ``v_bits``. If that check fails or the range is too
    wide for a table, ``reference()`` (default :func:`~spikeforge.models.lif.lif_steps`
    on the batch-major spikes) gives the exact result or error.
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
            from .lif import lif_steps
            s_in = np.ascontiguousarray(s_t.transpose(1, 0, 2)).astype(np.uint8)
            reference = lambda: lif_steps(p, s_in)  # noqa: E731
        return RateRun.of_result(reference(), n, T)
    spikes, v, out_spikes = run
    counts = Counts(inferences=n, spikes=out_spikes, synaptic_adds=in_spikes * p.n_out,
                    state_updates=n * plan.updates, memory_reads=in_spikes * p.n_out,
                    cycles=p.cycles(in_spikes, out_spikes, n))
    return RateRun(v, counts, spikes)
