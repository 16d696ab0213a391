"""Shift-and-add LIF layer (docs/cores/lif.md, thesis eqs. A.11–A.19) against naive loops."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from factories import exact, matrices, spike_trains, srange, vectors
from spikeforge.models.errors import ConfigError, WidthError
from spikeforge.models.lif import (DEFAULT_LEAK_SHIFTS, LIFParams, leak_factor, lif_golden,
                                   van_rossum_classify, van_rossum_trace)


def naive_lif(W, b, beta, shifts, spiking, s_in):
    """One neuron at a time, Python ints (s_0 = 0, χ_0 = 0; >> floors).

    Returns (spikes T × n_out, final s, every state s_t for t = 1..T).
    """
    n_out = len(W)
    s, chi, out, states = [0] * n_out, [0] * n_out, [], []
    for spikes_t in s_in:
        s = [b[i] + sum(w for w, x in zip(W[i], spikes_t) if x)
             + (0 if chi[i] else sum(s[i] >> k for k in shifts)) for i in range(n_out)]
        chi = [1 if spiking and v >= beta else 0 for v in s]
        out.append(chi)
        states.extend(s)
    return out, s, states


@st.composite
def lif_layers(draw, max_in=5, max_out=4, max_T=10):
    """(kwargs for LIFParams, list of batches of input spike trains)."""
    n_in, n_out, T = draw(st.integers(1, max_in)), draw(st.integers(1, max_out)), draw(st.integers(1, max_T))
    w_bits = draw(st.integers(2, 8))
    kw = dict(weights=draw(matrices(st.integers(*srange(w_bits)), n_out, n_in)),
              bias=draw(vectors(st.integers(-20, 20), n_out)),
              threshold=draw(st.integers(1, 150)),
              leak_shifts=tuple(draw(st.sets(st.integers(1, 8), min_size=0, max_size=4))),
              time_steps=T, spiking=draw(st.booleans()), w_bits=w_bits)
    batch = draw(st.lists(spike_trains(T, n_in), min_size=1, max_size=3))
    return kw, batch


def run_naive(kw, batch):
    return [naive_lif(kw["weights"], kw["bias"], kw["threshold"], kw["leak_shifts"], kw["spiking"], s)
            for s in batch]


@given(layer=lif_layers())
def test_matches_naive_loop(layer):
    kw, batch = layer
    r = lif_golden(LIFParams(**kw), np.array(batch))
    expect = run_naive(kw, batch)
    np.testing.assert_array_equal(r.spikes, np.array([e[0] for e in expect]))
    np.testing.assert_array_equal(r.v, np.array([e[1] for e in expect]))
    assert r.counts.spikes == sum(map(sum, (row for e in expect for row in e[0])))
    if not kw["spiking"]:
        assert not r.spikes.any()


@given(layer=lif_layers())
def test_derived_v_bits_holds_every_state(layer):
    kw, batch = layer
    p = LIFParams(**kw)
    lif_golden(p, np.array(batch))
    lo, hi = srange(p.v_width)
    assert all(lo <= v <= hi for e in run_naive(kw, batch) for v in e[2])


@given(layer=lif_layers(), all_on=st.booleans())
def test_derived_v_bits_worst_case_inputs(layer, all_on):
    """Every input spiking at every step (or none): the extreme currents."""
    kw, batch = layer
    s = [[int(all_on)] * len(kw["weights"][0])] * kw["time_steps"]
    p = LIFParams(**kw)
    lif_golden(p, np.array([s]))
    lo, hi = srange(p.v_width)
    assert all(lo <= v <= hi for v in run_naive(kw, [s])[0][2])


@given(layer=lif_layers(max_T=6), v_bits=st.integers(2, 8))
def test_declared_v_bits_raises_iff_a_state_overflows(layer, v_bits):
    kw, batch = layer
    p = LIFParams(**kw, v_bits=v_bits)
    lo, hi = srange(v_bits)
    overflow = any(not lo <= v <= hi for e in run_naive(kw, batch) for v in e[2])
    if overflow:
        with pytest.raises(WidthError, match="^v_bits: ") as e:
            lif_golden(p, np.array(batch))
        assert e.value.name == "v_bits"
    else:
        lif_golden(p, np.array(batch))


def test_too_small_v_bits_raises():
    p = LIFParams(weights=((100, 100),), threshold=1000, time_steps=4, v_bits=8)
    with pytest.raises(WidthError, match="^v_bits: "):
        lif_golden(p, np.ones((4, 2), dtype=np.int64))


def test_state_beyond_int64_is_refused_not_wrapped():
    """A bias of 2^60 with a leak near 1 drives s far past 2^62 in a non-spiking layer."""
    kw = dict(weights=((1,),), bias=(1 << 60,), leak_shifts=tuple(range(1, 9)), time_steps=1000,
              spiking=False)
    with pytest.raises(ConfigError, match=r"^v_bits: the proven range .* needs \d+ bits, more than the 62"):
        LIFParams(**kw)
    p = LIFParams(**kw, v_bits=62)                        # declared: overflow is caught instead
    with pytest.raises(WidthError, match="^v_bits: "):
        lif_golden(p, np.zeros((1000, 1), dtype=np.int64))


def test_leak_factor():
    assert leak_factor((1, 2, 5, 6)) == 0.796875
    assert leak_factor(DEFAULT_LEAK_SHIFTS) == 0.796875
    assert LIFParams().leak == 0.796875
    assert leak_factor(()) == 0 and leak_factor((1,)) == 0.5


def test_hand_computed_trace():
    """β = 10, I = (1,), W = 6 every step: s = 6, 6+3 = 9, 6+4 = 10 (spike),
    6 (no leak after the reset), 6+3 = 9."""
    p = LIFParams(weights=((6,),), threshold=10, leak_shifts=(1,), time_steps=5)
    r = lif_golden(p, np.ones((5, 1), dtype=np.int64))
    np.testing.assert_array_equal(r.spikes[:, 0], [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(r.v, [9])


def test_negative_state_leaks_by_floor():
    """Floor shifts: s = −1 leaks to −1 per shift (stronger than v·s)."""
    p = LIFParams(weights=((0,),), bias=(-1,), leak_shifts=(1, 2), time_steps=3, spiking=False)
    r = lif_golden(p, np.zeros((3, 1), dtype=np.int64))
    # s1 = −1; s2 = −1 + (−1 >> 1) + (−1 >> 2) = −3; s3 = −1 + (−2) + (−1) = −4
    np.testing.assert_array_equal(r.v, [-4])


def test_counts():
    p = LIFParams(weights=((1, 1, 1),), threshold=2, leak_shifts=(1,), time_steps=3)
    s = np.array([[1, 0, 1], [0, 0, 0], [1, 1, 1]])
    c = lif_golden(p, s).counts
    assert (c.inferences, c.spikes, c.synaptic_adds, c.memory_reads) == (1, 2, 5, 5)
    # circuit schedule: in beats 5 + 3, out beats 2 + 3, one overlap per step: 5 + 2 + 3
    assert (c.state_updates, c.cycles) == (3 * 1 * 2, 5 + 2 + 3)
    assert c.cycles == p.cycles(5, 2)


def test_cycles_formula():
    """spikes_in + spikes_out + T per inference (spiking); spikes_in + T + n_out − 1 (membrane)."""
    p = LIFParams(weights=((1, 1, 1), (2, 0, -1)), threshold=2, leak_shifts=(1,), time_steps=3)
    assert p.cycles(5, 2) == 10 and p.cycles(7, 4, inferences=2) == 7 + 4 + 6
    q = p.replace(spiking=False)
    assert q.cycles(5, 0) == 5 + 3 + 2 - 1 and q.cycles(7, 0, inferences=2) == 7 + 2 * 4
    s = np.array([[[1, 0, 1], [0, 0, 0], [1, 1, 1]], [[0, 0, 0]] * 3])
    r = lif_golden(q, s)
    assert r.counts.cycles == 5 + 2 * (3 + 2 - 1)
    r = lif_golden(p, s)
    assert r.counts.cycles == 5 + int(r.spikes.sum()) + 2 * 3


def test_circuit_widths():
    """The accumulator holds b_i + any subset of row i; the index widths hold n − 1."""
    p = LIFParams(weights=((3, -2, 5), (-7, 1, 1)), bias=(4, -1), threshold=30)
    assert p.current_interval == (-1 - 7, 4 + 8)
    assert p.acc_bits == 5
    assert (p.in_index_bits, p.out_index_bits) == (2, 1)
    assert LIFParams(weights=((1,),)).in_index_bits == 1
    assert p.acc_bits <= p.v_width


# ------------------------------------------------------------------ validation

@pytest.mark.parametrize("kwargs, msg", [
    (dict(leak_shifts=(1, 1)), "leak_shifts must be distinct shifts; got (1, 1)"),
    (dict(leak_shifts=(0, 2)), "leak_shifts[0] must be >= 1, not 0"),
    (dict(threshold=0), "threshold must be >= 1, not 0"),
    (dict(time_steps=0), "time_steps must be >= 1, not 0"),
    (dict(spiking=1), "spiking must be true or false, not 1"),
    (dict(bias=(1, 2)), "bias must have 1 entries, not 2"),
    (dict(weights=((1, 300),), w_bits=8), "weights[0][1] = 300 does not fit w_bits=8 (range [-128, 127])"),
    (dict(v_bits=1), "v_bits must be >= 2, not 1"),
])
def test_invalid_params_raise_config_error(kwargs, msg):
    with pytest.raises(ConfigError, match=exact(msg)):
        LIFParams(**kwargs)


def test_invalid_input_spikes():
    p = LIFParams(weights=((1, 1),), time_steps=2)
    with pytest.raises(ConfigError, match=exact("spikes_in must hold only 0 and 1")):
        lif_golden(p, np.array([[0, 2], [0, 0]]))
    with pytest.raises(ConfigError, match=exact("spikes_in must have shape (..., 2, 2), not (3, 2)")):
        lif_golden(p, np.zeros((3, 2), dtype=np.int64))


@given(layer=lif_layers())
def test_json_round_trip(layer):
    kw, _ = layer
    p = LIFParams(**kw)
    assert LIFParams.from_dict(p.to_dict()) == p
    assert LIFParams.from_json(p.to_json()) == p


def test_leak_shifts_are_normalised():
    assert LIFParams(leak_shifts=[6, 1, 5, 2]) == LIFParams()


def test_from_dict_rejects_unknown_fields_and_wrong_type():
    d = LIFParams().to_dict()
    with pytest.raises(ConfigError, match=exact("LIFParams: unknown field(s) leak")):
        LIFParams.from_dict({**d, "leak": 0.8})
    with pytest.raises(ConfigError, match=exact("LIFParams: 'type' must be 'lif', not 'if'")):
        LIFParams.from_dict({**d, "type": "if"})


# ---------------------------------------------------------------- van Rossum

def naive_trace(spikes, shifts, frac_bits):
    """X̃_t = Σ_ι (X̃_{t−1} >> ι) + X_t·2^frac per output neuron (T × C lists)."""
    C = len(spikes[0])
    prev, out = [0] * C, []
    for row in spikes:
        prev = [sum(p >> k for k in shifts) + (x << frac_bits) for p, x in zip(prev, row)]
        out.append(prev)
    return out


def naive_distances(spikes, shifts, frac_bits):
    T, C = len(spikes), len(spikes[0])
    tr = naive_trace(spikes, shifts, frac_bits)
    dists = []
    for c in range(C):
        target = naive_trace([[int(o == c) for o in range(C)] for _ in range(T)], shifts, frac_bits)
        dists.append(sum(abs(a - b) for ra, rb in zip(tr, target) for a, b in zip(ra, rb)))
    return dists


shift_sets = st.sets(st.integers(1, 6), min_size=1, max_size=3).map(lambda s: tuple(sorted(s)))


@given(T=st.integers(1, 8), C=st.integers(1, 4), shifts=shift_sets, frac=st.integers(0, 8), data=st.data())
def test_van_rossum_trace_matches_naive_loop(T, C, shifts, frac, data):
    batch = data.draw(st.lists(spike_trains(T, C), min_size=1, max_size=3), label="spikes")
    np.testing.assert_array_equal(van_rossum_trace(np.array(batch), shifts, frac),
                                  np.array([naive_trace(s, shifts, frac) for s in batch]))


@given(T=st.integers(1, 8), C=st.integers(1, 4), shifts=shift_sets, frac=st.integers(0, 8), data=st.data())
def test_van_rossum_distances_match_naive(T, C, shifts, frac, data):
    batch = data.draw(st.lists(spike_trains(T, C), min_size=1, max_size=3), label="spikes")
    classes, dist = van_rossum_classify(np.array(batch), shifts, frac)
    expect = [naive_distances(s, shifts, frac) for s in batch]
    np.testing.assert_array_equal(dist, np.array(expect))
    np.testing.assert_array_equal(classes, [d.index(min(d)) for d in expect])


def test_van_rossum_classify_picks_the_busiest_neuron():
    T, C = 10, 3
    only_1 = np.zeros((T, C), dtype=np.int64)
    only_1[:, 1] = 1                                 # exactly the target pattern of class 1
    mixed = np.zeros((T, C), dtype=np.int64)
    mixed[[0, 5], 0] = 1                             # neuron 0: 2 spikes
    mixed[1:, 2] = 1                                 # neuron 2: 9 spikes
    late = np.zeros((T, C), dtype=np.int64)
    late[::3, 0] = 1                                 # neuron 0: 4 spikes, others silent
    classes, dist = van_rossum_classify(np.stack([only_1, mixed, late]))
    np.testing.assert_array_equal(classes, [1, 2, 0])
    assert dist[0, 1] == 0 and dist[0, 0] > 0 and dist[0, 2] > 0
