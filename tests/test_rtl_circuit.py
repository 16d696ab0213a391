"""Whole networks as one circuit: co-simulated sample by sample, counter by counter.

The reference nets (Iris 4-16-3, digits 64-32-10) in every coding that has a
network engine, at P = 1, a middle value and all neurons; each sample's
scores, synaptic operations, spikes, state updates and cycles must equal the
golden model; the checker must catch one corrupted weight bit and a counter
off by one; weights must sit in block RAM after synthesis.
"""

import dataclasses

import numpy as np
import pytest

from conftest import SIMULATORS
from spikeforge.api import convert_model
from spikeforge.models.circuit import CircuitParams, circuit_golden
from spikeforge.models.convert import quantize_inputs
from spikeforge.models.datasets import load_dataset
from spikeforge.models.errors import ConfigError, SimulationMismatch
from spikeforge.models.network import Dense
from spikeforge.models.registry import CORES
from spikeforge.sim import circuit as circuit_sim

ENGINES = [c.name for c in CORES.values() if c.engine is not None]


def _net(dataset, coding):
    return convert_model(dataset, codings=[coding])[coding]


def _inputs(dataset, n):
    ds = load_dataset(dataset)
    x = quantize_inputs(np.concatenate([ds.x_test, ds.x_train]), 8)
    return x[:n]


