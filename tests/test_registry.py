"""The core registry of base.py: names, lookup errors, duplicates, default params."""

import json

import numpy as np
import pytest

import spikeforge.models.amos  # noqa: F401  (importing a core module registers it)
import spikeforge.models.ann  # noqa: F401
import spikeforge.models.fs  # noqa: F401
import spikeforge.models.lif  # noqa: F401
import spikeforge.models.rate_if  # noqa: F401
import spikeforge.models.ttfs  # noqa: F401
from factories import exact
from spikeforge.models.base import CoreInfo, Params, core_names, get_core, register_core
from spikeforge.models.errors import ConfigError

CORES = ["fs", "amos", "ttfs", "lif", "if", "ann"]

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
    with pytest.raises(ValueError, match=r"^core 'fs' is already registered \(by FSParams\)$"):
        register_core("fs", params=Dummy, summary="impostor")(lambda p, x: None)
    assert get_core("fs") is before and Dummy.core == "" and core_names() == CORES


@pytest.mark.parametrize("name", core_names())
def test_registered_core_defaults_round_trip_and_run(name):
    info = get_core(name)
    assert isinstance(info, CoreInfo) and info.name == name and info.summary
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
