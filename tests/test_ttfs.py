"""TTFS integrator layer (docs/cores/ttfs.md, module docstring of models/ttfs.py).

Three implementations must agree: a naive pure-Python tick loop written here
from the documented event order, the NumPy tick model ``ttfs_ticks`` and the
event model ``ttfs_golden``; and the layer must equal the integer ReLU layer
clamp(floor((W·x + b) / 2^F), 0, 2^out_bits − 1), computed here with Python ints.
"""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from factories import clamp, exact, matrices, srange, vectors
from spikeforge.models.errors import ConfigError, WidthError
from spikeforge.models.ttfs import (TTFSParams, times_from_values, ttfs_golden, ttfs_maxpool,
                                    ttfs_ticks)

VARIANTS = ("at_most_one", "exactly_one")


# ------------------------------------------------------------ naive references

def naive_ticks(W, theta, F, in_bits, out_bits, variant, t_in):
    """The documented event order, one neuron and one tick at a time (Python ints).

    Returns (t_out, y, trace); trace lists ("slope_bits" | "v_bits", values) in
    the order the states are produced, for width checks.
    """
    n_out, n_in = len(W), len(W[0])
    T0 = 2**in_bits - 1
    spiking = out_bits is not None
    B = 2**out_bits - 1 if spiking else 0
    k_max = B if variant == "exactly_one" else B - 1
    slope, V, t_out, trace = [0] * n_out, [0] * n_out, [-1] * n_out, []
    for t in range(T0 + B + 1):
        for i in range(n_out):
            slope[i] += sum(W[i][j] for j in range(n_in) if t_in[j] == t)          # 1.
            if t == T0:                                                            # 2.
                slope[i] = 2**F if variant == "at_most_one" else slope[i] + 2**F - sum(W[i])
        trace.append(("slope_bits", list(slope)))
        V = [v + s for v, s in zip(V, slope)]                                       # 3.
        trace.append(("v_bits", list(V)))
        if spiking and T0 <= t <= T0 + k_max:                                      # 4., 5.
            for i in range(n_out):
                last = variant == "exactly_one" and t == T0 + B
                if t_out[i] < 0 and (V[i] >= theta[i] or last):
                    t_out[i] = t
    if spiking:
        y = [T0 + B - t if t >= 0 else 0 for t in t_out]
    else:
        y = [V[i] - theta[i] for i in range(n_out)]
    return t_out, y, trace


