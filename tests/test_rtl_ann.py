"""ANN MAC layer RTL: bit-exact and cycle-exact against the golden model in cocotb."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SIMULATORS
from spikeforge.hdl.ann import MACLayer
from spikeforge.models.ann import MACParams
from spikeforge.models.errors import ConfigError, SimulationMismatch
from spikeforge.models.rate_if import IFParams
from spikeforge.sim import ann as annvec
from spikeforge.sim.verify import verify


def layer(n_in, n_out, lanes, in_bits, in_signed, w_bits, shift, out_bits, seed=0):
    """Random signed weights with both extremes of w_bits present, biases of either sign."""
    rng = np.random.default_rng(seed * 1000 + n_in * 100 + n_out * 10 + lanes)
    lo, hi = -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1
    W = rng.integers(lo, hi + 1, (n_out, n_in))
    W[0, 0], W[-1, -1] = lo, hi
    span = 1 << (in_bits + w_bits - 2)
    b = rng.integers(-span, span + 1, n_out)
    return MACParams(weights=W.tolist(), bias=b.tolist(), shift=shift, in_bits=in_bits,
                     in_signed=in_signed, w_bits=w_bits, out_bits=out_bits, lanes=lanes)


# (n_in, n_out, lanes, in_bits, in_signed, w_bits, shift, out_bits): every value of each
# parameter at least once; lanes 1, 2 and n_out with one and several groups.
MATRIX = [
    (1, 1, 1, 4, False, 4, 0, 4),
    (4, 3, 1, 8, True, 8, 3, 8),
    (8, 5, 2, 10, False, 8, 7, None),
    (4, 5, 5, 10, True, 4, 7, 4),
    (8, 3, 3, 4, True, 8, 0, None),
    (1, 5, 2, 8, False, 4, 3, 8),
    (8, 1, 1, 8, True, 4, 3, 4),
    (4, 3, 2, 4, False, 8, 7, 8),
    (1, 3, 3, 10, True, 8, 0, None),
]
IDS = ["in{}-out{}-l{}-x{}{}-w{}-s{}-o{}".format(a, b, c, d, "s" if e else "u", f, g, h)
       for a, b, c, d, e, f, g, h in MATRIX]


@pytest.mark.parametrize("cfg", MATRIX, ids=IDS)
def test_matrix_verilator(cfg):
    p = layer(*cfg)
    r = verify("ann", p, n_random=20)
    assert r["latency"] == [p.cycles_per_inference] and r["interval"] == [p.cycles_per_inference]
    assert p.cycles_per_inference == p.groups * p.n_in + p.n_out - p.groups


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_each_simulator(simulator):
    """Two groups of two lanes and a short one, 10-bit unsigned inputs, logits."""
    verify("ann", layer(*MATRIX[2]), simulator=simulator, n_random=10, seed=1)


@st.composite
def mac_params(draw):
    n_in, n_out = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    w_bits, in_bits = draw(st.integers(2, 8)), draw(st.integers(1, 10))
    wlo, whi = -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1
    W = draw(st.lists(st.lists(st.integers(wlo, whi), min_size=n_in, max_size=n_in),
                      min_size=n_out, max_size=n_out))
    return MACParams(weights=W, bias=draw(st.lists(st.integers(-2000, 2000), min_size=n_out, max_size=n_out)),
                     shift=draw(st.integers(0, 8)), in_bits=in_bits, in_signed=draw(st.booleans()),
                     w_bits=w_bits, out_bits=draw(st.one_of(st.none(), st.integers(1, 9))),
                     lanes=draw(st.integers(1, n_out)))


@settings(max_examples=4, deadline=None, derandomize=True)
@given(mac_params())
def test_drawn_params(p):
    verify("ann", p, n_random=15)


STALLS = [(MATRIX[2], {"i": [1, 0, 0, 1]}, {"o": [1, 1, 0]}),      # several groups from the buffer
          (MATRIX[5], {"i": [0, 1]}, {"o": [0, 0, 1, 1]})]          # n_in = 1: outputs dominate


@pytest.mark.parametrize("cfg,idle,ready", STALLS, ids=[IDS[2], IDS[5]])
def test_stalls_keep_results(cfg, idle, ready):
    """Idle input cycles and output back-pressure change timing only."""
    verify("ann", layer(*cfg), n_random=15, idle=idle, ready=ready)


def test_wrong_golden_model_is_caught():
    """One wrong output value must fail the comparison, naming its cycle and signal."""
    p = layer(*MATRIX[1])                       # G = 3 groups of 1, n_in = 4: 12 cycles per inference

    def wrong(params, xs):
        tx = annvec.transactions(params, xs)
        tx.expected["o"][4]["value"] += 1       # inference 1, neuron 1
        return tx

    with pytest.raises(SimulationMismatch) as e:
        verify("ann", p, inputs=[[1, 2, 3, 4], [-5, 6, -7, 8], [0, 0, 0, 0]], golden=wrong)
    # inference 1 starts at cycle 12; neuron 1 leaves after groups 0 and 1: 12 + 2·4
    assert e.value.signal == "o.value" and e.value.cycle == 20
    assert "first mismatch at cycle 20, signal 'o.value'" in str(e.value)


def test_rejected_before_elaboration():
    with pytest.raises(ConfigError, match=r"^acc_bits=12 is too narrow for the circuit: the parameters "
                                          r"allow values in \[0, 51000\], which need 17 bits$"):
        MACLayer(MACParams(weights=((100, 100),), acc_bits=12))
    with pytest.raises(TypeError, match=r"^expected a MACParams parameter object, not \{'weights': 1\}$"):
        MACLayer({"weights": 1})
    with pytest.raises(TypeError, match=r"^expected a MACParams parameter object, not IFParams\("):
        MACLayer(IFParams())
