"""AMOS unit golden model (docs/cores/amos.md) against a naive Python loop of its equations."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from factories import clamp, exact, ints, srange, vectors
from spikeforge.models.amos import AMOSParams, amos_golden, amos_param_count
from spikeforge.models.errors import ConfigError, WidthError
from spikeforge.models.fs import FSParams, fs_golden


def naive_amos(c, T, d, h, x, c2=None, x2=None):
    """Stöckl & Maass 2020, eqs. 2/4 (docs/cores/amos.md), with Python ints: returns (z list, y, gate potentials u)."""
    z, us = [], []
    for i in range(len(c)):
        u = c[i] * x - sum(h[i][j] * z[j] for j in range(i)) - T[i]
        if c2 is not None:
            u += c2[i] * x2
        us.append(u)
        z.append(1 if u >= 0 else 0)
    return z, sum(di * zi for di, zi in zip(d, z)), us


@st.composite
def units(draw, max_K=6, lim=40, two_inputs=False):
    """Random AMOS parameters (K, c, T, d, h, c2) including negative entries."""
    K = draw(st.integers(1, max_K))
    e = st.integers(-lim, lim)
    c, T, d = draw(vectors(e, K)), draw(vectors(e, K)), draw(vectors(e, K))
    h = [draw(vectors(e, i)) for i in range(K)]        # row i holds h_ij, j < i
    c2 = draw(vectors(e, K)) if two_inputs else None
    return K, c, T, d, h, c2


# ------------------------------------------------------------------------ ReLU

@given(K=st.integers(1, 16), data=st.data())
def test_relu_amos_equals_fs_relu_equals_clamp(K, data):
    x_bits = data.draw(st.integers(2, 20), label="x_bits")
    x = np.array(data.draw(st.lists(ints(x_bits), min_size=1, max_size=8), label="x"))
    a = amos_golden(AMOSParams.relu(K=K, x_bits=x_bits), x)
    f = fs_golden(FSParams.relu(K=K, x_bits=x_bits), x)
    expect = np.array([clamp(int(v), 0, 2**K - 1) for v in x])
    np.testing.assert_array_equal(a.y, expect)
    np.testing.assert_array_equal(f.y, expect)
    np.testing.assert_array_equal(a.z, f.z)
    assert a.counts.spikes == sum(bin(v).count("1") for v in expect)


def test_relu_parameters_from_spec():
    p = AMOSParams.relu(K=4, x_bits=8)
    assert p.c_table == (1, 1, 1, 1) and p.T_table == p.d_table == (8, 4, 2, 1)
    assert p.h_table == ((), (8,), (8, 4), (8, 4, 2))
    assert p.c is p.T is p.d is p.h is p.u_bits is None      # derived, not declared
    assert p.is_relu and p.shared_inhibition and not p.two_inputs


# ---------------------------------------------------------------- general units

@given(unit=units(), data=st.data())
def test_general_unit_matches_naive_loop(unit, data):
    K, c, T, d, h, _ = unit
    x_bits = data.draw(st.integers(2, 10), label="x_bits")
    xs = data.draw(st.lists(ints(x_bits), min_size=1, max_size=6), label="x")
    r = amos_golden(AMOSParams(K=K, x_bits=x_bits, c=c, T=T, d=d, h=h), np.array(xs))
    expect = [naive_amos(c, T, d, h, x) for x in xs]
    np.testing.assert_array_equal(r.z, np.array([e[0] for e in expect]))
    np.testing.assert_array_equal(r.y, np.array([e[1] for e in expect]))


@given(unit=units(two_inputs=True), data=st.data())
def test_two_input_unit_matches_naive_loop(unit, data):
    K, c, T, d, h, c2 = unit
    x_bits = data.draw(st.integers(2, 8), label="x_bits")
    x2_bits = data.draw(st.integers(2, 8), label="x2_bits")
    n = data.draw(st.integers(1, 6), label="n")
    xs = data.draw(vectors(ints(x_bits), n), label="x")
    x2s = data.draw(vectors(ints(x2_bits), n), label="x2")
    p = AMOSParams(K=K, x_bits=x_bits, c=c, T=T, d=d, h=h, c2=c2, x2_bits=x2_bits)
    r = amos_golden(p, np.array(xs), np.array(x2s))
    expect = [naive_amos(c, T, d, h, x, c2, x2) for x, x2 in zip(xs, x2s)]
    np.testing.assert_array_equal(r.z, np.array([e[0] for e in expect]))
    np.testing.assert_array_equal(r.y, np.array([e[1] for e in expect]))


def test_two_input_x2_required_and_one_input_x2_refused():
    two = AMOSParams(K=2, c=(1, 1), c2=(1, -1))
    with pytest.raises(ConfigError, match=exact("this AMOS unit has two inputs (c2 set): pass x2")):
        amos_golden(two, np.array([1]))
    with pytest.raises(ConfigError, match=exact("x2 must have the shape of x (2,), not (3,)")):
        amos_golden(two, np.array([1, 2]), np.array([1, 2, 3]))
    with pytest.raises(ConfigError, match=exact("this AMOS unit has one input: x2 given but c2 is not set")):
        amos_golden(AMOSParams(K=2), np.array([1]), np.array([1]))


def test_x2_beyond_x2_bits_raises():
    p = AMOSParams(K=2, c2=(1, 1), x2_bits=4)
    with pytest.raises(WidthError, match="^x2_bits: ") as e:
        amos_golden(p, np.array([0]), np.array([8]))
    assert e.value.name == "x2_bits"


@given(unit=units(lim=200), x_bits=st.integers(2, 8), two=st.booleans())
def test_derived_u_bits_never_raises(unit, x_bits, two):
    """Exhaustive over every input in range: no WidthError, every u fits u_bits."""
    K, c, T, d, h, _ = unit
    c2 = [(-1) ** i * (i + 3) for i in range(K)] if two else None
    p = AMOSParams(K=K, x_bits=x_bits, c=c, T=T, d=d, h=h, c2=c2, x2_bits=3)
    lo, hi = srange(x_bits)
    xs = list(range(lo, hi + 1))
    pairs = [(x, x2) for x in xs for x2 in ((-4, 3) if two else (None,))]
    amos_golden(p, np.array([a for a, _ in pairs]), np.array([b for _, b in pairs]) if two else None)
    ulo, uhi = srange(p.u_width)
    assert all(ulo <= u <= uhi for x, x2 in pairs for u in naive_amos(c, T, d, h, x, c2, x2)[2])


def test_u_bits_overflow_raises():
    p = AMOSParams.relu(K=4, x_bits=12).replace(u_bits=6)
    amos_golden(p, np.array([0, 31, -20]))                    # every u_i fits 6 bits
    with pytest.raises(WidthError, match="^u_bits: ") as e:
        amos_golden(p, np.array([2047]))
    assert e.value.name == "u_bits" and (e.value.lo, e.value.hi) == (-32, 31)


def test_input_beyond_x_bits_raises():
    with pytest.raises(WidthError, match="^x_bits: ") as e:
        amos_golden(AMOSParams.relu(K=3, x_bits=4), np.array([8]))
    assert e.value.name == "x_bits"


def test_gate_potential_beyond_int64_is_refused():
    """c·x needs 70 bits here: int64 arithmetic would wrap, so the unit is refused
    (even with a narrow declared u_bits), never run with silently wrong spikes."""
    for u_bits in (None, 20):
        with pytest.raises(ConfigError, match=r"^u_bits: the gate potentials need 70 bits "):
            AMOSParams(K=1, x_bits=30, c=(1 << 40,), T=(0,), d=(1,), u_bits=u_bits)
    p = AMOSParams(K=1, x_bits=21, c=(1 << 40,), T=(0,), d=(1,))      # 61 bits: exact
    r = amos_golden(p, np.array([2**20 - 1, -(2**20), 0, -1]))
    np.testing.assert_array_equal(r.z[:, 0], [1, 0, 1, 0])


def test_derived_u_bits_is_a_valid_declared_width():
    p = AMOSParams(K=1, x_bits=4, c=(0,), T=(0,), d=(1,))     # u ≡ 0
    assert p.u_width == 2
    assert AMOSParams.from_json(p.to_json()) == p


# ---------------------------------------------------------------- param counts

@pytest.mark.parametrize("K, two, expect", [(8, False, 52), (10, False, 75), (12, False, 102),
                                            (40, True, 940)])
def test_param_count_table_3(K, two, expect):
    assert amos_param_count(K, two) == expect
    c2 = (1,) * K if two else None
    assert AMOSParams(K=K, x_bits=8, c2=c2).param_count == expect


@given(K=st.integers(1, 32))
def test_param_count_formula(K):
    assert amos_param_count(K) == 3 * K + K * (K - 1) // 2
    assert amos_param_count(K, True) == 4 * K + K * (K - 1) // 2


# ------------------------------------------------------------- counts, timing

def test_counts_and_pipeline_timing():
    p = AMOSParams.relu(K=4, x_bits=8)
    assert (p.latency, p.initiation_interval) == (4, 1)
    c = amos_golden(p, np.array([5, 0, 15, -2, 3])).counts
    assert (c.inferences, c.spikes, c.state_updates, c.multiplications) == (5, 2 + 0 + 4 + 0 + 2, 20, 0)
    assert c.cycles == 5 + 4 - 1                               # one x per cycle, latency 4


def test_non_power_of_two_gains_count_multiplications():
    p = AMOSParams(K=3, c=(1, 3, -4), c2=(0, 5, 2))
    assert p.gain_multiplications == 2
    assert amos_golden(p, np.array([1, 2]), np.array([0, 0])).counts.multiplications == 4


# --------------------------------------------------------------- validation

@pytest.mark.parametrize("kwargs, msg", [
    (dict(K=0), "K must be >= 1, not 0"),
    (dict(K=41), "K must be <= 40, not 41"),
    (dict(K="8"), "K must be an integer, not '8'"),
    (dict(x_bits=1), "x_bits must be >= 2, not 1"),
    (dict(x2_bits=1), "x2_bits must be >= 2, not 1"),
    (dict(K=3, c=(1, 1)), "c must have 3 entries, not 2"),
    (dict(K=2, T=(1, 0.5)), "T[1] must be an integer, not 0.5"),
    (dict(K=2, d=(True, 1)), "d[0] must be an integer, not True"),
    (dict(K=2, c2=(1,)), "c2 must have 2 entries, not 1"),
    (dict(K=3, h=((), (1,))), "h must have 3 rows (row i holds h_ij for j < i), not 2"),
    (dict(K=3, h=((), (1,), (1,))), "h[2] must have 2 entries, not 1"),
    (dict(K=3, h=((), (1, 2), (1, 2))), "h[1] must have 1 entries, not 2"),
    (dict(K=3, h=((0,), (1,), (1, 2))), "h[0] must have 0 entries, not 1"),
    (dict(K=2, h=((), (1.5,))), "h[1][0] must be an integer, not 1.5"),
    (dict(K=2, h="ab"), "h must be a list of K rows, not 'ab'"),
    (dict(u_bits=1), "u_bits must be >= 2, not 1"),
])
def test_invalid_params_raise_config_error(kwargs, msg):
    with pytest.raises(ConfigError, match=exact(msg)):
        AMOSParams(**kwargs)


# ------------------------------------------------------------------------ JSON

@given(unit=units(), two=st.booleans(), declare=st.booleans())
def test_json_round_trip(unit, two, declare):
    K, c, T, d, h, _ = unit
    p = AMOSParams(K=K, x_bits=9, c=c, T=T, d=d, h=h, c2=c[::-1] if two else None)
    if declare:
        p = p.replace(u_bits=p.u_width + 1)
    assert AMOSParams.from_dict(p.to_dict()) == p
    assert AMOSParams.from_json(p.to_json()) == p
    assert p.to_dict()["type"] == "amos"


def test_from_dict_rejects_unknown_fields_and_wrong_type():
    d = AMOSParams().to_dict()
    with pytest.raises(ConfigError, match=exact("AMOSParams: unknown field(s) x3")):
        AMOSParams.from_dict({**d, "x3": 1})
    with pytest.raises(ConfigError, match=exact("AMOSParams: 'type' must be 'amos', not 'fs'")):
        AMOSParams.from_dict({**d, "type": "fs"})
