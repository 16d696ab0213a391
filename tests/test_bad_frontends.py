"""Bad inputs on the new input paths: --data (.npz and CSV), --input-range, model files by
extension, and a model .npz that carries its data.

Each case must give exit code 2, exactly one ``error:`` line on stderr naming what is
wrong, no traceback, and leave no file behind. (ONNX and NIR files have their own
corpora in test_onnx_import.py and test_nir_io.py.)
"""

import os

import numpy as np
import pytest

from spikeforge.cli import main


def _model_arrays():
    rng = np.random.default_rng(0)
    return {"w0": rng.normal(size=(4, 5)), "b0": rng.normal(size=5),
            "w1": rng.normal(size=(5, 3)), "b1": rng.normal(size=3)}


def _data_arrays(n=12):
    rng = np.random.default_rng(1)
    return {"x_train": rng.uniform(size=(n, 4)), "y_train": np.arange(n) % 3,
            "x_test": rng.uniform(size=(n, 4)), "y_test": np.arange(n) % 3}


def _csv(rows):
    return "\n".join(",".join(str(v) for v in r) for r in rows) + "\n"


GOOD_ROWS = [[0.1, 0.2, 0.3, 0.4, 0], [0.5, 0.6, 0.7, 0.8, 1], [0.9, 0.1, 0.2, 0.3, 2]]


def cases(tmp_path):
    """(args, expected fragment) for every bad input."""
    def npz(name, **arrays):
        p = tmp_path / name
        np.savez(p, **arrays)
        return str(p)

    def text(name, body, mode="w"):
        p = tmp_path / name
        p.write_bytes(body) if isinstance(body, bytes) else p.write_text(body)
        return str(p)

    model = npz("model.npz", **_model_arrays())
    good_train = text("train.csv", "a,b,c,d,label\n" + _csv(GOOD_ROWS))
    good_test = text("test.csv", _csv(GOOD_ROWS))
    d = _data_arrays()
    C = lambda *extra: ["convert", "--model", model, "--coding", "ann", *extra]
    bad = lambda name, **change: npz(name, **{**d, **change})
    drop = lambda name, key: npz(name, **{k: v for k, v in d.items() if k != key})
    wide = _data_arrays()
    wide["x_train"] = wide["x_train"] * 255
    return [
        # CSV
        (C("--data", text("ragged.csv", _csv(GOOD_ROWS) + "0.1,0.2,1\n"), "--data", good_test),
         "row 4 has 3 columns"),
        (C("--data", text("word.csv", _csv(GOOD_ROWS) + "0.1,0.2,high,0.4,1\n"), "--data", good_test),
         "'high' is not a number"),
        (C("--data", text("nan.csv", _csv(GOOD_ROWS) + "0.1,nan,0.3,0.4,1\n"), "--data", good_test),
         "nan is not a finite number"),
        (C("--data", good_train, "--data", text("inf.csv", "0.1,0.2,0.3,inf,1\n")), "inf is not a finite number"),
        (C("--data", text("empty.csv", ""), "--data", good_test), "holds no rows of numbers"),
        (C("--data", text("bin.csv", b"\x00\x01\x02"), "--data", good_test), "NUL bytes"),
        (C("--data", text("latin.csv", b"a,b\n\xe9,1\n"), "--data", good_test), "not UTF-8"),
        (C("--data", text("onecol.csv", "1\n2\n"), "--data", good_test), "at least two columns"),
        (C("--data", good_train, "--data", text("narrow.csv", "0.1,0.2,1\n")), "the training CSV has 5"),
        (C("--data", text("label.csv", "0.1,0.2,0.3,0.4,1.5\n"), "--data", good_test), "label 1.5"),
        (C("--data", good_train), "needs two files"),
        (C("--data", good_train, "--data", good_test, "--data", good_test), "needs two files"),
        (C("--data", text("data.txt", "1,2\n")), "one .npz file or two .csv"),
        # data .npz
        (C("--data", bad("len.npz", y_train=np.arange(5) % 3)), "has 5 labels but the inputs have 12 rows"),
        (C("--data", bad("neg.npz", y_test=-(np.arange(12) % 3))), "is out of range"),
        (C("--data", bad("many.npz", y_test=np.arange(12))), "has labels up to 11"),
        (C("--data", bad("frac.npz", y_train=np.full(12, 0.5))), "is not an integer class"),
        (C("--data", bad("x1d.npz", x_test=np.ones(12))), "must be a 2-D array"),
        (C("--data", bad("xnan.npz", x_train=np.full((12, 4), np.nan))), "contains NaN"),
        (C("--data", bad("ytext.npz", y_test=np.array(["a"] * 12))), "expected real numbers"),
        (C("--data", bad("feat.npz", x_test=np.ones((12, 5)))), "has 5 features"),
        (C("--data", bad("wrongfeat.npz", x_train=np.ones((12, 5)), x_test=np.ones((12, 5)))), "expects 4 inputs"),
        (C("--data", drop("noytest.npz", "y_test")), "y_test are missing"),
        (C("--data", npz("extra.npz", **d, x_val=np.ones((2, 4)))), "unexpected array(s) ['x_val']"),
        (C("--data", npz("case.npz", **d, X_train=np.ones((2, 4)))), "differ only in letter case"),
        (C("--data", npz("nodata.npz", a=np.ones(3))), "no data arrays"),
        (C("--data", text("fake.npz", _csv(GOOD_ROWS))), "not a readable .npz"),
        (C("--data", npz("wide.npz", **wide)), "outside [0, 1]; scale the data"),
        (C("--data", npz("wide2.npz", **wide), "--input-range", "0"), "expects LO,HI"),
        (C("--data", npz("wide3.npz", **wide), "--input-range", "5,1"), "LO < HI"),
        (C("--data", npz("ok.npz", **d), "--dataset", "iris"), "not both"),
        (C("--dataset", "iris", "--input-range", "0,1"), "--input-range applies to your own data"),
        # model .npz carrying data
        (["convert", "--model", npz("mx.npz", **_model_arrays(), **d, X_val=np.ones(2)), "--coding", "ann"],
         "unexpected ['X_val']"),
        (["convert", "--model", npz("mw.npz", **_model_arrays(), W0=np.ones((4, 5))), "--coding", "ann"],
         "differ only in letter case"),
        (["convert", "--model", npz("mbig.npz", **_model_arrays(), **wide), "--coding", "ann"], "outside [0, 1]"),
        # model files by extension
        (["convert", "--model", text("net.pt", "x")], "--model must be"),
        (["convert", "--model", os.path.join(os.path.dirname(__file__), "data", "digits_mlp3.onnx")],
         "needs --dataset"),
        # evaluate with data
        (["evaluate", "DESIGN", "--data", str(tmp_path / "missing.npz")], "no such file"),
        (["evaluate", "DESIGN", "--data", npz("bad4.npz", **{**d, "x_test": np.ones((12, 5)),
                                                          "x_train": np.ones((12, 5))})], "has 4 inputs but"),
        (["evaluate", "DESIGN"], "pass --data FILE"),
        (["report", "--golden-only", "--data", bad("rlen.npz", y_test=np.arange(3) % 3), "--out",
          str(tmp_path / "rep")], "has 3 labels"),
    ]


