"""Formal proof (SymbiYosys, BMC over the whole transaction): the FS ReLU neuron emits the
binary digits of clamp(x, 0, 2^K − 1) for every input x of its width."""

import pytest

from spikeforge.models.fs import FSParams, relu_tables
from spikeforge.sim.formal import prove_fs_relu


@pytest.mark.parametrize("K,x_bits", [(4, 7), (8, 12), (12, 15), (10, 4)])
def test_fs_relu_digits_for_every_input(K, x_bits):
    ok, log = prove_fs_relu(FSParams.relu(K, x_bits))
    assert ok, log[-2000:]


def test_a_wrong_threshold_is_found():
    """The checker can fail: one threshold off by one gives a counterexample."""
    T = list(relu_tables(8))
    T[3] += 1
    ok, log = prove_fs_relu(FSParams(K=8, x_bits=12, T=T, h=relu_tables(8), d=relu_tables(8)))
    assert not ok
    assert "Assert failed" in log
