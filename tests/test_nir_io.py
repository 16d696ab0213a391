"""NIR export and import.

- Every coding round-trips: Network → NIR file → Network is the identical network.
- Graphs built with the nir API (IF, LIF, CubaLIF) import into the if/lif codings with
  a warning listing what was not kept.
- The fixture written by snnTorch's own exporter (tests/data/snntorch_lif.nir, made by
  tests/data/make_fixtures.py) imports into lif, and the integer run agrees with the
  float reference of the NIR semantics (:func:`simulate_nir`, driven by the very same
  input spikes) on at least 95 % of the digits test samples.
"""

import json
import os
import warnings

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from spikeforge.api import convert_model  # noqa: E402
from spikeforge.cli import main  # noqa: E402
from spikeforge.models.convert import quantize_inputs  # noqa: E402
from spikeforge.models.datasets import load_dataset  # noqa: E402
from spikeforge.models.errors import ConfigError, SpikeforgeWarning  # noqa: E402
from spikeforge.models.lfsr import LFSRParams, rate_spikes  # noqa: E402
from spikeforge.models.network import load_network  # noqa: E402
from spikeforge.models.nir_io import (META_KEY, network_from_graph, read_nir, read_nir_network,  # noqa: E402
                                      to_nir, write_nir)
from spikeforge.models.nir_sim import simulate_nir  # noqa: E402
from spikeforge.models.registry import CORES, codings, get_core  # noqa: E402
from spikeforge.models.simulate import run_network  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "data")
SNNTORCH = os.path.join(DATA, "snntorch_lif.nir")


@pytest.fixture(scope="module")
def iris_nets():
    return convert_model("iris")


@pytest.mark.parametrize("coding", list(codings()))
def test_round_trip_identical_for_every_coding(iris_nets, coding, tmp_path):
    net = iris_nets[coding]
    path = tmp_path / "n.nir"
    write_nir(net, path)
    back = read_nir_network(path)
    assert back == net
    assert back.to_dict() == net.to_dict()
    g = read_nir(path)                                      # and the graph says what it is
    facts = json.loads(g.metadata[META_KEY])
    assert facts["schema"] == "spikeforge.nir/1" and facts["network"]["coding"] == coding
    kinds = [type(n).__name__ for n in g.nodes.values()]
    assert kinds.count("Affine") == len(net.dense_indices)
    if get_core(coding).time_steps:
        assert {"LIF", "IF"} & set(kinds)
        th = [n.v_threshold for n in g.nodes.values() if hasattr(n, "v_threshold")][0]
        assert np.all(th == net.layers[0].core["threshold"] - 0.5)
    else:
        assert set(kinds) == {"Input", "Affine", "Output"}
    w = next(n for n in g.nodes.values() if type(n).__name__ == "Affine").weight
    assert np.issubdtype(np.asarray(w).dtype, np.integer)


def test_cli_export_and_convert_back(iris_nets, tmp_path, capsys):
    from spikeforge.models.network import save_network
    for c in codings():
        save_network(iris_nets[c], tmp_path / f"{c}.json")
        assert main(["export", "--nir", str(tmp_path / f"{c}.json"), "-o", str(tmp_path / f"{c}.nir")]) == 0
        assert main(["convert", "--model", str(tmp_path / f"{c}.nir"), "--out", str(tmp_path / "back")]) == 0
        back = load_network(tmp_path / "back" / f"{iris_nets[c].name}-{c}.json")
        assert back == iris_nets[c]
    capsys.readouterr()


def test_export_bad_inputs(iris_nets, tmp_path, capsys):
    from spikeforge.models.network import save_network
    save_network(iris_nets["lif"], tmp_path / "d.json")
    (tmp_path / "folder.nir").mkdir()
    for args, fragment in ((["--nir", str(tmp_path / "missing.json"), "-o", str(tmp_path / "x.nir")], "no such file"),
                           ([str(tmp_path / "d.json"), "-o", str(tmp_path / "x.nir")], "--nir"),
                           (["--nir", str(tmp_path / "d.json")], "-o"),
                           (["--nir", str(tmp_path / "d.json"), "-o", str(tmp_path / "folder.nir")], "folder"),
                           (["--nir", str(tmp_path / "d.json"), "-o", str(tmp_path / "x.nir"), "--dt", "0"], "--dt")):
        code = main(["export", *args])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and fragment in err, (args, err)
    assert not (tmp_path / "x.nir").exists()


def test_edited_affine_is_refused(iris_nets, tmp_path):
    g = to_nir(iris_nets["lif"])
    g.nodes["affine0"].weight[0, 0] += 1
    with pytest.raises(ConfigError, match="no longer holds the weights"):
        network_from_graph(g)


def test_max_pool_network_is_not_exported():
    from spikeforge.models.network import Dense, MaxPool, Network
    net = Network("ann", 8, (MaxPool((1, 2, 2), 2), Dense([[1]], [0], 0, None)))
    with pytest.raises(ConfigError, match="no max-pool node"):
        to_nir(net)


