"""Switching activity: toggle counts from Verilator waveforms."""

import numpy as np
import pytest

from spikeforge.hdl import build_core
from spikeforge.models.registry import core_names
from spikeforge.models.registry import get_core
from spikeforge.models.fs import FSParams
from spikeforge.sim import fs as fsvec
from spikeforge.sim.activity import count_toggles
from spikeforge.sim.runner import cosim


def test_count_toggles_on_a_small_vcd(tmp_path):
    vcd = tmp_path / "t.vcd"
    vcd.write_text("$timescale 1ps $end\n$scope module $rootio $end\n$var wire 1 ! clk $end\n"
                   "$var wire 4 \" a [3:0] $end\n$upscope $end\n$scope module dut $end\n"
                   "$var wire 4 # a [3:0] $end\n$var wire 1 $ $auto$x$1 $end\n$var wire 1 % clk $end\n"
                   "$upscope $end\n$enddefinitions $end\n#0\n0!\nb0000 \"\nb0000 #\n0$\n0%\n"
                   "#10\n1%\nb0011 #\n1$\n#20\n0%\nb0110 #\n#30\nb0110 #\n")
    total, by = count_toggles(vcd, after=5)
    assert by == {"dut.a": 4, "dut._auto_x_1": 1}        # 0000→0011 (2), 0011→0110 (2); clk skipped
    assert total == 5
    total, by = count_toggles(vcd, after=15)
    assert by == {"dut.a": 2}


def _toggles(p, xs, **kw):
    tx = fsvec.transactions(p, xs)
    return cosim("fs", p, build_core("fs", p), tx.stimuli, tx.expected, waves=True, **kw).toggles


@pytest.mark.parametrize("core", core_names())
def test_idle_core_does_not_toggle(core):
    """No input (an all-zero, never-valid input stream): nothing in the circuit switches."""
    p = get_core(core).params()
    r = cosim(core, p, build_core(core, p), {"i": []}, {"o": []}, waves=True, drain=40)
    assert r.toggles == 0, sorted(r.toggles_by_signal.items())[:5]


def test_data_activity_ordering():
    """Random inputs switch more than all-zero inputs; both more than idle."""
    p = FSParams.relu(8, 12)
    zeros = _toggles(p, [0] * 16)
    rand = _toggles(p, np.random.default_rng(1).integers(-2048, 2048, 16).tolist())
    assert 0 < zeros < rand
