"""Synthesis flow: real Yosys/nextpnr runs, parsing of their outputs, tool errors, cross-checks."""

import json
from pathlib import Path

import pytest

from spikeforge.models.errors import ToolError
from spikeforge.models.fs import FSParams
from spikeforge.synth.core import synth_core
from spikeforge.synth.flow import prepare
from spikeforge.synth.parse import cells_by_type, parse_result

FS8 = FSParams.relu(8, 12)


@pytest.fixture(scope="module")
def fs_results():
    return {t: synth_core("fs", FS8, t) for t in ("ice40-up5k", "ecp5-85f", "cmos")}


def test_fs_on_every_target(fs_results):
    ice, ecp, cmos = fs_results["ice40-up5k"], fs_results["ecp5-85f"], fs_results["cmos"]
    for r in (ice, ecp):
        assert r.luts > 0 and r.ffs >= 12 and r.fmax_mhz > 10 and r.logic_cells > 0
    assert ice.io == 4                               # sin, sout, clk, rst: the harness fits any core
    assert ice.harness["ffs"] >= 14 and ice.harness["luts"] < ice.luts
    assert cmos.transistors > 16 * cmos.ffs          # logic on top of the flip-flops
    for r in fs_results.values():
        assert r.tools["yosys"].startswith("Yosys")


def test_parser_reads_the_real_tool_outputs(fs_results):
    """Re-parse the kept outputs of the real run; counts must match the cell table."""
    for target, r in fs_results.items():
        work = Path(r.log_dir)
        again = parse_result(target, work, target, r.top)
        assert again.luts == r.luts and again.ffs == r.ffs and again.fmax_mhz == r.fmax_mhz
        cells = cells_by_type(json.loads((work / "stat.json").read_text()))
        assert sum(cells.values()) == sum(r.cells.values())
        if target != "cmos":
            report = json.loads((work / "report.json").read_text())
            assert min(v["achieved"] for v in report["fmax"].values()) == pytest.approx(r.fmax_mhz, abs=0.01)


def test_fs_relu_has_no_multiplier(fs_results):
    for r in fs_results.values():
        assert r.mul_cells == 0 and not r.dsp


def test_cached_result_is_reused(fs_results):
    r = synth_core("fs", FS8, "ecp5-85f")
    assert r.cached and r.luts == fs_results["ecp5-85f"].luts


@pytest.mark.parametrize("target", ["ecp5-85f", "cmos"])
def test_area_grows_with_K_and_width(target):
    key = "transistors" if target == "cmos" else "luts"
    by_K = [getattr(synth_core("fs", FSParams.relu(K, K + 4), target), key) for K in (4, 8, 16)]
    assert by_K[0] < by_K[1] < by_K[2], by_K
    by_w = [getattr(synth_core("fs", FSParams.relu(8, xb), target), key) for xb in (10, 20)]
    assert by_w[0] < by_w[1], by_w


def test_missing_tool_is_named(monkeypatch):
    monkeypatch.setenv("NEXTPNR_ECP5", "/nonexistent/nextpnr-ecp5")
    with pytest.raises(ToolError, match=r"^nextpnr-ecp5: '/nonexistent/nextpnr-ecp5' not found on PATH"):
        synth_core("fs", FSParams.relu(5, 7), "ecp5-85f", cache=False)


def test_failing_tool_shows_command_and_log(monkeypatch, tmp_path):
    fake = tmp_path / "fake-yosys"
    fake.write_text("#!/bin/sh\nif [ \"$1\" = -V ]; then echo 'Yosys fake'; exit 0; fi\n"
                    "echo 'ERROR: parse error in design.v line 3'; exit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("YOSYS", str(fake))
    monkeypatch.setenv("SPIKEFORGE_CACHE", str(tmp_path / "cache"))
    from spikeforge.models import process
    monkeypatch.setattr(process, "_VERSIONS", {})
    with pytest.raises(ToolError) as e:
        prepare("module m; endmodule", "m", "cmos").execute()
    msg = str(e.value)
    assert msg.startswith(f"yosys failed (exit 1): {fake} -q -l yosys.log -p read_verilog design.v")
    assert "ERROR: parse error in design.v line 3" in msg


def test_ice40_needs_a_harness():
    from spikeforge.models.errors import ConfigError
    with pytest.raises(ConfigError, match="harness"):
        prepare("module m; endmodule", "m", "ice40-up5k")


def test_ann_mac_has_a_multiplier_and_uses_a_dsp_on_request():
    from spikeforge.models.ann import MACParams
    p = MACParams(in_bits=8, out_bits=8)
    lut = synth_core("ann", p, "ice40-up5k")
    dsp = synth_core("ann", p, "ice40-up5k", dsp=True)
    assert lut.mul_cells >= 1 and lut.dsp == 0
    assert dsp.dsp >= 1 and dsp.luts < lut.luts


def test_missing_cxx_compiler_is_named(monkeypatch, tmp_path):
    """Verilator without a C++ compiler: a clear ToolError before any build starts."""
    from spikeforge.hdl import build_core
    from spikeforge.sim.runner import cosim
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "make").write_text("#!/bin/sh\n")
    (bindir / "make").chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))          # make only: no g++, no c++
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setenv("SPIKEFORGE_CACHE", str(tmp_path / "cache"))
    p = FSParams.relu(3, 5)
    with pytest.raises(ToolError, match=r"^verilator needs a C\+\+ compiler \(g\+\+\)"):
        cosim("fs", p, build_core("fs", p), {"i": []}, {"o": []})