def test_bad_new_inputs(tmp_path, capsys):
    design_dir = tmp_path / "designs"
    model = tmp_path / "seed.npz"
    np.savez(model, **_model_arrays(), **_data_arrays())
    assert main(["convert", "--model", str(model), "--coding", "ann", "--out", str(design_dir)]) == 0
    design = str(design_dir / "seed-ann.json")
    # a design converted from the user's data, evaluated on 4-feature data: fine
    assert main(["evaluate", design, "--data", str(model)]) == 0
    capsys.readouterr()
    work = tmp_path / "work"
    work.mkdir()
    all_cases = cases(work)
    assert len(all_cases) >= 35
    before = sorted(os.listdir(work))
    cwd = os.getcwd()
    os.chdir(work)                          # default --out folders would land here
    failures = []
    try:
        for args, fragment in all_cases:
            args = [design if a == "DESIGN" else a for a in args]
            code = main(args)
            out, err = capsys.readouterr()
            lines = [l for l in err.splitlines() if not l.startswith("[")]
            ok = (code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
                  and "Traceback" not in err)
            if not ok:
                failures.append((args[:4], code, err.strip()[-300:]))
    finally:
        os.chdir(cwd)
    assert not failures, "\n".join(map(str, failures))
    assert sorted(os.listdir(work)) == before, "a failing command left files behind"


@pytest.mark.parametrize("rows", [GOOD_ROWS])
def test_csv_with_header_and_blank_lines_reads(tmp_path, rows):
    from spikeforge.models.inputs import read_csv
    p = tmp_path / "t.csv"
    p.write_text("\ufeffa,b,c,d,label\n\n" + _csv(rows) + "\n\n")
    header, values = read_csv(p)
    assert header == ["a", "b", "c", "d", "label"] and values.shape == (3, 5)


# ------------------------------------------------------------ damaged model files

def _damaged(data, seed, flips=16, cuts=10):
    """Truncations and single-bit flips of ``data``."""
    rng = np.random.default_rng(seed)
    out = [(f"truncated at {c}", data[:c]) for c in np.linspace(1, len(data) - 1, cuts).astype(int)]
    for _ in range(flips):
        b = bytearray(data)
        pos = int(rng.integers(0, len(b)))
        b[pos] ^= 1 << int(rng.integers(0, 8))
        out.append((f"bit flip at {pos}", bytes(b)))
    return out


@pytest.mark.parametrize("name, extra", [("digits_mlp3.onnx", ["--dataset", "digits"]),
                                         ("snntorch_lif.nir", ["--time-steps", "4"])])
def test_damaged_model_files_never_crash(name, extra, tmp_path, capsys):
    """A damaged ONNX or NIR file either still reads (a flip inside a weight) or is refused with
    one error line; never an internal error, a traceback or a hang."""
    import signal
    pytest.importorskip("onnx" if name.endswith(".onnx") else "nir")
    src = os.path.join(os.path.dirname(__file__), "data", name)
    data = open(src, "rb").read()

    def alarm(signum, frame):
        raise TimeoutError(name)
    old = signal.signal(signal.SIGALRM, alarm)
    failures = []
    try:
        for k, (label, blob) in enumerate(_damaged(data, seed=len(name))):
            p = tmp_path / f"case{k}{os.path.splitext(name)[1]}"
            p.write_bytes(blob)
            out = tmp_path / f"out{k}"
            signal.alarm(30)
            try:
                code = main(["convert", "--model", str(p), "--coding", "all" if name.endswith(".nir") else "ann",
                             *extra, "--out", str(out)])
            except TimeoutError:
                code = "hang"
            finally:
                signal.alarm(0)
            err = capsys.readouterr().err
            errors = [l for l in err.splitlines() if l.startswith("error")]
            ok = code == 0 or (code == 2 and len(errors) == 1 and "Traceback" not in err and not out.exists())
            if not ok:
                failures.append((label, code, err.strip()[-200:]))
    finally:
        signal.signal(signal.SIGALRM, old)
    assert not failures, failures
