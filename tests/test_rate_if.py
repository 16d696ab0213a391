"""Rate-coded IF layer with soft reset (docs/cores/if.md, Ding et al. eq. 3) against a naive loop."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from factories import exact, matrices, spike_trains, srange, vectors
from spikeforge.models.errors import ConfigError, WidthError
from spikeforge.models.rate_if import IFParams, if_golden


def naive_if(W, b, theta, spiking, inputs):
    """m = v + W·s + b; s_out = Θ(m − ϑ); v = m − ϑ·s_out, Python ints.

    ``inputs``: the T input vectors (spikes, or x repeated for direct coding).
    Returns (spikes T × n_out, final v, every m and v produced).
    """
    n_out = len(W)
    v, out, states = [0] * n_out, [], []
    for s in inputs:
        m = [v[i] + sum(w * x for w, x in zip(W[i], s)) + b[i] for i in range(n_out)]
        z = [1 if spiking and mi >= theta else 0 for mi in m]
        v = [mi - theta * zi for mi, zi in zip(m, z)]
        out.append(z)
        states.extend(m + v)
    return out, v, states


@st.composite
def if_layers(draw, direct=None, max_in=5, max_out=4, max_T=10):
    """(kwargs for IFParams, batch of inputs, the per-step input lists of each batch item)."""
    n_in, n_out, T = draw(st.integers(1, max_in)), draw(st.integers(1, max_out)), draw(st.integers(1, max_T))
    w_bits = draw(st.integers(2, 8))
    if direct is None:
        direct = draw(st.booleans())
    in_bits = draw(st.integers(1, 6))
    kw = dict(weights=draw(matrices(st.integers(*srange(w_bits)), n_out, n_in)),
              bias=draw(vectors(st.integers(-30, 30), n_out)), threshold=draw(st.integers(1, 200)),
              time_steps=T, direct_input=direct, in_bits=in_bits, spiking=draw(st.booleans()),
              w_bits=w_bits)
    if direct:
        batch = draw(st.lists(vectors(st.integers(0, 2**in_bits - 1), n_in), min_size=1, max_size=3))
        steps = [[x] * T for x in batch]
    else:
        batch = draw(st.lists(spike_trains(T, n_in), min_size=1, max_size=3))
        steps = batch
    return kw, batch, steps


def run_naive(kw, steps):
    return [naive_if(kw["weights"], kw["bias"], kw["threshold"], kw["spiking"], s) for s in steps]


@given(layer=if_layers())
def test_matches_naive_loop(layer):
    kw, batch, steps = layer
    r = if_golden(IFParams(**kw), np.array(batch))
    expect = run_naive(kw, steps)
    np.testing.assert_array_equal(r.spikes, np.array([e[0] for e in expect]))
    np.testing.assert_array_equal(r.v, np.array([e[1] for e in expect]))
    if not kw["spiking"]:
        assert not r.spikes.any()


@given(layer=if_layers())
def test_derived_v_bits_holds_every_state(layer):
    kw, batch, steps = layer
    p = IFParams(**kw)
    if_golden(p, np.array(batch))
    lo, hi = srange(p.v_width)
    assert all(lo <= v <= hi for e in run_naive(kw, steps) for v in e[2])


@given(layer=if_layers(direct=True), top=st.booleans())
def test_derived_v_bits_extreme_direct_inputs(layer, top):
    """All inputs at the top of the range (or zero): the extreme constant currents."""
    kw, batch, _ = layer
    x = [(2**kw["in_bits"] - 1) if top else 0] * len(kw["weights"][0])
    p = IFParams(**kw)
    if_golden(p, np.array([x]))
    lo, hi = srange(p.v_width)
    assert all(lo <= v <= hi for v in run_naive(kw, [[x] * kw["time_steps"]])[0][2])


@given(layer=if_layers(max_T=6), v_bits=st.integers(2, 9))
def test_declared_v_bits_raises_iff_membrane_overflows(layer, v_bits):
    kw, batch, steps = layer
    p = IFParams(**kw, v_bits=v_bits)
    lo, hi = srange(v_bits)
    overflow = any(not lo <= v <= hi for e in run_naive(kw, steps) for v in e[2])
    if overflow:
        with pytest.raises(WidthError, match="^v_bits: ") as e:
            if_golden(p, np.array(batch))
        assert e.value.name == "v_bits"
    else:
        if_golden(p, np.array(batch))


def test_too_small_v_bits_raises():
    p = IFParams(weights=((100,),), threshold=500, time_steps=8, v_bits=9)     # [-256, 255]
    one = np.zeros((8, 1), dtype=np.int64)
    one[0] = 1
    if_golden(p, one)                                      # m = 100 for ever: fits
    with pytest.raises(WidthError, match="^v_bits: ") as e:
        if_golden(p, np.ones((8, 1), dtype=np.int64))      # m = 100, 200, 300: overflow
    assert e.value.name == "v_bits" and e.value.value == 300


def test_soft_reset_keeps_the_excess():
    """ϑ = 10, current 7: m = 7, 14 (fire, v = 4), 11 (fire, v = 1), 8, 15 (fire, v = 5)."""
    p = IFParams(weights=((7,),), threshold=10, time_steps=5)
    r = if_golden(p, np.ones((5, 1), dtype=np.int64))
    np.testing.assert_array_equal(r.spikes[:, 0], [0, 1, 1, 0, 1])
    np.testing.assert_array_equal(r.v, [5])


def test_long_run_rate_approaches_clipped_ratio():
    """Constant direct input: rate → clip((W·x + b)/ϑ, 0, 1)."""
    W = [[3, -2, 5], [1, 1, 1], [-4, 0, 0], [20, 20, 20]]
    b, theta, x, T = [4, 0, 0, 0], 64, [10, 5, 7], 2000
    current = [sum(w * v for w, v in zip(row, x)) + bi for row, bi in zip(W, b)]
    assert current == [59, 22, -40, 440]
    p = IFParams(weights=W, bias=b, threshold=theta, time_steps=T, direct_input=True, in_bits=4)
    rate = if_golden(p, np.array(x)).spikes.mean(axis=0)
    expect = np.clip(np.array(current) / theta, 0, 1)
    assert np.all(np.abs(rate - expect) <= 1 / T + 1e-12), (rate, expect)


# ------------------------------------------------------------------- counts

def test_counts_direct_input():
    p = IFParams(weights=((1, 2, 3), (4, 5, 6)), threshold=10, time_steps=4, direct_input=True)
    c = if_golden(p, np.array([[1, 1, 1], [0, 0, 0]])).counts
    assert (c.inferences, c.multiplications, c.memory_reads) == (2, 2 * 3 * 2, 2 * 3 * 2)
    assert c.state_updates == 2 * 4 * 2
    s = if_golden(p, np.array([[1, 1, 1], [0, 0, 0]])).spikes.sum(axis=(-2, -1))  # per inference
    assert c.cycles == sum(3 + 4 + int(k) - 1 for k in s)              # n_in + T + out_spikes − 1
    assert p.replace(spiking=False).cycles_per_inference() == 3 + (4 - 1) + 2 - 1   # n_in + (T−1) + n_out − 1


def test_counts_spike_input():
    p = IFParams(weights=((1, 2),), threshold=2, time_steps=3)
    c = if_golden(p, np.array([[1, 1], [0, 1], [0, 0]])).counts
    # in_spikes + T + out_spikes: the spikes of each step leave after its input, one per cycle
    assert (c.spikes, c.synaptic_adds, c.multiplications, c.cycles) == (2, 3, 0, 3 + 3 + 2)
    assert p.cycles_per_inference(3, 2) == 8
    assert p.replace(spiking=False).cycles_per_inference(3) == 3 + 3 + 1 - 1


# --------------------------------------------------------------- validation

@pytest.mark.parametrize("kwargs, msg", [
    (dict(threshold=0), "threshold must be >= 1, not 0"),
    (dict(time_steps=0), "time_steps must be >= 1, not 0"),
    (dict(in_bits=0), "in_bits must be >= 1, not 0"),
    (dict(direct_input=1), "direct_input must be true or false, not 1"),
    (dict(spiking="yes"), "spiking must be true or false, not 'yes'"),
    (dict(bias=(1.5,)), "bias[0] must be an integer, not 1.5"),
    (dict(bias=(1 << 61,)), f"bias[0] must be <= {1 << 60}, not {1 << 61}"),
    (dict(v_bits=63), "v_bits must be <= 62, not 63"),
])
def test_invalid_params_raise_config_error(kwargs, msg):
    with pytest.raises(ConfigError, match=exact(msg)):
        IFParams(**kwargs)


def test_invalid_inputs():
    spikes = IFParams(weights=((1, 1),), time_steps=2)
    with pytest.raises(ConfigError, match=exact("input spikes must hold only 0 and 1")):
        if_golden(spikes, np.array([[0, 2], [0, 0]]))
    with pytest.raises(ConfigError, match=exact("input spikes must have shape (..., 2, 2), not (2,)")):
        if_golden(spikes, np.array([0, 1]))
    direct = IFParams(weights=((1, 1),), time_steps=2, direct_input=True, in_bits=3)
    with pytest.raises(ConfigError, match=exact("direct input must have shape (..., 2), not (3,)")):
        if_golden(direct, np.array([0, 1, 2]))
    with pytest.raises(WidthError, match="^in_bits: "):
        if_golden(direct, np.array([0, 8]))


def test_membrane_beyond_int64_is_refused_not_wrapped():
    """W·x ≈ 2^61 per step over 1024 steps needs 72 bits: an omitted v_bits must
    not be derived past what int64 holds (the run would wrap silently)."""
    kw = dict(weights=((1 << 30,),), w_bits=32, direct_input=True, in_bits=31, spiking=False,
              time_steps=1 << 10)
    with pytest.raises(ConfigError, match=r"^v_bits: the proven range .* needs 72 bits"):
        IFParams(**kw)
    p = IFParams(**kw, v_bits=62)                          # declared: overflow is caught instead
    with pytest.raises(WidthError, match="^v_bits: "):
        if_golden(p, np.array([2**31 - 1]))


@given(layer=if_layers())
def test_json_round_trip(layer):
    p = IFParams(**layer[0])
    assert IFParams.from_dict(p.to_dict()) == p
    assert IFParams.from_json(p.to_json()) == p
    assert p.to_dict()["type"] == "if"


def test_from_dict_rejects_unknown_fields_and_wrong_type():
    d = IFParams().to_dict()
    with pytest.raises(ConfigError, match=exact("IFParams: unknown field(s) leak_shifts")):
        IFParams.from_dict({**d, "leak_shifts": [1]})
    with pytest.raises(ConfigError, match=exact("IFParams: 'type' must be 'if', not 'ann'")):
        IFParams.from_dict({**d, "type": "ann"})
