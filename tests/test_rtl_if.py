"""Rate-coded IF layer RTL: bit-exact and cycle-exact against the golden model in cocotb."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SIMULATORS
from spikeforge.hdl.rate_if import IFLayer
from spikeforge.models.ann import MACParams
from spikeforge.models.errors import ConfigError, SimulationMismatch
from spikeforge.models.rate_if import IFParams
from spikeforge.sim import rate_if as ifvec
from spikeforge.sim.verify import verify


def layer(n_in, n_out, threshold, T, direct, spiking, w_bits=8, in_bits=4, seed=0):
    """Random signed weights (both extremes of w_bits present) and signed biases near ϑ."""
    rng = np.random.default_rng(seed * 1000 + n_in * 100 + n_out * 10 + T)
    lo, hi = -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1
    W = rng.integers(lo, hi + 1, (n_out, n_in))
    W[0, 0], W[-1, -1] = hi, lo
    b = rng.integers(-threshold, threshold + 1, n_out)
    return IFParams(weights=W.tolist(), bias=b.tolist(), threshold=threshold, time_steps=T,
                    direct_input=direct, spiking=spiking, w_bits=w_bits, in_bits=in_bits)


# (n_in, n_out, threshold, T, direct_input, spiking, w_bits, in_bits): every value at least
# once, each of the four input/output modes twice.
MATRIX = [
    (1, 1, 1, 4, False, True, 4, 4),
    (4, 3, 7, 8, False, True, 4, 4),
    (8, 3, 64, 16, False, False, 8, 4),
    (4, 1, 64, 4, False, False, 8, 4),
    (8, 1, 7, 16, True, True, 4, 4),
    (1, 3, 64, 8, True, True, 8, 8),
    (4, 3, 1, 16, True, False, 4, 6),
    (8, 3, 7, 4, True, False, 8, 4),
]
IDS = ["in{}-out{}-th{}-T{}-{}-{}".format(a, b, c, d, "direct" if e else "events",
                                         "spiking" if f else "membrane") for a, b, c, d, e, f, *_ in MATRIX]


@pytest.mark.parametrize("cfg", MATRIX, ids=IDS)
def test_matrix_verilator(cfg):
    p = layer(*cfg)
    r = verify("if", p, n_random=12)
    assert r["cycles"] > 0 and (r["spikes"] > 0 or not p.spiking)


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_each_simulator(simulator):
    """Spike events in and out, three neurons."""
    verify("if", layer(*MATRIX[1]), simulator=simulator, n_random=8, seed=1)


@st.composite
def if_params(draw):
    n_in, n_out = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    w_bits = draw(st.integers(2, 8))
    wlo, whi = -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1
    W = draw(st.lists(st.lists(st.integers(wlo, whi), min_size=n_in, max_size=n_in),
                      min_size=n_out, max_size=n_out))
    return IFParams(weights=W, bias=draw(st.lists(st.integers(-40, 40), min_size=n_out, max_size=n_out)),
                    threshold=draw(st.integers(1, 100)), time_steps=draw(st.integers(1, 10)),
                    direct_input=draw(st.booleans()), in_bits=draw(st.integers(1, 6)),
                    spiking=draw(st.booleans()), w_bits=w_bits)


@settings(max_examples=4, deadline=None, derandomize=True)
@given(if_params())
def test_drawn_params(p):
    verify("if", p, n_random=8)


STALLS = [(1, {"i": [1, 0, 0, 1]}, {"o": [1, 1, 0]}), (2, {"i": [0, 1]}, {"o": [0, 0, 1]}),
          (5, {"i": [1, 1, 0]}, {"o": [0, 1]}), (7, {"i": [0, 0, 1]}, {"o": [1, 0, 0, 1]})]


@pytest.mark.parametrize("k,idle,ready", STALLS, ids=[IDS[k] for k, _, _ in STALLS])
def test_stalls_keep_results(k, idle, ready):
    """Idle input cycles and output back-pressure change timing only (all four modes)."""
    verify("if", layer(*MATRIX[k]), n_random=8, idle=idle, ready=ready)


def test_wrong_spike_is_caught():
    """A golden model that misses the end of step 1 must fail, naming cycle and signal."""
    p = layer(*MATRIX[1])
    silent = [[0] * p.n_in] * p.time_steps

    def wrong(params, trains):
        tx = ifvec.transactions(params, trains)
        tx.expected["o"][0]["end"] = 0          # step 1 has no input and no spike: an end beat
        return tx

    with pytest.raises(SimulationMismatch) as e:
        verify("if", p, inputs=[silent, [[1] * p.n_in] * p.time_steps], golden=wrong)
    # the end beat of step 1 arrives at cycle 0; its output end beat leaves at cycle 1
    assert e.value.signal == "o.end" and e.value.cycle == 1


def test_wrong_membrane_is_caught():
    p = layer(*MATRIX[3])                       # spike input, non-spiking: read v after T steps
    trains = [[[1, 0, 1, 1]] * p.time_steps, [[0, 1, 0, 0]] * p.time_steps]

    def wrong(params, tr):
        tx = ifvec.transactions(params, tr)
        tx.expected["o"][1]["value"] -= 1       # inference 1's only neuron
        return tx

    with pytest.raises(SimulationMismatch) as e:
        verify("if", p, inputs=trains, golden=wrong)
    # inference 0: 3·T events + T end beats, then its n_out = 1 beat shares the next first input
    first = p.cycles_per_inference(3 * p.time_steps)
    assert e.value.signal == "o.value" and e.value.cycle == first + p.cycles_per_inference(p.time_steps)


def test_rejected_before_elaboration():
    p = IFParams(weights=((3, -2),), threshold=7, time_steps=4, v_bits=3)
    assert p.v_interval == (-8, 9)                  # m reaches 6 + 3 before the soft reset
    with pytest.raises(ConfigError, match=r"^v_bits=3 is too narrow for the circuit: the parameters "
                                          r"allow values in \[-8, 9\], which need 5 bits$"):
        IFLayer(p)
    with pytest.raises(TypeError, match=r"^expected a IFParams parameter object, not MACParams\("):
        IFLayer(MACParams())
