"""Fitted FS/AMOS tables: determinism, margin over the naive baseline, exactness of the integer
form, the shipped package data and its recorded (measured) errors."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factories import exact
from spikeforge.models.activations import get_activation
from spikeforge.models.amos import AMOSParams, amos_golden
from spikeforge.models.errors import ConfigError
from spikeforge.models.fit_amos import AMOSFitSpec, amos_error, amos_forward, fit_amos, naive_amos
from spikeforge.models.fit_common import error_stats, grid_step, to_grid
from spikeforge.models.fit_fs import FSFitSpec, fit_fs, fs_error, fs_forward, naive_fs
from spikeforge.models.fitted import SHIPPED, TABLES_DIR, find_table, load_table, table_names
from spikeforge.models.fs import FSParams, fs_golden


#: The fitted integer tables must have at most 1/MARGIN the MSE of the naive baseline
#: (uniform thresholds, no reset/inhibition, least-squares d, real numbers, not quantized).
MARGIN = 4.0


def _naive_mse(table):
    """The naive baseline's MSE, computed here from its definition (not read from the table)."""
    act_or_target, K = table.target, table.K
    if table.core == FSParams.core:
        T, h, d = naive_fs(act_or_target, K)
        a = get_activation(act_or_target)
        x = np.linspace(*a.interval, 20001)
        Z, _ = fs_forward(x, T, h)
        return float(np.mean((d @ Z - a(x)) ** 2))
    C, T, H, d = naive_amos(act_or_target, K)
    from spikeforge.models.fit_amos import _eval_grid, _f, _target     # the same grid as the fit
    t = _target(act_or_target)
    X = _eval_grid(t)
    Z, _ = amos_forward(X, C, T, H)
    return float(np.mean((d @ Z - _f(t, X)) ** 2))


# ------------------------------------------------------------------ shipped tables

def test_every_shipped_table_is_there():
    assert sorted(p.stem for p in TABLES_DIR.glob("*.json")) == sorted(table_names())
    assert len(table_names()) == len(SHIPPED)


@pytest.mark.parametrize("name", table_names())
def test_shipped_error_is_what_the_golden_model_measures(name):
    """The recorded error of each table is re-measured here with the integer golden model."""
    t = load_table(name)
    p = t.params()
    assert isinstance(p, (FSParams, AMOSParams)) and p.K == t.K
    if isinstance(p, FSParams):
        err = fs_error(p.T, p.h, p.d, t.data["spec"]["Q"], t.target)
        assert t.x_step == t.y_step == grid_step(t.data["spec"]["Q"])
    else:
        err = amos_error(t.tables(), t.x_step, t.y_step, t.target)
    for key, value in err.items():
        assert t.error[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key


@pytest.mark.parametrize("name", table_names())
def test_shipped_tables_beat_the_naive_baseline(name):
    t = load_table(name)
    naive = _naive_mse(t)
    assert t.error["mse"] * MARGIN <= naive, (t.error["mse"], naive)
    assert t.data["error_naive"]["mse"] == pytest.approx(naive, rel=1e-6)


def test_param_counts_of_the_amos_paper_table_3():
    """Stöckl & Maass 2020, Table 3: sigmoid K=8 → 52, ReLU K=10 → 75, Swish K=12 → 102, mult K=40 → 940."""
    assert find_table("amos", "sigmoid").params().param_count == 52
    assert AMOSParams.relu(10, 12).param_count == 75
    assert find_table("amos", "swish").params().param_count == 102
    mult = find_table("amos", "mult", K=40).params()
    assert mult.two_inputs and mult.param_count == 940


def test_paper_intervals_and_sizes():
    swish, sigmoid = find_table("fs", "swish"), find_table("fs", "sigmoid")
    assert (swish.K, swish.data["intervals"]) == (16, [[-8.0, 12.0]])
    assert (sigmoid.K, sigmoid.data["intervals"]) == (12, [[-10.0, 10.0]])
    assert swish.data["main"] == [-2.0, 2.0]
    assert find_table("amos", "sigmoid").K == 8 and find_table("amos", "swish").K == 12


def test_table_records_its_command_and_seed():
    for name in table_names():
        d = load_table(name).data
        assert d["command"] == f"python -m spikeforge.models.fitted --only {name}"
        assert d["spec"]["seed"] == 0 and d["schema"] == "spikeforge.fitted/1"


def test_load_errors_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match=r"^no fitted table 'fs-tanh'; shipped: fs-swish-K16-Q8, "):
        load_table("fs-tanh")
    with pytest.raises(ConfigError, match=r"^no shipped fs table for 'tanh'; shipped: "):
        find_table("fs", "tanh")
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"schema": "other"}))
    with pytest.raises(ConfigError, match=r"not a fitted table"):
        load_table(bad)


def test_x_bits_override():
    t = find_table("fs", "swish")
    assert t.params(x_bits=14).x_bits == 14 and t.params().x_bits == 9
    m = find_table("amos", "mult", K=16).params(x_bits=10)
    assert m.x_bits == m.x2_bits == 10


# ------------------------------------------------------------------ fitting

def test_fs_fit_is_deterministic_for_a_seed():
    a = fit_fs(activation="swish", steps=120, qat_steps=40)
    b = fit_fs(activation="swish", steps=120, qat_steps=40)
    assert (a.T, a.h, a.d, a.error) == (b.T, b.h, b.d, b.error)
    c = fit_fs(activation="swish", steps=120, qat_steps=40, seed=1)
    assert c.real != a.real             # the seed jitters the starting points


def test_amos_fit_is_deterministic_for_a_seed():
    a = fit_amos(target="mult", K=6, steps=60, qat_steps=20, points=21)
    b = fit_amos(target="mult", K=6, steps=60, qat_steps=20, points=21)
    assert a.tables == b.tables and a.error == b.error


