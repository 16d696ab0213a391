"""Networks beyond ReLU: float MLPs with Swish/sigmoid/GELU hidden layers, trained in NumPy,
converted to FS and AMOS with the shipped fitted units."""

import numpy as np
import pytest

from factories import exact
from spikeforge.models.amos import amos_golden
from spikeforge.models.base import floor_shift
from spikeforge.models.convert import FloatNet, quantize, quantize_inputs
from spikeforge.models.convert_act import convert_activation_net, evaluate_activation_net
from spikeforge.models.datasets import load_dataset
from spikeforge.models.errors import ConfigError
from spikeforge.models.fitted import find_table
from spikeforge.models.fs import fs_golden
from spikeforge.models.registry import get_core
from spikeforge.models.simulate import run_network
from spikeforge.models.train_mlp import accuracy, train_mlp


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def swish_net(digits):
    return train_mlp(digits.x_train, digits.y_train, (32,), "swish", epochs=120)


def test_floatnet_activations_default_relu_and_checked():
    w = (np.ones((3, 2)), np.ones((2, 3)))
    b = (np.zeros(3), np.zeros(2))
    assert FloatNet(w, b).activations == ("relu",) and FloatNet(w, b).is_relu
    net = FloatNet(w, b, activations=("swish",))
    assert not net.is_relu
    h, _ = net.forward(np.array([[1.0, -3.0]]))
    assert np.allclose(h[0], -2.0 / (1.0 + np.exp(2.0)))
    with pytest.raises(ConfigError, match=exact("activations: 1 hidden layers but 2 activations")):
        FloatNet(w, b, activations=("swish", "relu"))
    with pytest.raises(ConfigError, match=r"^activation must be one of swish, sigmoid, gelu, relu, not 'tanh'$"):
        FloatNet(w, b, activations=("tanh",))


def test_quantize_refuses_non_relu(swish_net, digits):
    with pytest.raises(ConfigError, match=r"^only ReLU networks quantize to the integer ANN; this one has "
                                          r"activations swish \(convert it to fs or amos"):
        quantize(swish_net, digits.x_train)


def test_training_is_deterministic(digits):
    a = train_mlp(digits.x_train[:200], digits.y_train[:200], (8,), "gelu", epochs=3)
    b = train_mlp(digits.x_train[:200], digits.y_train[:200], (8,), "gelu", epochs=3)
    assert all(np.array_equal(x, y) for x, y in zip(a.weights + a.biases, b.weights + b.biases))
    c = train_mlp(digits.x_train[:200], digits.y_train[:200], (8,), "gelu", epochs=3, seed=1)
    assert not np.array_equal(a.weights[0], c.weights[0])


@pytest.mark.parametrize("coding", ["fs", "amos"])
def test_swish_net_converts_and_agrees_with_float(swish_net, digits, coding):
    net = convert_activation_net(swish_net, digits.x_train, coding, name="digits-swish")
    r = evaluate_activation_net(swish_net, net, digits.x_test, digits.y_test)
    assert r["float_accuracy"] == pytest.approx(accuracy(swish_net, quantize_inputs(digits.x_test, 8) / 255,
                                                         digits.y_test))
    assert r["agreement"] >= 0.98, r
    assert r["accuracy"] >= r["float_accuracy"] - 0.01, r
    assert net.meta["activations"] == ["swish"] and net.layers[0].out_bits == find_table(coding, "swish").K


@pytest.mark.parametrize("coding", ["fs", "amos"])
def test_golden_run_equals_layer_by_layer_oracle(swish_net, digits, coding):
    """The network engine against the units applied by hand: acc = W·y + b, x = acc >> s, y = unit(x)."""
    net = convert_activation_net(swish_net, digits.x_train, coding)
    xq = quantize_inputs(digits.x_test[:60], 8)
    hidden, out = net.layers
    acc = xq @ hidden.W.T + hidden.b
    x = floor_shift(acc, hidden.shift)
    unit = find_table(coding, "swish").params(x_bits=net._cores[0].x_bits)
    y = (fs_golden(unit, x) if coding == "fs" else amos_golden(unit, x)).y
    scores = y @ out.W.T + out.b
    np.testing.assert_array_equal(run_network(net, xq).scores, scores)


def test_mac_after_a_signed_unit_takes_signed_inputs(swish_net, digits):
    net = convert_activation_net(swish_net, digits.x_train, "fs")
    unit = net._cores[0]
    assert unit.y_interval[0] < 0                           # Swish is negative below 0
    mac = net.mac_params(1)
    assert mac.in_signed and mac.in_bits >= unit.y_bits


def test_relu_networks_keep_their_integer_path(digits):
    """A ReLU FloatNet quantizes as before; convert_activation_net gives the bit-shift unit."""
    relu = train_mlp(digits.x_train[:300], digits.y_train[:300], (8,), "relu", epochs=5)
    ann = quantize(relu, digits.x_train)
    assert ann.coding == "ann" and not ann.mac_params(1).in_signed
    fs = convert_activation_net(relu, digits.x_train, "fs")
    assert fs.layers[0].core == {} and fs._cores[0].is_relu


def test_layer_cores_are_refused(swish_net, digits):
    with pytest.raises(ConfigError, match=r"^coding 'ttfs' has no per-neuron tables; networks beyond ReLU "
                                          r"convert to fs, amos$"):
        convert_activation_net(swish_net, digits.x_train, "ttfs")
    assert not get_core("fs").layer_core


def test_sigmoid_and_gelu_nets_agree(digits):
    for act in ("sigmoid", "gelu"):
        f = train_mlp(digits.x_train, digits.y_train, (16,), act, epochs=40)
        for coding in ("fs", "amos"):
            r = evaluate_activation_net(f, convert_activation_net(f, digits.x_train, coding),
                                        digits.x_test, digits.y_test)
            assert r["agreement"] >= 0.97, (act, coding, r)
            assert r["outside_interval"] == [0.0] or r["outside_interval"][0] < 0.01


@pytest.mark.parametrize("coding", ["fs", "amos"])
def test_network_file_round_trip(swish_net, digits, coding, tmp_path):
    from spikeforge.models.network import load_network, save_network
    net = convert_activation_net(swish_net, digits.x_train, coding)
    save_network(net, tmp_path / "n.json")
    back = load_network(tmp_path / "n.json")
    assert back.to_dict() == net.to_dict()
    xq = quantize_inputs(digits.x_test[:50], 8)
    np.testing.assert_array_equal(run_network(back, xq).scores, run_network(net, xq).scores)
