"""LFSR rate encoder RTL: bit-exact with rate_encode, cycle-exact with its documented
latency/II, and chained into the LIF layer against lif_golden(rate_encode(x))."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SIMULATORS
from factories import exact
from spikeforge.hdl.lfsr import LFSREncoder
from spikeforge.hdl.lif import EncoderLIF
from spikeforge.models.errors import ConfigError, SimulationMismatch
from spikeforge.models.lfsr import LFSRParams, RateEncoderParams
from spikeforge.models.lif import LIFParams
from spikeforge.sim import lif as lifvec

LFSR16 = LFSRParams()                                            # x^16 + x^15 + x^13 + x^4 + 1
LFSR8 = LFSRParams(width=8, taps=(8, 6, 5, 4), seed=0x5A, leap=1)  # x^8 + x^6 + x^5 + x^4 + 1

# (lfsr, in_bits, leap, n_in, T): every combination of the two LFSRs, in_bits {4, 8} and
# leap {1, 16}, with n_in in {1, 3, 4, 8} and T in {1, 4, 16}
MATRIX = [("16", 4, 1, 1, 4), ("16", 4, 16, 3, 16), ("16", 8, 1, 8, 4), ("16", 8, 16, 4, 1),
          ("8", 4, 1, 3, 4), ("8", 4, 16, 8, 16), ("8", 8, 1, 4, 16), ("8", 8, 16, 1, 4)]
IDS = [f"lfsr{lf}-in{ib}-leap{leap}-n{n}-T{T}" for lf, ib, leap, n, T in MATRIX]
PARAMS = {i: RateEncoderParams(lfsr=(LFSR16 if lf == "16" else LFSR8).replace(leap=leap), in_bits=ib,
                               n_in=n, time_steps=T)
          for i, (lf, ib, leap, n, T) in zip(IDS, MATRIX)}


@pytest.mark.parametrize("name", IDS)
def test_matrix_verilator(name):
    ep = PARAMS[name]
    r = lifvec.verify_encoder(ep, n_random=15)
    assert r["latency"] == [ep.latency] and r["interval"] == [ep.latency]


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_each_simulator(simulator):
    lifvec.verify_encoder(PARAMS[IDS[5]], simulator=simulator, n_random=10)


@st.composite
def encoders(draw):
    width = draw(st.sampled_from([(16, (16, 15, 13, 4)), (8, (8, 6, 5, 4)), (5, (5, 3))]))
    lf = LFSRParams(width=width[0], taps=width[1], seed=draw(st.integers(1, (1 << width[0]) - 1)),
                    leap=draw(st.integers(1, 20)))
    return RateEncoderParams(lfsr=lf, in_bits=draw(st.integers(1, width[0])), n_in=draw(st.integers(1, 6)),
                             time_steps=draw(st.integers(1, 8)))


@settings(max_examples=2, deadline=None, derandomize=True)
@given(encoders())
def test_drawn_encoders(ep):
    lifvec.verify_encoder(ep, n_random=10)


def test_stalls_keep_results():
    """Idle input cycles and output back-pressure change timing only."""
    lifvec.verify_encoder(PARAMS[IDS[1]], n_random=10, idle={"i": [1, 0, 1, 1, 0]}, ready={"o": [1, 0, 0]})


def test_wrong_golden_model_is_caught():
    """Rate code with one spike moved: the comparison fails naming cycle and signal."""
    ep = RateEncoderParams(lfsr=LFSR8, in_bits=4, n_in=2, time_steps=3)
    xs = [[15, 0]]            # x_0 = 15 spikes unless r = 15; x_1 = 0 never spikes

    def wrong(params, inputs):
        tx = lifvec.encoder_transactions(params, inputs)
        assert tx.expected["o"][0] == {"index": 0, "end": 0}
        tx.expected["o"][0]["index"] = 1
        return tx

    with pytest.raises(SimulationMismatch) as e:
        lifvec.verify_encoder(ep, inputs=xs, golden=wrong)
    # inputs at cycles 0 and 1, draw (0, 0) presented at cycle 2
    assert e.value.signal == "o.index" and e.value.cycle == 2
    assert "first mismatch at cycle 2, signal 'o.index'" in str(e.value)


@pytest.mark.parametrize("spiking", [True, False])
def test_chained_into_lif(spiking):
    """Encoder → LIF layer in one circuit against lif_golden(rate_encode(x))."""
    ep = RateEncoderParams(lfsr=LFSR16, in_bits=8, n_in=4, time_steps=8)
    rng = np.random.default_rng(3)
    p = LIFParams(weights=rng.integers(-8, 8, (3, 4)).tolist(), bias=(1, 0, -1), threshold=9,
                  time_steps=8, spiking=spiking)
    r = lifvec.verify_chain(ep, p, n_random=8, ready={"o": [1, 1, 0]} if spiking else None)
    assert r["spikes"] > 0 or not spiking


def test_rejected_before_elaboration():
    with pytest.raises(TypeError,
                       match=r"^expected a RateEncoderParams parameter object, not \{'n_in': 2\}$"):
        LFSREncoder({"n_in": 2})
    with pytest.raises(ConfigError, match=exact("input width 9 exceeds the LFSR width 8")):
        RateEncoderParams(lfsr=LFSR8, in_bits=9)
    with pytest.raises(ConfigError, match=exact("encoder (n_in=8, T=16) does not match the LIF layer "
                                                "(n_in=8, T=4)")):
        EncoderLIF(RateEncoderParams(), LIFParams(time_steps=4))
