"""One Verilog path: the text that is co-simulated is the text `spikeforge generate` writes."""

import pytest

from spikeforge.api import core_params
from spikeforge.cli import main
from spikeforge.hdl import build_core
from spikeforge.models.registry import core_names
from spikeforge.sim.runner import cosim

from conftest import SIMULATORS


@pytest.mark.parametrize("simulator", SIMULATORS[:1])
@pytest.mark.parametrize("core", core_names())
def test_cosimulated_text_is_generated_text(core, simulator, tmp_path, capsys):
    p = core_params(core)
    out = tmp_path / f"{core}.v"
    assert main(["generate", core, "-o", str(out)]) == 0
    capsys.readouterr()
    # no stimuli: build the model from the same parameters and run it idle for a few cycles
    res = cosim(core, p, build_core(core, p), {}, {}, simulator=simulator, max_cycles=20, drain=2)
    built = res.build_dir / f"spikeforge_{core}.v"
    assert built.read_text() == out.read_text()


def test_yosys_step_is_cached_by_rtlil_and_checked(tmp_path, monkeypatch):
    """The RTLIL → Verilog step runs Yosys once per design: a second conversion reads the cache
    and gives the same text; a damaged entry is converted again; another design is not served
    from the cache; with SPIKEFORGE_VERILOG_CACHE=0 Yosys runs every time, with the same text."""
    from amaranth.back import verilog

    from spikeforge.hdl.export import VERILOG_CACHE, to_verilog
    monkeypatch.setenv("SPIKEFORGE_CACHE", str(tmp_path))
    real, runs = verilog._convert_rtlil_text, []

    def counting(*a, **k):
        runs.append(1)
        return real(*a, **k)
    monkeypatch.setattr(verilog, "_convert_rtlil_text", counting)
    p = core_params("fs")
    first = to_verilog(build_core("fs", p), "fs", p)
    again = to_verilog(build_core("fs", p), "fs", p)
    assert first == again and len(runs) == 1
    (entry,) = (tmp_path / VERILOG_CACHE).iterdir()
    entry.write_text(entry.read_text().replace("module", "modul"))       # damaged: its SHA-256 fails
    assert to_verilog(build_core("fs", p), "fs", p) == first and len(runs) == 2
    q = core_params("fs", ["K=6"])
    other = to_verilog(build_core("fs", q), "fs", q)
    assert other != first and len(runs) == 3
    monkeypatch.setenv("SPIKEFORGE_VERILOG_CACHE", "0")
    assert to_verilog(build_core("fs", p), "fs", p) == first and len(runs) == 4
    assert verilog._convert_rtlil_text is counting               # the library is left as it was
