"""The shipped fitted tables in the FS/AMOS RTL: bit-exact and cycle-exact co-simulation,
the same check as the ReLU tables. The K = 40 multiplication unit (940 parameters, 40
pipeline stages with a 39-input inhibition tree each) is marked slow."""

import pytest

from spikeforge.models.fitted import find_table, load_table
from spikeforge.sim.verify import verify


def _check(core, p, n_random=60):
    r = verify(core, p, n_random=n_random)
    assert r["latency"] == [p.latency] and r["interval"] == [p.initiation_interval]
    return r


def test_fs_swish_k16():
    p = find_table("fs", "swish").params()
    assert p.K == 16 and not p.is_relu
    _check("fs", p)


def test_fs_sigmoid_k12_and_gelu_k16():
    for target in ("sigmoid", "gelu"):
        _check("fs", find_table("fs", target).params(), n_random=30)


def test_fs_swish_wider_input_as_in_a_network():
    """A network feeds the neuron wider pre-activations than the fitting interval."""
    _check("fs", find_table("fs", "swish").params(x_bits=14), n_random=40)


def test_amos_sigmoid_k8():
    p = find_table("amos", "sigmoid").params()
    assert p.K == 8 and p.param_count == 52
    _check("amos", p)


def test_amos_mult_k16_two_inputs():
    p = load_table("amos-mult-K16-Q8").params()
    assert p.two_inputs and not p.shared_inhibition
    r = _check("amos", p)
    assert r["inputs"] > 60


def test_amos_swish_k12():
    _check("amos", find_table("amos", "swish").params(), n_random=40)


@pytest.mark.slow
def test_amos_mult_k40_two_inputs():
    p = load_table("amos-mult-K40-Q8").params()
    assert p.param_count == 940
    _check("amos", p, n_random=80)
