"""``spikeforge sweep DESIGN.json --axis P=…``: each point is the whole network circuit."""

import csv

import pytest

from spikeforge.api import convert_model
from spikeforge.cli import main
from spikeforge.models.circuit import CircuitParams, circuit_golden
from spikeforge.models.network import save_network
from spikeforge.sweep import design_inputs


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    path = tmp_path_factory.mktemp("designs") / "iris-fs.json"
    save_network(convert_model("iris", codings=["fs"])["fs"], str(path))
    return path


def test_sweep_over_P_synthesizes_the_circuit(design, tmp_path, capsys):
    out = tmp_path / "sw.csv"
    assert main(["sweep", str(design), "--axis", "P=1,3", "--target", "ecp5-85f", "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out)))
    assert [r["params"] for r in rows] == ['{"P": 1}', '{"P": 3}'] and not any(r["error"] for r in rows)
    net = convert_model("iris", codings=["fs"])["fs"]
    for r, P in zip(rows, (1, 3)):
        cp = CircuitParams(net, P)
        cycles = circuit_golden(cp, design_inputs(cp)).counters["cycles"].mean()
        assert float(r["cycles_per_inference"]) == pytest.approx(cycles, abs=1e-3)
        assert int(r["luts"]) > 100 and float(r["fmax_mhz"]) > 10
    assert float(rows[1]["cycles_per_inference"]) < float(rows[0]["cycles_per_inference"])


def test_a_design_sweeps_only_P(design, tmp_path, capsys):
    assert main(["sweep", str(design), "--axis", "K=4,8", "--out", str(tmp_path / "x.csv")]) == 2
    assert "takes one parameter, P" in capsys.readouterr().err
    assert main(["sweep", str(design), "--axis", "P=0,1", "--out", str(tmp_path / "x.csv")]) == 2
    assert "parallelism[0] must be >= 1" in capsys.readouterr().err