def relu_layer(W, b, F, out_bits, x):
    """The integer ReLU layer (or logits when out_bits is None), Python ints."""
    acc = [sum(w * v for w, v in zip(row, x)) + bi for row, bi in zip(W, b)]
    if out_bits is None:
        return acc
    return [clamp(a // 2**F, 0, 2**out_bits - 1) for a in acc]


def ticks_of(x, bits, variant):
    """Spike tick of value x in a window of 2^bits − 1 ticks (−1: no spike)."""
    if variant == "at_most_one" and x == 0:
        return -1
    return 2**bits - 1 - x


# ------------------------------------------------------------------ strategies

@st.composite
def layers(draw, spiking=None, max_in=8, max_out=5):
    """Random layer: (W, b, F, in_bits, out_bits, variant, w_bits)."""
    n_in, n_out = draw(st.integers(1, max_in)), draw(st.integers(1, max_out))
    w_bits = draw(st.integers(2, 7))
    W = draw(matrices(st.integers(*srange(w_bits)), n_out, n_in))
    F = draw(st.integers(0, 6))
    b = draw(vectors(st.integers(-40 * 2**F, 40 * 2**F), n_out))
    in_bits = draw(st.integers(1, 5))
    if spiking is None:
        spiking = draw(st.booleans())
    out_bits = draw(st.integers(1, 5)) if spiking else None
    variant = draw(st.sampled_from(VARIANTS))
    return W, b, F, in_bits, out_bits, variant, w_bits


def relu_params(layer):
    W, b, F, in_bits, out_bits, variant, w_bits = layer
    return TTFSParams.from_relu_layer(W, b, F, in_bits, out_bits, variant, w_bits)


def in_values(in_bits, n):
    return vectors(st.integers(0, 2**in_bits - 1), n)


# ----------------------------------------------- (1) tick model == event model

@given(layer=layers(), data=st.data())
def test_tick_and_event_models_agree_on_any_input_ticks(layer, data):
    W, b, F, in_bits, out_bits, variant, w_bits = layer
    thresholds = data.draw(vectors(st.integers(-200, 600), len(W)), label="thresholds")
    p = TTFSParams(weights=W, thresholds=thresholds, slope_shift=F, in_bits=in_bits,
                   out_bits=out_bits, variant=variant, w_bits=w_bits)
    batch = data.draw(st.lists(vectors(st.integers(-1, 2**in_bits - 1), len(W[0])),
                               min_size=1, max_size=4), label="t_in")
    t_in = np.array(batch)
    rt, rg = ttfs_ticks(p, t_in), ttfs_golden(p, t_in)
    expect = [naive_ticks(W, thresholds, F, in_bits, out_bits, variant, row) for row in batch]
    np.testing.assert_array_equal(rt.t_out, np.array([e[0] for e in expect]))
    np.testing.assert_array_equal(rt.y, np.array([e[1] for e in expect]))
    np.testing.assert_array_equal(rg.t_out, rt.t_out)
    np.testing.assert_array_equal(rg.y, rt.y)
    assert rg.counts == rt.counts


@given(layer=layers(), data=st.data())
def test_tick_and_event_models_agree_on_relu_layers(layer, data):
    p = relu_params(layer)
    W, in_bits, variant = layer[0], layer[3], layer[5]
    xs = data.draw(st.lists(in_values(in_bits, len(W[0])), min_size=1, max_size=4), label="x")
    t_in = times_from_values(np.array(xs), in_bits, variant)
    rt, rg = ttfs_ticks(p, t_in), ttfs_golden(p, t_in)
    np.testing.assert_array_equal(rg.t_out, rt.t_out)
    np.testing.assert_array_equal(rg.y, rt.y)


# ------------------------------------------------ (2) equality with integer ReLU

@given(layer=layers(), data=st.data())
def test_layer_equals_integer_relu_reference(layer, data):
    W, b, F, in_bits, out_bits, variant, _ = layer
    p = relu_params(layer)
    xs = data.draw(st.lists(in_values(in_bits, len(W[0])), min_size=1, max_size=4), label="x")
    t_in = times_from_values(np.array(xs), in_bits, variant)
    np.testing.assert_array_equal(t_in, [[ticks_of(x, in_bits, variant) for x in row] for row in xs])
    expect = np.array([relu_layer(W, b, F, out_bits, x) for x in xs])
    np.testing.assert_array_equal(ttfs_golden(p, t_in).y, expect)
    np.testing.assert_array_equal(ttfs_ticks(p, t_in).y, expect)


def test_output_layer_reads_logits():
    W, b = [[3, -2, 5], [-7, 1, 0]], [4, -100]
    x = [[15, 0, 7], [1, 2, 3], [0, 0, 0]]
    for variant in VARIANTS:
        p = TTFSParams.from_relu_layer(W, b, 3, 4, None, variant)
        assert not p.spiking and p.ticks == p.T0 + 1
        r = ttfs_golden(p, times_from_values(np.array(x), 4, variant))
        np.testing.assert_array_equal(r.y, [[84, -205], [18, -105], [4, -100]])
        np.testing.assert_array_equal(r.t_out, np.full((3, 2), -1))
        assert r.counts.spikes == 0


def test_spike_time_encodes_value_in_window():
    """A spike at local tick T0 + k encodes y = B − k (Stanojevic 2023, eq. 3.5: x = t_max − t)."""
    p = TTFSParams.from_relu_layer([[1]], [0], 0, 3, 3)            # y = x, T0 = 7, B = 7
    r = ttfs_golden(p, times_from_values(np.arange(8)[:, None], 3))
    np.testing.assert_array_equal(r.y[:, 0], np.arange(8))
    np.testing.assert_array_equal(r.t_out[:, 0], [-1, 13, 12, 11, 10, 9, 8, 7])


def test_default_thresholds_mean_zero_bias():
    p = TTFSParams(weights=((1, 2),), slope_shift=2, in_bits=3, out_bits=2)
    assert p.threshold_values == (4 * 4,) and p.equivalent_bias == (0,) and p.thresholds is None
    q = TTFSParams.from_relu_layer([[1, 2]], [5], 2, 3, 2)
    assert q.equivalent_bias == (5,)
    assert TTFSParams(weights=((1,),), slope_shift=3, out_bits=None).threshold_values == (8,)


def test_cycle_count_is_the_rtl_schedule():
    """Counts.cycles = inferences·(ticks + fixed output beats) + input spikes + output spikes:
    one cycle per input event, per tick advance and per output beat (hdl/ttfs.py)."""
    p = TTFSParams.from_relu_layer([[1]], [0], 0, 3, 3)            # y = x, 15 ticks
    assert (p.ticks, p.fixed_out_beats, p.cycles_per_inference_min) == (15, 1, 16)
    t = times_from_values(np.array([[0], [7], [3]]), 3)            # no spike, at 0, at 4
    for model in (ttfs_ticks, ttfs_golden):
        c = model(p, t).counts
        assert (c.spikes, c.synaptic_adds, c.cycles) == (2, 2, 3 * 16 + 2 + 2)
    q = TTFSParams.from_relu_layer([[1, 2], [3, 4], [5, 6]], [0, 0, 0], 0, 3, None)
    assert (q.ticks, q.fixed_out_beats) == (8, 3)
    assert ttfs_golden(q, np.array([[0, -1], [7, 7]])).counts.cycles == 2 * (8 + 3) + 3


# --------------------------------------------------------- (3) spike counts

@given(layer=layers(spiking=True), data=st.data())
def test_spike_counts_per_variant(layer, data):
    W, b, F, in_bits, out_bits, variant, _ = layer
    p = relu_params(layer)
    xs = data.draw(st.lists(in_values(in_bits, len(W[0])), min_size=1, max_size=4), label="x")
    r = ttfs_golden(p, times_from_values(np.array(xs), in_bits, variant))
    fired = r.t_out >= 0
    assert np.all(r.t_out[fired] >= p.T0) and np.all(r.t_out[fired] <= p.T0 + p.B)
    if variant == "at_most_one":
        np.testing.assert_array_equal(fired, r.y >= 1)
        assert r.counts.spikes == sum(v >= 1 for x in xs for v in relu_layer(W, b, F, out_bits, x))
        assert np.all(r.t_out[fired] <= p.T0 + p.B - 1)        # a spike never encodes 0
    else:
        assert fired.all() and r.counts.spikes == r.t_out.size


def test_each_neuron_fires_at_most_once_in_tick_loop():
    """V keeps rising past ϑ after the spike (W = 4, 4, −1): still one spike per neuron."""
    W, th = [[4, 4, -1], [1, 1, 1]], [10, 1000]
    for variant in VARIANTS:
        t_out, _, _ = naive_ticks(W, th, 1, 3, 3, variant, [0, 2, 7])
        r = ttfs_ticks(TTFSParams(weights=W, thresholds=th, slope_shift=1, in_bits=3, out_bits=3,
                                  variant=variant), np.array([0, 2, 7]))
        np.testing.assert_array_equal(r.t_out, t_out)
        assert r.counts.spikes == sum(t >= 0 for t in t_out) <= len(W)


# ----------------------------------------------- (4) multi-layer networks

@st.composite
def networks(draw):
    """2–3 chained layers: sizes, weights, biases, shifts, bit widths, variant."""
    depth = draw(st.integers(2, 3))
    sizes = draw(vectors(st.integers(1, 5), depth + 1))
    bits = draw(vectors(st.integers(1, 4), depth))             # activation width of layer inputs
    variant = draw(st.sampled_from(VARIANTS))
    spiking_out = draw(st.booleans())
    specs = []
    for k in range(depth):
        F = draw(st.integers(0, 4))
        W = draw(matrices(st.integers(-15, 15), sizes[k + 1], sizes[k]))
        b = draw(vectors(st.integers(-20 * 2**F, 20 * 2**F), sizes[k + 1]))
        last = k == depth - 1
        out_bits = (draw(st.integers(1, 4)) if spiking_out else None) if last else bits[k + 1]
        specs.append((W, b, F, bits[k], out_bits))
    x = draw(st.lists(in_values(bits[0], sizes[0]), min_size=1, max_size=3))
    return specs, variant, x


@given(net=networks())
def test_chained_layers_equal_integer_relu_network(net):
    specs, variant, xs = net
    t = times_from_values(np.array(xs), specs[0][3], variant)
    for W, b, F, in_bits, out_bits in specs:
        p = TTFSParams.from_relu_layer(W, b, F, in_bits, out_bits, variant)
        r = ttfs_golden(p, t)
        np.testing.assert_array_equal(ttfs_ticks(p, t).t_out, r.t_out)
        t = np.where(r.t_out >= 0, r.t_out - p.T0, -1)     # next layer's local time
    acts = [list(x) for x in xs]
    for W, b, F, _, out_bits in specs:
        acts = [relu_layer(W, b, F, out_bits, a) for a in acts]
    np.testing.assert_array_equal(r.y, np.array(acts))


# ------------------------------------------------------------- (5) max pooling

@given(data=st.data())
def test_maxpool_is_earliest_spike_and_max_of_values(data):
    bits = data.draw(st.integers(1, 5), label="bits")
    n, pool = data.draw(st.integers(1, 4), label="n_pooled"), data.draw(st.integers(1, 4), label="pool")
    groups = data.draw(matrices(st.integers(0, 7), n, pool), label="groups")
    xs = data.draw(st.lists(vectors(st.integers(0, 2**bits - 1), 8), min_size=1, max_size=3), label="x")
    t = times_from_values(np.array(xs), bits)
    m = ttfs_maxpool(t, np.array(groups))
    B = 2**bits - 1
    for row, t_row, m_row in zip(xs, t, m):
        best = [max(row[j] for j in g) for g in groups]
        earliest = [min((int(t_row[j]) for j in g if t_row[j] >= 0), default=-1) for g in groups]
        assert list(m_row) == earliest
        assert [B - v if v >= 0 else 0 for v in m_row] == best


def test_maxpool_examples():
    t = np.array([[3, -1, 5, 0], [-1, -1, -1, -1]])
    np.testing.assert_array_equal(ttfs_maxpool(t, np.array([[0, 1], [1, 2], [1, 1]])),
                                  [[3, 5, -1], [-1, -1, -1]])


# --------------------------------------------------- (6) input checks and widths

@pytest.mark.parametrize("model", [ttfs_ticks, ttfs_golden])
def test_input_ticks_outside_window_raise(model):
    p = TTFSParams(weights=((1, 1),), in_bits=4)          # T0 = 15
    model(p, np.array([[-1, 15], [0, 0]]))
    for bad in (16, -2):
        with pytest.raises(ConfigError, match=exact(
                f"t_in: spike tick {bad} outside the input window [0, 15] (−1 = no spike)")):
            model(p, np.array([[0, bad]]))
    with pytest.raises(ConfigError, match=exact("t_in must have shape (..., 2), not (3,)")):
        model(p, np.array([0, 1, 2]))
    with pytest.raises(ConfigError, match=r"^t_in must hold integers"):
        model(p, np.array([0.5, 1]))


@pytest.mark.parametrize("model", [ttfs_ticks, ttfs_golden])
def test_too_small_widths_raise(model):
    W = ((100, 100),)
    p = TTFSParams(weights=W, slope_shift=2, in_bits=4, out_bits=4, v_bits=12)
    with pytest.raises(WidthError, match="^v_bits: ") as e:
        model(p, np.array([0, 0]))                        # V reaches 200·15 = 3000 > 2047
    assert e.value.name == "v_bits"
    model(p, np.array([14, 15]))                          # 200·1 + 4·16: fits
    q = TTFSParams(weights=W, slope_shift=2, in_bits=4, out_bits=4, slope_bits=8)
    with pytest.raises(WidthError, match="^slope_bits: ") as e:
        model(q, np.array([3, 3]))                        # slope 200 > 127
    assert e.value.name == "slope_bits"
    model(q, np.array([3, -1]))


@given(layer=layers(max_in=4, max_out=3), data=st.data())
def test_declared_widths_raise_iff_naive_state_overflows(layer, data):
    W, b, F, in_bits, out_bits, variant, w_bits = layer
    p0 = relu_params(layer)
    v_bits = data.draw(st.integers(2, p0.v_width), label="v_bits")
    slope_bits = data.draw(st.integers(2, p0.slope_width), label="slope_bits")
    p = p0.replace(v_bits=v_bits, slope_bits=slope_bits)
    row = data.draw(vectors(st.integers(-1, 2**in_bits - 1), len(W[0])), label="t_in")
    _, _, trace = naive_ticks(W, p.threshold_values, F, in_bits, out_bits, variant, row)
    widths = {"v_bits": v_bits, "slope_bits": slope_bits}
    first = next((name for name, vals in trace
                  if any(not srange(widths[name])[0] <= v <= srange(widths[name])[1] for v in vals)),
                 None)
    for model in (ttfs_ticks, ttfs_golden):
        if first is None:
            model(p, np.array(row))
        else:
            with pytest.raises(WidthError) as e:
                model(p, np.array(row))
            assert e.value.name == first


@given(layer=layers(max_in=4, max_out=3), data=st.data())
def test_derived_widths_hold_every_state(layer, data):
    W, b, F, in_bits, out_bits, variant, w_bits = layer
    p = relu_params(layer)
    row = data.draw(vectors(st.integers(-1, 2**in_bits - 1), len(W[0])), label="t_in")
    widths = {"v_bits": p.v_width, "slope_bits": p.slope_width}
    for name, vals in naive_ticks(W, p.threshold_values, F, in_bits, out_bits, variant, row)[2]:
        lo, hi = srange(widths[name])
        assert all(lo <= v <= hi for v in vals), name


# ------------------------------------------------------------- validation

@pytest.mark.parametrize("kwargs, msg", [
    (dict(slope_shift=-1), "slope_shift must be >= 0, not -1"),
    (dict(slope_shift=31), "slope_shift must be <= 30, not 31"),
    (dict(in_bits=0), "in_bits must be >= 1, not 0"),
    (dict(out_bits=17), "out_bits must be <= 16, not 17"),
    (dict(variant="both"), "variant must be one of 'at_most_one', 'exactly_one'; got 'both'"),
    (dict(weights=((1, 2), (3,))), "weights must be rectangular (rows of equal length)"),
    (dict(weights=((200,),)), "weights[0][0] = 200 does not fit w_bits=8 (range [-128, 127])"),
    (dict(weights=((1,),), thresholds=(1, 2)), "thresholds must have 1 entries, not 2"),
    (dict(v_bits=1), "v_bits must be >= 2, not 1"),
    (dict(slope_bits=63), "slope_bits must be <= 62, not 63"),
])
def test_invalid_params_raise_config_error(kwargs, msg):
    with pytest.raises(ConfigError, match=exact(msg)):
        TTFSParams(**kwargs)


# ------------------------------------------------------------------- (7) JSON

@given(layer=layers(), declare=st.booleans())
def test_json_round_trip(layer, declare):
    p = relu_params(layer)
    if declare:
        p = p.replace(v_bits=p.v_width + 1, slope_bits=p.slope_width + 2)
    assert TTFSParams.from_dict(p.to_dict()) == p
    assert TTFSParams.from_json(p.to_json()) == p
    assert p.to_dict()["type"] == "ttfs"


def test_from_dict_rejects_unknown_fields_and_wrong_type():
    d = TTFSParams().to_dict()
    with pytest.raises(ConfigError, match=exact("TTFSParams: unknown field(s) bias")):
        TTFSParams.from_dict({**d, "bias": [0]})
    with pytest.raises(ConfigError, match=exact("TTFSParams: 'type' must be 'ttfs', not 'lif'")):
        TTFSParams.from_dict({**d, "type": "lif"})


# ------------------------------------------------------------ times_from_values

def test_times_from_values():
    x = np.array([0, 1, 7, 15])
    np.testing.assert_array_equal(times_from_values(x, 4), [-1, 14, 8, 0])
    np.testing.assert_array_equal(times_from_values(x, 4, "exactly_one"), [15, 14, 8, 0])


@pytest.mark.parametrize("variant", VARIANTS)
def test_times_from_values_rejects_values_outside_window(variant):
    """16 does not fit 4 bits: it must not silently become 'no spike' (tick −1)."""
    for bad in (16, 17, -1):
        with pytest.raises(WidthError, match="^in_bits: ") as e:
            times_from_values(np.array([3, bad]), 4, variant)
        assert e.value.name == "in_bits" and e.value.value == bad
    with pytest.raises(ConfigError, match=r"^x must hold integers"):
        times_from_values(np.array([1.5]), 4, variant)


def test_times_from_values_rejects_unknown_variant():
    with pytest.raises(ConfigError, match=exact(
            "variant must be one of 'at_most_one', 'exactly_one'; got 'exactly-one'")):
        times_from_values(np.array([1]), 4, "exactly-one")


def test_from_relu_layer_validates_bias_and_out_bits():
    with pytest.raises(ConfigError, match=exact("bias[0] must be an integer, not 1.5")):
        TTFSParams.from_relu_layer([[1]], [1.5], 0, 2, 2)             # not truncated to 1
    with pytest.raises(ConfigError, match=exact("out_bits must be an integer, not '4'")):
        TTFSParams.from_relu_layer([[1]], [0], 0, 2, "4")
    with pytest.raises(ConfigError, match=exact("out_bits must be >= 1, not -1")):
        TTFSParams.from_relu_layer([[1]], [0], 0, 2, -1)
    with pytest.raises(ConfigError, match=exact("shift must be <= 30, not 31")):
        TTFSParams.from_relu_layer([[1]], [0], 31, 2, 2)
    assert TTFSParams.from_relu_layer([[1]], np.array([3]), 1, 2, 2).equivalent_bias == (3,)


def test_potential_beyond_int64_is_refused_not_wrapped():
    """2^15 inputs of weight 2^31 − 1 over a 2^16-tick window: V needs ~64 bits."""
    W = ((2**31 - 1,) * 2**15,)
    with pytest.raises(ConfigError, match=r"^v_bits: the proven range .* needs 64 bits"):
        TTFSParams(weights=W, w_bits=32, in_bits=16)
    p = TTFSParams(weights=W, w_bits=32, in_bits=16, v_bits=62)     # declared: checked instead
    assert p.v_bits == 62