@pytest.mark.parametrize("activation,steps", [("swish", 400), ("sigmoid", 2000)])
def test_fresh_fs_fit_beats_naive(activation, steps):
    f = fit_fs(activation=activation, steps=steps, qat_steps=100)
    T, h, d = naive_fs(activation, f.spec.K)
    assert f.error["mse"] * MARGIN <= f.error_naive["mse"]
    assert f.error_naive["mse"] == pytest.approx(fs_forward_mse(activation, T, h, d))


def fs_forward_mse(activation, T, h, d):
    a = get_activation(activation)
    x = np.linspace(*a.interval, 20001)
    Z, _ = fs_forward(x, T, h)
    return float(np.mean((d @ Z - a(x)) ** 2))


def test_fresh_amos_fit_beats_naive():
    f = fit_amos(target="sigmoid", steps=300, qat_steps=50)
    assert f.error["mse"] * MARGIN <= f.error_naive["mse"]
    assert f.params().param_count == 52


def test_fit_spec_checks_name_the_field():
    with pytest.raises(ConfigError, match=exact("Q must be <= 16, not 40")):
        FSFitSpec(Q=40)
    with pytest.raises(ConfigError, match=r"^activation must be one of swish, sigmoid, gelu, relu, not 'tanh'$"):
        FSFitSpec(activation="tanh")
    with pytest.raises(ConfigError, match=exact("lr must be a number > 0 and at most 10.0, not -1")):
        FSFitSpec(lr=-1)
    with pytest.raises(ConfigError, match=r"^target must be one of swish, sigmoid, gelu, relu, mult, not 'x'$"):
        AMOSFitSpec(target="x")
    assert AMOSFitSpec(target="mult").K == 40 and AMOSFitSpec(target="mult").x_frac_bits == 7


def test_grid_is_q_bit_twos_complement_on_minus8_8():
    assert grid_step(8) == 1 / 16 and grid_step(4) == 1
    k = to_grid([-9.0, -8.0, 0.0, 7.97, 8.0, 100.0], 8)
    assert k.tolist() == [-128, -128, 0, 128 - 1, 127, 127]


def test_error_stats_regions():
    x = np.array([-3.0, 0.0, 3.0])
    s = error_stats(np.array([1.0, 0.0, 0.0]), np.zeros(3), x, (-2, 2))
    assert s == {"mse": 1 / 3, "max": 1.0, "mse_main": 0.0, "mse_outside": 0.5}


# ------------------------------------------------------------------ exactness of the integer form

@st.composite
def fs_tables(draw):
    K = draw(st.integers(1, 8))
    tab = st.lists(st.integers(-128, 127), min_size=K, max_size=K)
    return K, draw(tab), draw(tab), draw(tab), draw(st.integers(4, 10))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(fs_tables(), st.lists(st.floats(-20, 20, allow_nan=False), min_size=1, max_size=30))
def test_integer_fs_neuron_on_floor_equals_quantized_real_neuron(tab, xs):
    """Θ(x − m·step) = Θ(⌊x/step⌋ − m): the integer neuron reproduces the real one exactly."""
    K, T, h, d, Q = tab
    step = grid_step(Q)
    x = np.array(xs)
    Z, _ = fs_forward(x, np.array(T) * step, np.array(h) * step)
    real = (np.array(d) * step) @ Z
    xi = np.floor(x / step).astype(np.int64)
    p = FSParams(K=K, x_bits=16, T=T, h=h, d=d)
    assert np.array_equal(fs_golden(p, xi).y * step, real)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.data())
def test_integer_amos_unit_equals_quantized_real_unit(data):
    """On inputs on the x grid the integer unit is the real unit with the quantized parameters."""
    K = data.draw(st.integers(1, 6))
    two = data.draw(st.booleans())
    e = st.integers(-60, 60)
    vec = st.lists(e, min_size=K, max_size=K)
    c, T, d = data.draw(vec), data.draw(vec), data.draw(vec)
    c2 = data.draw(vec) if two else None
    h = [data.draw(st.lists(e, min_size=i, max_size=i)) for i in range(K)]
    sx, sc, sd = 2.0 ** -3, 2.0 ** -5, 2.0 ** -4
    xi = np.array(data.draw(st.lists(st.integers(-40, 40), min_size=2, max_size=20)))
    x2i = xi[::-1].copy()
    p = AMOSParams(K=K, x_bits=8, x2_bits=8, c=c, T=T, d=d, h=h, c2=c2)
    y = amos_golden(p, xi, x2i if two else None).y * sd
    C = np.array([c] + ([c2] if two else []), dtype=float).T * sc
    H = np.zeros((K, K))
    for i, row in enumerate(h):
        H[i, :i] = row
    X = np.stack([xi * sx] + ([x2i * sx] if two else []))
    Z, _ = amos_forward(X, C, np.array(T) * sc * sx, H * sc * sx)
    assert np.array_equal(y, (np.array(d) * sd) @ Z)


# ------------------------------------------------------------------ package data in a wheel

def test_wheel_ships_the_tables(installed_wheel, tmp_path):
    target = installed_wheel
    code = ("import pathlib, spikeforge.models.fitted as f\n"
            "print(pathlib.Path(f.TABLES_DIR).resolve())\n"
            "print(len(list(f.TABLES_DIR.glob('*.json'))), f.find_table('fs', 'swish').params().K)\n")
    env = {**os.environ, "PYTHONPATH": str(target)}
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    folder, count, K = p.stdout.split()
    assert pathlib.Path(folder).is_relative_to(target.resolve())
    assert int(count) == len(table_names()) and K == "16"
