"""Parameter objects keep declared and derived apart, for every core.

A field the user did not set stays unset (None) and is not serialized; the
values derived from the declared fields (tables, widths, lanes) are
properties. So, for every field f and value v, ``p.replace(f=v)`` is the
object built fresh with f=v (equal, same derived values, or the same error),
and ``from_dict(to_dict(p)) == p``. The expected declared fields are computed
here from ``dataclasses.fields``, not by the code under test.
"""

import dataclasses
import json

import pytest
from hypothesis import assume, given, strategies as st

from spikeforge.cli import main
from spikeforge.models.amos import AMOSParams
from spikeforge.models.ann import MACParams
from spikeforge.models.errors import ConfigError
from spikeforge.models.fs import FSParams
from spikeforge.models.lfsr import LFSRParams
from spikeforge.models.lif import LIFParams
from spikeforge.models.rate_if import IFParams
from spikeforge.models.ttfs import VARIANTS, TTFSParams

from factories import exact, matrices, vectors


def declared_fields(p):
    """{name: value} of the fields set in ``p``: all but those None where None is the default."""
    return {f.name: getattr(p, f.name) for f in dataclasses.fields(p)
            if not (getattr(p, f.name) is None and f.default is None)}


def optional(strategy):
    return st.none() | strategy


def small_weights(draw, n_out=None, n_in=None):
    n_out = draw(st.integers(1, 3)) if n_out is None else n_out
    n_in = draw(st.integers(1, 4)) if n_in is None else n_in
    return draw(matrices(st.integers(-20, 20), n_out, n_in))


# ------------------------------------------------- valid values of each field
# value(name, p) is a strategy for field ``name`` that is valid in most contexts of p
# (values that clash with another declared field must raise as a fresh object does).

def fs_value(name, p):
    table = vectors(st.integers(-40, 40), p.K)
    return {"K": st.integers(1, 8), "x_bits": st.integers(2, 16), "T": optional(table),
            "h": optional(table), "d": optional(table), "v_bits": optional(st.integers(2, 62))}[name]


def amos_value(name, p):
    K = p.K
    gains = vectors(st.integers(-6, 6), K)
    return {"K": st.integers(1, 5), "x_bits": st.integers(2, 12), "x2_bits": st.integers(2, 12),
            "c": optional(gains), "c2": optional(gains), "T": optional(vectors(st.integers(-50, 50), K)),
            "d": optional(vectors(st.integers(-8, 8), K)),
            "h": optional(st.tuples(*(vectors(st.integers(-20, 20), i) for i in range(K)))),
            "u_bits": optional(st.integers(2, 62))}[name]


@st.composite
def _weights_like(draw, p):
    same = draw(st.booleans())
    return small_weights(draw, p.n_out if same else None, p.n_in if same else None)


def ttfs_value(name, p):
    return {"weights": _weights_like(p), "thresholds": optional(vectors(st.integers(-500, 500), p.n_out)),
            "slope_shift": st.integers(0, 5), "in_bits": st.integers(1, 5),
            "out_bits": optional(st.integers(1, 5)), "variant": st.sampled_from(VARIANTS),
            "w_bits": st.integers(6, 10), "slope_bits": optional(st.integers(2, 62)),
            "v_bits": optional(st.integers(2, 62))}[name]


def _bias(p):
    return optional(vectors(st.integers(-30, 30), p.n_out))


def lif_value(name, p):
    return {"weights": _weights_like(p), "bias": _bias(p), "threshold": st.integers(1, 100),
            "leak_shifts": st.lists(st.integers(1, 8), min_size=1, max_size=4, unique=True),
            "time_steps": st.integers(1, 6), "spiking": st.booleans(), "w_bits": st.integers(6, 10),
            "v_bits": optional(st.integers(2, 62))}[name]


def if_value(name, p):
    return {"weights": _weights_like(p), "bias": _bias(p), "threshold": st.integers(1, 100),
            "time_steps": st.integers(1, 6), "direct_input": st.booleans(), "in_bits": st.integers(1, 8),
            "spiking": st.booleans(), "w_bits": st.integers(6, 10),
            "v_bits": optional(st.integers(2, 62))}[name]


def mac_value(name, p):
    return {"weights": _weights_like(p), "bias": _bias(p), "shift": st.integers(0, 6),
            "in_bits": st.integers(1, 10), "in_signed": st.booleans(), "w_bits": st.integers(6, 10),
            "out_bits": optional(st.integers(1, 10)), "acc_bits": optional(st.integers(2, 62)),
            "lanes": optional(st.integers(1, p.n_out))}[name]


@st.composite
def _taps(draw, width):
    rest = draw(st.lists(st.integers(1, width - 1), max_size=3, unique=True)) if width > 1 else []
    return draw(st.permutations([width] + rest))


def lfsr_value(name, p):
    return {"width": st.integers(2, 16), "taps": _taps(p.width),
            "seed": st.integers(1, (1 << p.width) - 1), "leap": st.integers(1, 20)}[name]


def _default(cls):
    """A default object on which to draw field values for the first declarations."""
    if cls is LFSRParams:
        return LFSRParams()
    if cls in (TTFSParams, LIFParams, IFParams, MACParams):
        return cls(weights=((1, 2), (3, 4)))
    return cls(K=3)


CORES = {FSParams: fs_value, AMOSParams: amos_value, TTFSParams: ttfs_value, LIFParams: lif_value,
         IFParams: if_value, MACParams: mac_value, LFSRParams: lfsr_value}
ORDER = {FSParams: ["K"], AMOSParams: ["K"], LFSRParams: ["width"]}     # fields others depend on