# ------------------------------------------------------------ graphs built with the nir API

def _lif_graph(n_in=4, hidden=5, n_out=3, seed=0, cuba=False, leak=0.0, reset=0.0):
    rng = np.random.default_rng(seed)
    dt = 1e-3
    beta = rng.uniform(0.75, 0.9, size=hidden)
    tau = dt / (1 - beta)
    nodes = {"input": nir.Input(input_type=np.array([n_in])),
             "fc1": nir.Affine(weight=rng.normal(size=(hidden, n_in)), bias=rng.normal(size=hidden) * 0.1)}
    if cuba:
        tau_syn = np.full(hidden, 2 * dt)
        nodes["lif1"] = nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau, r=tau / dt, v_leak=np.full(hidden, leak),
                                    v_threshold=np.ones(hidden), v_reset=np.full(hidden, reset),
                                    w_in=tau_syn / dt)
    else:
        nodes["lif1"] = nir.LIF(tau=tau, r=tau / dt, v_leak=np.full(hidden, leak), v_threshold=np.ones(hidden),
                                v_reset=np.full(hidden, reset))
    tau2 = np.full(n_out, dt / 0.2)
    nodes["fc2"] = nir.Linear(weight=rng.normal(size=(n_out, hidden)))
    nodes["lif2"] = nir.LIF(tau=tau2, r=tau2 / dt, v_leak=np.zeros(n_out), v_threshold=np.full(n_out, 0.5),
                            v_reset=np.zeros(n_out))
    nodes["output"] = nir.Output(output_type=np.array([n_out]))
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:])))


def _import(graph, **kw):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        net = network_from_graph(graph, **kw)
    msgs = [str(x.message) for x in w if issubclass(x.category, SpikeforgeWarning)]
    assert len(msgs) == 1, msgs
    return net, msgs[0]


def test_lif_graph_imports_into_lif_and_warns():
    lif = next(c.name for c in CORES.values() if c.time_steps and c.options.get("leak_shifts"))
    net, msg = _import(_lif_graph())
    assert net.coding == lif and net.options["readout"] == "count"
    assert "NIR semantics not kept" in msg and "shift-add leak" in msg and "LFSR" in msg
    assert net.meta["nir"]["dt"] == pytest.approx(1e-3)
    th = [l.core["threshold"] for l in net.layers]
    assert all(t >= 1 for t in th)
    assert max(abs(v) for l in net.layers for r in l.weights for v in r) <= 127


def test_cuba_lif_leak_and_reset_are_reported():
    _net, msg = _import(_lif_graph(cuba=True, leak=0.1, reset=0.2))
    assert "tau_syn" in msg and "v_leak" in msg and "v_reset != 0" in msg


def test_if_graph_sinabs_style_imports_into_if():
    """Sinabs writes IAF layers as IF with r = 1: the input enters unscaled each step."""
    rng = np.random.default_rng(1)
    nodes = {"input": nir.Input(input_type=np.array([4])),
             "l0": nir.Affine(weight=rng.normal(size=(6, 4)), bias=np.zeros(6)),
             "s0": nir.IF(r=np.ones(6), v_threshold=np.ones(6)),
             "l1": nir.Affine(weight=rng.normal(size=(3, 6)), bias=np.zeros(3)),
             "s1": nir.IF(r=np.ones(3), v_threshold=np.ones(3)),
             "output": nir.Output(output_type=np.array([3]))}
    names = list(nodes)
    net, msg = _import(nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:]))))
    if_coding = next(c.name for c in CORES.values() if c.time_steps and not c.options.get("leak_shifts"))
    assert net.coding == if_coding and "subtracts the threshold" in msg and "constant current" in msg


def test_norse_style_graph_needs_its_time_step():
    """Norse writes r = 1 and τ = 1/tau_mem_inv (10 ms); its default step is 1 ms."""
    n = 3
    nodes = {"input": nir.Input(input_type=np.array([4])),
             "l0": nir.Affine(weight=np.ones((n, 4)), bias=np.zeros(n)),
             "n0": nir.LIF(tau=np.full(n, 0.01), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n),
                           v_reset=np.zeros(n)),
             "output": nir.Output(output_type=np.array([n]))}
    names = list(nodes)
    g = nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:])))
    with pytest.raises(ConfigError, match="--nir-dt"):
        network_from_graph(g)
    net, msg = _import(g, dt=1e-3)
    assert net.meta["nir"]["dt"] == 1e-3 and "0.9" in msg                 # leak 1 − dt/τ = 0.9


def test_foreign_import_then_export_round_trips(tmp_path):
    net, _ = _import(_lif_graph(seed=3))
    write_nir(net, tmp_path / "a.nir")
    assert read_nir_network(tmp_path / "a.nir") == net


