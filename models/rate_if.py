"""Rate-coded integrate-and-fire layer with soft reset (Ding et al. 2021, eq. 3) — a baseline.

For t = 1..T (v(0) = 0)::

    m(t) = v(t−1) + W·s(t) + b
    s_out(t) = Θ(m(t) − ϑ)
    v(t) = m(t) − ϑ·s_out(t)            (reset by subtraction)

Input: spikes s(t) of the previous layer, or with ``direct_input`` the
constant integer input x (direct coding): the current W·x + b is then
computed once per inference (n_in·n_out multiplications) and added every
step. ``spiking = False`` is the non-spiking output integrator, read at T.

Schedule (the RTL's; one input beat or one output beat per cycle, see
:meth:`IFParams.cycles_per_inference`): spike input arrives as events, the
spikes of step t in ascending index then an end-of-step beat; spike output
leaves the same way, after the step's input. The first beat of the next
step (or inference) is taken in the cycle of the last output beat.

Math, sources, widths, counts and the RTL schedule: docs/cores/if.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from .base import (WeightedLayer, DEFAULT_WEIGHTS, Counts, Params, check_int, check_int_array,
                   check_weighted_layer, check_width, derived_width, exact_matmul,
                   signed_bits, weight_sums, width_range)
from .errors import ConfigError, WidthError
from .lif_run import TABLE_MAX, RateRun, spike_totals, stepped_states

__all__ = ["IFParams", "IFResult", "if_golden", "if_steps"]


@dataclass(frozen=True)
class IFParams(WeightedLayer, Params):
    """A layer of rate-coded IF neurons with soft reset.

    Parameters
    ----------
    weights : n_out × n_in ints
        Synaptic weights. Default DEFAULT_WEIGHTS.
    bias : n_out ints, optional
        Constant current per step (omitted: 0). In effect: :attr:`bias_values`.
    threshold : int
        ϑ ≥ 1. Default 64.
    time_steps : int
        T ≥ 1. Default 16.
    direct_input : bool
        Input is a constant integer vector (direct coding) instead of spikes. Default False.
    in_bits : int
        Width of the unsigned direct input. Default 8.
    spiking : bool
        False: non-spiking output integrator. Default True.
    w_bits : int
        Declared signed weight width. Default 8.
    v_bits : int, optional
        Declared signed membrane width; omitted: proven bound over T steps.
        In effect: :attr:`v_width`.
    """

    weights: tuple = DEFAULT_WEIGHTS
    bias: tuple | None = None
    threshold: int = 64
    time_steps: int = 16
    direct_input: bool = False
    in_bits: int = 8
    spiking: bool = True
    w_bits: int = 8
    v_bits: int | None = None

    DERIVED = {"bias": "bias_values", "v_bits": "v_width"}

    def __post_init__(self):
        check_weighted_layer(self)
        check_int("threshold", self.threshold, 1, 1 << 40)
        check_int("time_steps", self.time_steps, 1, 1 << 16)
        check_int("in_bits", self.in_bits, 1, 32)
        for name in ("direct_input", "spiking"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, not {getattr(self, name)!r}")
        if self.v_bits is None:
            self.effective("v_bits")        # derive now: a bound beyond MAX_STATE_BITS is refused here
        else:
            check_int("v_bits", self.v_bits, 2, 62)

    @cached_property
    def v_width(self):
        """Signed membrane width in effect: the declared ``v_bits``, else the proven bound."""
        return derived_width("v_bits", *self.v_interval) if self.v_bits is None else self.v_bits

    @cached_property
    def current_interval(self):
        """Range of the per-step input current W·s + b."""
        pos, neg = weight_sums(self.weights)
        scale = width_range(self.in_bits, False)[1] if self.direct_input else 1
        hi = max(p * scale + b for p, b in zip(pos, self.bias_values))
        lo = min(n * scale + b for n, b in zip(neg, self.bias_values))
        return lo, hi

    @property
    def op_widths(self):
        """Bit widths of the counted operations, for the energy proxy (direct input multiplies
        w_bits × in_bits once per inference)."""
        return {"add": self.v_width, "state": self.v_width, "word": self.w_bits,
                "mult": max(self.w_bits, self.in_bits)}

    @cached_property
    def v_interval(self):
        """Bound on m and v over T steps (soft reset keeps v < ϑ unless the input saturates)."""
        i_lo, i_hi = self.current_interval
        T, th = self.time_steps, self.threshold
        if not self.spiking:
            return min(0, T * i_lo), max(0, T * i_hi)
        v_hi, m_hi = 0, 0
        for _ in range(T):
            m_hi = max(m_hi, v_hi + i_hi)
            v_hi = max(th - 1, v_hi + i_hi - th) if v_hi + i_hi >= th else max(v_hi, v_hi + i_hi)
        lo = min(0, T * i_lo)
        return lo, max(m_hi, th)

    @property
    def current_bits(self):
        """Signed width of the current register (b plus any partial sum of W·s or W·x)."""
        return max(2, signed_bits(*self.current_interval))

    def cycles_per_inference(self, in_spikes=0, out_spikes=0):
        """Cycles from an inference's first input beat to its last output beat, input
        back to back and output never stalled; the next inference's first beat is taken
        in the cycle of the last output beat, so back-to-back runs add up exactly.

        input beats + output beats + silent step cycles − beats sharing a cycle:

        - spike input, spiking: (in_spikes + T) + (out_spikes + T) − T (each step's
          output end beat shares its cycle with the next step's first input beat);
        - spike input, non-spiking: (in_spikes + T) + n_out − 1;
        - direct input, spiking: n_in + (out_spikes + T) − 1;
        - direct input, non-spiking: n_in + (T − 1) + n_out − 1 (steps 1..T−1 are one
          silent cycle each, step T is read out).

        ``in_spikes``/``out_spikes`` may be NumPy arrays (one entry per inference).
        """
        T = self.time_steps
        if self.direct_input:
            return self.n_in + T + out_spikes - 1 if self.spiking else self.n_in + T + self.n_out - 2
        return in_spikes + T + out_spikes if self.spiking else in_spikes + T + self.n_out - 1


@dataclass(frozen=True)
class IFResult:
    """``spikes`` (..., T, n_out) uint8, ``v`` final membrane (..., n_out), ``counts``."""

    spikes: np.ndarray
    v: np.ndarray
    counts: Counts


def if_golden(p: IFParams, inp) -> IFResult:
    """Run the layer: ``inp`` is x (..., n_in) with direct input, else spikes (..., T, n_in).

    Equal to :func:`if_steps` (step by step, the oracle), with every width check
    (:func:`if_run`: closed forms for a constant current and for the output
    integrator, a table lookup per step otherwise).
    """
    inp = _check_input(p, inp)
    T = p.time_steps
    if p.direct_input:
        batch = inp.shape[:-1]
        n = int(np.prod(batch))
        src = inp.reshape(n, p.n_in)
    else:
        batch = inp.shape[:-2]
        n = int(np.prod(batch))
        src = RateRun(None, Counts(spikes=int(inp.sum())),
                      spikes=inp.reshape(n, T, p.n_in).transpose(1, 0, 2))
    r = if_run(p, src, reference=lambda: if_steps(p, inp))
    if r.result is not None:
        return r.result
    spikes = np.ascontiguousarray(r.spikes().transpose(1, 0, 2)).view(np.uint8)
    return IFResult(spikes=spikes.reshape(batch + (T, p.n_out)), v=r.v.reshape(batch + (p.n_out,)),
                    counts=r.counts)


def _check_input(p, inp):
    inp = check_int_array("input", inp)
    T = p.time_steps
    if p.direct_input:
        if inp.ndim < 1 or inp.shape[-1] != p.n_in:
            raise ConfigError(f"direct input must have shape (..., {p.n_in}), not {inp.shape}")
        check_width("in_bits", inp, p.in_bits, signed=False)
    else:
        if inp.ndim < 2 or inp.shape[-2:] != (T, p.n_in):
            raise ConfigError(f"input spikes must have shape (..., {T}, {p.n_in}), not {inp.shape}")
        if inp.size and (np.minimum.reduce(inp, axis=None) < 0 or np.maximum.reduce(inp, axis=None) > 1):
            raise ConfigError("input spikes must hold only 0 and 1")
    return inp


def if_steps(p: IFParams, inp) -> IFResult:
    """Step-by-step reference of :func:`if_golden`: the update of the module docstring,
    literally, with a width check of m(t) at every step."""
    inp = _check_input(p, inp)
    T = p.time_steps
    if p.direct_input:
        cur = exact_matmul(inp, p.W.T) + p.b
        current = np.broadcast_to(cur[..., None, :], inp.shape[:-1] + (T, p.n_out))
        batch_shape = inp.shape[:-1]
    else:
        current = exact_matmul(inp, p.W.T) + p.b
        batch_shape = inp.shape[:-2]
    v = np.zeros(batch_shape + (p.n_out,), dtype=np.int64)
    out = np.zeros(batch_shape + (T, p.n_out), dtype=np.uint8)
    for t in range(T):
        m = v + current[..., t, :]
        check_width("v_bits", m, p.v_width)
        if p.spiking:
            s = m >= p.threshold
            out[..., t, :] = s
            v = m - p.threshold * s
        else:
            v = m
    n = int(np.prod(batch_shape))
    out_spikes = int(out.sum())
    out_k = out.sum(axis=(-2, -1), dtype=np.int64)                 # per inference
    if p.direct_input:
        macs = n * p.n_in * p.n_out
        adds, mults, reads = macs + n * T * p.n_out, macs, macs
        in_k = np.zeros(batch_shape, dtype=np.int64)
    else:
        in_spikes = int(inp.sum())
        adds, mults, reads = in_spikes * p.n_out, 0, in_spikes * p.n_out
        in_k = inp.sum(axis=(-2, -1))
    cycles = int(np.broadcast_to(p.cycles_per_inference(in_k, out_k), batch_shape).sum())
    counts = Counts(inferences=n, spikes=out_spikes, synaptic_adds=adds,
                    state_updates=n * T * p.n_out, multiplications=mults, memory_reads=reads,
                    cycles=cycles)
    return IFResult(spikes=out, v=v, counts=counts)


# ------------------------------------------------------------ time-major runs

def if_run(p: IFParams, src, reference=None) -> RateRun:
    """Run the layer in time-major layout (see :class:`~spikeforge.models.lif_run.RateRun`).

    ``src``: with direct input the checked inputs x (N, n_in); else the
    :class:`RateRun` of the input spikes (its ``counts.spikes`` the input spike
    total). Every m(t) is checked against ``v_bits``: exactly, or through a sound
    bound; if that does not fit, ``reference()`` (default :func:`if_steps`) gives
    the exact result or error.

    - constant current I (direct input): after t steps n(t) = clip(⌊t·I/ϑ⌋, 0, t)
      spikes and v(t) = t·I − ϑ·n(t) (for 0 ≤ I < ϑ by induction; I ≥ ϑ spikes every
      step, I < 0 never);
    - output integrator: v = W·n + T·b with n the input spike counts;
    - otherwise the states m(t) by :func:`~spikeforge.models.lif_run.stepped_states`.
    """
    T = p.time_steps
    n = src.shape[0] if p.direct_input else src.totals().shape[0]
    run = None
    if n:
        try:
            run = _constant(p, src) if p.direct_input else \
                _integrator(p, src.totals()) if not p.spiking else _stepped(p, src.spikes())
        except WidthError:              # a loose product bound: the reference decides
            run = None
    if run is None:
        if reference is None:
            if p.direct_input:
                arg = src
            else:
                arg = np.ascontiguousarray(src.spikes().transpose(1, 0, 2)).astype(np.uint8)
            reference = lambda: if_steps(p, arg)  # noqa: E731
        return RateRun.of_result(reference(), n, T)
    v, totals, spikes = run
    out_k = totals.sum(axis=-1)                                     # per inference
    if p.direct_input:
        macs = n * p.n_in * p.n_out
        adds, mults, reads = macs + n * T * p.n_out, macs, macs
        in_k = np.zeros(n, dtype=np.int64)
    else:
        in_spikes = src.counts.spikes
        adds, mults, reads = in_spikes * p.n_out, 0, in_spikes * p.n_out
        in_k = src.totals().sum(axis=-1)
    cycles = int(np.broadcast_to(p.cycles_per_inference(in_k, out_k), (n,)).sum())
    counts = Counts(inferences=n, spikes=int(out_k.sum()), synaptic_adds=adds,
                    state_updates=n * T * p.n_out, multiplications=mults, memory_reads=reads,
                    cycles=cycles)
    return RateRun(v, counts, spikes, totals)


def _fits(p, lo, hi):
    vlo, vhi = width_range(p.v_width, True)
    return vlo <= lo and hi <= vhi


def _constant(p, x):
    """Direct input: (v, spike counts, spikes or their maker), or None if a bound does not fit."""
    T, th = p.time_steps, p.threshold
    I = exact_matmul(x, p.W.T, b_max=1 << (p.w_bits - 1)) + p.b            # the current of every step
    imin, imax = int(np.minimum.reduce(I, axis=None)), int(np.maximum.reduce(I, axis=None))
    if T * max(-imin, imax) >= 1 << 62:
        return None
    if not p.spiking:                   # m(t) = t·I
        if not _fits(p, min(imin, T * imin), max(imax, T * imax)):
            return None
        return T * I, np.zeros(I.shape, dtype=np.int64), lambda: np.zeros((T,) + I.shape, dtype=bool)
    # the least m(t) is exact (T·I for I < 0, else I at t = 1); the greatest is bounded:
    # I < 0: I; 0 ≤ I < ϑ: m(t) = I + ((t−1)·I mod ϑ) ≤ I + ϑ − 1; I ≥ ϑ: m(t) = t·(I − ϑ) + ϑ
    lo = T * imin if imin < 0 else imin
    hi = imax if imax < 0 else imax + th - 1 if imax < th else max(T * (imax - th) + th, 2 * th - 2)
    if not _fits(p, lo, hi):
        return None
    totals = np.minimum(np.maximum(np.floor_divide(T * I, th), 0), T)
    return T * I - th * totals, totals, lambda: _constant_spikes(I, th, T)


def _constant_spikes(I, th, T):
    """Spikes (T, N, n) of a constant current: n(t) − n(t−1), n(t) = clip(⌊t·I/ϑ⌋, 0, t)."""
    t = np.arange(T + 1, dtype=np.int64).reshape((T + 1,) + (1,) * I.ndim)
    n_t = np.minimum(np.maximum(np.floor_divide(t * I, th), 0), t)
    return np.diff(n_t, axis=0).astype(bool)


def _integrator(p, totals_in):
    """Output integrator on spikes: v = W·n + T·b; m(t) = W·n(t) + t·b with 0 ≤ n(t) ≤ n."""
    T, W = p.time_steps, p.W
    Wpn = np.concatenate([np.maximum(W, 0), np.minimum(W, 0)])              # (2·n_out, n_in)
    PQ = exact_matmul(totals_in, Wpn.T, a_max=T, b_max=1 << (p.w_bits - 1))
    P, Q = PQ[:, :p.n_out], PQ[:, p.n_out:]
    b, Tb = p.b, T * p.b
    hi = int(np.maximum.reduce(P + np.maximum(b, Tb), axis=None))
    lo = int(np.minimum.reduce(Q + np.minimum(b, Tb), axis=None))
    if not _fits(p, lo, hi):
        return None
    shape = P.shape
    return P + Q + Tb, np.zeros(shape, dtype=np.int64), lambda: np.zeros((T,) + shape, dtype=bool)


@lru_cache(maxsize=64)
def _if_table(th, lo, hi, dtype):
    """f(m) = m − ϑ·[m ≥ ϑ] (the soft reset), m in [lo, hi]."""
    m = np.arange(lo, hi + 1, dtype=np.int64)
    f = np.where(m >= th, m - th, m).astype(dtype)
    f.setflags(write=False)
    return f


def _stepped(p, spikes_in):
    """Spiking layer on spikes: m(t) = C(t) + f(m(t−1)) by table lookup."""
    T, th = p.time_steps, p.threshold
    lo, hi = p.v_interval
    lo, hi = min(lo, 0), max(hi, 0)
    if hi - lo >= TABLE_MAX:
        return None
    run = stepped_states(p, spikes_in, lambda dtype: _if_table(th, lo, hi, dtype), lo, hi)
    if run is None or not _fits(p, run[1], run[2]):
        return None
    U = run[0]
    spikes = U >= th - lo
    v = U[T - 1].astype(np.int64) + lo - th * spikes[T - 1]
    return v, spike_totals(spikes), spikes