@st.composite
def params(draw, cls):
    """A valid object of ``cls`` with a random subset of its fields declared."""
    value = CORES[cls]
    kw = {}
    base = _default(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    first = ORDER.get(cls, ["weights"])
    for name in first + [n for n in names if n not in first]:
        if draw(st.booleans(), label=f"declare {name}"):
            kw[name] = draw(value(name, base), label=name)
        if name in first:
            try:
                base = cls(**kw)
            except ConfigError:
                assume(False)
    try:
        return cls(**kw)
    except ConfigError:
        assume(False)


def check_replace(p, name, v):
    """p.replace(name=v) is the object built fresh with name=v: equal, equal hash, same
    values in effect; or both raise the same ConfigError."""
    cls = type(p)
    p.effective_dict()                          # fill p's caches: none may leak into the copy
    try:
        fresh = cls(**{**declared_fields(p), name: v})
    except ConfigError as e:
        with pytest.raises(ConfigError, match=exact(str(e))):
            p.replace(**{name: v})
        return
    q = p.replace(**{name: v})
    assert q == fresh and hash(q) == hash(fresh)
    assert declared_fields(q) == declared_fields(fresh) == q.declared()
    assert q.derived() == fresh.derived()
    assert q.effective_dict() == fresh.effective_dict()


def check_round_trip(p):
    cls = type(p)
    d = p.to_dict()
    assert d["type"] == cls.core
    assert set(d) == {"type"} | set(declared_fields(p))          # only declared fields, unset ones omitted
    assert cls.from_dict(d) == p and cls.from_json(p.to_json()) == p
    documented = json.loads(json.dumps(p.to_dict(derived=True)))
    assert documented.get("derived", {}) == json.loads(json.dumps(p.derived()))
    assert cls.from_dict(documented) == p                        # the derived block is not read back
    # a file with every value in effect (the former to_dict) still loads to the same values
    assert cls.from_dict(p.effective_dict()).effective_dict() == p.effective_dict()


@pytest.mark.parametrize("cls", list(CORES), ids=lambda c: c.__name__)
@given(data=st.data())
def test_replace_equals_fresh_and_round_trips(cls, data):
    p = data.draw(params(cls), label="p")
    check_round_trip(p)
    for f in dataclasses.fields(cls):
        v = data.draw(CORES[cls](f.name, p), label=f"new {f.name}")
        check_replace(p, f.name, v)


@pytest.mark.parametrize("cls", list(CORES), ids=lambda c: c.__name__)
def test_defaults_declare_no_derived_value(cls):
    p = _default(cls)
    for name, prop in cls.DERIVED.items():
        assert getattr(p, name) is None and getattr(p, prop) is not None
        assert name not in p.to_dict()


# -------------------------------------------------------------- reproductions

def test_replace_re_derives_the_v_width():
    from spikeforge.hdl.fs import FSNeuron

    p = FSParams(x_bits=12).replace(x_bits=30)
    assert p.v_bits is None and p.v_width == FSParams(x_bits=30).v_width == 30
    assert p == FSParams(x_bits=30)
    FSNeuron(p)                                 # accepted: the width follows x_bits


def test_declared_values_survive_replace():
    p = FSParams(K=4, T=(8, 4, 2, 1), v_bits=20).replace(x_bits=9)
    assert (p.T, p.v_bits, p.v_width) == ((8, 4, 2, 1), 20, 20)
    q = MACParams(weights=((1,), (2,), (3,))).replace(weights=((1,), (2,)))
    assert q.lanes is None and q.lane_count == 2 and q.acc_width == MACParams(weights=((1,), (2,))).acc_width


def test_generate_from_params_json_with_another_K(tmp_path):
    src = tmp_path / "fs.json"
    src.write_text(FSParams().to_json())        # K = 8, written by to_dict of the defaults
    a, b = tmp_path / "a.v", tmp_path / "b.v"
    assert main(["generate", "fs", "--from", str(src), "--param", "K=10", "-o", str(a)]) == 0
    assert main(["generate", "fs", "--param", "K=10", "-o", str(b)]) == 0
    assert a.read_text() == b.read_text()


def test_generate_from_design_with_another_K(tmp_path):
    from spikeforge.models.network import Dense, Network, save_network

    net = Network("fs", 4, (Dense(((1, -2, 3),), (0,), 0, 8), Dense(((2,),), (1,), 0, None)))
    src = tmp_path / "design.json"
    save_network(net, src)
    out = tmp_path / "a.v"
    assert main(["generate", "fs", "--from", str(src), "--param", "K=10", "-o", str(out)]) == 0
    assert '//   "K": 10' in out.read_text()


def test_old_params_file_with_tables_names_them(tmp_path):
    """A file written before the split declares the tables; --param K=10 then says which."""
    src = tmp_path / "old.json"
    src.write_text(json.dumps(FSParams().effective_dict()))
    msg = (f"T must have 10 entries, not 8 ({src} declares T, d, h, v_bits; "
           "leave them out of the file to have them derived)")
    with pytest.raises(ConfigError, match=exact(msg)):
        from spikeforge.api import core_params
        core_params("fs", ["K=10"], source=str(src))


def test_derived_block_is_documentation_only():
    p = FSParams(K=4)
    d = p.to_dict(derived=True)
    assert d["derived"] == {"T": [8, 4, 2, 1], "h": [8, 4, 2, 1], "d": [8, 4, 2, 1], "v_bits": 12}
    d["derived"]["v_bits"] = 3                  # edited documentation is still not a declaration
    assert FSParams.from_dict(d) == p and FSParams.from_dict(d).v_width == 12
