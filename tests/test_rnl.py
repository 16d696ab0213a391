"""Rate Norm Layer thresholds (rate_norm = "rnl") for the IF and LIF codings."""

import numpy as np
import pytest
from click.testing import CliRunner

from factories import exact
from spikeforge.api import quantize_model
from spikeforge.cli import cli
from spikeforge.models.convert import RATE_NORMS, RNL_LAMBDAS, calibrate_rate, check_coding_options, \
    quantize_inputs, to_coding
from spikeforge.models.datasets import load_dataset, train_reference
from spikeforge.models.errors import ConfigError
from spikeforge.models.network import Dense, Network
from spikeforge.models.rnl import P_MIN, _forward, _layers, rnl_objective, rnl_spike_values
from spikeforge.models.simulate import run_network

#: the issue's goal: LIF and IF at T = 32 within 0.5 percentage points of the float net (digits)
GOAL_PP = 0.5


@pytest.fixture(scope="module")
def digits():
    ann, xq = quantize_model("digits")
    ds = load_dataset("digits")
    return ann, xq, ds


def _small_net(rng, hidden=(6, 5)):
    sizes = (4,) + hidden + (3,)
    layers = []
    for k in range(len(sizes) - 1):
        W = rng.integers(-40, 41, (sizes[k + 1], sizes[k]))
        b = rng.integers(-50, 51, sizes[k + 1])
        last = k == len(sizes) - 2
        layers.append(Dense(W.tolist(), b.tolist(), 0 if last else 3, None if last else 8))
    return Network("ann", 8, tuple(layers))


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    net = _small_net(rng)
    layers = _layers(net)
    xq = rng.integers(0, 256, (64, 4))
    W, b, s = layers[0]
    x = (xq @ W.T + b) / s
    maxima = np.array([np.clip(x, 0, None).max(), 40.0])
    ref = _forward(layers, x, maxima)[2]
    theta = maxima * np.array([0.55, 0.7])
    loss, g = rnl_objective(layers, x, theta, ref, 0.3)
    for k in range(len(theta)):
        e = np.zeros_like(theta)
        e[k] = 1e-4
        num = (rnl_objective(layers, x, theta + e, ref, 0.3)[0]
               - rnl_objective(layers, x, theta - e, ref, 0.3)[0]) / 2e-4
        assert g[k] == pytest.approx(num, rel=1e-3, abs=1e-7)


def test_zero_weight_keeps_max_norm(digits):
    ann, xq, _ = digits
    mx = calibrate_rate(ann, xq, "max")
    lam, rec = rnl_spike_values(ann, xq, mx[:-1], lam=0.0)
    assert lam == mx[:-1] and rec["p"] == [1.0]


def test_spike_values_below_max_and_output_kept(digits):
    ann, xq, _ = digits
    mx = calibrate_rate(ann, xq, "max")
    record = {}
    lam = calibrate_rate(ann, xq, "rnl", record=record)
    assert lam[-1] == mx[-1]
    assert all(1 <= a <= b for a, b in zip(lam[:-1], mx[:-1]))
    assert all(P_MIN <= p <= 1 for p in record["p"])
    assert record["objective"][1] < record["objective"][0]         # training lowered eq. 13
    # a larger Rate Inference Loss weight trains lower thresholds (eq. 10: ∂Ω/∂p > 0)
    hi = rnl_spike_values(ann, xq, mx[:-1], lam=1.0)[0]
    assert hi[0] < lam[0]


@pytest.mark.parametrize("coding", ["if", "lif"])
def test_to_coding_records_the_training(digits, coding):
    ann, xq, _ = digits
    net = to_coding(ann, coding, xq, time_steps=16, rate_norm="rnl")
    rec = net.meta["rate_norm_layer"]
    assert net.meta["rate_norm"] == "rnl" and rec["lambda"] in RNL_LAMBDAS
    assert rec["lambda_grid"] == list(RNL_LAMBDAS) and len(rec["agreement"]) == len(RNL_LAMBDAS)
    again = to_coding(ann, coding, xq, time_steps=16, rate_norm="rnl")
    assert again.to_dict() == net.to_dict()                          # deterministic


def test_unknown_norm_is_refused():
    assert RATE_NORMS == ("max", "robust", "rnl")
    with pytest.raises(ConfigError, match=exact("rate_norm must be one of 'max', 'robust', 'rnl'; got 'mean'")):
        check_coding_options("if", rate_norm="mean")


def test_layers_with_max_pool_refused():
    from spikeforge.models.network import MaxPool
    net = Network("ann", 8, (MaxPool((1, 2, 2), 2), Dense([[1]], [0], 0, 8), Dense([[1], [2]], [0, 0], 0, None)))
    with pytest.raises(ConfigError, match=r"dense layers only"):
        rnl_spike_values(net, np.zeros((2, 4), dtype=np.int64), [1])


@pytest.mark.parametrize("coding", ["if", "lif"])
def test_goal_t32_within_half_a_point_of_float(digits, coding):
    """Measured here, not recorded: the rate network at T = 32 against the float MLP on the test split."""
    ann, xq, ds = digits
    float_acc = float(np.mean(train_reference("digits").predict(ds.x_test) == ds.y_test))
    net = to_coding(ann, coding, xq, time_steps=32, rate_norm="rnl")
    acc = float(np.mean(run_network(net, quantize_inputs(ds.x_test, 8)).predictions == ds.y_test))
    assert acc >= float_acc - GOAL_PP / 100, (acc, float_acc)


def test_cli_convert_with_rnl(tmp_path):
    r = CliRunner().invoke(cli, ["convert", "--model", "iris", "--coding", "if", "--rate-norm", "rnl",
                                 "--out", str(tmp_path / "d")])
    assert r.exit_code == 0, r.output
    assert "rnl" in CliRunner().invoke(cli, ["convert", "--help"]).output
