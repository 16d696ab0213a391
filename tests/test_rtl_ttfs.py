"""TTFS integrator layer RTL: bit-exact and cycle-exact against the golden model in cocotb."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SIMULATORS
from spikeforge.hdl.ttfs import TTFSLayer
from spikeforge.models.errors import ConfigError, SimulationMismatch
from spikeforge.models.ttfs import TTFSParams, times_from_values, ttfs_golden
from spikeforge.sim import ttfs as ttfsvec
from spikeforge.sim.runner import cosim
from spikeforge.sim.verify import verify

AMO, EO = "at_most_one", "exactly_one"


def relu_layer(n_in, n_out, F, in_bits, out_bits, variant, seed=0):
    """A random integer ReLU layer as a TTFS layer: signed weights of F + 3 bits, biases
    in ±2^F·(B + 1), thresholds from TTFSParams.from_relu_layer. Returns (params, W, b)."""
    rng = np.random.default_rng([seed, n_in, n_out, F, in_bits, out_bits or 0])
    w_bits = F + 3
    W = rng.integers(-(1 << (w_bits - 1)), 1 << (w_bits - 1), (n_out, n_in)).tolist()
    span = (1 << F) * (1 << (out_bits or in_bits))
    b = rng.integers(-span, span + 1, n_out).tolist()
    return TTFSParams.from_relu_layer(W, b, F, in_bits, out_bits, variant, w_bits), W, b


# (n_in, n_out, F, in_bits, out_bits, variant): every n_in in {1, 4, 8}, n_out in {1, 3},
# F in {0, 2, 4}, window widths 1..5, both variants, spiking and output layers.
MATRIX = [
    (1, 1, 0, 2, 2, AMO), (4, 3, 2, 3, 3, AMO), (8, 3, 4, 4, 4, AMO), (8, 1, 2, 5, 5, EO),
    (4, 3, 0, 4, 2, EO), (1, 3, 4, 2, 5, EO), (8, 3, 0, 5, 3, AMO), (4, 1, 4, 3, 4, EO),
    (2, 3, 0, 1, 1, AMO),
    (8, 3, 2, 4, None, AMO), (3, 3, 4, 3, None, AMO), (1, 1, 0, 5, None, EO),
]
IDS = [f"in{a}-out{b}-F{F}-w{ib}-{ob if ob else 'out'}-{v[:3]}" for a, b, F, ib, ob, v in MATRIX]


@pytest.mark.parametrize("layer", MATRIX, ids=IDS)
def test_relu_matrix_verilator(layer):
    p = relu_layer(*layer)[0]
    r = verify("ttfs", p, n_random=24)
    assert r["inferences"] == r["inputs"] and r["cycles"] > 0


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("layer", [MATRIX[2], MATRIX[9]], ids=[IDS[2], IDS[9]])
def test_each_simulator(simulator, layer):
    verify("ttfs", relu_layer(*layer)[0], simulator=simulator, n_random=12)


@st.composite
def any_layer(draw):
    """Small layers with raw random thresholds (not derived from a bias), windows of 1..4 bits."""
    n_in, n_out = draw(st.integers(1, 8)), draw(st.integers(1, 3))
    F, w_bits = draw(st.sampled_from([0, 2, 4])), draw(st.integers(2, 6))
    W = draw(st.lists(st.lists(st.integers(-(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1),
                               min_size=n_in, max_size=n_in), min_size=n_out, max_size=n_out))
    th = draw(st.lists(st.integers(-300, 900), min_size=n_out, max_size=n_out))
    return TTFSParams(weights=W, thresholds=th, slope_shift=F, in_bits=draw(st.integers(1, 4)),
                      out_bits=draw(st.sampled_from([None, 1, 2, 3, 4])), w_bits=w_bits,
                      variant=draw(st.sampled_from([AMO, EO])))


@settings(max_examples=4, deadline=None, derandomize=True)
@given(any_layer())
def test_drawn_layers(p):
    verify("ttfs", p, n_random=16)


STALLS = [(1, [1, 0, 0, 1, 1], [1, 1, 0]), (10, [0, 1], [0, 0, 1]), (5, [1, 1, 1, 0], [0, 1])]


@pytest.mark.parametrize("row,idle,ready", STALLS, ids=[IDS[r] for r, _, _ in STALLS])
def test_stalls_keep_results(row, idle, ready):
    """Idle input cycles (also inside a tick and before the end beat) and output back-pressure
    (also on serialised spikes of one tick) change timing only; spike and synaptic-add counts
    still equal the golden model's."""
    verify("ttfs", relu_layer(*MATRIX[row])[0], n_random=16, idle={"i": idle}, ready={"o": ready})


