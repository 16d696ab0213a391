"""The user's own data (--data, --input-range) and model .npz files that carry their split.

The acceptance case of issue 12: a ReLU MLP trained elsewhere on its own
train/test split of the digits, saved with upper-case keys and its data
arrays, reproduces its own float test accuracy through the command line in
every exact coding (within 0.5 points), where the package's split of the
same data would put many of its training rows into the test set.
"""

import json
import warnings

import numpy as np
import pytest

from spikeforge.api import convert_model, evaluate_design
from spikeforge.cli import main
from spikeforge.models.convert import from_npz, quantize_inputs
from spikeforge.models.datasets import load_dataset
from spikeforge.models.errors import ConfigError, SpikeforgeWarning
from spikeforge.models.registry import CORES
from spikeforge.models.userdata import load_data, parse_input_range


def _user_model(tmp_path, upper=True):
    """A 64-32-10 ReLU MLP trained on its own 80/20 split of the digits (not the package's)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    d = load_digits()
    xtr, xte, ytr, yte = train_test_split(d.data / 16.0, d.target, test_size=0.2, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp = MLPClassifier(hidden_layer_sizes=(32,), activation="relu", max_iter=600,
                            random_state=1).fit(xtr, ytr)
    w, b = ("W", "B") if upper else ("w", "b")
    arrays = {f"{w}{i}": c for i, c in enumerate(mlp.coefs_)}
    arrays.update({f"{b}{i}": c for i, c in enumerate(mlp.intercepts_)})
    path = tmp_path / "user.npz"
    np.savez(path, **arrays, X_train=xtr, y_train=ytr, X_test=xte, y_test=yte)
    return path, mlp, (xtr, ytr, xte, yte)


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    return _user_model(tmp_path_factory.mktemp("user"))


def test_own_split_reproduces_float_accuracy_in_every_exact_coding(user, tmp_path, capsys):
    path, mlp, (xtr, ytr, xte, yte) = user
    float_acc = mlp.score(xte, yte)
    out = tmp_path / "designs"
    assert main(["convert", "--model", str(path), "--out", str(out)]) == 0
    capsys.readouterr()
    exact = [c.name for c in CORES.values() if c.exact]
    for c in exact:
        design = out / f"user-{c}.json"
        meta = json.loads(design.read_text())["meta"]
        assert meta["data"]["train_samples"] == len(ytr) and "dataset" not in meta
        assert main(["evaluate", str(design), "--data", str(path), "--json"]) == 0
        e = json.loads(capsys.readouterr().out)
        assert e["samples"] == len(yte) == 360
        assert abs(e["accuracy"] - float_acc) <= 0.005, (c, e["accuracy"], float_acc)
        assert e["agreement"] == 1.0
    # the package's own split of the digits holds many of this model's training rows
    pkg = load_dataset("digits")
    seen = {r.tobytes() for r in np.asarray(xtr)}
    assert sum(r.tobytes() in seen for r in pkg.x_test) > 100


def test_design_from_user_data_asks_for_it(user, tmp_path):
    path, _mlp, _ = user
    net = convert_model(str(path), codings=["ann"])["ann"]
    with pytest.raises(ConfigError, match="calibrated on your data .*pass --data FILE"):
        evaluate_design(net)
    assert evaluate_design(net, data=str(path)).samples == 360


def test_lower_case_keys_and_data_from_csv(tmp_path):
    path, mlp, (xtr, ytr, xte, yte) = _user_model(tmp_path, upper=False)
    fnet = from_npz(path)
    assert [w.shape for w in fnet.weights] == [(32, 64), (10, 32)]
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    for p, x, y in ((train, xtr, ytr), (test, xte, yte)):
        rows = [",".join(f"{v:.17g}" for v in r) + f",{int(c)}" for r, c in zip(x, y)]
        p.write_text("\n".join([",".join([f"f{i}" for i in range(64)] + ["label"])] + rows) + "\n")
    d = load_data([train, test])
    np.testing.assert_array_equal(d.x_test, xte)
    np.testing.assert_array_equal(d.y_train, ytr)
    a = convert_model(str(path), data=[str(train), str(test)], codings=["ann"])["ann"]
    b = convert_model(str(path), codings=["ann"])["ann"]
    assert a.layers == b.layers


def test_input_range_maps_and_counts_clipped_values(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, size=(20, 3))
    x[0, 0], x[1, 1] = -5.0, 300.0                      # outside the stated range: clipped, counted
    p = tmp_path / "d.npz"
    np.savez(p, x_train=x[:10], y_train=np.arange(10) % 2, x_test=x[10:], y_test=np.arange(10) % 2)
    with pytest.raises(ConfigError, match=r"x_train has values in \[-5, 300\], outside \[0, 1\].*--input-range"):
        load_data(p)
    with pytest.warns(SpikeforgeWarning, match="2 of 30 input values of the train split"):
        d = load_data(p, "0,255")
    assert d.clipped == {"train": 2, "test": 0} and d.input_range == (0.0, 255.0)
    np.testing.assert_allclose(d.x_test, x[10:] / 255)
    assert d.describe()["input_range"] == [0.0, 255.0]


@pytest.mark.parametrize("text, message", [
    ("1", "expects LO,HI"), ("a,b", "expects LO,HI"), ("1,1", "LO < HI"), ("2,1", "LO < HI"),
    ("nan,1", "finite"), ("0,inf", "finite")])
def test_bad_input_range(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_input_range(text)


def test_quantize_inputs_never_clips_silently():
    with pytest.raises(ConfigError, match=r"2 of 4 values lie outside \[0, 1\]"):
        quantize_inputs([0.0, 1.5, -0.1, 1.0], 8)
    with pytest.warns(SpikeforgeWarning, match=r"1 of 3 values lie outside \[0, 1\] and were clipped"):
        q = quantize_inputs([0.0, 1.5, 0.5], 8, clip=True)
    assert q.tolist() == [0, 255, 128]
    assert quantize_inputs([0.0, 1.0], 4).tolist() == [0, 15]


def test_report_golden_section_on_user_data(user, tmp_path):
    from spikeforge.report.golden import golden_section
    path, mlp, (_xtr, _ytr, xte, yte) = user
    g = golden_section("digits", data=str(path), quick=True)
    assert g.test_samples == 360 and g.data["source"] == str(path)
    assert g.float_accuracy == pytest.approx(mlp.score(xte, yte))
    from spikeforge.report.document import render_markdown
    from spikeforge.report.records import Environment, ReportData
    env = Environment(python="3", platform="p", machine="m", cpus=1, packages={}, command="c")
    text = render_markdown(ReportData(environment=env, golden=g))
    assert "Data: your own split from" in text and "360 test rows" in text


def test_own_npz_net_becomes_a_circuit_in_every_coding(user, tmp_path, capsys):
    """A user's .npz model converts, in each coding, and becomes one circuit with no option
    beyond the coding (default P = 1 per layer); its golden run on the user's test rows and a
    few co-simulated samples agree."""
    from spikeforge.models.circuit import CircuitParams, circuit_golden
    from spikeforge.models.network import load_network
    from spikeforge.sim.circuit import verify_circuit
    path, _mlp, (_xtr, _ytr, xte, _yte) = user
    out = tmp_path / "designs"
    assert main(["convert", "--model", str(path), "--out", str(out)]) == 0
    for c in CORES:
        design = out / f"user-{c}.json"
        assert main(["generate", "network", "--from", str(design), "-o", str(tmp_path / f"{c}.v")]) == 0
        cp = CircuitParams(load_network(str(design)))
        assert cp.parallelism == tuple(1 for _ in cp.network.dense_indices)
        x = quantize_inputs(xte[:3], cp.input_bits)
        assert circuit_golden(cp, x).scores.shape == (3, 10)
    verify_circuit(CircuitParams(load_network(str(out / "user-fs.json"))), quantize_inputs(xte[:3], 8))