def test_ttfs_layer_selects_rom_words_without_a_multiplier():
    """Weight ROMs of a width that is no power of two are indexed by a shift, not index × width."""
    from spikeforge.models.ttfs import TTFSParams
    p = TTFSParams(weights=[[3, -2, 5, 1, -4, 2, 7, -1, 9, -11, 6]], in_bits=4, out_bits=4)
    r = synth_core("ttfs", p, "cmos")
    assert r.mul_cells == 0 and r.transistors > 0


def test_a_design_that_does_not_fit_is_named_so():
    """nextpnr's utilisation lines: the resources used beyond the device are named, with counts."""
    from spikeforge.synth.flow import overfull
    log = ("Info: Device utilisation:\n"
           "Info: \t         ICESTORM_LC:    7907/   5280   149%\n"
           "Info: \t        ICESTORM_RAM:       6/     30    20%\n"
           "Info: \t        ICESTORM_DSP:      10/      8   125%\n"
           "Info: \t               SB_GB:       8/      8   100%\n")
    assert overfull(log) == ["ICESTORM_LC 7,907 of 5,280 (149 %)", "ICESTORM_DSP 10 of 8 (125 %)"]
    assert overfull(log.replace("7907", "5280").replace("   10/", "    8/")) == []


def test_designs_differing_only_in_their_header_share_a_cache_key():
    """The header comment of generated Verilog (core, parameters) is documentation: a design
    that differs only there reuses the cached result; one changed character of the body does not."""
    from spikeforge.hdl import build_core
    from spikeforge.hdl.export import to_verilog, verilog_body
    text = to_verilog(build_core("fs", FS8), "fs", FS8)
    assert text.startswith("// spikeforge_fs") and not verilog_body(text).startswith("//")
    assert verilog_body(text) in text and "module spikeforge_fs" in verilog_body(text)
    other = text.replace("// spikeforge_fs:", "// another header:", 1)
    key = lambda t: prepare(t, "spikeforge_fs", "ecp5-85f").key()
    assert other != text and key(other) == key(text)
    assert key(text.replace("module spikeforge_fs", "module  spikeforge_fs")) != key(text)


def _multipliers(n):
    """A harness-shaped design (sin, sout, clk, rst) with ``n`` registered 16 × 16 products:
    n iCE40 DSP blocks with -dsp (the UP5K has 8)."""
    return f"""module harness(input clk, input rst, input sin, output reg sout);
  reg [{32 * n - 1}:0] sr;
  reg [31:0] p [0:{n - 1}];
  reg [{n - 1}:0] x;
  integer k;
  always @(posedge clk) begin
    sr <= {{sr[{32 * n - 2}:0], sin}};
    for (k = 0; k < {n}; k = k + 1) begin
      p[k] <= sr[32 * k +: 16] * sr[32 * k + 16 +: 16];
      x[k] <= ^p[k];
    end
    sout <= ^x;
  end
endmodule
"""


def test_a_design_beyond_the_device_is_cached_as_not_fitting(tmp_path, monkeypatch):
    """Nine multipliers on the UP5K's eight DSP blocks: nextpnr's verdict names the DSPs with
    their figures, and a second run gives the same verdict from the cache without any tool;
    eight multipliers fit (the verdict is not a guess from the design's size)."""
    from spikeforge.synth import flow
    from spikeforge.synth.flow import DoesNotFit
    monkeypatch.setenv("SPIKEFORGE_CACHE", str(tmp_path))
    over = prepare(None, "harness", "ice40-up5k", dsp=True, harness_verilog=_multipliers(9))
    with pytest.raises(DoesNotFit) as first:
        over.execute()
    line = str(first.value).splitlines()[0]
    assert line == "the design does not fit ice40-up5k: ICESTORM_DSP 9 of 8 (112 %)"
    entry = flow.synth_cache() / over.entry_name()
    assert (entry / "does-not-fit.json").exists() and str(entry) in str(first.value)
    assert not (tmp_path / "synth" / f"{over.entry_name()}-failed").exists()

    def no_tools(*a, **k):
        raise AssertionError("a cached verdict ran a tool")
    with monkeypatch.context() as m:
        m.setattr(flow, "run_tool", no_tools)
        with pytest.raises(DoesNotFit) as again:
            over.execute()
    assert str(again.value) == str(first.value)
    fits = prepare(None, "harness", "ice40-up5k", dsp=True, harness_verilog=_multipliers(8)).execute()
    assert fits.dsp == 8 and fits.logic_cells > 0


def test_harness_alone_is_planned_only_when_its_cost_is_wanted():
    from spikeforge.hdl import build_core
    from spikeforge.synth.core import component_plans
    make = lambda: build_core("fs", FS8)
    both = component_plans(make, "fs", FS8, "ice40-up5k")
    one = component_plans(make, "fs", FS8, "ice40-up5k", harness_alone=False)
    assert [p.label for p in both] == ["spikeforge_fs in harness", "harness alone"]
    assert [p.key() for p in one] == [both[0].key()]
    assert len(component_plans(make, "fs", FS8, "ecp5-85f", harness_alone=True)) == 1


def test_a_claimed_plan_is_refused_to_a_second_claim(tmp_path, monkeypatch):
    """A claim is a lock on a file of its own: a second claim (another open file, as another
    process would have) is refused at once, and granted again once the first ends."""
    monkeypatch.setenv("SPIKEFORGE_CACHE", str(tmp_path))
    plan = prepare("module m(input a, output b); assign b = a; endmodule\n", "m", "ecp5-85f")
    with plan.claim() as first:
        with plan.claim() as second:
            assert first and not second
    with plan.claim() as again:
        assert again
