"""LFSR random source and rate encoder, specified bit by bit so RTL can replicate it.

Fibonacci LFSR of ``width`` bits, state bit 0 = LSB. One step::

    fb    = XOR of state bit (tap − 1) for every tap in ``taps``
    state = ((state << 1) | fb) & (2^width − 1)

A *draw* advances the LFSR by ``leap`` steps (a combinational leap-forward in
hardware) and yields ``r = state >> (width − bits)``, the top ``bits`` bits of
the new state. The default polynomial x^16 + x^15 + x^13 + x^4 + 1 is maximal
(period 2^16 − 1, checked by a test); seed 0xACE1.

Rate encoder: at time step t (0-based) input j (0-based) gets draw number
t·n_in + j (raster order) and spikes iff x_j > r. So P(spike) = x_j / 2^bits.
The LFSR is re-seeded at the start of every inference, which makes results
independent of batch order.

Hardware (``hdl/lfsr.py``): the step is linear over GF(2), so ``leap`` steps
are one matrix, :attr:`LFSRParams.leap_masks`, derived here from
:func:`lfsr_step` itself; a draw is one XOR per state bit, in one cycle.
:class:`RateEncoderParams` describes the encoder circuit (input width, n_in,
T) and its schedule; :func:`rate_encoder_golden` runs it on the golden model.

See docs/cores/lif.md (the LFSR rate encoder).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from .base import (Counts, Params, check_int, check_int_array, check_int_seq, check_width, set_field,
                   unsigned_bits)
from .errors import ConfigError

__all__ = ["LFSRParams", "lfsr_step", "lfsr_draws", "rate_encode", "rate_spikes", "RateEncoderParams",
           "RateEncoderResult", "rate_encoder_golden"]


@dataclass(frozen=True)
class LFSRParams(Params):
    """Fibonacci LFSR with leap-forward draws.

    Parameters
    ----------
    width : int
        State width, 2..32. Default 16.
    taps : tuple of ints
        Polynomial exponents (1..width), must include ``width``. Default (16, 15, 13, 4).
    seed : int
        Non-zero initial state. Default 0xACE1.
    leap : int
        Steps per draw, ≥ 1. Default 16 (a fresh state per draw).
    """

    core = "lfsr"
    width: int = 16
    taps: tuple = (16, 15, 13, 4)
    seed: int = 0xACE1
    leap: int = 16

    def __post_init__(self):
        w = check_int("width", self.width, 2, 32)
        taps = check_int_seq("taps", self.taps, None, 1, w)
        if w not in taps:
            raise ConfigError(f"taps must include the width {w} (the polynomial's degree); got {taps}")
        if len(set(taps)) != len(taps):
            raise ConfigError(f"taps must be distinct; got {taps}")
        object.__setattr__(self, "taps", tuple(sorted(taps, reverse=True)))
        check_int("seed", self.seed, 1, (1 << w) - 1)
        check_int("leap", self.leap, 1, 1024)

    @cached_property
    def leap_masks(self):
        """The leap-forward matrix over GF(2): entry k is the bit mask of the state bits
        whose XOR is bit k of the state ``leap`` steps later.

        Derived from :func:`lfsr_step` by linearity (no constant term): column i is the
        image of the unit state 1 << i after ``leap`` steps.
        """
        cols = []
        for i in range(self.width):
            s = 1 << i
            for _ in range(self.leap):
                s = lfsr_step(self, s)
            cols.append(s)
        return tuple(sum(((c >> k) & 1) << i for i, c in enumerate(cols)) for k in range(self.width))


def lfsr_step(p: LFSRParams, state: int) -> int:
    """One LFSR step (Python ints), exactly as the module docstring specifies."""
    fb = 0
    for t in p.taps:
        fb ^= (state >> (t - 1)) & 1
    return ((state << 1) | fb) & ((1 << p.width) - 1)


@lru_cache(maxsize=64)
def _draws(p: LFSRParams, n: int, bits: int) -> np.ndarray:
    out = np.empty(n, dtype=np.int64)
    s = p.seed
    for k in range(n):
        for _ in range(p.leap):
            s = lfsr_step(p, s)
        out[k] = s >> (p.width - bits)
    out.setflags(write=False)
    return out


def lfsr_draws(p: LFSRParams, n: int, bits: int) -> np.ndarray:
    """The first ``n`` draws of ``bits`` bits after seeding (read-only array)."""
    check_int("bits", bits, 1, p.width)
    check_int("n", n, 0)
    return _draws(p, int(n), int(bits))


def rate_encode(p: LFSRParams, x, bits: int, time_steps: int) -> np.ndarray:
    """Bernoulli rate code of unsigned ``bits``-wide inputs x (..., n_in).

    Returns spikes (..., time_steps, n_in) as uint8.
    """
    x = check_int_array("x", x)
    check_int("time_steps", time_steps, 1)
    check_width("in_bits", x, bits, signed=False)
    if bits > p.width:
        raise ConfigError(f"input width {bits} exceeds the LFSR width {p.width}")
    n_in = x.shape[-1]
    r = lfsr_draws(p, time_steps * n_in, bits).reshape(time_steps, n_in)
    return (x[..., None, :] > r).astype(np.uint8)


def rate_spikes(p: LFSRParams, x, bits: int, time_steps: int) -> np.ndarray:
    """:func:`rate_encode` in time-major layout: spikes (time_steps, ..., n_in) as bool.

    The layout the network engine runs rate-coded layers in (one step is one
    contiguous block); ``rate_spikes(...)[t] == rate_encode(...)[..., t, :]``.
    """
    x = check_int_array("x", x)
    check_int("time_steps", time_steps, 1)
    check_width("in_bits", x, bits, signed=False)
    if bits > p.width:
        raise ConfigError(f"input width {bits} exceeds the LFSR width {p.width}")
    check_int("bits", bits, 1, p.width)
    T, n_in = int(time_steps), x.shape[-1]
    m = x.size // n_in if n_in else 0   # inputs (rows) of n_in values
    out = np.empty((T,) + x.shape, dtype=bool)
    if not out.size:
        return out
    word = np.uint8 if bits <= 8 else np.uint16 if bits <= 16 else np.int64
    xs, os_ = x.astype(word, copy=False).reshape(m * n_in), out.reshape(T, m * n_in)
    # x_j > r_(t,j) compared on rows of q inputs side by side (q·n_in values, one long
    # vectorised pass each) against the draws repeated q times; the remainder in one row
    q = max(1, min(m, _ROW_VALUES // n_in))
    main = m - m % q
    for start, rows, per in ((0, main // q, q), (main, 1, m - main)):
        if rows and per:
            a, b = start * n_in, (start + rows * per) * n_in
            np.greater(xs[a:b].reshape(1, rows, per * n_in), _thresholds(p, T, n_in, int(bits), per),
                       out=os_[:, a:b].reshape(T, rows, per * n_in))
    return out


#: Values per comparison row of :func:`rate_spikes` (long rows: few calls of the inner loop).
_ROW_VALUES = 1024


@lru_cache(maxsize=64)
def _thresholds(p, time_steps, n_in, bits, q):
    """The draws of :func:`rate_spikes` (time_steps, 1, q·n_in): each step's n_in draws
    repeated q times, in the narrowest unsigned word that holds ``bits`` (int64 beyond
    16 bits), read-only."""
    r = _draws(p, time_steps * n_in, bits).reshape(time_steps, 1, n_in)
    word = np.uint8 if bits <= 8 else np.uint16 if bits <= 16 else np.int64
    r = np.tile(r.astype(word), (1, 1, q))
    r.setflags(write=False)
    return r


@dataclass(frozen=True)
class RateEncoderParams(Params):
    """The LFSR rate encoder circuit: n_in unsigned inputs, T steps (not a registered core).

    Parameters
    ----------
    lfsr : LFSRParams (or its dict)
        The random source. Default ``LFSRParams()``.
    in_bits : int
        Width of the unsigned inputs x_j, 1..lfsr.width; a draw has as many bits. Default 8.
    n_in : int
        Inputs per inference, ≥ 1. Default 8.
    time_steps : int
        T ≥ 1. Default 16.

    Schedule (one draw per cycle; o.ready high, inputs back to back): the n_in inputs
    take n_in cycles, then each step takes n_in draw cycles (a draw whose x_j > r is
    presented as a spike beat in its cycle) and one end-of-step beat. The next
    inference's first input is taken in the cycle of the last end beat, so
    latency = initiation interval = n_in + T·(n_in + 1) − 1.
    """

    core = "rate_encoder"
    lfsr: LFSRParams = LFSRParams()
    in_bits: int = 8
    n_in: int = 8
    time_steps: int = 16

    def __post_init__(self):
        lf = self.lfsr
        if isinstance(lf, dict):
            lf = LFSRParams.from_dict(lf)
        if not isinstance(lf, LFSRParams):
            raise ConfigError(f"lfsr must be an LFSRParams or its dict, not {self.lfsr!r}")
        set_field(self, "lfsr", lf)
        check_int("in_bits", self.in_bits, 1)
        if self.in_bits > lf.width:
            raise ConfigError(f"input width {self.in_bits} exceeds the LFSR width {lf.width}")
        check_int("n_in", self.n_in, 1, 1 << 16)
        check_int("time_steps", self.time_steps, 1, 1 << 16)

    @property
    def index_bits(self):
        """Width of the event index (0 .. n_in − 1), as the LIF layer's input."""
        return unsigned_bits(self.n_in - 1)

    @property
    def draws_per_inference(self):
        return self.time_steps * self.n_in

    @property
    def latency(self):
        """Cycles from the first accepted input of an inference to its last end beat."""
        return self.n_in + self.time_steps * (self.n_in + 1) - 1

    @property
    def initiation_interval(self):
        """Cycles between the first inputs of consecutive inferences (back to back)."""
        return self.latency

    def cycles(self, inferences=1):
        """First accepted input to last output beat of ``inferences`` back-to-back inferences."""
        return inferences * self.initiation_interval


@dataclass(frozen=True)
class RateEncoderResult:
    """``spikes`` (..., T, n_in) uint8 as :func:`rate_encode`, and ``counts``."""

    spikes: np.ndarray
    counts: Counts


def rate_encoder_golden(p: RateEncoderParams, x) -> RateEncoderResult:
    """Run the encoder on inputs x (..., n_in): :func:`rate_encode` plus the circuit's counts."""
    x = check_int_array("x", x)
    if x.ndim < 1 or x.shape[-1] != p.n_in:
        raise ConfigError(f"x must have shape (..., {p.n_in}), not {x.shape}")
    s = rate_encode(p.lfsr, x, p.in_bits, p.time_steps)
    n = int(np.prod(x.shape[:-1]))
    counts = Counts(inferences=n, spikes=int(s.sum()), state_updates=n * p.draws_per_inference,
                    cycles=p.cycles(n))
    return RateEncoderResult(spikes=s, counts=counts)
