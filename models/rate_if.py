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
from functools import cached_property

import numpy as np

from .base import (WeightedLayer, DEFAULT_WEIGHTS, Counts, Params, check_int, check_int_array,
                   check_weighted_layer, check_width, derived_width, exact_matmul, register_core,
                   signed_bits, weight_sums, width_range)
from .errors import ConfigError

__all__ = ["IFParams", "IFResult", "if_golden"]


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


@register_core("if", params=IFParams, summary="rate-coded integrate-and-fire, soft reset (baseline)")
def if_golden(p: IFParams, inp) -> IFResult:
    """Run the layer: ``inp`` is x (..., n_in) with direct input, else spikes (..., T, n_in)."""
    inp = check_int_array("input", inp)
    T = p.time_steps
    if p.direct_input:
        if inp.ndim < 1 or inp.shape[-1] != p.n_in:
            raise ConfigError(f"direct input must have shape (..., {p.n_in}), not {inp.shape}")
        check_width("in_bits", inp, p.in_bits, signed=False)
        cur = exact_matmul(inp, p.W.T) + p.b
        current = np.broadcast_to(cur[..., None, :], inp.shape[:-1] + (T, p.n_out))
        batch_shape = inp.shape[:-1]
    else:
        if inp.ndim < 2 or inp.shape[-2:] != (T, p.n_in):
            raise ConfigError(f"input spikes must have shape (..., {T}, {p.n_in}), not {inp.shape}")
        if ((inp != 0) & (inp != 1)).any():
            raise ConfigError("input spikes must hold only 0 and 1")
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
