"""Integer networks: exact codings equal the integer ANN on random networks,
JSON round trips, validation messages."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spikeforge.models.errors import ConfigError
from spikeforge.models.network import Dense, MaxPool, Network, layer_params, load_network, save_network
from spikeforge.models.simulate import run_network


def naive_ann(net, x):
    """The integer ANN written out with Python ints, independent of the package's MAC."""
    out = []
    for row in x.tolist():
        a = row
        for layer in net.layers:
            if isinstance(layer, MaxPool):
                C, H, W = layer.shape
                p = layer.pool
                a = [max(a[c * H * W + (i * p + di) * W + j * p + dj] for di in range(p) for dj in range(p))
                     for c in range(C) for i in range(H // p) for j in range(W // p)]
                continue
            acc = [b + sum(w * v for w, v in zip(wrow, a)) for wrow, b in zip(layer.weights, layer.bias)]
            if layer.out_bits is None:
                a = acc
            else:
                a = [min(max(v >> layer.shift, 0), (1 << layer.out_bits) - 1) for v in acc]
        out.append(a)
    return np.array(out, dtype=np.int64)


@st.composite
def networks(draw):
    """Small random integer ANNs, sometimes with a max-pool stage."""
    input_bits = draw(st.integers(1, 6))
    w_bits = draw(st.integers(3, 8))
    wmax = (1 << (w_bits - 1)) - 1
    pool_at = draw(st.sampled_from([None, 0, 1]))
    n = 16 if pool_at is not None else draw(st.integers(1, 6))
    layers = []
    if pool_at == 0:
        layers.append(MaxPool((1, 4, 4), 2))
        n = 4
    depth = draw(st.integers(1, 3))
    for k in range(depth):
        last = k == depth - 1
        m = draw(st.integers(1, 5))
        if pool_at == 1 and k == 0 and not last:
            m = 16
        W = draw(st.lists(st.lists(st.integers(-wmax, wmax), min_size=n, max_size=n), min_size=m, max_size=m))
        b = draw(st.lists(st.integers(-300, 300), min_size=m, max_size=m))
        if last:
            layers.append(Dense(W, b, 0, None))
        else:
            layers.append(Dense(W, b, draw(st.integers(0, 6)), draw(st.integers(1, 6))))
            if pool_at == 1 and k == 0:
                layers.append(MaxPool((4, 2, 2), 2))
                m = 4
        n = m
    net = Network("ann", input_bits, tuple(layers), w_bits)
    x = np.array(draw(st.lists(st.lists(st.integers(0, (1 << input_bits) - 1), min_size=net.n_inputs,
                                        max_size=net.n_inputs), min_size=1, max_size=6)), dtype=np.int64)
    return net, x


@given(networks())
def test_ann_engine_equals_naive_ints(case):
    net, x = case
    np.testing.assert_array_equal(run_network(net, x).scores, naive_ann(net, x))


@pytest.mark.parametrize("coding,options", [("fs", {}), ("amos", {}), ("ttfs", {"variant": "at_most_one"}),
                                            ("ttfs", {"variant": "exactly_one"})])
@given(case=networks())
def test_exact_codings_equal_integer_ann(coding, options, case):
    """FS ≡ AMOS ≡ TTFS ≡ integer ReLU network: same scores, same hidden activations."""
    net, x = case
    ref = run_network(net, x)
    got = run_network(net.with_coding(coding, options), x)
    np.testing.assert_array_equal(got.scores, ref.scores)
    np.testing.assert_array_equal(got.predictions, ref.predictions)
    assert len(got.activations) == len(ref.activations)
    for a, b in zip(got.activations, ref.activations):
        np.testing.assert_array_equal(a, b)


@given(networks())
def test_spike_counts_of_exact_codings(case):
    """FS/AMOS spikes = popcount of the activations; TTFS (at most one) = active neurons."""
    net, x = case
    ref = run_network(net, x)
    fs = run_network(net.with_coding("fs"), x)
    tt = run_network(net.with_coding("ttfs"), x)
    hidden = [s for s in fs.layers if s.name.startswith("neurons")]
    assert len(hidden) == len(ref.activations)
    for stage, act in zip(hidden, ref.activations):
        assert stage.counts.spikes == sum(bin(v).count("1") for v in act.ravel().tolist())
    ttfs_hidden = [s for s in tt.layers if s.name.startswith("dense") and s.neurons]
    assert len(ttfs_hidden) == len(ref.activations)
    for stage, layer_act in zip(ttfs_hidden, _unpooled_activations(net, x)):
        assert stage.counts.spikes == int((layer_act > 0).sum())


def _unpooled_activations(net, x):
    """Hidden activations before any max-pool (the neurons that may spike)."""
    a, out = x, []
    for layer in net.layers:
        if isinstance(layer, MaxPool):
            a = layer.apply(a)
            continue
        acc = a @ layer.W.T + layer.b
        if layer.out_bits is None:
            break
        a = np.clip(acc >> layer.shift, 0, (1 << layer.out_bits) - 1)
        out.append(a)
    return out


def test_fs_spikes_equal_popcount_without_pool():
    net = Network("ann", 4, (Dense([[3, -1], [2, 2], [-5, 7]], [1, -2, 3], 1, 4),
                             Dense([[1, 2, 3], [3, 2, 1]], [0, 0], 0, None)))
    x = np.array([[15, 0], [7, 9], [0, 0], [15, 15]])
    ref = run_network(net, x)
    fs = run_network(net.with_coding("fs"), x)
    stage = [s for s in fs.layers if s.name == "neurons0"][0]
    assert stage.counts.spikes == sum(bin(v).count("1") for v in ref.activations[0].ravel().tolist())
    inp = [s for s in fs.layers if s.name == "input"][0]
    assert inp.counts.spikes == sum(bin(v).count("1") for v in x.ravel().tolist())


@given(networks())
def test_json_round_trip(case):
    net, _ = case
    for coding in ("ann", "fs", "ttfs"):
        n = net.with_coding(coding)
        again = Network.from_dict(json.loads(json.dumps(n.to_dict())))
        assert again == n


def test_save_load_file(tmp_path):
    net = Network("ttfs", 3, (Dense([[1, 2]], [3], 1, 4), Dense([[1]], [0], 0, None)),
                  options={"variant": "exactly_one"}, name="tiny", meta={"dataset": "none"})
    p = tmp_path / "n.json"
    save_network(net, p)
    assert load_network(p) == net
    assert json.loads(p.read_text())["schema"] == "spikeforge.network/1"


def test_layer_params_fs_covers_accumulator_range():
    net = Network("fs", 8, (Dense([[127] * 4, [-128] * 4], [1000, -1000], 3, 8),
                            Dense([[1, 1]], [0], 0, None)))
    p = layer_params(net, 0)
    lo, hi = net.mac_params(0).acc_interval
    assert p.K == 8
    assert -(1 << (p.x_bits - 1)) <= lo >> 3 and hi >> 3 <= (1 << (p.x_bits - 1)) - 1
    assert layer_params(net, 1) is None


@pytest.mark.parametrize("make,msg", [
    (lambda: Network("ann", 8, ()), r"^a network needs at least one layer$"),
    (lambda: Network("xyz", 8, (Dense([[1]], [0], 0, None),)), r"^coding must be one of"),
    (lambda: Network("ann", 8, (Dense([[1]], [0], 0, 8),)),
     r"^layers\[0\]: the output layer must have out_bits null \(logits\)$"),
    (lambda: Network("ann", 8, (Dense([[1, 2]], [0], 0, 4), Dense([[1, 2]], [0], 0, None))),
     r"^layers\[1\] expects 2 inputs but the previous layer has 1 outputs$"),
    (lambda: Network("ann", 8, (MaxPool((1, 4, 4), 2),)),
     r"^layers\[0\]: the network must end with a dense output layer$"),
    (lambda: Network("if", 8, (MaxPool((1, 2, 2), 2), Dense([[1]], [0], 0, None))),
     r"^layers\[0\]: max-pool is not defined for rate coding \('if'\); use fs, amos, ttfs, ann$"),
    (lambda: MaxPool((1, 3, 4), 2), r"^max-pool: height 3 and width 4 must be multiples of pool 2$"),
    (lambda: Network("ann", 8, (Dense([[300]], [0], 0, None),)), r"^layers\[0\]: weight 300 does not fit w_bits=8$"),
    (lambda: Network("ann", 8, (Dense([[1]], [0], 0, None),), options={"time_steps": 3}),
     r"^options: unknown key\(s\) time_steps for coding 'ann'$"),
    (lambda: Network("lif", 8, (Dense([[1]], [0], 0, None, {"threshold": 4}),), options={"readout": "x"}),
     r"^options.readout must be one of"),
    (lambda: Network("fs", 8, (Dense([[1]], [0], 0, 4, {"K": 3}), Dense([[1]], [0], 0, None))),
     r"^layers\[0\]\.core: unknown key\(s\) K for coding 'fs'$"),
    (lambda: Dense([[1, 2], [3]], [0, 0]), r"^weights must be rectangular"),
    (lambda: Dense([[1]], [0, 1]), r"^bias must have 1 entries, not 2$"),
])
def test_validation_messages(make, msg):
    with pytest.raises(ConfigError, match=msg):
        make()
