"""Network circuits beyond ReLU: fitted Swish units in fs and amos.

The hidden neurons' tables are not the bit-shift ReLU ones (their d(t) is
neither a power of two nor always positive), so the receiving engine takes
the multiplier path w·d(t) and its accumulator bound covers negative terms;
the neurons' spikes come from the trained T/h (FS) or c/T/h (AMOS) tables.
"""

import pytest

from spikeforge.models.circuit import CircuitParams
from spikeforge.models.convert import quantize_inputs
from spikeforge.models.convert_act import convert_activation_net
from spikeforge.models.datasets import load_dataset
from spikeforge.models.train_mlp import train_mlp
from spikeforge.sim.circuit import verify_circuit


@pytest.fixture(scope="module")
def swish():
    d = load_dataset("iris")
    return d, train_mlp(d.x_train, d.y_train, (8,), "swish", epochs=60)


@pytest.mark.parametrize("coding", ["fs", "amos"])
def test_swish_circuit_equals_golden(swish, coding):
    d, f = swish
    net = convert_activation_net(f, d.x_train, coding)
    hidden = CircuitParams(net, 3).engines[1]
    assert hidden.in_shifts is None and min(hidden.in_d) < 0        # the case this file is for
    x = quantize_inputs(d.x_test, net.input_bits)
    r = verify_circuit(CircuitParams(net, 3), x, simulator="verilator")
    assert r["measured_latency"] == r["latency"] and r["samples"] == len(x)
