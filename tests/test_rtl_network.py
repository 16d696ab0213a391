"""A whole network, layer by layer, on real data: every layer core's RTL equals its golden model."""

import pytest

from spikeforge.api import convert_model
from spikeforge.models.convert import quantize_inputs
from spikeforge.models.datasets import load_dataset
from spikeforge.models.network import CODINGS
from spikeforge.sim.network import verify_network


@pytest.fixture(scope="module")
def iris():
    ds = load_dataset("iris")
    return convert_model("iris"), quantize_inputs(ds.x_test[:12], 8)


@pytest.mark.parametrize("coding", CODINGS)
def test_iris_network_layers_bit_exact(iris, coding):
    nets, x = iris
    res = verify_network(nets[coding], x)
    layers = [r["layer"] for r in res]
    # layer cores: every dense layer; fs/amos: the hidden layer's neurons
    assert layers == ([0] if coding in ("fs", "amos") else [0, 1])
    for r in res:
        assert r["inputs"] == (12 * 16 if coding in ("fs", "amos") else 12)
