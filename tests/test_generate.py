"""Verilog export: defaults work, output is deterministic and lint-clean."""

import os
import subprocess
import sys

import pytest

from spikeforge.cli import main
from spikeforge.models.registry import CORES, core_names
from spikeforge.sim.runner import VERILATOR_WAIVERS, lint_verilog

EXE = os.path.join(os.path.dirname(sys.executable), "spikeforge")


@pytest.mark.parametrize("core", core_names())
def test_default_generate_is_deterministic_and_lint_clean(core, tmp_path):
    a, b = tmp_path / "a.v", tmp_path / "b.v"
    for out in (a, b):                  # two separate processes
        p = subprocess.run([EXE, "generate", core, "-o", str(out)], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
    text = a.read_text()
    assert text == b.read_text()
    assert f"module spikeforge_{core}(" in text
    assert "// Parameters in effect (JSON members" in text and f'//   "type": "{core}"' in text
    assert f"docs/cores/{core}.md" in text
    for port in ("i", "o"):                       # each payload field on its own line, LSB named
        assert f"//     {port}__payload[" in text
    assert lint_verilog(a) == [], f"lint warnings beyond the documented waivers {sorted(VERILATOR_WAIVERS)}"


def test_lint_reports_real_warnings(tmp_path):
    """The lint check itself can fail: an undriven output is reported."""
    v = tmp_path / "bad.v"
    v.write_text("module bad(input clk, output [3:0] q);\nendmodule\n")
    assert any("UNDRIVEN" in w for w in lint_verilog(v))


def test_generate_with_params_and_from_design(tmp_path, capsys):
    out = tmp_path / "fs4.v"
    assert main(["generate", "fs", "--param", "K=4", "--param", "x_bits=6", "-o", str(out)]) == 0
    assert '"K": 4' in out.read_text()
    pj = tmp_path / "p.json"
    pj.write_text('{"type": "fs", "K": 3, "x_bits": 5}')
    assert main(["generate", "fs", "--from", str(pj)]) == 0
    assert '"K": 3' in capsys.readouterr().out


@pytest.mark.parametrize("args,msg", [
    (["generate", "fs", "--param", "Q=3"], "core 'fs' has no parameter 'Q'"),
    (["generate", "fs", "--param", "K=0"], "K must be >= 1, not 0"),
    (["generate", "fs", "--param", "K"], "--param expects NAME=VALUE"),
    (["generate", "fs", "--param", "K=2.5"], "is not an integer"),
    (["generate", "fs", "--param", "v_bits=3", "--param", "K=4", "--param", "x_bits=8"],
     "v_bits=3 is too narrow for the circuit"),
    (["generate", "nope"], "unknown core 'nope'"),
    (["generate", "fs", "--layer", "0"], "--layer needs --from DESIGN.json"),
])
def test_generate_errors(args, msg, capsys, tmp_path):
    code = main(args + ["-o", str(tmp_path / "x.v")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and msg in err, err
    assert not (tmp_path / "x.v").exists()


@pytest.mark.parametrize("coding", [c.name for c in CORES.values() if c.engine is not None])
def test_network_generate_is_deterministic_and_lint_clean(coding, tmp_path):
    """The whole-network circuit of a converted Iris design, in every coding with an engine."""
    from spikeforge.api import convert_model
    from spikeforge.models.network import save_network
    design = tmp_path / f"iris-{coding}.json"
    save_network(convert_model("iris", codings=[coding])[coding], str(design))
    a, b = tmp_path / "a.v", tmp_path / "b.v"
    for out in (a, b):                  # two separate processes
        p = subprocess.run([EXE, "generate", "network", "--from", str(design), "--param", "P=2", "-o", str(out)],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
    text = a.read_text()
    assert text == b.read_text()
    assert "module spikeforge_network(" in text and f'//   "coding": "{coding}"' in text
    assert lint_verilog(a) == [], f"lint warnings beyond the documented waivers {sorted(VERILATOR_WAIVERS)}"
