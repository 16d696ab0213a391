"""Integer ANN MAC baseline (docs/cores/ann.md) and the exact integer helpers of base.py."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from factories import clamp, exact, matrices, srange, vectors
from spikeforge.models.ann import MACParams, ann_golden
from spikeforge.models.base import exact_matmul, floor_shift
from spikeforge.models.errors import ConfigError, WidthError


def naive_mac(W, b, shift, out_bits, x):
    """acc = b + Σ W·x; y = clamp(floor(acc / 2^shift), 0, 2^out_bits − 1), or acc (logits)."""
    acc = [bi + sum(w * v for w, v in zip(row, x)) for row, bi in zip(W, b)]
    if out_bits is None:
        return acc, acc
    return acc, [clamp(a // 2**shift, 0, 2**out_bits - 1) for a in acc]


@st.composite
def mac_layers(draw, max_in=6, max_out=4):
    n_in, n_out = draw(st.integers(1, max_in)), draw(st.integers(1, max_out))
    w_bits, in_bits = draw(st.integers(2, 9)), draw(st.integers(1, 9))
    in_signed = draw(st.booleans())
    kw = dict(weights=draw(matrices(st.integers(*srange(w_bits)), n_out, n_in)),
              bias=draw(vectors(st.integers(-5000, 5000), n_out)), shift=draw(st.integers(0, 8)),
              in_bits=in_bits, in_signed=in_signed, w_bits=w_bits,
              out_bits=draw(st.one_of(st.none(), st.integers(1, 8))))
    xlo, xhi = srange(in_bits) if in_signed else (0, 2**in_bits - 1)
    x = draw(st.lists(vectors(st.integers(xlo, xhi), n_in), min_size=1, max_size=4))
    return kw, x


@given(layer=mac_layers())
def test_mac_matches_naive_ints(layer):
    kw, xs = layer
    r = ann_golden(MACParams(**kw), np.array(xs))
    expect = [naive_mac(kw["weights"], kw["bias"], kw["shift"], kw["out_bits"], x) for x in xs]
    np.testing.assert_array_equal(r.acc, np.array([e[0] for e in expect]))
    np.testing.assert_array_equal(r.y, np.array([e[1] for e in expect]))


@given(layer=mac_layers(), top=st.booleans())
def test_derived_acc_bits_never_raises(layer, top):
    """Inputs at the extremes of their range against each weight's sign."""
    kw, _ = layer
    p = MACParams(**kw)
    xlo, xhi = srange(kw["in_bits"]) if kw["in_signed"] else (0, 2**kw["in_bits"] - 1)
    xs = [[(xhi if (w > 0) == top else xlo) for w in row] for row in kw["weights"]]
    r = ann_golden(p, np.array(xs))
    lo, hi = srange(p.acc_width)
    assert all(lo <= a <= hi for x in xs for a in naive_mac(kw["weights"], kw["bias"], 0, None, x)[0])
    assert r.acc.shape == (len(xs), len(kw["weights"]))


def test_clamp_and_floor_shift_on_negative_accumulators():
    p = MACParams(weights=((1,), (-1,), (1,)), bias=(0, 0, 100), shift=2, in_bits=8, in_signed=True,
                  out_bits=3)
    r = ann_golden(p, np.array([[-5], [5], [127], [-1]]))
    np.testing.assert_array_equal(r.acc, [[-5, 5, 95], [5, -5, 105], [127, -127, 227], [-1, 1, 99]])
    # floor(acc / 4): -2, 1, 23 | 1, -2, 26 | 31, -32, 56 | -1, 0, 24; then clamp to [0, 7]
    np.testing.assert_array_equal(r.y, [[0, 1, 7], [1, 0, 7], [7, 0, 7], [0, 0, 7]])
    np.testing.assert_array_equal(floor_shift(np.array([-5, -4, -1, 0, 1, 5]), 2), [-2, -1, -1, 0, 0, 1])
    np.testing.assert_array_equal(floor_shift(np.array([-(2**62), 2**62 - 1]), 61), [-2, 1])