def test_snntorch_fixture_agrees_with_the_nir_float_reference():
    """Acceptance: ≥ 95 % agreement with the float NIR semantics on the same input spikes.

    Not 100 %: integer weights and thresholds (8-bit), one shift-add leak for
    every neuron instead of each neuron's own 1 − dt/τ, floor shifts in the
    leak, v ≥ ϑ on integers against v > v_threshold, and count ties.
    """
    facts = json.load(open(os.path.join(DATA, "snntorch_lif.json")))
    T = facts["steps"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpikeforgeWarning)
        net = read_nir_network(SNNTORCH, time_steps=T)
    g = read_nir(SNNTORCH)
    ds = load_dataset("digits")
    xq = quantize_inputs(ds.x_test, net.input_bits)
    ours = run_network(net, xq).predictions
    spikes = rate_spikes(LFSRParams.from_dict(net.options["lfsr"]), xq, net.input_bits, T).astype(float)
    counts, v = simulate_nir(g, spikes)
    rank = np.argsort(np.argsort(v, axis=1, kind="stable"), axis=1)
    ref = (counts * v.shape[1] + rank).argmax(1)            # the same readout: count, ties by membrane
    agreement = np.mean(ours == ref)
    assert agreement >= 0.95, agreement
    assert np.mean(ref == ds.y_test) > 0.9 and np.mean(ours == ds.y_test) > 0.9


def bad_nir_files(tmp_path):
    """(label, path, message fragment) of NIR inputs that must be refused."""
    import h5py
    out = []

    def graph_file(name, g):
        p = tmp_path / f"{name}.nir"
        nir.write(str(p), g)
        return p

    def raw(name, data):
        p = tmp_path / f"{name}.nir"
        p.write_bytes(data)
        return p

    good = _lif_graph()
    out.append(("not HDF5", raw("text", b"this is not HDF5\n"), "not a NIR file"))
    out.append(("an ONNX file renamed", raw("onnx", open(os.path.join(DATA, "digits_mlp3.onnx"), "rb").read()),
                "not a NIR file"))
    p = tmp_path / "plain.nir"
    with h5py.File(p, "w") as f:
        f.create_dataset("x", data=np.ones(3))
    out.append(("HDF5 without a graph", p, "no 'node' group"))
    p = tmp_path / "extlink.nir"
    with h5py.File(p, "w") as f:
        f.create_group("node")
        f["node/nodes"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/")
    out.append(("link to another file", p, "links to another file"))
    (tmp_path / "raw.bin").write_bytes(bytes(80))
    p = tmp_path / "extdata.nir"
    with h5py.File(p, "w") as f:
        f.create_dataset("node/w", shape=(10,), dtype="f8", external=[(str(tmp_path / "raw.bin"), 0, 80)])
    out.append(("data in another file", p, "keeps its data in other files"))
    out.append(("truncated", raw("trunc", open(graph_file("g0", good), "rb").read()[:300]), "not a readable NIR"))
    g = _lif_graph()
    g.nodes["fc1"].weight[0, 0] = np.nan
    out.append(("NaN weight", graph_file("nan", g), "contains NaN"))
    g = _lif_graph()
    g.nodes["fc2"] = nir.Linear(weight=np.ones((3, 7)))
    out.append(("wrong shapes", graph_file("shape", nir.NIRGraph(nodes=g.nodes, edges=g.edges, type_check=False)),
                "for 5 inputs"))
    g = _lif_graph()
    g.edges.append(("lif1", "fc1"))
    out.append(("recurrent edge", graph_file("rec", nir.NIRGraph(nodes=g.nodes, edges=g.edges, type_check=False)),
                "more than one edge"))
    g = _lif_graph()
    g.nodes["lif1"] = nir.IF(r=np.ones(5), v_threshold=np.ones(5))
    out.append(("mixed neurons", graph_file("mixed", g), "mixes leaky"))
    g = _lif_graph()
    g.nodes["lif1"] = nir.Threshold(threshold=np.ones(5))
    out.append(("unsupported node", graph_file("thr", g), "is Threshold"))
    g = _lif_graph()
    g.nodes["lif2"].v_threshold[:] = -1
    out.append(("negative threshold", graph_file("neg", g), "v_threshold must be positive"))
    net = convert_model("iris", codings=["lif"])["lif"]
    g = to_nir(net)
    g.metadata[META_KEY] = "{not json"
    out.append(("damaged metadata", graph_file("meta", g), "not valid JSON"))
    return out


def test_bad_nir_files_are_one_line_errors(tmp_path, capsys):
    cases = bad_nir_files(tmp_path)
    failures = []
    for label, path, fragment in cases:
        out = tmp_path / "out"
        code = main(["convert", "--model", str(path), "--out", str(out)])
        err = capsys.readouterr().err
        lines = [l for l in err.splitlines() if not l.startswith("[")]
        ok = (code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
              and not out.exists())
        if not ok:
            failures.append((label, code, err[-300:]))
    assert not failures, failures
