"""AMOS unit RTL: bit-exact and cycle-exact against the golden model in cocotb."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SIMULATORS
from factories import exact
from spikeforge.hdl import generate_verilog
from spikeforge.hdl.amos import AMOSUnit
from spikeforge.models.amos import AMOSParams, amos_golden
from spikeforge.models.errors import ConfigError, SimulationMismatch
from spikeforge.models.fs import FSParams
from spikeforge.sim import amos as amosvec
from spikeforge.sim.verify import verify

MATRIX = [(K, xb) for K in (4, 8, 10, 16) for xb in (max(2, K // 2), K + 1, 2 * K + 2)]


def mult_like():
    """A two-input unit whose output is max(x, 0)·max(x2, 0) on 3-bit inputs (x, x2 ≤ 3):
    neurons 1–3 detect x2 < b (b = 1..3), neuron (a, b) fires iff x ≥ a and x2 ≥ b
    (inhibited by detector b); y counts the pairs, x·x2 = Σ_(a,b) [x ≥ a][x2 ≥ b]."""
    pairs = [(a, b) for b in (1, 2, 3) for a in (1, 2, 3)]
    K = 3 + len(pairs)
    c = (0, 0, 0) + (1,) * len(pairs)
    c2 = (-1, -1, -1) + (0,) * len(pairs)
    T = (0, -1, -2) + tuple(a for a, _ in pairs)
    d = (0, 0, 0) + (1,) * len(pairs)
    h = [(), (0,), (0, 0)] + [tuple(4 if j == b - 1 else 0 for j in range(3 + k))
                              for k, (_, b) in enumerate(pairs)]
    return AMOSParams(K=K, x_bits=3, x2_bits=3, c=c, c2=c2, T=T, d=d, h=h)


#: One parameter set per datapath form (see AMOSUnit), run on every simulator.
FORMS = {
    # shared inhibition, c = 1: the residual is the next gate potential, no multiplier
    "relu": AMOSParams.relu(10, 11),
    # shared inhibition, uniform non-power-of-two gains: c·x + c'·x' formed once (2 multipliers)
    "folded-mult": AMOSParams(K=5, x_bits=7, c=(3,) * 5, c2=(-5,) * 5, x2_bits=5,
                              T=(40, 20, -10, 5, 0), d=(16, 8, 4, 2, 1)),
    # shared inhibition (negative h_j too), a different gain per neuron: x and the residual carried
    "shared-gains": AMOSParams(K=6, x_bits=9, c=(1, 2, -4, 3, 0, -1), T=(5, -3, 8, 0, 2, -7),
                               d=(1, -2, 3, -4, 5, -6),
                               h=tuple((7, -3, 5, -2, 4)[:i] for i in range(6))),
    # h_ij depends on i: the earlier spikes are carried, inhibition is a constant mux/adder tree
    "nonshared": AMOSParams(K=6, x_bits=8, c=(1, -1, 2, 3, -5, 8), T=(10, -20, 7, 0, -3, 30),
                            d=(5, -1, 2, 7, -3, 1),
                            h=((), (6,), (-4, 9), (3, 0, -7), (11, -2, 5, 1), (-8, 4, 0, 6, -9))),
    "mult-like": mult_like(),
}


@pytest.mark.parametrize("K,x_bits", MATRIX, ids=[f"K{K}-x{xb}" for K, xb in MATRIX])
def test_relu_matrix_verilator(K, x_bits):
    r = verify("amos", AMOSParams.relu(K, x_bits), n_random=30)
    assert r["latency"] == [K] and r["interval"] == [1]


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("form", sorted(FORMS))
def test_forms_each_simulator(simulator, form):
    p = FORMS[form]
    r = verify("amos", p, simulator=simulator, n_random=40)
    assert r["latency"] == [p.K] and r["interval"] == [1]


def test_mult_like_unit_multiplies():
    p = FORMS["mult-like"]
    xs, x2s = np.meshgrid(np.arange(-4, 4), np.arange(-4, 4))
    y = amos_golden(p, xs, x2s).y
    np.testing.assert_array_equal(y, np.maximum(xs, 0) * np.maximum(x2s, 0))
    assert p.two_inputs and not p.shared_inhibition and p.gain_multiplications == 0


@st.composite
def general_params(draw):
    """Random c, T, d, h (negative too), shared or not, one or two inputs, small K."""
    K = draw(st.integers(1, 6))
    e = st.integers(-40, 40)
    vec = st.lists(e, min_size=K, max_size=K)
    if draw(st.booleans()):
        hj = draw(vec)
        h = [hj[:i] for i in range(K)]
    else:
        h = [draw(st.lists(e, min_size=i, max_size=i)) for i in range(K)]
    c2 = draw(vec) if draw(st.booleans()) else None
    p = AMOSParams(K=K, x_bits=draw(st.integers(2, 12)), c=draw(vec), T=draw(vec), d=draw(vec),
                   h=h, c2=c2, x2_bits=draw(st.integers(2, 8)))
    return p.replace(u_bits=p.u_width + draw(st.integers(0, 3)))


@settings(max_examples=4, deadline=None, derandomize=True)
@given(general_params())
def test_general_params(p):
    r = verify("amos", p, n_random=30)
    assert r["latency"] == [p.K] and r["interval"] == [1]


@settings(max_examples=50, deadline=None, derandomize=True)
@given(general_params(), st.data())
def test_residual_steps_reproduce_the_potentials(p, data):
    """The residual recurrence the RTL uses (shared inhibition) gives the golden spikes."""
    if not p.shared_inhibition:
        assert p.inhibition_fanout == tuple(sum(1 for i in range(j + 1, p.K) if p.h_table[i][j])
                                            for j in range(p.K))
        return
    lo, hi = -(1 << (p.x_bits - 1)), (1 << (p.x_bits - 1)) - 1
    x = data.draw(st.integers(lo, hi))
    x2 = data.draw(st.integers(-(1 << (p.x2_bits - 1)), (1 << (p.x2_bits - 1)) - 1))
    z_gold = amos_golden(p, np.array([x]), np.array([x2]) if p.two_inputs else None).z[0]
    v, z = p.residual_start, []
    for i in range(p.K):
        u = v + p.c_table[i] * x + (p.c2[i] * x2 if p.two_inputs else 0)
        z.append(int(u >= 0))
        if i < p.K - 1:
            v += p.residual_steps[i][z[-1]]
    assert z == z_gold.tolist()


def test_stalls_keep_results():
    """Idle input cycles and output back-pressure change timing only."""
    verify("amos", AMOSParams.relu(8, 9), n_random=30, idle={"i": [1, 0, 0, 1, 1]},
           ready={"o": [1, 1, 0, 1, 0, 0]})
    verify("amos", FORMS["nonshared"], n_random=30, idle={"i": [1, 1, 1, 0]}, ready={"o": [0, 0, 0, 1]})


def test_wrong_golden_model_is_caught():
    """A golden model with one flipped spike must make the comparison fail, naming cycle and signal."""
    p = AMOSParams.relu(8, 9)

    def wrong(params, xs):
        tx = amosvec.transactions(params, xs)
        tx.expected["o"][1]["z"] ^= 1 << 3
        return tx

    with pytest.raises(SimulationMismatch) as e:
        verify("amos", p, inputs=[3, 200, 77], golden=wrong)
    assert e.value.signal == "o.z" and e.value.cycle == 1 + 8       # x #1 accepted at cycle 1
    assert "first mismatch at cycle 9, signal 'o.z'" in str(e.value)


def test_relu_has_no_multiplier_and_gains_are_counted():
    """Multipliers in the Verilog: none for ReLU, one per counted constant multiplication."""
    def mults(p):
        return sum(1 for line in generate_verilog("amos", p).splitlines() if re.search(r"\S \* \S", line))

    assert mults(FORMS["relu"]) == 0
    for p in list(FORMS.values()) + [AMOSParams(K=3, x_bits=7, c=(3, 6, -7), T=(1, 2, 3), d=(1, 1, 1))]:
        assert mults(p) == p.gain_multiplications
    assert FORMS["folded-mult"].gain_multiplications == 2


def test_relu_corner_inputs_hit_every_threshold():
    p = AMOSParams.relu(4, 8)
    xs = amosvec.corner_inputs(p)
    for v in (0, 1, -1, -128, 127, 7, 8, 9, 11, 12, 13, 14, 15, 16):
        assert v in xs
    assert all(-128 <= v <= 127 for v in xs)


def test_rejected_before_elaboration():
    with pytest.raises(ConfigError, match=exact("u_bits=5 is too narrow for the circuit: the parameters "
                                                "allow values in [-143, 126], which need 9 bits")):
        AMOSUnit(AMOSParams.relu(4, 8).replace(u_bits=5))
    with pytest.raises(TypeError, match=r"^expected a AMOSParams parameter object"):
        AMOSUnit({"K": 4})
    with pytest.raises(TypeError, match=r"^expected a AMOSParams parameter object, not FSParams\("):
        AMOSUnit(FSParams.relu(4, 8))
