"""FS neuron golden model (docs/cores/fs.md) against a naive Python loop of its equations."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from factories import clamp, exact, ints, srange, vectors
from spikeforge.models.errors import ConfigError, WidthError
from spikeforge.models.fs import FSParams, fs_golden


def naive_fs(T, h, d, x):
    """Stöckl & Maass 2021, eqs. 1–3 (docs/cores/fs.md), literally with Python ints: returns (z list, y, all residuals v(1..K+1))."""
    v, z, vs = x, [], [x]
    for t in range(len(T)):
        zt = 1 if v - T[t] >= 0 else 0          # Θ(u) = 1 iff u >= 0
        z.append(zt)
        v = v - h[t] * zt
        vs.append(v)
    return z, sum(dt * zt for dt, zt in zip(d, z)), vs


def binary_digits(c, K):
    return [(c >> (K - t)) & 1 for t in range(1, K + 1)]


@st.composite
def tables(draw, max_K=6, lim=64):
    K = draw(st.integers(1, max_K))
    entries = st.integers(-lim, lim)
    return K, draw(vectors(entries, K)), draw(vectors(entries, K)), draw(vectors(entries, K))


# ------------------------------------------------------------------ ReLU tables

@given(K=st.integers(1, 16), data=st.data())
def test_relu_spikes_are_binary_digits_of_clamp(K, data):
    x_bits = data.draw(st.integers(2, 20), label="x_bits")
    xs = data.draw(st.lists(ints(x_bits), min_size=1, max_size=8), label="x")
    r = fs_golden(FSParams.relu(K=K, x_bits=x_bits), np.array(xs))
    c = [clamp(x, 0, 2**K - 1) for x in xs]
    np.testing.assert_array_equal(r.z, np.array([binary_digits(v, K) for v in c]))
    np.testing.assert_array_equal(r.y, np.array(c))
    assert r.counts.spikes == sum(bin(v).count("1") for v in c)


def test_relu_tables_are_powers_of_two():
    p = FSParams.relu(K=5, x_bits=8)
    assert p.T_table == p.h_table == p.d_table == (16, 8, 4, 2, 1)
    assert p.T is p.h is p.d is p.v_bits is None            # derived, not declared
    assert p.is_relu and p == FSParams(K=5, x_bits=8)


def test_relu_saturates_and_rectifies():
    r = fs_golden(FSParams.relu(K=4, x_bits=8), np.array([-128, -1, 0, 1, 9, 15, 16, 127]))
    np.testing.assert_array_equal(r.y, [0, 0, 0, 1, 9, 15, 15, 15])
    np.testing.assert_array_equal(r.z[4], [1, 0, 0, 1])


def test_batch_shape_is_preserved():
    x = np.arange(-6, 6).reshape(3, 4)
    r = fs_golden(FSParams.relu(K=3, x_bits=5), x)
    assert r.z.shape == (3, 4, 3) and r.y.shape == (3, 4)
    np.testing.assert_array_equal(r.y, np.clip(x, 0, 7))


# ---------------------------------------------------------------- general tables

@given(tab=tables(), data=st.data())
def test_general_tables_match_naive_loop(tab, data):
    K, T, h, d = tab
    x_bits = data.draw(st.integers(2, 9), label="x_bits")
    xs = data.draw(st.lists(ints(x_bits), min_size=1, max_size=6), label="x")
    r = fs_golden(FSParams(K=K, x_bits=x_bits, T=T, h=h, d=d), np.array(xs))
    expect = [naive_fs(T, h, d, x) for x in xs]
    np.testing.assert_array_equal(r.z, np.array([e[0] for e in expect]))
    np.testing.assert_array_equal(r.y, np.array([e[1] for e in expect]))
    assert r.counts.spikes == sum(sum(e[0]) for e in expect)


@given(tab=tables(lim=300), x_bits=st.integers(2, 8))
def test_derived_v_bits_never_raises(tab, x_bits):
    """Exhaustive over every input of the declared x_bits: no WidthError, and
    every residual of the naive loop fits the derived width."""
    K, T, h, d = tab
    p = FSParams(K=K, x_bits=x_bits, T=T, h=h, d=d)
    lo, hi = srange(x_bits)
    xs = list(range(lo, hi + 1))
    fs_golden(p, np.array(xs))
    vlo, vhi = srange(p.v_width)
    assert all(vlo <= v <= vhi for x in xs for v in naive_fs(T, h, d, x)[2])


@given(tab=tables(lim=100), data=st.data())
def test_declared_v_bits_raises_iff_a_residual_overflows(tab, data):
    K, T, h, d = tab
    v_bits = data.draw(st.integers(2, 8), label="v_bits")
    x = data.draw(ints(9), label="x")
    p = FSParams(K=K, x_bits=9, T=T, h=h, d=d, v_bits=v_bits)
    lo, hi = srange(v_bits)
    overflow = any(not lo <= v <= hi for v in naive_fs(T, h, d, x)[2])
    if overflow:
        with pytest.raises(WidthError, match="^v_bits: ") as e:
            fs_golden(p, np.array([x]))
        assert e.value.name == "v_bits" and (e.value.lo, e.value.hi) == (lo, hi)
    else:
        fs_golden(p, np.array([x]))


def test_too_small_v_bits_raises():
    p = FSParams.relu(K=8, x_bits=12).replace(v_bits=8)
    fs_golden(p, np.array([0, 100, -128]))                    # residuals fit 8 bits
    with pytest.raises(WidthError, match="^v_bits: ") as e:
        fs_golden(p, np.array([2047]))
    assert e.value.name == "v_bits"


def test_input_beyond_x_bits_raises():
    p = FSParams.relu(K=4, x_bits=6)
    fs_golden(p, np.array([-32, 31]))
    for bad in (32, -33):
        with pytest.raises(WidthError, match="^x_bits: ") as e:
            fs_golden(p, np.array([0, bad]))
        assert e.value.name == "x_bits" and e.value.value == bad


def test_fractional_input_rejected():
    with pytest.raises(ConfigError, match="^x must hold integers"):
        fs_golden(FSParams(), np.array([1.5]))


# ------------------------------------------------------------------------ counts

def test_counts_relu():
    r = fs_golden(FSParams.relu(K=4, x_bits=8), np.array([5, -3, 20]))
    c = r.counts
    assert (c.inferences, c.spikes, c.synaptic_adds) == (3, 2 + 0 + 4, 6)
    assert (c.state_updates, c.cycles, c.memory_reads, c.multiplications) == (3 * 4, 3 * 4, 0, 0)


def test_counts_general_tables_read_memory():
    p = FSParams(K=3, x_bits=8, T=(4, 2, 1), h=(4, 2, 1), d=(5, 3, 1))
    assert not p.is_relu
    c = fs_golden(p, np.array([[7, 0], [3, 1]])).counts
    assert (c.inferences, c.spikes, c.state_updates, c.cycles) == (4, 3 + 0 + 2 + 1, 4 * 3, 4 * 3)
    assert c.memory_reads == 3 * 3 * 4


def test_timing():
    p = FSParams.relu(K=6)
    assert (p.latency, p.initiation_interval, p.param_count) == (6, 6, 18)


# -------------------------------------------------------------- invalid params

@pytest.mark.parametrize("kwargs, msg", [
    (dict(K=0), "K must be >= 1, not 0"),
    (dict(K=33), "K must be <= 32, not 33"),
    (dict(K="8"), "K must be an integer, not '8'"),
    (dict(K=True), "K must be an integer, not True"),
    (dict(K=8.0), "K must be an integer, not 8.0"),
    (dict(x_bits=1), "x_bits must be >= 2, not 1"),
    (dict(x_bits=63), "x_bits must be <= 62, not 63"),
    (dict(K=4, T=(8, 4, 2)), "T must have 4 entries, not 3"),
    (dict(K=2, h=(1, 2, 3)), "h must have 2 entries, not 3"),
    (dict(K=2, d=(1, 2.5)), "d[1] must be an integer, not 2.5"),
    (dict(K=2, T=("1", 2)), "T[0] must be an integer, not '1'"),
    (dict(K=2, d=(1, True)), "d[1] must be an integer, not True"),
    (dict(K=2, T="ab"), "T must be a sequence of integers, not 'ab'"),
    (dict(K=2, h=5), "h must be a sequence of integers, not 5"),
    (dict(v_bits=1), "v_bits must be >= 2, not 1"),
    (dict(v_bits=False), "v_bits must be an integer, not False"),
])
def test_invalid_params_raise_config_error(kwargs, msg):
    with pytest.raises(ConfigError, match=exact(msg)):
        FSParams(**kwargs)


def test_numpy_integers_accepted():
    p = FSParams(K=np.int64(3), x_bits=np.int32(6), T=np.array([4, 2, 1]))
    assert p.K == 3 and p.T == (4, 2, 1) and all(type(v) is int for v in p.T)


# ------------------------------------------------------------------------ JSON

@given(tab=tables(), x_bits=st.integers(2, 20), declare=st.booleans())
def test_json_round_trip(tab, x_bits, declare):
    K, T, h, d = tab
    p = FSParams(K=K, x_bits=x_bits, T=T, h=h, d=d)
    if declare:
        p = p.replace(v_bits=p.v_width + 3)
    assert FSParams.from_dict(p.to_dict()) == p
    assert FSParams.from_json(p.to_json()) == p
    assert p.to_dict()["type"] == "fs"


def test_json_round_trip_relu_runs_identically():
    p = FSParams.relu(K=5, x_bits=7)
    q = FSParams.from_json(p.to_json())
    assert q == p and q.is_relu
    x = np.arange(-64, 64)
    np.testing.assert_array_equal(fs_golden(q, x).z, fs_golden(p, x).z)


def test_from_dict_rejects_unknown_fields_and_wrong_type():
    d = FSParams().to_dict()
    with pytest.raises(ConfigError, match=exact("FSParams: unknown field(s) bar, foo")):
        FSParams.from_dict({**d, "foo": 1, "bar": 2})
    with pytest.raises(ConfigError, match=exact("FSParams: 'type' must be 'fs', not 'amos'")):
        FSParams.from_dict({**d, "type": "amos"})
    with pytest.raises(ConfigError, match=exact("FSParams: expected a JSON object, not list")):
        FSParams.from_dict([1, 2])
    with pytest.raises(ConfigError, match=r"^FSParams: invalid JSON"):
        FSParams.from_json("{nope")
    with pytest.raises(ConfigError, match=exact("K must be >= 1, not 0")):
        FSParams.from_dict({**d, "K": 0})


def test_uint64_inputs_beyond_int64_are_refused_not_wrapped():
    p = FSParams.relu(K=4, x_bits=8)
    np.testing.assert_array_equal(fs_golden(p, np.array([3, 20], dtype=np.uint64)).y, [3, 15])
    with pytest.raises(ConfigError, match=exact(f"x holds {2**64 - 1}, beyond the int64 range")):
        fs_golden(p, np.array([2**64 - 1], dtype=np.uint64))          # would wrap to −1
