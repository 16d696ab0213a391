"""LFSR random source and rate encoder (docs/cores/lif.md: replicated bit-exactly by RTL)."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from factories import exact, vectors
from spikeforge.models.errors import ConfigError, WidthError
from spikeforge.models.lfsr import (LFSRParams, RateEncoderParams, lfsr_draws, lfsr_step, rate_encode,
                                    rate_encoder_golden, rate_spikes)


def naive_step(state, width, taps):
    """Fibonacci step: feedback = XOR of bits (tap − 1); shift left, feedback into bit 0."""
    fb = 0
    for t in taps:
        fb ^= (state >> (t - 1)) & 1
    return ((state << 1) | fb) & ((1 << width) - 1)


def naive_draws(seed, width, taps, leap, bits, n):
    s, out = seed, []
    for _ in range(n):
        for _ in range(leap):
            s = naive_step(s, width, taps)
        out.append(s >> (width - bits))
    return out


# ------------------------------------------------------------------- the LFSR

@pytest.mark.parametrize("state, expect", [
    (0xACE1, 0x59C3),     # bits 15, 14, 12, 3 = 1, 0, 0, 0 -> fb 1
    (0x0001, 0x0002),     # no tap bit set
    (0x8000, 0x0001),     # bit 15 shifts out, fb 1
    (0x0008, 0x0011),     # tap 4 (bit 3)
    (0x1000, 0x2001),     # tap 13 (bit 12)
    (0xFFFF, 0xFFFE),     # four taps set: fb 0
    (0xD008, 0xA010),     # bits 15, 14, 12, 3 all set: fb 0
])
def test_lfsr_step_by_hand(state, expect):
    p = LFSRParams()
    assert lfsr_step(p, state) == expect == naive_step(state, 16, (16, 15, 13, 4))


def test_small_lfsr_by_hand():
    p = LFSRParams(width=4, taps=(4, 3), seed=1, leap=1)
    seq, s = [], 1
    for _ in range(5):
        s = lfsr_step(p, s)
        seq.append(s)
    assert seq == [0b0010, 0b0100, 0b1001, 0b0011, 0b0110]


def test_default_polynomial_has_maximal_period():
    p = LFSRParams()
    s, n = p.seed, 0
    while True:
        s = lfsr_step(p, s)
        n += 1
        if s == p.seed or n > 1 << 16:
            break
    assert n == 2**16 - 1


@pytest.mark.parametrize("width, taps, period", [(4, (4, 3), 15), (5, (5, 3), 31), (4, (4, 2), 6),
                                                 (8, (8, 6, 5, 4), 255)])
def test_small_periods(width, taps, period):
    p = LFSRParams(width=width, taps=taps, seed=1, leap=1)
    s, n = 1, 0
    while True:
        s = lfsr_step(p, s)
        n += 1
        if s == 1:
            break
    assert n == period


@given(seed=st.integers(1, 2**16 - 1), leap=st.integers(1, 20), bits=st.integers(1, 16),
       n=st.integers(0, 20))
def test_draws_match_naive(seed, leap, bits, n):
    p = LFSRParams(seed=seed, leap=leap)
    d = lfsr_draws(p, n, bits)
    np.testing.assert_array_equal(d, np.array(naive_draws(seed, 16, (16, 15, 13, 4), leap, bits, n),
                                              dtype=np.int64))
    assert not d.flags.writeable


# ----------------------------------------------------------------- rate encoder

@given(data=st.data())
def test_rate_encode_spikes_iff_x_exceeds_draw(data):
    bits = data.draw(st.integers(1, 8), label="bits")
    T, n_in = data.draw(st.integers(1, 6), label="T"), data.draw(st.integers(1, 4), label="n_in")
    seed, leap = data.draw(st.integers(1, 2**16 - 1), label="seed"), data.draw(st.integers(1, 17), label="leap")
    xs = data.draw(st.lists(vectors(st.integers(0, 2**bits - 1), n_in), min_size=1, max_size=3), label="x")
    p = LFSRParams(seed=seed, leap=leap)
    s = rate_encode(p, np.array(xs), bits, T)
    r = naive_draws(seed, 16, (16, 15, 13, 4), leap, bits, T * n_in)
    expect = [[[int(x[j] > r[t * n_in + j]) for j in range(n_in)] for t in range(T)] for x in xs]
    np.testing.assert_array_equal(s, np.array(expect))
    assert s.dtype == np.uint8


@pytest.mark.parametrize("seed", range(30))
def test_rate_spikes_equal_the_draws_by_hand(seed):
    """rate_spikes (time-major, compared in rows of several inputs side by side plus a
    remainder) against x_j > r_(t·n_in + j) written out, for every input shape and width."""
    rng = np.random.default_rng(seed)
    bits = int(rng.choice([1, 3, 8, 9, 16, 17, 24]))
    width = max(16, bits)
    p = LFSRParams(width=width, taps=(16, 15, 13, 4) if width == 16 else (width, width - 3),
                   seed=int(rng.integers(1, 1 << width)), leap=int(rng.integers(1, 20)))
    T, n_in = int(rng.integers(1, 12)), int(rng.integers(1, 300))
    shape = [(), (int(rng.integers(0, 40)),), (int(rng.integers(1, 5)), int(rng.integers(0, 7)))][seed % 3]
    x = rng.integers(0, 1 << bits, shape + (n_in,))
    if seed % 4 == 0:
        x[...] = (1 << bits) - 1                    # saturating inputs
    s = rate_spikes(p, x, bits, T)
    r = lfsr_draws(p, T * n_in, bits).reshape(T, n_in)
    expect = x[None, ...] > r.reshape((T,) + (1,) * len(shape) + (n_in,))
    assert s.dtype == np.bool_ and s.shape == (T,) + x.shape
    np.testing.assert_array_equal(s, expect)


def test_rate_approximates_value():
    bits, T = 8, 1500
    x = np.array([0, 40, 128, 200, 255])
    s = rate_encode(LFSRParams(), x, bits, T)
    rate = s.mean(axis=0)
    assert np.all(np.abs(rate - x / 2**bits) < 0.04), rate
    assert rate[0] == 0


def test_rate_encode_is_independent_of_batch_position():
    p = LFSRParams()
    a = rate_encode(p, np.array([[3, 9]]), 4, 5)
    b = rate_encode(p, np.array([[1, 1], [3, 9]]), 4, 5)
    np.testing.assert_array_equal(a[0], b[1])


def test_rate_encode_rejects_wide_inputs():
    with pytest.raises(WidthError, match="^in_bits: ") as e:
        rate_encode(LFSRParams(), np.array([0, 16]), 4, 3)
    assert e.value.name == "in_bits"
    with pytest.raises(WidthError, match="^in_bits: "):
        rate_encode(LFSRParams(), np.array([-1]), 4, 3)
    with pytest.raises(ConfigError, match=exact("input width 17 exceeds the LFSR width 16")):
        rate_encode(LFSRParams(), np.array([1]), 17, 3)


# ----------------------------------------------------------------- validation

@pytest.mark.parametrize("kwargs, msg", [
    (dict(seed=0), "seed must be >= 1, not 0"),
    (dict(seed=1 << 16), "seed must be <= 65535, not 65536"),
    (dict(taps=(15, 13, 4)), "taps must include the width 16 (the polynomial's degree); got (15, 13, 4)"),
    (dict(taps=(16, 4, 4)), "taps must be distinct; got (16, 4, 4)"),
    (dict(taps=(17, 16)), "taps[0] must be <= 16, not 17"),
    (dict(taps=(16, 0)), "taps[1] must be >= 1, not 0"),
    (dict(width=1), "width must be >= 2, not 1"),
    (dict(width=33), "width must be <= 32, not 33"),
    (dict(leap=0), "leap must be >= 1, not 0"),
])
def test_invalid_params_raise_config_error(kwargs, msg):
    with pytest.raises(ConfigError, match=exact(msg)):
        LFSRParams(**kwargs)


def test_lfsr_draws_rejects_bad_bits():
    with pytest.raises(ConfigError, match=exact("bits must be <= 16, not 17")):
        lfsr_draws(LFSRParams(), 3, 17)


def test_json_round_trip():
    p = LFSRParams(width=8, taps=(6, 8, 5, 4), seed=7, leap=3)
    assert p.taps == (8, 6, 5, 4)
    assert LFSRParams.from_json(p.to_json()) == p
    assert LFSRParams.from_dict(p.to_dict()) == p and p.to_dict()["type"] == "lfsr"


def test_negative_lengths_rejected():
    with pytest.raises(ConfigError, match=exact("time_steps must be >= 1, not -1")):
        rate_encode(LFSRParams(), np.array([1]), 4, -1)
    with pytest.raises(ConfigError, match=exact("n must be >= 0, not -2")):
        lfsr_draws(LFSRParams(), -2, 4)


# ------------------------------------------------------------ leap-forward matrix

def apply_masks(masks, state):
    """Bit k of the result = parity of (state & masks[k])."""
    return sum((bin(state & m).count("1") & 1) << k for k, m in enumerate(masks))


@given(seed=st.integers(1, 2**16 - 1), leap=st.integers(1, 40))
def test_leap_masks_equal_leap_single_steps(seed, leap):
    p = LFSRParams(seed=seed, leap=leap)
    expect = seed
    for _ in range(leap):
        expect = naive_step(expect, 16, (16, 15, 13, 4))
    assert apply_masks(p.leap_masks, seed) == expect


def test_leap_masks_by_hand():
    """One step of the 4-bit x^4 + x^3 + 1 LFSR: bit 0 = b3 ^ b2, bit k = b(k−1)."""
    assert LFSRParams(width=4, taps=(4, 3), seed=1, leap=1).leap_masks == (0b1100, 0b0001, 0b0010, 0b0100)
    p = LFSRParams(width=8, taps=(8, 6, 5, 4), seed=3, leap=16)
    assert all(apply_masks(p.leap_masks, s) == naive_draws(s, 8, (8, 6, 5, 4), 16, 8, 1)[0]
               for s in range(1, 256))


# ---------------------------------------------------------------- encoder params

def test_encoder_schedule_and_counts():
    ep = RateEncoderParams(lfsr=LFSRParams(leap=3), in_bits=4, n_in=3, time_steps=5)
    assert ep.latency == ep.initiation_interval == 3 + 5 * 4 - 1
    assert ep.cycles(4) == 4 * ep.latency and ep.index_bits == 2
    x = np.array([[3, 9, 15], [0, 0, 1]])
    r = rate_encoder_golden(ep, x)
    np.testing.assert_array_equal(r.spikes, rate_encode(ep.lfsr, x, 4, 5))
    assert (r.counts.inferences, r.counts.spikes, r.counts.cycles) == (2, int(r.spikes.sum()), 2 * ep.latency)
    with pytest.raises(ConfigError, match=exact("x must have shape (..., 3), not (2,)")):
        rate_encoder_golden(ep, np.array([1, 2]))


def test_encoder_params_json_round_trip():
    ep = RateEncoderParams(lfsr=LFSRParams(width=8, taps=(8, 6, 5, 4), seed=7, leap=1), in_bits=4,
                           n_in=3, time_steps=5)
    d = ep.to_dict()
    assert d["type"] == "rate_encoder" and d["lfsr"]["type"] == "lfsr"
    assert RateEncoderParams.from_json(ep.to_json()) == ep
    assert RateEncoderParams.from_dict(d) == ep
    assert RateEncoderParams(lfsr=d["lfsr"], in_bits=4, n_in=3, time_steps=5) == ep


@pytest.mark.parametrize("kwargs, msg", [
    (dict(in_bits=17), "input width 17 exceeds the LFSR width 16"),
    (dict(in_bits=0), "in_bits must be >= 1, not 0"),
    (dict(n_in=0), "n_in must be >= 1, not 0"),
    (dict(time_steps=0), "time_steps must be >= 1, not 0"),
    (dict(lfsr=5), "lfsr must be an LFSRParams or its dict, not 5"),
    (dict(lfsr={"width": 1}), "width must be >= 2, not 1"),
])
def test_encoder_params_invalid(kwargs, msg):
    with pytest.raises(ConfigError, match=exact(msg)):
        RateEncoderParams(**kwargs)