def test_out_bits_none_gives_logits():
    p = MACParams(weights=((2, -3),), bias=(-7,), shift=3, out_bits=None)
    r = ann_golden(p, np.array([[1, 4], [10, 0]]))
    np.testing.assert_array_equal(r.y, [[-17], [13]])               # no shift, no clamp
    np.testing.assert_array_equal(r.acc, r.y)


def test_acc_bits_overflow_raises():
    p = MACParams(weights=((100, 100),), acc_bits=12)                # [-2048, 2047]
    ann_golden(p, np.array([10, 10]))
    with pytest.raises(WidthError, match="^acc_bits: ") as e:
        ann_golden(p, np.array([10, 11]))
    assert e.value.name == "acc_bits" and e.value.value == 2100


def test_inputs_beyond_in_bits_raise():
    p = MACParams(weights=((1, 1),), in_bits=4)
    with pytest.raises(WidthError, match="^in_bits: "):
        ann_golden(p, np.array([0, 16]))
    with pytest.raises(WidthError, match="^in_bits: "):
        ann_golden(p, np.array([-1, 0]))                              # unsigned by default
    ann_golden(p.replace(in_signed=True), np.array([-8, 7]))


def test_counts_and_lanes():
    p = MACParams(weights=((1, 2, 3, 4), (1, 1, 1, 1), (0, 0, 0, 1)), lanes=2)
    assert (p.groups, p.group_sizes) == (2, (2, 1))
    assert p.cycles_per_inference == 2 * 4 + 3 - 2          # G·n_in MAC + n_out beats − G shared
    assert p.latency == p.initiation_interval == 9
    c = ann_golden(p, np.ones((5, 4), dtype=np.int64)).counts
    assert (c.inferences, c.multiplications, c.synaptic_adds, c.memory_reads) == (5, 60, 60, 60)
    assert (c.state_updates, c.cycles) == (15, 5 * 9)
    one = MACParams(weights=((1,), (2,), (3,)))
    assert one.lanes is None and one.lane_count == 3
    assert one.cycles_per_inference == 1 + 3 - 1                     # the output beats dominate


# ------------------------------------------------------------------ validation

@pytest.mark.parametrize("kwargs, msg", [
    (dict(weights=((1, 2, 3), (4, 5, 9)), w_bits=4), "weights[1][2] = 9 does not fit w_bits=4 (range [-8, 7])"),
    (dict(weights=((-129,),)), "weights[0][0] = -129 does not fit w_bits=8 (range [-128, 127])"),
    (dict(weights=((1, 2), (3,))), "weights must be rectangular (rows of equal length)"),
    (dict(weights=()), "weights must not be empty"),
    (dict(weights=((),)), "weights must not be empty"),
    (dict(weights="12"), "weights must be a matrix of integers, not '12'"),
    (dict(weights=((1, 2.5),)), "weights[0][1] must be an integer, not 2.5"),
    (dict(weights=((1,), (2,)), bias=(1,)), "bias must have 2 entries, not 1"),
    (dict(bias=(2**70,)), f"bias[0] must be <= {2**60}, not {2**70}"),
    (dict(w_bits=1), "w_bits must be >= 2, not 1"),
    (dict(shift=-1), "shift must be >= 0, not -1"),
    (dict(in_signed=0), "in_signed must be true or false, not 0"),
    (dict(out_bits=0), "out_bits must be >= 1, not 0"),
    (dict(acc_bits=63), "acc_bits must be <= 62, not 63"),
    (dict(weights=((1,), (2,), (3,)), lanes=4), "lanes must be <= 3, not 4"),
    (dict(lanes=0), "lanes must be >= 1, not 0"),
])
def test_invalid_params_raise_config_error(kwargs, msg):
    with pytest.raises(ConfigError, match=exact(msg)):
        MACParams(**kwargs)