def schedule(p, t_in):
    """Cycle of every o beat with back-to-back inputs and o.ready high, from the documented
    handshake: one cycle per input event, one advance per tick, spikes of tick t in the
    cycles after its advance (the tick process waits), then the end beat or the readouts."""
    r, c, out = ttfs_golden(p, t_in), 0, []
    for k, row in enumerate(t_in):
        for t in range(p.last_tick + 1):
            c += int((row == t).sum())                 # events of tick t, one per cycle
            fired = np.flatnonzero(r.t_out[k] == t) if p.spiking else []
            out += [c + 1 + s for s in range(len(fired))]
            c += 1 + len(fired)                        # the advance, then the spikes
        out += [c + s for s in range(p.fixed_out_beats)]
        c += p.fixed_out_beats
    return out


def run(p, t_in):
    """Co-simulate one batch; check every o beat's cycle against the schedule; return the beats."""
    tx = ttfsvec.transactions(p, t_in.tolist())
    res = cosim("ttfs", p, TTFSLayer(p), tx.stimuli, tx.expected)
    assert [c for c, _ in res.beats["o"]] == schedule(p, t_in)
    assert res.beats["o"][-1][0] + 1 == tx.counts.cycles
    return [b for _, b in res.beats["o"]]


def test_relu_layers_end_to_end():
    """x → spike ticks → RTL layer 1 → output ticks decoded = clamp(floor((W·x + b)/2^F), 0, B);
    its output events → RTL output layer 2 → readouts = W2·y + b2 (Python ints throughout)."""
    p1, W1, b1 = relu_layer(*MATRIX[1])
    p2, W2, b2 = relu_layer(*MATRIX[10])
    rng = np.random.default_rng(7)
    xs = rng.integers(0, p1.B_in + 1, (30, p1.n_in)).tolist() + [[0] * p1.n_in, [p1.B_in] * p1.n_in]
    beats = run(p1, times_from_values(np.array(xs), p1.in_bits, p1.variant))
    relu = [[min(max((sum(w * v for w, v in zip(row, x)) + bi) // 2**p1.slope_shift, 0), p1.B)
             for row, bi in zip(W1, b1)] for x in xs]
    assert ttfsvec.decode(p1, beats) == relu
    assert any(0 < v < p1.B for row in relu for v in row)      # not all clamped
    # layer 2 takes layer 1's RTL output events, re-timed to its local ticks (t − T0 of layer 1)
    t2, row = [], [-1] * p2.n_in
    for b in beats:
        if b["end"]:
            t2.append(row)
            row = [-1] * p2.n_in
        else:
            row[b["index"]] = b["tick"] - p1.T0
    y2 = ttfsvec.decode(p2, run(p2, np.array(t2)))
    assert y2 == [[sum(w * v for w, v in zip(r2, y)) + bi for r2, bi in zip(W2, b2)] for y in relu]


def test_wrong_golden_model_is_caught():
    """A golden model with one moved spike must make the comparison fail, naming cycle and signal."""
    p = relu_layer(*MATRIX[1])[0]
    t_in = [[0, 3, -1, 7], [2, 2, 2, 2]]
    good = ttfsvec.transactions(p, t_in)
    k = next(j for j, b in enumerate(good.expected["o"]) if not b["end"])
    cycle = schedule(p, np.array(t_in))[k]

    def wrong(params, inputs):
        tx = ttfsvec.transactions(params, inputs)
        tx.expected["o"][k]["tick"] += 1
        return tx

    with pytest.raises(SimulationMismatch) as e:
        verify("ttfs", p, inputs=t_in, golden=wrong)
    assert e.value.signal == "o.tick" and e.value.cycle == cycle
    assert f"first mismatch at cycle {cycle}, signal 'o.tick'" in str(e.value)


def test_rejected_before_elaboration():
    W = ((100, 100),)
    with pytest.raises(ConfigError, match=r"^v_bits=12 is too narrow for the circuit: the parameters "
                                          r"allow values in \[0, 6200\], which need 14 bits$"):
        TTFSLayer(TTFSParams(weights=W, slope_shift=2, in_bits=4, out_bits=4, v_bits=12))
    with pytest.raises(ConfigError, match=r"^slope_bits=8 is too narrow for the circuit: the parameters "
                                          r"allow values in \[0, 200\], which need 9 bits$"):
        TTFSLayer(TTFSParams(weights=W, slope_shift=2, in_bits=4, out_bits=4, slope_bits=8))
    with pytest.raises(TypeError, match=r"^expected a TTFSParams parameter object, not \{'in_bits': 4\}$"):
        TTFSLayer({"in_bits": 4})
