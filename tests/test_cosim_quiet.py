"""The testbench passes over quiet stretches without changing what it sees, and a Verilator
build without waveforms makes only the top module public.

Each co-simulation runs twice, stepping every cycle and passing over quiet
stretches: every accepted input beat, every output beat (with its cycle) and
the cycle count must be the same, and the second run must have skipped
cycles (else the comparison proves nothing).
"""

import numpy as np
import pytest

from conftest import SIMULATORS
from spikeforge.api import convert_model
from spikeforge.hdl import build_core
from spikeforge.models.circuit import CircuitParams
from spikeforge.models.convert import quantize_inputs
from spikeforge.models.datasets import load_dataset
from spikeforge.models.fs import FSParams
from spikeforge.sim import circuit as circuit_sim
from spikeforge.sim.bfm import _Gate
from spikeforge.sim.runner import cosim
from spikeforge.sim.verify import core_module


def test_gate_counts_the_zeros_ahead_without_consuming_them():
    g = _Gate([1, 0, 0, 1, 0])
    assert g.zeros_ahead() == 0 and g.next() == 1
    assert g.zeros_ahead() == 2 and g.next() == 0 and g.zeros_ahead() == 1
    g.advance(2)                                   # at the last 0: one 0, then the 1 wraps round
    assert g.zeros_ahead() == 1 and g.next() == 0 and g.next() == 1
    assert _Gate([0, 0]).zeros_ahead() is None     # never offers again
    assert _Gate(None).zeros_ahead() == 0 and _Gate(None).always_one
    assert not _Gate([1, 0]).always_one


def _same(a, b):
    assert a.cycles == b.cycles
    assert a.accepted == b.accepted
    assert a.beats == b.beats


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_isolated_circuit_samples_are_seen_alike(simulator):
    """The digits ann circuit at P = 1 with samples isolated (long idle gaps on the input)."""
    net = convert_model("digits", codings=["ann"])["ann"]
    cp = CircuitParams(net, 1)
    x = quantize_inputs(load_dataset("digits").x_test, 8)[:3]
    step = circuit_sim.verify_circuit(cp, x, simulator=simulator, skip_quiet=False)
    skip = circuit_sim.verify_circuit(cp, x, simulator=simulator)
    assert step["skipped_cycles"] == 0 and skip["skipped_cycles"] > step["sim_cycles"] // 2
    for key in ("measured_latency", "cycles_total", "sim_cycles", "latency"):
        assert step[key] == skip[key], key


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_stalls_and_gaps_are_seen_alike(simulator):
    """An fs core with an irregular idle pattern (runs of 0s of every length, ending in a run
    that never offers again until it wraps) and a sink that is always ready; then with a
    sink that drops ready (nothing may be skipped while it does)."""
    p = FSParams.relu(6, 10)
    mod = core_module("fs")
    inputs = mod.corner_inputs(p) + mod.random_inputs(p, np.random.default_rng(3), 30)
    tx = mod.transactions(p, inputs)
    idle = [1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0]
    runs = {}
    for ready in (None, [1, 1, 0]):
        kw = dict(simulator=simulator, idle={"i": idle}, ready={"o": ready} if ready else None)
        a = cosim("fs", p, build_core("fs", p), tx.stimuli, tx.expected, skip_quiet=False, **kw)
        b = cosim("fs", p, build_core("fs", p), tx.stimuli, tx.expected, **kw)
        _same(a, b)
        assert a.skipped == 0
        runs[ready is None] = b.skipped
    assert runs[True] > 0 and runs[False] == 0


def test_verilator_build_without_waves_makes_only_the_top_public():
    p = FSParams.relu(3, 5)
    tx = core_module("fs").transactions(p, [1, 2])
    plain = cosim("fs", p, build_core("fs", p), tx.stimuli, tx.expected)
    vlt = plain.build_dir / "public_top.vlt"
    assert vlt.exists() and 'public_flat_rw -module "spikeforge_fs" -var "*"' in vlt.read_text()
    waves = cosim("fs", p, build_core("fs", p), tx.stimuli, tx.expected, waves=True)
    assert waves.build_dir != plain.build_dir and not (waves.build_dir / "public_top.vlt").exists()
    assert waves.toggles > 0


def test_a_claimed_build_is_refused_to_a_second_claim(tmp_path, monkeypatch):
    from spikeforge.hdl.export import to_verilog
    from spikeforge.sim.runner import claim_build
    monkeypatch.setenv("SPIKEFORGE_CACHE", str(tmp_path))
    p = FSParams.relu(3, 5)
    v = to_verilog(build_core("fs", p), "fs", p)
    with claim_build(v, "spikeforge_fs") as first:
        with claim_build(v.replace("// spikeforge_fs:", "// header:", 1), "spikeforge_fs") as twin:
            with claim_build(v, "spikeforge_fs", waves=True) as other:
                assert first and not twin and other       # the same build, whatever the header
    with claim_build(v, "spikeforge_fs") as again:
        assert again
