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

The time-major batch engine that :func:`lif_golden` and the network run use
(:func:`lif_run`, table lookups over the proven state range) is in
``models/lif_run.py``; its names are importable from here too.

Math, sources, widths, counts and the RTL schedule: docs/cores/lif.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .base import (WeightedLayer, DEFAULT_WEIGHTS, Counts, Params, check_int, check_int_array, check_int_seq,
                   check_weighted_layer, check_width, derived_width, exact_matmul,
                   set_field, signed_bits, weight_sums)
from .errors import ConfigError
# the time-major batch engine (models/lif_run.py); its public names stay importable from here
from .lif_run import TABLE_MAX, RateRun, _leak, lif_run, spike_totals, stepped_states  # noqa: F401

__all__ = ["LIFParams", "LIFResult", "lif_golden", "lif_steps", "leak_factor", "check_leak_shifts",
           "van_rossum_trace", "van_rossum_classify", "DEFAULT_LEAK_SHIFTS",
           "RateRun", "lif_run", "spike_totals", "stepped_states", "TABLE_MAX"]

DEFAULT_LEAK_SHIFTS = (1, 2, 5, 6)


def check_leak_shifts(name, shifts):
    shifts = check_int_seq(name, shifts, None, 1, 62)
    if len(set(shifts)) != len(shifts):
        raise ConfigError(f"{name} must be distinct shifts; got {shifts}")
    return tuple(sorted(shifts))


def leak_factor(shifts):
    """The leak v = Σ 2^−ι realised by a shift set (exact as a float for ι ≤ 52)."""
    return sum(2.0 ** -s for s in shifts)


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
