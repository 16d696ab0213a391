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
