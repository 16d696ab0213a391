"""FS neuron RTL: bit-exact and cycle-exact against the golden model in cocotb."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SIMULATORS
from spikeforge.hdl.fs import FSNeuron
from spikeforge.models.errors import ConfigError, SimulationMismatch
from spikeforge.models.fs import FSParams
from spikeforge.sim import fs as fsvec
from spikeforge.sim.verify import verify

MATRIX = [(K, xb) for K in (4, 8, 10, 16) for xb in (K + 1, K + 3, 2 * K + 2)]


@pytest.mark.parametrize("K,x_bits", MATRIX, ids=[f"K{K}-x{xb}" for K, xb in MATRIX])
def test_relu_matrix_verilator(K, x_bits):
    r = verify("fs", FSParams.relu(K, x_bits), n_random=30)
    assert r["latency"] == [K] and r["interval"] == [K]


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("K", [4, 8, 10, 16])
def test_relu_each_simulator(simulator, K):
    verify("fs", FSParams.relu(K, K + 2), simulator=simulator, n_random=20)


@pytest.mark.parametrize("K,x_bits", [(10, 4), (16, 6)])
def test_relu_threshold_wider_than_input(K, x_bits):
    """T(1) = 2^(K−1) exceeds the input range: every x stays below it until the low steps."""
    verify("fs", FSParams.relu(K, x_bits), n_random=20)


@st.composite
def general_params(draw):
    K = draw(st.integers(1, 10))
    table = st.lists(st.integers(-300, 300), min_size=K, max_size=K)
    return FSParams(K=K, x_bits=draw(st.integers(2, 14)), T=draw(table), h=draw(table), d=draw(table))


@settings(max_examples=4, deadline=None, derandomize=True)
@given(general_params())
def test_general_tables(p):
    verify("fs", p, n_random=25)


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_general_tables_each_simulator(simulator):
    """Table ROMs must be defined from time 0 on every simulator (Icarus included)."""
    p = FSParams(K=4, x_bits=8, T=(5, -3, 2, 1), h=(4, 2, -1, 3), d=(1, 2, 3, 4))
    verify("fs", p, simulator=simulator, n_random=20)


def test_stalls_keep_results():
    """Idle input cycles and output back-pressure change timing only."""
    verify("fs", FSParams.relu(8, 10), n_random=30, idle={"i": [1, 0, 0, 1]}, ready={"o": [1, 1, 0]})


def test_wrong_golden_model_is_caught():
    """A golden model with one flipped spike must make the comparison fail, naming cycle and signal."""
    p = FSParams.relu(8, 10)

    def wrong(params, xs):
        tx = fsvec.transactions(params, xs)
        beat = tx.expected["o"][13]
        beat["spike"] ^= 1
        return tx

    with pytest.raises(SimulationMismatch) as e:
        verify("fs", p, inputs=[3, 200, 77], golden=wrong)
    assert e.value.signal == "o.spike" and e.value.cycle == 14
    assert "first mismatch at cycle 14, signal 'o.spike'" in str(e.value)


def test_rejected_before_elaboration():
    with pytest.raises(ConfigError, match=r"^v_bits=4 is too narrow for the circuit"):
        FSNeuron(FSParams(K=4, x_bits=8, v_bits=4))
    with pytest.raises(TypeError, match=r"^expected a FSParams parameter object"):
        FSNeuron({"K": 4})
