"""Front-ends, calibration, quantization and conversion to every coding."""

import numpy as np
import pytest

from spikeforge.models.convert import (FloatNet, calibrate_rate, from_npz, from_sklearn, quantize,
                                       quantize_inputs, to_coding)
from spikeforge.models.datasets import load_dataset, train_reference
from spikeforge.models.errors import ConfigError
from spikeforge.models.network import MaxPool
from spikeforge.models.simulate import run_network
from spikeforge.models.registry import CORES


@pytest.fixture(scope="module", params=["iris", "digits"])
def ref(request):
    name = request.param
    ds = load_dataset(name)
    mlp = train_reference(name)
    ann = quantize(mlp, ds.x_train)
    return name, ds, mlp, ann


def test_datasets_are_scaled_and_split():
    for name, (n_feat, n_cls) in {"iris": (4, 3), "digits": (64, 10)}.items():
        ds = load_dataset(name)
        assert ds.n_features == n_feat and ds.n_classes == n_cls
        for x in (ds.x_train, ds.x_test):
            assert x.min() >= 0 and x.max() <= 1
        assert abs(len(ds.x_test) / (len(ds.x_test) + len(ds.x_train)) - 0.25) < 0.01


def test_reference_nets_shapes_and_float_accuracy(ref):
    name, ds, mlp, _ = ref
    sizes = {"iris": [(4, 16), (16, 3)], "digits": [(64, 32), (32, 10)]}[name]
    assert [c.shape for c in mlp.coefs_] == sizes
    assert mlp.score(ds.x_test, ds.y_test) > 0.9


def test_integer_ann_close_to_float(ref):
    """8-bit quantization loses at most 2 points of test accuracy (measured)."""
    name, ds, mlp, ann = ref
    acc = np.mean(run_network(ann, quantize_inputs(ds.x_test, 8)).predictions == ds.y_test)
    assert acc >= mlp.score(ds.x_test, ds.y_test) - 0.02


def test_hidden_activations_use_the_range(ref):
    """Max calibration maps the training maximum near 2^K − 1 without overflow."""
    _, ds, _, ann = ref
    acts = run_network(ann, quantize_inputs(ds.x_train, 8)).activations
    for a in acts:
        assert 128 <= a.max() <= 255


@pytest.mark.parametrize("coding", [c.name for c in CORES.values() if c.exact and not c.is_reference])
def test_exact_codings_agree_fully(ref, coding):
    _, ds, _, ann = ref
    xq = quantize_inputs(ds.x_test, 8)
    net = to_coding(ann, coding)
    np.testing.assert_array_equal(run_network(net, xq).scores, run_network(ann, xq).scores)


def test_rate_if_converges_with_time_steps(ref):
    """Soft-reset IF agreement with the integer ANN grows with T and is high at T = 256."""
    _, ds, _, ann = ref
    xtr, xte = quantize_inputs(ds.x_train, 8), quantize_inputs(ds.x_test, 8)
    ref_pred = run_network(ann, xte).predictions
    agree = [np.mean(run_network(to_coding(ann, "if", xtr, time_steps=T), xte).predictions == ref_pred)
             for T in (4, 256)]
    assert agree[1] >= 0.98 and agree[1] >= agree[0]


def test_lif_conversion_records_threshold_scale(ref):
    _, ds, _, ann = ref
    xtr = quantize_inputs(ds.x_train, 8)
    net = to_coding(ann, "lif", xtr)
    assert 0 < net.meta["threshold_scale"] <= 1
    xte = quantize_inputs(ds.x_test, 8)
    agree = np.mean(run_network(net, xte).predictions == run_network(ann, xte).predictions)
    assert agree >= 0.9


