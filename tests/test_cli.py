"""The command line: working paths and the bad-input corpus.

Every bad input must give exactly one line on stderr starting with
``error:``, a non-zero exit code, no traceback, and no file left behind.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from spikeforge.cli import main
from spikeforge.models.datasets import train_reference
from spikeforge.models.network import load_network
from spikeforge.models.registry import CORES, codings


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def designs(tmp_path_factory):
    """The digits reference net in every coding, written by the CLI."""
    out = tmp_path_factory.mktemp("designs")
    assert main(["convert", "--model", "digits", "--out", str(out)]) == 0
    return out


def test_convert_writes_every_coding(designs):
    names = sorted(os.listdir(designs))
    assert names == [f"digits-64-32-10-{c}.json" for c in sorted(codings())]
    for n in names:
        net = load_network(designs / n)
        assert net.meta["dataset"] == "digits"


def test_evaluate_exact_codings_agree(designs, capsys):
    for c in [c.name for c in CORES.values() if c.exact]:
        code, out, _ = run(capsys, "evaluate", str(designs / f"digits-64-32-10-{c}.json"), "--json")
        assert code == 0
        e = json.loads(out)
        assert e["agreement"] == 1.0
        assert e["samples"] == 450


def test_evaluate_table_output(designs, capsys):
    code, out, _ = run(capsys, "evaluate", str(designs / "digits-64-32-10-ttfs.json"), "--limit", "20")
    assert code == 0
    assert "agreement with integer ANN" in out and "samples                        20" in out


def test_help_on_every_command(capsys):
    for cmd in ([], ["convert"], ["evaluate"], ["report"], ["cores"], ["generate"]):
        code, out, _ = run(capsys, *cmd, "--help")
        assert code == 0 and "Usage:" in out


def test_cores_lists_six(capsys):
    code, out, _ = run(capsys, "cores")
    assert code == 0
    assert [l.split()[0] for l in out.splitlines()] == list(codings())


def test_console_script_error_is_one_line(tmp_path):
    """The installed entry point itself: exit code and a single stderr line."""
    exe = os.path.join(os.path.dirname(sys.executable), "spikeforge")
    p = subprocess.run([exe, "evaluate", str(tmp_path / "missing.json")], capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("error: cannot read")
    assert "Traceback" not in p.stderr


# ------------------------------------------------------------ bad inputs

def _npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def _good_arrays(n_in=4, hidden=5, n_out=3):
    rng = np.random.default_rng(0)
    return {"w0": rng.normal(size=(n_in, hidden)), "b0": rng.normal(size=hidden),
            "w1": rng.normal(size=(hidden, n_out)), "b1": rng.normal(size=n_out)}


def _design(tmp_path, designs, mutate, name="bad.json", coding="fs"):
    d = json.loads((designs / f"digits-64-32-10-{coding}.json").read_text())
    mutate(d)
    p = tmp_path / name
    p.write_text(json.dumps(d))
    return str(p)


def _set(path, value):
    def f(d):
        obj = d
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value
    return f


NPZ_CASES = {
    "nan weight": lambda a: a["w0"].__setitem__((0, 0), np.nan),
    "inf bias": lambda a: a["b1"].__setitem__(0, np.inf),
    "layer shape mismatch": lambda a: a.__setitem__("w1", np.ones((6, 3))),
    "bias length": lambda a: a.__setitem__("b0", np.ones(4)),
    "tanh activation": lambda a: a.__setitem__("activation", np.array("tanh")),
    "missing bias": lambda a: a.pop("b1"),
    "1-D weights": lambda a: a.__setitem__("w0", np.ones(4)),
}


@pytest.mark.parametrize("case", sorted(NPZ_CASES))
def test_bad_npz(case, tmp_path, capsys):
    arrays = _good_arrays()
    NPZ_CASES[case](arrays)
    path = _npz(tmp_path / "m.npz", **arrays)
    out = tmp_path / "out"
    code, _, err = run(capsys, "convert", "--model", path, "--dataset", "iris", "--out", str(out))
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert not out.exists() or os.listdir(out) == []


def _cases(tmp_path, designs):
    """(args, expected message fragment) for every bad input."""
    good_npz = _npz(tmp_path / "good.npz", **_good_arrays())
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"this is not a zip file")
    not_json = tmp_path / "not.json"
    not_json.write_text("{ nope")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    D = lambda m, **kw: _design(tmp_path, designs, m, name=f"d{len(os.listdir(tmp_path))}.json", **kw)
    return [
        (["convert", "--act-bits", "0"], "act_bits must be >= 1"),
        (["convert", "--act-bits", "17"], "act_bits must be <= 16"),
        (["convert", "--input-bits", "0"], "input_bits must be >= 1"),
        (["convert", "--w-bits", "1"], "w_bits must be >= 2"),
        (["convert", "--coding", "xyz"], "unknown coding 'xyz'"),
        (["convert", "--model", "model.txt"], "--model must be"),
        (["convert", "--model", str(tmp_path / "missing.npz"), "--dataset", "iris"], "no such file"),
        (["convert", "--model", good_npz], "needs --dataset"),
        (["convert", "--model", good_npz, "--dataset", "digits"], "expects 4 inputs"),
        (["convert", "--model", str(corrupt), "--dataset", "iris"], "not a readable .npz"),
        (["convert", "--percentile", "10", "--calibration", "percentile"], "percentile must be"),
        (["convert", "--coding", "if", "--time-steps", "0"], "time_steps must be >= 1"),
        (["convert", "--model", "digits", "--dataset", "iris"], "calibrated on its own data set"),
        (["convert", "--out", str(a_file / "sub")], "cannot write"),
        (["convert", "--out", str(a_file)], "not a folder"),
        (["convert", "--calibration", "median"], "Invalid value for '--calibration'"),
        (["evaluate", str(tmp_path / "missing.json")], "cannot read"),
        (["evaluate", str(not_json)], "not valid JSON"),
        (["evaluate", D(lambda d: d.clear())], "unsupported schema"),
        (["evaluate", D(_set(["schema"], "other/9"))], "unsupported schema"),
        (["evaluate", D(_set(["layers", 0, "weights", 0, 0], None))], "must be an integer"),
        (["evaluate", D(_set(["layers", 0, "weights", 0, 0], 1.5))], "must be an integer"),
        (["evaluate", D(_set(["layers", 0, "weights", 0, 0], 999))], "does not fit w_bits"),
        (["evaluate", D(lambda d: d["layers"][1]["weights"].__setitem__(0, [1] * 33))], "rectangular"),
        (["evaluate", D(lambda d: [r.pop() for r in d["layers"][1]["weights"]])], "expects 31 inputs"),
        (["evaluate", D(_set(["layers", 0, "out_bits"], None))], "a hidden layer needs out_bits"),
        (["evaluate", D(_set(["layers", 1, "out_bits"], 8))], "the output layer must have out_bits null"),
        (["evaluate", D(_set(["layers", 0, "out_bits"], 0))], "out_bits must be >= 1"),
        (["evaluate", D(_set(["coding"], "morse"))], "coding must be one of"),
        (["evaluate", D(_set(["layers", 0, "core"], {"T": [1, 2]}))], "T must have 8 entries"),
        (["evaluate", D(_set(["options", "variant"], "twice"), coding="ttfs")], "variant must be one of"),
        (["evaluate", D(_set(["options", "leak_shifts"], [1, 1]), coding="lif")], "distinct"),
        (["evaluate", D(lambda d: d["layers"][0]["core"].pop("threshold"), coding="if")], "core.threshold"),
        (["evaluate", D(lambda d: d["layers"].insert(0, {"type": "maxpool", "shape": [1, 8, 8], "pool": 2}),
                        coding="if")], "max-pool is not defined for rate coding"),
        (["evaluate", D(_set(["layers", 0, "type"], "conv"))], "type must be 'dense' or 'maxpool'"),
        (["evaluate", D(_set(["input_bits"], 99))], "input_bits must be <= 16"),
        (["evaluate", D(_set(["extra"], 1))], "unknown network field"),
        (["evaluate", str(designs / "digits-64-32-10-fs.json"), "--dataset", "iris"], "has 64 inputs"),
        (["evaluate", str(designs / "digits-64-32-10-fs.json"), "--limit", "0"], "--limit must be >= 1"),
        (["report", "--out", str(a_file / "rep")], "cannot write"),
        (["report", "--out", "/proc/spikeforge-report"], "cannot write"),
        (["report", "--dataset", "mnist"], "Invalid value for '--dataset'"),
        (["frobnicate"], "No such command"),
    ]


def test_bad_input_corpus(tmp_path, designs, capsys):
    cases = _cases(tmp_path, designs)
    assert len(cases) >= 30
    before = sorted(os.listdir(tmp_path))
    cwd = os.getcwd()
    os.chdir(tmp_path)                         # default --out folders would land here
    try:
        for args, fragment in cases:
            code, out, err = run(capsys, *args)
            assert code != 0, (args, out)
            assert err.startswith("error: ") and err.count("\n") == 1, (args, err)
            assert "Traceback" not in err
            assert fragment in err, (args, err)
    finally:
        os.chdir(cwd)
    assert sorted(os.listdir(tmp_path)) == before, "a failing command left files behind"


def test_non_relu_sklearn_model_rejected():
    from sklearn.neural_network import MLPClassifier
    from spikeforge.api import convert_model
    from spikeforge.models.errors import ConfigError
    ref = train_reference("iris")
    tanh = MLPClassifier(hidden_layer_sizes=(4,), activation="tanh", max_iter=5, random_state=0)
    tanh.coefs_, tanh.intercepts_ = ref.coefs_, ref.intercepts_
    with pytest.raises(ConfigError, match=r"^only ReLU networks can be converted; this MLPClassifier uses activation 'tanh'$"):
        convert_model(tanh, dataset="iris")
    with pytest.raises(ConfigError, match="not fitted"):
        convert_model(MLPClassifier(), dataset="iris")


@pytest.mark.parametrize("core", list(codings()))
def test_cores_params_lists_every_declared_field(core, capsys):
    import dataclasses
    from spikeforge.models.registry import get_core
    code, out, _ = run(capsys, "cores", "--params", core)
    assert code == 0
    names = [l.split()[0] for l in out.splitlines()]
    assert names == [f.name for f in dataclasses.fields(get_core(core).params)]
    assert all(len(l.split()) >= 3 for l in out.splitlines())      # name, default, meaning