def test_shape_mismatch_raises():
    p = MACParams(weights=((1, 2, 3),))
    for x in (np.array([1, 2]), np.array([[1, 2, 3, 4]]), np.array(5)):
        with pytest.raises(ConfigError, match=exact(f"x must have shape (..., 3), not {x.shape}")):
            ann_golden(p, x)
    with pytest.raises(ConfigError, match=r"^x must be an integer array, not dtype <U1$"):
        ann_golden(p, np.array(["1", "2", "3"]))


def test_numpy_weights_accepted():
    p = MACParams(weights=np.array([[1, -2], [3, 4]]), bias=np.array([1, 2]))
    assert p.weights == ((1, -2), (3, 4)) and p.bias == (1, 2)


def test_zero_layer_width_round_trips():
    p = MACParams(weights=((0, 0),))                                # acc ≡ 0
    assert p.acc_width == 2
    assert MACParams.from_json(p.to_json()) == p


@given(layer=mac_layers(), declare=st.booleans())
def test_json_round_trip(layer, declare):
    p = MACParams(**layer[0])
    if declare:
        p = p.replace(acc_bits=p.acc_width + 1, lanes=1)
    assert MACParams.from_dict(p.to_dict()) == p
    assert MACParams.from_json(p.to_json()) == p
    assert p.to_dict()["type"] == "ann"


def test_from_dict_rejects_unknown_fields_and_wrong_type():
    d = MACParams().to_dict()
    with pytest.raises(ConfigError, match=exact("MACParams: unknown field(s) threshold")):
        MACParams.from_dict({**d, "threshold": 3})
    with pytest.raises(ConfigError, match=exact("MACParams: 'type' must be 'ann', not None")):
        MACParams.from_dict({**d, "type": None})


# -------------------------------------------------------------- exact_matmul

def naive_matmul(a, b):
    return [[sum(x * y for x, y in zip(row, col)) for col in zip(*b)] for row in a]


@given(data=st.data())
def test_exact_matmul_equals_python_ints(data):
    n, k, m = (data.draw(st.integers(1, 4), label=s) for s in "nkm")
    a_bits = data.draw(st.integers(1, 40), label="a_bits")
    b_bits = data.draw(st.integers(1, 58 - a_bits), label="b_bits")          # bound < 2^61
    a = data.draw(matrices(st.integers(-(2**a_bits), 2**a_bits), n, k), label="a")
    b = data.draw(matrices(st.integers(-(2**b_bits), 2**b_bits), k, m), label="b")
    r = exact_matmul(np.array(a, dtype=np.int64), np.array(b, dtype=np.int64))
    assert r.dtype == np.int64
    np.testing.assert_array_equal(r, np.array(naive_matmul(a, b), dtype=np.int64))


def test_exact_matmul_beyond_float64_precision():
    """Bound 2^61 > 2^53: a float64 product would round; the result must be exact."""
    a = np.array([[2**40 + 1, -(2**40) + 3], [7, 2**40 - 1]], dtype=np.int64)
    b = np.array([[2**20 + 1, 5], [2**19 - 1, -(2**20) - 3]], dtype=np.int64)
    r = exact_matmul(a, b)
    np.testing.assert_array_equal(r, np.array(naive_matmul(a.tolist(), b.tolist()), dtype=np.int64))
    np.testing.assert_array_equal(r, a @ b)
    assert int(r[0, 0]) != int(np.float64(a[0, 0]) * np.float64(b[0, 0]) + np.float64(a[0, 1]) * np.float64(b[1, 0]))


def test_exact_matmul_batched_and_refuses_int64_overflow():
    a = np.arange(24, dtype=np.int64).reshape(2, 3, 4) - 12
    b = np.arange(8, dtype=np.int64).reshape(4, 2) - 3
    np.testing.assert_array_equal(exact_matmul(a, b), a @ b)
    with pytest.raises(WidthError, match="^matmul accumulator: "):
        exact_matmul(np.array([[2**31, 1]]), np.array([[2**31], [1]]))   # bound 2^63
    assert exact_matmul(np.zeros((0, 3), dtype=np.int64), np.ones((3, 2), dtype=np.int64)).shape == (0, 2)