def test_rate_weights_requantized_to_w_bits(ref):
    """Rate layers keep their synaptic weights within the network's weight width (+1 for rounding)."""
    from spikeforge.models.network import layer_params
    _, ds, _, ann = ref
    xtr = quantize_inputs(ds.x_train, 8)
    for coding in ("if", "lif"):
        net = to_coding(ann, coding, xtr)
        for i in net.dense_indices:
            assert layer_params(net, i).w_bits <= ann.w_bits + 1


def test_robust_norm_spike_values_not_above_max(ref):
    _, ds, _, ann = ref
    xq = quantize_inputs(ds.x_train, 8)
    lam_max = calibrate_rate(ann, xq, "max")
    lam_rob = calibrate_rate(ann, xq, "robust")
    assert all(r <= m for r, m in zip(lam_rob, lam_max))


def test_npz_equals_sklearn(tmp_path):
    mlp = train_reference("iris")
    p = tmp_path / "iris.npz"
    np.savez(p, w0=mlp.coefs_[0], b0=mlp.intercepts_[0], w1=mlp.coefs_[1], b1=mlp.intercepts_[1],
             activation=np.array("relu"))
    a, b = from_npz(p), from_sklearn(mlp)
    for x, y in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(x, y)


def test_percentile_calibration_clips_more():
    ds = load_dataset("digits")
    mlp = train_reference("digits")
    amax = quantize(mlp, ds.x_train, calibration="max")
    aper = quantize(mlp, ds.x_train, calibration="percentile", percentile=99.0)
    assert aper.meta["layers"][0]["calibrated_max"] < amax.meta["layers"][0]["calibrated_max"]


def test_floatnet_with_pool_converts_exactly():
    """A float net with a max-pool stage, converted: FS/TTFS still equal the integer ANN."""
    rng = np.random.default_rng(3)
    pool = MaxPool((1, 8, 8), 2)
    fnet = FloatNet((rng.normal(size=(12, 16)), rng.normal(size=(5, 12))),
                    (rng.normal(size=12) * 0.1, rng.normal(size=5) * 0.1), ((0, pool),))
    x = rng.uniform(size=(50, 64))
    ann = quantize(fnet, x)
    assert isinstance(ann.layers[0], MaxPool)
    xq = quantize_inputs(x, 8)
    for c in [c.name for c in CORES.values() if c.exact and not c.is_reference]:
        np.testing.assert_array_equal(run_network(to_coding(ann, c), xq).scores, run_network(ann, xq).scores)


@pytest.mark.parametrize("make,msg", [
    (lambda: FloatNet((), ()), r"^the model has no layers$"),
    (lambda: FloatNet((np.ones((2, 3)),), (np.ones(3),)), r"^layer 0: bias has shape \(3,\), expected \(2,\)$"),
    (lambda: FloatNet((np.full((2, 3), np.nan),), (np.ones(2),)),
     r"^layer 0: weights or bias contain NaN or infinite values$"),
    (lambda: FloatNet((np.ones((2, 3)), np.ones((2, 4))), (np.ones(2), np.ones(2))),
     r"^layer 1 expects 4 inputs but receives 2$"),
    (lambda: quantize(FloatNet((np.ones((2, 3)),), (np.ones(2),)), np.ones((4, 2))),
     r"^calibration data must have shape \(n, 3\), not \(4, 2\)$"),
    (lambda: quantize(FloatNet((np.ones((2, 3)),), (np.ones(2),)), np.full((4, 3), 2.0)),
     r"^inputs must be scaled to \[0, 1\] before conversion$"),
    (lambda: quantize(FloatNet((-np.ones((2, 3)), np.ones((1, 2))), (np.zeros(2), np.zeros(1))),
                      np.ones((4, 3))),
     r"^layer 0: every activation is zero on the calibration data; cannot calibrate \(dead layer\)$"),
    (lambda: to_coding(quantize(train_reference("iris"), load_dataset("iris").x_train), "if"),
     r"^coding 'if' needs calibration inputs for its thresholds$"),
])
def test_conversion_errors(make, msg):
    with pytest.raises(ConfigError, match=msg):
        make()
