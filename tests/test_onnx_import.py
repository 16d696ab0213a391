"""ONNX front-end: MLPs exported from PyTorch (tests/data, made by make_fixtures.py) and
Keras-style graphs (MatMul + Add, built here with onnx.helper) become FloatNets.

Needs the onnx package (the extra ``spikeforge[onnx]``), never torch.
"""

import json
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from spikeforge.api import convert_model, evaluate_design  # noqa: E402
from spikeforge.cli import main  # noqa: E402
from spikeforge.models.datasets import load_dataset  # noqa: E402
from spikeforge.models.errors import ConfigError  # noqa: E402
from spikeforge.models.onnx_import import from_onnx  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "data")
FACTS = json.load(open(os.path.join(DATA, "digits_onnx.json")))


@pytest.mark.parametrize("name", ["digits_mlp3", "digits_mlp3_dynamo", "digits_pool"])
def test_import_reproduces_the_pytorch_logits(name):
    fnet = from_onnx(os.path.join(DATA, f"{name}.onnx"))
    facts = FACTS["digits_pool" if "pool" in name else "digits_mlp3"]
    ds = load_dataset("digits")
    _, z = fnet.forward(ds.x_test)
    np.testing.assert_allclose(z[:8], facts["logits_first_8"], atol=1e-4)
    assert np.mean(z.argmax(1) == ds.y_test) == pytest.approx(facts["float_accuracy"])


def test_pytorch_mlp3_integer_ann_within_half_a_point(tmp_path, capsys):
    """Acceptance: the 3-layer PyTorch MLP converts; the integer ANN is within 0.5 pp of float."""
    out = tmp_path / "d"
    path = os.path.join(DATA, "digits_mlp3.onnx")
    assert main(["convert", "--model", path, "--dataset", "digits", "--coding", "ann", "--coding", "fs",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out / "digits_mlp3-ann.json"), "--json"]) == 0
    e = json.loads(capsys.readouterr().out)
    assert e["samples"] == 450
    assert abs(e["accuracy"] - FACTS["digits_mlp3"]["float_accuracy"]) <= 0.005
    net = json.loads((out / "digits_mlp3-ann.json").read_text())
    assert [len(l["weights"]) for l in net["layers"]] == [64, 32, 10]


def test_maxpool_network_is_exact_in_fs():
    nets = convert_model(os.path.join(DATA, "digits_pool.onnx"), dataset="digits", codings=["ann", "fs"])
    assert type(nets["ann"].layers[0]).__name__ == "MaxPool"
    assert nets["ann"].layers[0].shape == (1, 8, 8)
    assert evaluate_design(nets["fs"]).agreement == 1.0


# ------------------------------------------------------------ Keras-style graphs built here

def _model(nodes, inits, in_shape=("N", 4), out_name="y", inputs=None):
    graph = helper.make_graph(
        nodes, "g", inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _save(tmp_path, model, name="m.onnx"):
    p = tmp_path / name
    p.write_bytes(model.SerializeToString())
    return str(p)


RNG = np.random.default_rng(0)
W1, B1, W2, B2 = RNG.normal(size=(4, 6)), RNG.normal(size=6), RNG.normal(size=(6, 3)), RNG.normal(size=3)


def keras_mlp(**replace):
    """x @ W1 + B1 → Relu → @ W2 + B2 → Softmax, as tf2onnx writes a Keras Dense stack."""
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["h0"], name="dense/MatMul"),
             helper.make_node("Add", ["h0", "B1"], ["h1"], name="dense/BiasAdd"),
             helper.make_node("Relu", ["h1"], ["h2"], name="dense/Relu"),
             helper.make_node("MatMul", ["h2", "W2"], ["h3"], name="dense_1/MatMul"),
             helper.make_node("Add", ["h3", "B2"], ["h4"], name="dense_1/BiasAdd"),
             helper.make_node("Softmax", ["h4"], ["y"], name="dense_1/Softmax")]
    inits = {"W1": W1, "B1": B1, "W2": W2, "B2": B2}
    for k, v in replace.items():
        if k in inits:
            inits[k] = v
    return _model(nodes, inits)


def test_keras_style_matmul_add_softmax(tmp_path):
    fnet = from_onnx(_save(tmp_path, keras_mlp()))
    np.testing.assert_allclose(fnet.weights[0], W1.T.astype(np.float32))
    np.testing.assert_allclose(fnet.biases[1], B2.astype(np.float32))
    x = RNG.uniform(size=(5, 4))
    _, z = fnet.forward(x)
    ref = np.maximum(x @ W1.astype(np.float32) + B1.astype(np.float32), 0) @ W2.astype(np.float32) + B2.astype(np.float32)
    np.testing.assert_allclose(z, ref, rtol=1e-6)


