"""The core registry: names, lookup errors, duplicates, default params, every part resolvable."""

import json

import numpy as np
import pytest

import dataclasses

from factories import exact
from spikeforge.models.base import Params
from spikeforge.models.registry import CORES as REGISTRY, Core, core_names, get_core, register
from spikeforge.models.errors import ConfigError

CORES = ["fs", "amos", "ttfs", "lif", "if", "ann"]     # the six cores of the papers, in this order

#: A small valid input for each core's default parameters (8 synapses, T = 16, ...).
SMALL_INPUTS = {
    "fs": lambda p: np.array([-3, 0, 5, 200]),
    "amos": lambda p: np.array([-3, 0, 5, 200]),
    "ttfs": lambda p: np.array([[-1, 0, 3, p.T0, 7, -1, 1, 2]]),
    "lif": lambda p: (np.arange(p.time_steps * p.n_in).reshape(p.time_steps, p.n_in) % 3 == 0).astype(int),
    "if": lambda p: (np.arange(p.time_steps * p.n_in).reshape(p.time_steps, p.n_in) % 2 == 0).astype(int),
    "ann": lambda p: np.array([[0, 1, 2, 3, 4, 5, 6, 255]]),
}


def test_core_names_in_canonical_order():
    assert core_names() == CORES


def test_get_core_unknown_name_lists_known_cores():
    with pytest.raises(ConfigError, match=exact("unknown core 'nope'; known cores: fs, amos, ttfs, lif, if, ann")):
        get_core("nope")


def test_duplicate_registration_refused():
    class Dummy(Params):
        pass

    before = get_core("fs")
    impostor = dataclasses.replace(before, params=Dummy, summary="impostor", _cache={})
    with pytest.raises(ValueError, match=r"^core 'fs' is already registered \(by FSParams\)$"):
        register(impostor)
    assert get_core("fs") is before and Dummy.core == "" and core_names() == CORES


@pytest.mark.parametrize("name", core_names())
def test_registered_core_defaults_round_trip_and_run(name):
    info = get_core(name)
    assert isinstance(info, Core) and info.name == name and info.summary
    assert info.params.core == name
    p = info.params()
    d = json.loads(p.to_json())
    assert d["type"] == name
    q = info.params.from_json(p.to_json())
    assert q == p and info.params.from_dict(p.to_dict()) == p
    x = SMALL_INPUTS[name](p)
    r, s = info.golden(p, x), info.golden(q, x)
    assert r.counts.inferences >= 1
    assert r.counts == s.counts
    for field in ("z", "y", "t_out", "spikes", "v", "acc"):
        if hasattr(r, field):
            np.testing.assert_array_equal(getattr(r, field), getattr(s, field))


def test_params_of_one_core_refused_by_another():
    fs = get_core("fs").params().to_dict()
    with pytest.raises(ConfigError, match=exact("AMOSParams: 'type' must be 'amos', not 'fs'")):
        get_core("amos").params.from_dict(fs)


@pytest.mark.parametrize("name", core_names())
def test_every_part_resolves(name):
    """Every path a record names exists: component, driver, layer factory, run, conversion."""
    core = get_core(name)
    for part in ("component", "driver", "layer_params", "run", "convert", "check_options"):
        assert core.resolve(part) is not None
    assert core.resolve("component").__name__ in core.component
    p = core.matched(8, 8)
    assert isinstance(p, core.params)
    if core.k_sweep is not None:
        assert isinstance(core.k_sweep(6), core.params)
    assert set(core.options) >= set()          # a dict of defaults
    for opt in core.convert_options:
        assert opt in ("time_steps", "rate_norm", "ttfs_variant", "lif_readout", "leak_shifts",
                       "lif_threshold_scale")


def test_no_behaviour_decided_by_a_core_name_outside_the_registry():
    """Outside the registry, no library module compares a coding or core with a name literal."""
    import pathlib
    import re
    root = pathlib.Path(__file__).resolve().parent.parent
    pattern = re.compile(r"""(==|!=|\bin)\s*\(?\s*["'](fs|amos|ttfs|lif|if|ann)["']""")
    hits = []
    for folder in ("models", "hdl", "sim", "synth", "spikeforge"):
        for path in (root / folder).rglob("*.py"):
            if path.name == "registry.py":
                continue
            for k, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    hits.append(f"{path.relative_to(root)}:{k}: {line.strip()}")
    assert not hits, "\n".join(hits)