def _middle(net):
    return tuple(max(1, net.layers[i].n_out // 4) for i in net.dense_indices)


@pytest.mark.parametrize("simulator", SIMULATORS[:1])
@pytest.mark.parametrize("coding", ENGINES)
@pytest.mark.parametrize("which", ["one", "middle", "all"])
def test_iris_circuit_equals_golden(coding, which, simulator):
    net = _net("iris", coding)
    P = {"one": 1, "middle": _middle(net), "all": max(l.n_out for l in net.layers)}[which]
    cp = CircuitParams(net, P)
    x = _inputs("iris", 50)
    r = circuit_sim.verify_circuit(cp, x, simulator=simulator)
    assert r["samples"] == 50 and r["measured_latency"] == r["latency"]
    g = circuit_golden(cp, x)
    assert (g.counters["cycles"] <= 1.2 * g.lower_bound + 8).all(), (g.counters["cycles"], g.lower_bound)


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("coding", ENGINES)
def test_digits_circuit_equals_golden(coding, simulator):
    """On the first simulator (Verilator) 50 samples at a middle P and 10 at P = 1 (the longest
    circuit: up to 20,000 cycles a sample); on the second (Icarus, an event-driven simulator
    some 20× slower on these circuits) 8 samples at the middle P: the same Verilog, a second
    opinion on its semantics."""
    net = _net("digits", coding)
    first = simulator == SIMULATORS[0].values[0]
    x = _inputs("digits", 50 if first else 8)
    for P, n in (((_middle(net), 50), (1, 10)) if first else ((_middle(net), 8),)):
        cp = CircuitParams(net, P)
        r = circuit_sim.verify_circuit(cp, x[:n], simulator=simulator)
        assert r["measured_latency"] == r["latency"]
    # back to back, with the host stalling the outputs: scores and counters still exact
    circuit_sim.verify_circuit(CircuitParams(net, _middle(net)), x[:20], simulator=simulator,
                               isolated=False, ready=[1, 1, 0, 1, 0])


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["iris", "digits"])
@pytest.mark.parametrize("coding", ENGINES)
def test_whole_test_split_equals_golden(coding, dataset):
    """Every test sample of the data set, at the middle P, isolated: scores, counters, cycles."""
    net = _net(dataset, coding)
    ds = load_dataset(dataset)
    x = quantize_inputs(ds.x_test, 8)
    r = circuit_sim.verify_circuit(CircuitParams(net, _middle(net)), x, simulator=SIMULATORS[0].values[0])
    assert r["samples"] == len(ds.x_test) and r["measured_latency"] == r["latency"]


def test_a_long_isolated_run_fits_the_simulation_budget():
    """400 Iris samples one at a time through the fs circuit at P = all, whose encoder takes
    several cycles per input value: the testbench's cycle budget covers the input time (a
    budget of latency + n_inputs per sample ran out here)."""
    net = _net("iris", "fs")
    x = np.concatenate([_inputs("iris", 150)] * 3)[:400]
    r = circuit_sim.verify_circuit(CircuitParams(net, max(l.n_out for l in net.layers)), x,
                                   simulator=SIMULATORS[0].values[0])
    assert r["samples"] == 400 and r["measured_latency"] == r["latency"]


def test_checker_catches_one_corrupted_weight_bit():
    """Bit 0 of one output-layer weight, on the hidden unit most often active: the scores
    (logits, no clamp after them) differ wherever that unit is active."""
    from spikeforge.models.simulate import run_network
    net = _net("iris", "ann")
    x = _inputs("iris", 38)
    hidden = run_network(net, x).activations[0]
    j = int(np.argmax((hidden > 0).sum(axis=0)))
    i = net.dense_indices[-1]
    layer = net.layers[i]
    W = [list(r) for r in layer.weights]
    W[0][j] ^= 1
    bad = dataclasses.replace(net, layers=net.layers[:i] + (Dense(W, layer.bias, layer.shift, layer.out_bits,
                                                                  layer.core),))
    good_cp = CircuitParams(net, 3)
    with pytest.raises(SimulationMismatch, match=r"signal 'o\.value'"):
        circuit_sim.verify_circuit(CircuitParams(bad, 3), x,
                                   golden=lambda cp, x_, iso: circuit_sim.transactions(good_cp, x_, iso))


@pytest.mark.parametrize("counter", ["synaptic_ops", "state_updates", "cycles"])
def test_checker_catches_a_counter_off_by_one(counter):
    net = _net("iris", "ann")
    cp = CircuitParams(net, 3)

    def off_by_one(cp_, x_, iso):
        stimuli, expected, g = circuit_sim.transactions(cp_, x_, iso)
        expected["c"][1][counter] += 1
        return stimuli, expected, g

    with pytest.raises(SimulationMismatch, match=rf"signal 'c\.{counter}'"):
        circuit_sim.verify_circuit(cp, _inputs("iris", 4), golden=off_by_one)


def test_parallelism_is_checked():
    net = _net("iris", "ann")
    assert CircuitParams(net).parallelism == (1, 1)
    assert CircuitParams(net, 100).parallelism == (16, 3)          # capped at each layer's neurons
    for bad, msg in (((1, 2, 3), "one int or 2 ints"), ((0, 1), r"parallelism\[0\] must be >= 1"),
                     ((1, 4), r"parallelism\[1\] must be <= 3"), ("x", "one int or 2 ints")):
        with pytest.raises(ConfigError, match=msg):
            CircuitParams(net, bad)
    lacking = [c.name for c in CORES.values() if c.engine is None]
    if lacking:
        with pytest.raises(ConfigError, match="has no network engine yet"):
            CircuitParams(_net("iris", lacking[0]))


@pytest.mark.parametrize("coding", ENGINES)
def test_counters_equal_the_network_golden_counts(coding):
    """The circuit's spikes and synaptic operations are the network golden model's, summed
    over its stages (spikes of every stage, adds of the receiving dense stages)."""
    from spikeforge.models.simulate import run_network
    net = _net("digits", coding)
    x = _inputs("digits", 40)
    g = circuit_golden(CircuitParams(net, _middle(net)), x)
    r = run_network(net, x)
    assert (g.scores == r.scores).all() and (g.predictions == r.predictions).all()
    assert g.counters["spikes"].sum() == sum(s.counts.spikes for s in r.layers)
    assert g.counters["synaptic_ops"].sum() == sum(s.counts.synaptic_adds for s in r.layers
                                                   if s.name.startswith("dense"))


def test_golden_cycles_follow_P():
    net = _net("digits", "ann")
    lat = [CircuitParams(net, P).latency() for P in (1, 2, 4, 8)]
    assert lat == sorted(lat, reverse=True) and lat[0] > 3 * lat[-1]
    g = circuit_golden(CircuitParams(net, 2), _inputs("digits", 3))
    assert list(g.counters["synaptic_ops"]) == [64 * 32 + 32 * 10] * 3


@pytest.mark.parametrize("target, cell", [("ice40-up5k", "SB_RAM40_4K"), ("ecp5-85f", "DP16KD")])
def test_weights_map_to_block_ram(target, cell):
    """Each layer's weight memory takes at least its size in blocks; the logic stays far
    below what the weights would cost as constants in LUTs."""
    from spikeforge.synth.core import synth_network
    from spikeforge.synth.targets import get_target
    cp = CircuitParams(_net("digits", "ann"), 1)
    r = synth_network(cp, target, dsp=True)
    block = get_target(target).capacity["bram_bits"]
    need = sum(-(-l.n_in * l.n_out * cp.network.w_bits // block) for l in cp.network.layers)
    assert r.bram >= need and any(k.startswith(cell) for k in r.cells), r.cells
    weight_bits = sum(l.n_in * l.n_out for l in cp.network.layers) * cp.network.w_bits
    assert r.luts < weight_bits // 8, "weights look like logic, not memory"


def _if_variant(time_steps, threshold_scale):
    net = _net("iris", "if")
    l0 = net.layers[0]
    core = {**l0.core, "threshold": int(l0.core["threshold"] * threshold_scale)}
    return dataclasses.replace(net, options={**net.options, "time_steps": time_steps},
                               layers=(dataclasses.replace(l0, core=core),) + net.layers[1:])


def test_if_circuit_one_step_and_silent_samples():
    """Rate coding at T = 1 with a threshold that leaves some samples without any spike
    (the output layer gets only the end-of-step beat: scores T·b) and gives others
    several spikes in a group; uneven last groups (P = 3 of 16, 2 of 3)."""
    from spikeforge.models.simulate import run_network
    net = _if_variant(1, 0.6)
    x = _inputs("iris", 24)
    cp = CircuitParams(net, (3, 2))
    g = circuit_golden(cp, x)
    assert (g.counters["spikes"] == 0).any() and (g.counters["spikes"] >= 2).any()
    assert (g.scores == run_network(net, x).scores).all()
    r = circuit_sim.verify_circuit(cp, x)
    assert r["measured_latency"] == r["latency"]
    circuit_sim.verify_circuit(cp, x[:12], isolated=False, ready=[1, 0, 0, 1])


def test_if_circuit_refuses_what_it_cannot_build():
    from spikeforge.hdl.network import NetworkCircuit
    net = _net("iris", "if")
    l0, l1 = net.layers
    hidden = Dense([[1] * l0.n_out] * l0.n_out, [0] * l0.n_out, 0, 8, dict(l1.core))
    deep = dataclasses.replace(net, layers=(l0, hidden, l1))
    with pytest.raises(ConfigError, match="spiking IF layer after the first"):
        NetworkCircuit(CircuitParams(deep, 1))
    alone = dataclasses.replace(net, layers=(Dense([list(r[:4]) for r in l1.weights], l1.bias, 0, None,
                                                   dict(l0.core)),))
    with pytest.raises(ConfigError, match="one-layer if network"):
        circuit_golden(CircuitParams(alone, 1), _inputs("iris", 2))


def _lif_variant(**options):
    net = _net("iris", "lif")
    return dataclasses.replace(net, options={**net.options, **options})


def test_lif_circuit_one_step_silent_samples_and_membrane_readout():
    """LIF at T = 1, with samples whose inputs never spike (all zero: every step issues
    empty items, the states only take the bias), uneven last groups (P = 3 of 16, 2 of
    3); the membrane readout (a non-spiking output layer, its final membranes are the
    scores) at T = 4; a deeper network (two hidden layers, one of them at G = 1)."""
    from spikeforge.models.simulate import run_network
    x = _inputs("iris", 10)
    x[[2, 5]] = 0
    net = _lif_variant(time_steps=1)
    cp = CircuitParams(net, (3, 2))
    g = circuit_golden(cp, x)
    ref = run_network(net, x, trace=True)
    silent = np.asarray(ref.layer_inputs[0]).sum(axis=(1, 2)) == 0
    assert silent[[2, 5]].all() and not silent.all()
    assert (g.scores == ref.scores).all()
    r = circuit_sim.verify_circuit(cp, x)
    assert r["measured_latency"] == r["latency"]
    circuit_sim.verify_circuit(cp, x[:6], isolated=False, ready=[1, 0, 0, 1])
    mem = _lif_variant(time_steps=4, readout="membrane")
    cp = CircuitParams(mem, (5, 3))
    assert (circuit_golden(cp, x).scores == run_network(mem, x).scores).all()
    circuit_sim.verify_circuit(cp, x[:6])
    l0, l1 = mem.layers
    hidden = Dense([[(a * 7 + b * 3) % 9 - 3 for a in range(l0.n_out)] for b in range(5)], [1] * 5, 0, 8,
                   dict(l0.core, in_scale=1, weight_shift=0, threshold=4))
    out = Dense([list(r[:5]) for r in l1.weights], l1.bias, 0, None, dict(l1.core, in_scale=1, weight_shift=0))
    deep = dataclasses.replace(mem, layers=(l0, hidden, out))
    cp = CircuitParams(deep, (4, 5, 1))
    assert (circuit_golden(cp, x).scores == run_network(deep, x).scores).all()
    circuit_sim.verify_circuit(cp, x[:6])


def test_lif_circuit_refuses_what_it_cannot_build():
    from spikeforge.hdl.network import NetworkCircuit
    from spikeforge.models.circuit_lif import LIFEngineParams
    from spikeforge.models.network import layer_params
    cp = CircuitParams(_lif_variant(readout="vanrossum"), 1)
    with pytest.raises(ConfigError, match="readout 'vanrossum' has no circuit"):
        NetworkCircuit(cp)
    with pytest.raises(ConfigError, match="readout 'vanrossum' has no circuit"):
        circuit_golden(cp, _inputs("iris", 2))
    net = _net("iris", "lif")
    layer = layer_params(net, 1)
    for kwargs, msg in (({"lanes": 0}, "lanes must be 1..3"), ({"lanes": 4}, "lanes must be 1..3"),
                        ({"lanes": 1, "readout": "membrane"}, "does not spike"),
                        ({"lanes": 1}, None)):
        if msg is None:
            LIFEngineParams(layer, **kwargs)            # a hidden layer that spikes: fine
        else:
            with pytest.raises(ConfigError, match=msg):
                LIFEngineParams(layer, **kwargs)


# ---- ttfs: the closed form against the tick-by-tick layer model, deeper and one-layer networks

def _ttfs_random_net(variant, seed, sizes=(5, 7, 6, 3), out_bits=(3, 2)):
    """A random ttfs network (4-bit inputs, 6-bit weights): two hidden layers (the second
    engine takes events from a hidden engine), biases that push neurons past the window's
    top and below its bottom, a neuron with zero weights."""
    from spikeforge.models.network import Network
    rng = np.random.default_rng(seed)
    layers = []
    for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
        last = k == len(sizes) - 2
        shift = 0 if last else int(rng.integers(1, 4))
        W = rng.integers(-8, 8, size=(b, a))
        W[0] = 0
        hi = (1 << shift) * 24
        layers.append(Dense(W.tolist(), rng.integers(-hi, hi, size=b).tolist(), shift,
                            None if last else out_bits[k]))
    return Network("ttfs", 4, tuple(layers), 6, {"variant": variant})


def _ttfs_inputs(seed, n, n_in=5):
    x = np.random.default_rng(100 + seed).integers(0, 16, size=(n, n_in))
    x[0] = 0                                    # no input event at all
    x[1] = 15
    x[2, ::2] = 0
    return x


@pytest.mark.parametrize("variant", ["at_most_one", "exactly_one"])
def test_ttfs_circuit_closed_form_equals_the_tick_model(variant):
    """Each engine's closed form (acc from the events, y = clamp(acc >> F, 0, B), spike at
    B − y) gives, layer after layer, the spike ticks of the tick-by-tick layer model
    (neurons already above threshold when the window opens, neurons that never cross,
    exactly-one neurons forced at the window's end); scores and counts equal the network run."""
    from spikeforge.models.circuit_ttfs import layer_outputs
    from spikeforge.models.network import layer_params
    from spikeforge.models.simulate import run_network
    from spikeforge.models.ttfs import ttfs_ticks
    seen = set()
    for seed in range(6):
        net = _ttfs_random_net(variant, seed)
        x = _ttfs_inputs(seed, 40)
        cp = CircuitParams(net, (3, 2, 2))
        g = circuit_golden(cp, x)
        r = run_network(net, x)
        assert (g.scores == r.scores).all() and (g.predictions == r.predictions).all()
        assert g.counters["spikes"].sum() == sum(s.counts.spikes for s in r.layers)
        assert g.counters["synaptic_ops"].sum() == sum(s.counts.synaptic_adds for s in r.layers
                                                       if s.name.startswith("dense"))
        assert (g.counters["state_updates"] == 7 + 6 + 3).all()
        vals, events = x, (x >= 0) if variant == "exactly_one" else x > 0
        for i, p in zip(net.dense_indices, cp.engines):
            acc, y, fires = layer_outputs(p, vals, events)
            ref = ttfs_ticks(layer_params(net, i), np.where(events, p.T0 - vals, -1))
            if not p.spiking:
                assert (acc == ref.y).all()
                continue
            assert (np.where(fires, p.T0 + p.B - y, -1) == ref.t_out).all()
            s = acc >> p.slope_shift
            seen |= {"above" if (s > p.B).any() else None, "below" if (s <= 0).any() else None,
                     "inside" if ((s > 0) & (s < p.B)).any() else None}
            vals, events = y, fires
    assert {"above", "below", "inside"} <= seen


@pytest.mark.parametrize("simulator", SIMULATORS[:1])
@pytest.mark.parametrize("variant", ["at_most_one", "exactly_one"])
def test_ttfs_circuit_deeper_network_both_variants(variant, simulator):
    """Two hidden engines (events from a hidden engine into a hidden engine), uneven last
    groups, samples without any input event (every group a null item), both variants;
    isolated and back to back with stalls."""
    net = _ttfs_random_net(variant, 3)
    x = _ttfs_inputs(3, 8)
    cp = CircuitParams(net, (3, 4, 2))
    r = circuit_sim.verify_circuit(cp, x, simulator=simulator)
    assert r["measured_latency"] == r["latency"]
    circuit_sim.verify_circuit(cp, x[:6], simulator=simulator, isolated=False, ready=[1, 0, 0, 1])


def test_ttfs_circuit_one_layer_network():
    """The first engine is the output layer: input values straight into scores."""
    from spikeforge.models.network import Network
    from spikeforge.models.simulate import run_network
    W = [[(a * 5 + b * 3) % 11 - 5 for a in range(5)] for b in range(3)]
    net = Network("ttfs", 4, (Dense(W, [7, -20, 0], 0, None),), 6)
    x = _ttfs_inputs(0, 6)
    cp = CircuitParams(net, 2)
    assert (circuit_golden(cp, x).scores == run_network(net, x).scores).all()
    r = circuit_sim.verify_circuit(cp, x)
    assert r["measured_latency"] == r["latency"]


def test_ttfs_circuit_refuses_bad_parameters():
    from spikeforge.hdl.ttfs_engine import TTFSEngine
    net = _net("iris", "ttfs")
    with pytest.raises(ConfigError, match=r"parallelism\[0\] must be >= 1"):
        CircuitParams(net, (0, 1))
    p = CircuitParams(net, 2).engines[0]
    for field, value, msg in (("lanes", 0, "lanes must be 1..16"), ("lanes", 17, "lanes must be 1..16"),
                              ("lanes", True, "lanes must be"), ("variant", "twice", "variant must be"),
                              ("in_bits", 0, "in_bits must be"), ("out_bits", 17, "out_bits must be"),
                              ("slope_shift", -1, "slope_shift must be"), ("weights", ((),), "weights must be"),
                              ("bias", (1, 2), "bias must have 16"), ("weights", ((200,) * 4,) * 16, "w_bits")):
        with pytest.raises(ConfigError, match=msg):
            dataclasses.replace(p, **{field: value})
    with pytest.raises(TypeError, match="TTFSEngineParams"):
        TTFSEngine(CircuitParams(_net("iris", "ann"), 1).engines[0])
