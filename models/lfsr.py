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
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .base import Params, check_int, check_int_array, check_int_seq, check_width
from .errors import ConfigError

__all__ = ["LFSRParams", "lfsr_step", "lfsr_draws", "rate_encode"]


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