def test_gemm_attributes_and_reshape(tmp_path):
    """Gemm with transB = 0, alpha and beta; a Reshape to (batch, features); Dropout and Identity pass."""
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "W1", "B1"], ["h"], name="fc1", alpha=0.5, beta=2.0, transB=0),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Dropout", ["r"], ["d"], name="drop"),
             helper.make_node("Gemm", ["d", "W2t", "B2"], ["g"], name="fc2", transB=1),
             helper.make_node("Identity", ["g"], ["y"], name="id")]
    m = _model(nodes, {"W1": W1, "B1": B1, "W2t": W2.T, "B2": B2, "shape": np.array([-1, 4])},
               in_shape=("N", 2, 2))
    m.graph.initializer[-1].CopyFrom(numpy_helper.from_array(np.array([-1, 4], dtype=np.int64), "shape"))
    fnet = from_onnx(_save(tmp_path, m))
    np.testing.assert_allclose(fnet.weights[0], 0.5 * W1.T.astype(np.float32), rtol=1e-6)
    np.testing.assert_allclose(fnet.biases[0], 2.0 * B1.astype(np.float32), rtol=1e-6)
    np.testing.assert_allclose(fnet.weights[1], W2.T.astype(np.float32), rtol=1e-6)


def test_missing_onnx_names_the_extra(monkeypatch, tmp_path):
    import builtins
    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "onnx":
            raise ImportError("no onnx")
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ConfigError, match=r"pip install spikeforge\[onnx\]"):
        from_onnx(os.path.join(DATA, "digits_mlp3.onnx"))


def bad_onnx_models():
    """(label, bytes, message fragment) of ONNX inputs that must be refused."""
    conv = [helper.make_node("Conv", ["x", "W1"], ["y"], name="conv1")]
    sig = [helper.make_node("MatMul", ["x", "W1"], ["h"], name="mm"),
           helper.make_node("Sigmoid", ["h"], ["y"], name="act0")]
    residual = [helper.make_node("MatMul", ["x", "W1"], ["h"], name="mm"),
                helper.make_node("Relu", ["h"], ["r"], name="relu"),
                helper.make_node("Add", ["r", "h"], ["y"], name="skip")]
    relu_end = [helper.make_node("MatMul", ["x", "W1"], ["h"], name="mm"),
                helper.make_node("Relu", ["h"], ["y"], name="relu")]
    pool_stride = [helper.make_node("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[2, 2], strides=[1, 1]),
                   helper.make_node("Flatten", ["p"], ["f"], name="flat"),
                   helper.make_node("MatMul", ["f", "W9"], ["y"], name="mm")]
    two_inputs = _model([helper.make_node("Add", ["x", "x2"], ["y"], name="add")], {},
                        inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4]),
                                helper.make_tensor_value_info("x2", TensorProto.FLOAT, ["N", 4])])
    ser = lambda m: m.SerializeToString()
    nan = W1.copy()
    nan[0, 0] = np.nan
    return [
        ("unsupported operator", ser(_model(conv, {"W1": W1})), "operator Conv is not supported"),
        ("unsupported activation", ser(_model(sig, {"W1": W1})), "node 'act0' (Sigmoid)"),
        ("residual add", ser(_model(residual, {"W1": W1})), "only sequential networks"),
        ("relu at the end", ser(_model(relu_end, {"W1": W1})), "must end with a linear layer"),
        ("overlapping max-pool", ser(_model(pool_stride, {"W9": np.ones((9, 2))}, in_shape=("N", 1, 4, 4))),
         "stride = kernel"),
        ("two inputs", ser(two_inputs), "2 data inputs"),
        ("NaN initializer", ser(keras_mlp(W1=nan)), "contains NaN"),
        ("wrong shapes", ser(keras_mlp(W2=np.ones((5, 3)))), "do not match 6 inputs"),
        ("bias length", ser(keras_mlp(B1=np.ones(4))), "bias of shape (4,) for 6 outputs"),
        ("text file", b"this is not an ONNX model\n", "not an ONNX model"),
        ("empty file", b"", "not an ONNX model"),
        ("an .npz renamed", b"PK\x03\x04" + bytes(60), "not an ONNX model"),
        ("truncated", ser(keras_mlp())[:200], "not an ONNX model"),
    ]


@pytest.mark.parametrize("label", [c[0] for c in bad_onnx_models()])
def test_bad_onnx_is_one_line_error(label, tmp_path, capsys):
    data, fragment = {c[0]: c[1:] for c in bad_onnx_models()}[label]
    p = tmp_path / "bad.onnx"
    p.write_bytes(data)
    out = tmp_path / "out"
    code = main(["convert", "--model", str(p), "--dataset", "iris", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert fragment in err, err
    assert not out.exists()
