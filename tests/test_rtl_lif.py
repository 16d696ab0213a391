"""Shift-and-add LIF layer RTL: bit-exact and cycle-exact against lif_golden in cocotb."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SIMULATORS
from factories import exact
from spikeforge.hdl.export import port_layouts
from spikeforge.hdl.lif import LIFLayer
from spikeforge.models.errors import ConfigError, SimulationMismatch
from spikeforge.models.lif import LIFParams
from spikeforge.sim import lif as lifvec
from spikeforge.sim.verify import verify


def layer(n_in, n_out, leak, T, spiking, beta, seed, w=8, b=4):
    """A layer with signed weights in [−w, w) and signed biases in [−b, b], drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    return LIFParams(weights=rng.integers(-w, w, (n_out, n_in)).tolist(),
                     bias=rng.integers(-b, b + 1, n_out).tolist(), threshold=beta, leak_shifts=leak,
                     time_steps=T, spiking=spiking)


# (n_in, n_out, leak shifts, T, spiking, β, seed): every n_in in {1, 4, 8}, n_out in {1, 3},
# leak set, T in {4, 8, 16}, spiking and non-spiking, small and large thresholds
MATRIX = [
    (1, 1, (), 4, True, 3, 1),
    (1, 3, (1,), 8, False, 16, 2),
    (1, 1, (1, 2, 5, 6), 16, False, 16, 3),
    (4, 1, (1, 2, 5, 6), 16, True, 10, 4),
    (4, 3, (2, 3), 4, False, 16, 5),
    (4, 3, (1,), 16, True, 1, 6),
    (8, 1, (2, 3), 8, True, 20, 7),
    (8, 3, (1, 2, 5, 6), 16, True, 25, 8),
    (8, 3, (), 8, False, 16, 9),
]
IDS = [f"in{a}-out{b}-I{''.join(map(str, c)) or 'none'}-T{d}-{'spk' if e else 'mem'}-b{f}"
       for a, b, c, d, e, f, _ in MATRIX]
PARAMS = {i: layer(*m) for i, m in zip(IDS, MATRIX)}


@pytest.mark.parametrize("name", IDS)
def test_matrix_verilator(name):
    p = PARAMS[name]
    r = verify("lif", p, n_random=20)
    assert r["cycles"] > 0 and r["synaptic_adds"] > 0
    if not p.spiking:
        assert r["spikes"] == 0


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("name", [IDS[4], IDS[7]])
def test_each_simulator(simulator, name):
    verify("lif", PARAMS[name], simulator=simulator, n_random=10)


@st.composite
def layers(draw):
    n_in, n_out = draw(st.integers(1, 8)), draw(st.integers(1, 3))
    w_bits = draw(st.integers(2, 8))
    lo, hi = -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1
    return LIFParams(weights=draw(st.lists(st.lists(st.integers(lo, hi), min_size=n_in, max_size=n_in),
                                           min_size=n_out, max_size=n_out)),
                     bias=draw(st.lists(st.integers(-20, 20), min_size=n_out, max_size=n_out)),
                     threshold=draw(st.integers(1, 60)),
                     leak_shifts=tuple(draw(st.sets(st.integers(1, 7), max_size=4))),
                     time_steps=draw(st.integers(1, 16)), spiking=draw(st.booleans()), w_bits=w_bits)


@settings(max_examples=3, deadline=None, derandomize=True)
@given(layers())
def test_drawn_layers(p):
    verify("lif", p, n_random=15)


@pytest.mark.parametrize("name,idle,ready", [(IDS[5], [1, 0, 0, 1, 1], [1, 1, 0]),
                                             (IDS[4], [0, 1], [0, 0, 1])])
def test_stalls_keep_results(name, idle, ready):
    """Idle input cycles and output back-pressure change timing only."""
    verify("lif", PARAMS[name], n_random=15, idle={"i": idle}, ready={"o": ready})


# W = (5, 5, 1), β = 3, no leak, T = 4, input 0 spiking at every step: per step the input
# beats {0}, end (cycles 4t, 4t+1) and the output beats 0, 1, end (cycles 4t+2 .. 4t+4)
SMALL = LIFParams(weights=((5,), (5,), (1,)), threshold=3, leak_shifts=(), time_steps=4)
ALWAYS = [[[1]] * 4]


def test_hand_schedule_cycles():
    tx = lifvec.transactions(SMALL, ALWAYS)
    assert tx.expected["o"] == [{"index": 0, "end": 0}, {"index": 1, "end": 0}, {"index": 0, "end": 1}] * 4
    assert tx.counts.cycles == SMALL.cycles(4, 8) == 4 + 8 + 4
    r = verify("lif", SMALL, inputs=ALWAYS)
    assert (r["cycles"], r["spikes"], r["synaptic_adds"]) == (16, 8, 12)


def test_wrong_golden_model_is_caught():
    """A golden model with one wrong spike index must fail, naming cycle and signal."""
    def wrong(params, trains):
        tx = lifvec.transactions(params, trains)
        tx.expected["o"][4]["index"] = 2             # step 1, second spike: neuron 1, at cycle 7
        return tx

    with pytest.raises(SimulationMismatch) as e:
        verify("lif", SMALL, inputs=ALWAYS, golden=wrong)
    assert e.value.signal == "o.index" and e.value.cycle == 7
    assert "first mismatch at cycle 7, signal 'o.index'" in str(e.value)


def test_wrong_membrane_is_caught():
    p = PARAMS[IDS[4]]

    def wrong(params, trains):
        tx = lifvec.transactions(params, trains)
        tx.expected["o"][-2]["value"] += 1
        return tx

    with pytest.raises(SimulationMismatch) as e:
        verify("lif", p, n_random=3, golden=wrong)
    assert e.value.signal == "o.value"


def test_rejected_before_elaboration():
    p = LIFParams(weights=((100, 100),), threshold=1000, time_steps=4, spiking=False)
    with pytest.raises(ConfigError, match=exact("v_bits=8 is too narrow for the circuit: the parameters "
                                                "allow values in [0, 1000], which need 11 bits")):
        LIFLayer(p.replace(v_bits=8))
    with pytest.raises(TypeError, match=r"^expected a LIFParams parameter object, not \{'time_steps': 4\}$"):
        LIFLayer({"time_steps": 4})


def test_ports_follow_params():
    def fields(comp, port):
        comp._MustUse__silence = True                 # inspected, never elaborated
        return {n: (w, sg) for n, _, w, sg in port_layouts(comp)[port]["fields"]}

    spk, mem = LIFLayer(PARAMS[IDS[7]]), LIFLayer(PARAMS[IDS[8]])
    assert fields(spk, "i") == {"index": (3, False), "end": (1, False)}
    assert fields(spk, "o") == {"index": (2, False), "end": (1, False)}
    assert fields(mem, "o") == {"index": (2, False), "value": (PARAMS[IDS[8]].v_width, True),
                                "end": (1, False)}
    assert fields(LIFLayer(PARAMS[IDS[0]]), "i") == {"index": (1, False), "end": (1, False)}
