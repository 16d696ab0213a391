"""The fast golden paths equal the straightforward step-by-step references.

Every core keeps its literal per-step model as an oracle (``fs_steps``,
``amos_steps``, ``lif_steps``, ``if_steps``, ``ttfs_ticks``); the network
engine is compared with the per-layer engine written out below on those
oracles. Random cases cover the table, closed-form and fallback paths;
results, counts and raised errors must be identical, not just close.
"""

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import spikeforge.models.lif_run as lif_run_module
from spikeforge.models.amos import AMOSParams, amos_golden, amos_steps
from spikeforge.models.ann import ann_golden
from spikeforge.models.base import Counts, check_width, exact_matmul, floor_shift
from spikeforge.models.errors import ConfigError, WidthError
from spikeforge.models.fs import FSParams, fs_golden, fs_steps
from spikeforge.models.lfsr import LFSRParams, rate_encode, rate_spikes
from spikeforge.models.lif import LIFParams, lif_golden, lif_steps, van_rossum_classify
from spikeforge.models.network import Dense, MaxPool, Network, layer_params
from spikeforge.models.rate_if import IFParams, if_golden, if_steps
from spikeforge.models.simulate import (THREADS_ENV, LayerStats, blas_threads, golden_threads,
                                        run_network)
from spikeforge.models.registry import codings
from spikeforge.models.ttfs import (TTFSParams, times_from_values, ttfs_golden, ttfs_maxpool,
                                    ttfs_ticks)

SEEDS = range(40)


def assert_same(a, b, path="result"):
    """Equal values, dtypes and shapes, recursively (arrays, Counts, lists, dicts)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), path
        assert a.dtype == b.dtype and a.shape == b.shape, (path, a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, Counts):
        assert a == b, (path, a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (u, v) in enumerate(zip(a, b)):
            assert_same(u, v, f"{path}[{i}]")
    else:
        assert a == b, (path, a, b)


def assert_results(r, ref, fields):
    for f in fields:
        assert_same(getattr(r, f), getattr(ref, f), f)


def raised(fn, *args):
    try:
        fn(*args)
    except (WidthError, ConfigError) as e:
        return type(e), str(e)
    return None


def rand_matrix(rng, n_out, n_in, w_bits):
    wmax = (1 << (w_bits - 1)) - 1
    return rng.integers(-wmax, wmax + 1, (n_out, n_in)).tolist()


# ------------------------------------------------------------------ neurons

def rand_table(rng, K, lo, hi):
    return tuple(int(v) for v in rng.integers(lo, hi, K))


@pytest.mark.parametrize("seed", SEEDS)
def test_fs_equals_steps(seed):
    rng = np.random.default_rng(seed)
    K = int(rng.integers(1, 12))
    x_bits = int(rng.integers(2, 16))
    tables = {} if seed % 3 == 0 else {name: rand_table(rng, K, -(1 << K), 1 << K) for name in "Thd"}
    p = FSParams(K=K, x_bits=x_bits, **tables)
    lo, hi = -(1 << (x_bits - 1)), (1 << (x_bits - 1)) - 1
    x = rng.integers(lo, hi + 1, (int(rng.integers(0, 5)), 7))
    assert_results(fs_golden(p, x), fs_steps(p, x), ("z", "y", "counts"))
    x0 = np.array(int(rng.integers(lo, hi + 1)))                    # a 0-d input
    assert_results(fs_golden(p, x0), fs_steps(p, x0), ("z", "y", "counts"))
    # a declared v_bits narrower than the proof: the same error (step and value) or the same result
    q = p.replace(v_bits=max(2, p.v_width - int(rng.integers(1, 4))))
    assert raised(fs_golden, q, x) == raised(fs_steps, q, x)
    if raised(fs_steps, q, x) is None:
        assert_results(fs_golden(q, x), fs_steps(q, x), ("z", "y", "counts"))


@pytest.mark.parametrize("seed", SEEDS)
def test_amos_equals_steps(seed):
    rng = np.random.default_rng(seed)
    K = int(rng.integers(1, 10))
    x_bits = int(rng.integers(2, 14))
    kind = seed % 4
    kw = {}
    if kind >= 1:
        kw = {"c": rand_table(rng, K, -4, 5), "T": rand_table(rng, K, -(1 << K), 1 << K),
              "d": rand_table(rng, K, -(1 << K), 1 << K)}
    if kind >= 2:
        kw["h"] = tuple(rand_table(rng, i, -(1 << K), 1 << K) for i in range(K))
    if kind == 3:
        kw["c2"] = rand_table(rng, K, -3, 4)
    p = AMOSParams(K=K, x_bits=x_bits, x2_bits=x_bits, **kw)
    lo, hi = -(1 << (x_bits - 1)), (1 << (x_bits - 1)) - 1
    x = rng.integers(lo, hi + 1, (int(rng.integers(0, 5)), 6))
    x2 = rng.integers(lo, hi + 1, x.shape) if p.two_inputs else None
    assert_results(amos_golden(p, x, x2), amos_steps(p, x, x2), ("z", "y", "counts"))
    q = p.replace(u_bits=max(2, p.u_width - int(rng.integers(1, 4))))
    assert raised(amos_golden, q, x, x2) == raised(amos_steps, q, x, x2)
    if raised(amos_steps, q, x, x2) is None:
        assert_results(amos_golden(q, x, x2), amos_steps(q, x, x2), ("z", "y", "counts"))


@pytest.mark.parametrize("seed", SEEDS)
def test_ttfs_equals_ticks(seed):
    rng = np.random.default_rng(seed)
    n_in, n_out = int(rng.integers(1, 7)), int(rng.integers(1, 6))
    out_bits = None if seed % 4 == 0 else int(rng.integers(1, 6))
    p = TTFSParams(weights=rand_matrix(rng, n_out, n_in, 6), thresholds=rng.integers(-300, 800, n_out).tolist(),
                   slope_shift=int(rng.integers(0, 6)), in_bits=int(rng.integers(1, 6)), out_bits=out_bits,
                   variant=["at_most_one", "exactly_one"][seed % 2])
    t_in = rng.integers(-1, p.T0 + 1, (int(rng.integers(0, 6)), n_in))
    assert_results(ttfs_golden(p, t_in), ttfs_ticks(p, t_in), ("t_out", "y", "counts"))


# ------------------------------------------------------------- rate codings

def rand_lif(rng, **kw):
    n_in, n_out = int(rng.integers(1, 9)), int(rng.integers(1, 7))
    shifts = tuple(sorted(set(int(v) for v in rng.integers(1, 8, int(rng.integers(1, 5))))))
    return LIFParams(weights=rand_matrix(rng, n_out, n_in, 7), bias=rng.integers(-20, 21, n_out).tolist(),
                     threshold=int(rng.integers(1, 150)), leak_shifts=shifts,
                     time_steps=int(rng.integers(1, 40)), spiking=bool(rng.integers(0, 4)), **kw)


def rand_spikes(rng, shape, T, n_in):
    return (rng.random(shape + (T, n_in)) < rng.random()).astype(np.uint8)


@pytest.mark.parametrize("seed", SEEDS)
def test_lif_equals_steps(seed):
    rng = np.random.default_rng(seed)
    p = rand_lif(rng)
    shape = [(), (5,), (3, 4), (0,)][seed % 4]
    s = rand_spikes(rng, shape, p.time_steps, p.n_in)
    assert_results(lif_golden(p, s), lif_steps(p, s), ("spikes", "v", "counts"))
    q = p.replace(v_bits=max(2, p.v_width - int(rng.integers(1, 5))))
    assert raised(lif_golden, q, s) == raised(lif_steps, q, s)
    if raised(lif_steps, q, s) is None:
        assert_results(lif_golden(q, s), lif_steps(q, s), ("spikes", "v", "counts"))


def test_lif_without_table_uses_the_reference(monkeypatch):
    """States too wide for a table: the step-by-step model gives the result."""
    rng = np.random.default_rng(7)
    p = rand_lif(rng)
    s = rand_spikes(rng, (6,), p.time_steps, p.n_in)
    expect = lif_steps(p, s)
    monkeypatch.setattr(lif_run_module, "TABLE_MAX", 1)
    assert_results(lif_golden(p, s), expect, ("spikes", "v", "counts"))


def test_lif_wide_currents_take_the_int64_path():
    """A declared weight width beyond float32's exact range: the integer product, still exact."""
    rng = np.random.default_rng(3)
    p = LIFParams(weights=rand_matrix(rng, 3, 40, 6), threshold=40, time_steps=9, w_bits=20)
    s = rand_spikes(rng, (4,), 9, 40)
    assert_results(lif_golden(p, s), lif_steps(p, s), ("spikes", "v", "counts"))


def rand_lif_corner(rng):
    """A random LIF layer, one time in two a corner case: all weights zero, T = 1, the
    largest weights (inputs saturate the current), a bias above the threshold (spikes
    every step), weights too wide for two steps per product row (w_bits 12–16)."""
    kind = int(rng.integers(0, 10))
    n_in, n_out = int(rng.integers(1, 12)), int(rng.integers(1, 9))
    w_bits = int(rng.integers(12, 17)) if kind == 4 else int(rng.integers(2, 9))
    W = rand_matrix(rng, n_out, n_in, w_bits)
    if kind == 0:
        W = [[0] * n_in for _ in range(n_out)]
    if kind == 2:
        W = [[(1 << (w_bits - 1)) - 1] * n_in for _ in range(n_out)]
    threshold = int(rng.integers(1, 200))
    bias = rng.integers(-40, 41, n_out).tolist()
    if kind == 3:
        bias = [threshold + int(rng.integers(0, 5))] * n_out
    shifts = tuple(sorted(set(int(v) for v in rng.integers(1, 9, int(rng.integers(1, 5))))))
    return LIFParams(weights=W, bias=bias, threshold=threshold, leak_shifts=shifts,
                     time_steps=1 if kind == 1 else int(rng.integers(1, 40)),
                     spiking=bool(rng.integers(0, 4)), w_bits=w_bits)


def force_lif_modes(rng, monkeypatch):
    """Make the batch engine of lif_run take modes a small test would not reach: blocks of
    a few steps, two steps per product row from batch 0 or never, narrow or intp states,
    the leak of int16 states by table or by shifts, the final states of a small run by
    lookup or by addition, its scratch kept or not."""
    monkeypatch.setattr(lif_run_module, "BLOCK_ELEMS", int(rng.integers(1, 600)))
    monkeypatch.setattr(lif_run_module, "PAIR_MIN_BATCH", [0, 1 << 30][int(rng.integers(0, 2))])
    monkeypatch.setattr(lif_run_module, "SMALL_STATES", [0, 1 << 30][int(rng.integers(0, 2))])
    monkeypatch.setattr(lif_run_module, "ARITH_STATES", [0, 1 << 30][int(rng.integers(0, 2))])
    monkeypatch.setattr(lif_run_module, "VALUES_MAX", [0, 1 << 30][int(rng.integers(0, 2))])
    monkeypatch.setattr(lif_run_module, "SCRATCH_STATES", [0, 1 << 30][int(rng.integers(0, 2))])


@pytest.mark.parametrize("seed", range(100))
def test_lif_engine_modes_equal_steps(seed, monkeypatch):
    """Every mode of the batch engine equals the step-by-step model: spikes, final states,
    counts, and a narrower declared v_bits raising exactly when the reference does."""
    rng = np.random.default_rng(1000 + seed)
    force_lif_modes(rng, monkeypatch)
    p = rand_lif_corner(rng)
    n = int(rng.integers(0, 80))
    s = rand_spikes(rng, (n,), p.time_steps, p.n_in)
    if seed % 5 == 0:
        s[...] = 1                                  # every input on: the largest currents
    assert_results(lif_golden(p, s), lif_steps(p, s), ("spikes", "v", "counts"))
    q = p.replace(v_bits=max(2, p.v_width - int(rng.integers(1, 5))))
    assert raised(lif_golden, q, s) == raised(lif_steps, q, s)
    if raised(lif_steps, q, s) is None:
        assert_results(lif_golden(q, s), lif_steps(q, s), ("spikes", "v", "counts"))


def test_if_current_beyond_the_closed_form_range():
    """T·I near 2^62: the step-by-step model decides (here: the overflow of v_bits)."""
    p = IFParams(weights=(((1 << 31) - 1,),), threshold=1 << 40, time_steps=1 << 11, direct_input=True,
                 in_bits=20, w_bits=32, v_bits=62)
    x = np.array([[(1 << 20) - 1]])
    assert raised(if_golden, p, x) == raised(if_steps, p, x) != None  # noqa: E711


@pytest.mark.parametrize("golden,steps,params", [(fs_golden, fs_steps, FSParams()),
                                                 (amos_golden, amos_steps, AMOSParams())])
def test_neurons_on_empty_input(golden, steps, params):
    x = np.zeros((0, 3), dtype=np.int64)
    assert_results(golden(params, x), steps(params, x), ("z", "y", "counts"))


def rand_if(rng, direct):
    n_in, n_out = int(rng.integers(1, 9)), int(rng.integers(1, 7))
    in_bits = int(rng.integers(1, 9))
    return IFParams(weights=rand_matrix(rng, n_out, n_in, 7), bias=rng.integers(-40, 41, n_out).tolist(),
                    threshold=int(rng.integers(1, 300)), time_steps=int(rng.integers(1, 40)),
                    direct_input=direct, in_bits=in_bits, spiking=bool(rng.integers(0, 3)))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("direct", [True, False])
def test_if_equals_steps(seed, direct):
    rng = np.random.default_rng(seed)
    p = rand_if(rng, direct)
    shape = [(), (5,), (3, 4), (0,)][seed % 4]
    if direct:
        x = rng.integers(0, 1 << p.in_bits, shape + (p.n_in,))
    else:
        x = rand_spikes(rng, shape, p.time_steps, p.n_in)
    assert_results(if_golden(p, x), if_steps(p, x), ("spikes", "v", "counts"))
    q = p.replace(v_bits=max(2, p.v_width - int(rng.integers(1, 5))))
    assert raised(if_golden, q, x) == raised(if_steps, q, x)
    if raised(if_steps, q, x) is None:
        assert_results(if_golden(q, x), if_steps(q, x), ("spikes", "v", "counts"))


@pytest.mark.parametrize("current", [-7, -1, 0, 1, 5, 12, 13, 25, 26, 40])
def test_if_constant_current_closed_form(current):
    """n(t) = clip(⌊t·I/ϑ⌋, 0, t) at the edges I < 0, I = 0, 0 < I < ϑ, I = ϑ, I > ϑ."""
    p = IFParams(weights=((1,),), bias=(current,), threshold=13, time_steps=17, direct_input=True, in_bits=1)
    x = np.zeros((2, 1), dtype=np.int64)
    assert_results(if_golden(p, x), if_steps(p, x), ("spikes", "v", "counts"))


@pytest.mark.parametrize("seed", range(10))
def test_rate_spikes_are_rate_encode_time_major(seed):
    rng = np.random.default_rng(seed)
    bits = int(rng.integers(1, 17))
    x = rng.integers(0, 1 << bits, (int(rng.integers(0, 6)), int(rng.integers(1, 9))))
    T = int(rng.integers(1, 20))
    p = LFSRParams()
    np.testing.assert_array_equal(rate_spikes(p, x, bits, T).transpose(1, 0, 2), rate_encode(p, x, bits, T))


# ---------------------------------------------------------------- products

@pytest.mark.parametrize("scale", [1, 1 << 12, 1 << 26, 1 << 40])
def test_exact_matmul_equals_python_ints(scale):
    rng = np.random.default_rng(scale % 97)
    a = rng.integers(-scale, scale + 1, (3, 5, 6))
    b = rng.integers(-300, 301, (6, 4))
    expect = np.array([[[sum(int(a[i, j, k]) * int(b[k, m]) for k in range(6)) for m in range(4)]
                        for j in range(5)] for i in range(3)], dtype=np.int64)
    assert_same(exact_matmul(a, b), expect)
    assert_same(exact_matmul(a[0], b), expect[0])
    assert_same(exact_matmul(a, b, a_max=scale, b_max=1 << 40), expect)     # loose bounds: still exact


def test_exact_matmul_too_wide_raises():
    with pytest.raises(WidthError, match="^matmul accumulator: "):
        exact_matmul(np.array([[1 << 40]]), np.array([[1 << 30]]))


def test_check_width_returns_the_range():
    assert check_width("v", np.array([[3, -2], [5, 0]]), 4) == (-2, 5)
    assert check_width("v", np.zeros((0, 3)), 4) is None


# ---------------------------------------------------------------- networks

def reference_run(net, x):
    """The network engine written out layer by layer on the step-by-step core models
    (batch-major, one core call per layer, the receiving side decoded digit by digit)."""
    trace, c = {}, net.coding
    if c == "ann":
        a, stats, acts = x, [], []
        for i, layer in enumerate(net.layers):
            if isinstance(layer, MaxPool):
                a = layer.apply(a)
                if acts:
                    acts[-1] = a
                continue
            p = layer_params(net, i)
            trace[i] = a
            r = ann_golden(p, a)
            a = r.y
            if layer.out_bits is not None:
                acts.append(a)
            stats.append(LayerStats(f"dense{i}", 0, r.counts, p.op_widths))
        return a, stats, acts, trace
    if c in ("fs", "amos"):
        fs = c == "fs"
        steps_of = fs_steps if fs else amos_steps
        u, stats, acts = x, [], []
        p = (FSParams if fs else AMOSParams).relu(net.input_bits, net.input_bits + 1)
        name, owner = "input", None
        for i, layer in enumerate(net.layers):
            if isinstance(layer, MaxPool):
                u = layer.apply(u)
                if owner is not None:
                    trace[owner] = u
                continue
            r = steps_of(p, u)
            if name != "input":
                acts.append(r.y)
            own = Counts(**{**r.counts.to_dict(), "inferences": x.shape[0], "cycles": 0,
                            "synaptic_adds": r.counts.synaptic_adds - r.counts.spikes})
            stats.append(LayerStats(name, u.shape[1], own, p.op_widths))
            acc = np.zeros((x.shape[0], layer.n_out), dtype=np.int64)
            for t in range(p.K):
                part = exact_matmul(r.z[..., t].astype(np.int64), layer.W.T)
                acc = 2 * acc + part if p.is_relu else acc + p.d_table[t] * part
            acc = acc + layer.b
            check_width("acc_bits", acc, net.mac_params(i).acc_width)
            spikes_in, K = int(r.z.sum()), p.K
            recv = Counts(inferences=x.shape[0], synaptic_adds=spikes_in * layer.n_out,
                          state_updates=x.shape[0] * layer.n_out * (K if fs and p.is_relu else 1),
                          memory_reads=spikes_in * layer.n_out,
                          cycles=x.shape[0] * (K if fs else 1 + K) + spikes_in)
            stats.append(LayerStats(f"dense{i}", 0, recv, net.mac_params(i).op_widths))
            if layer.out_bits is None:
                return acc, stats, acts, trace
            u = floor_shift(acc, layer.shift)
            name, p, owner = f"neurons{i}", layer_params(net, i), i
            trace[i] = u
    if c == "ttfs":
        t = times_from_values(x, net.input_bits, net.options["variant"])
        spikes = Counts(inferences=x.shape[0], spikes=int((t >= 0).sum()))
        stats = [LayerStats("input", x.shape[1], spikes, {})]
        acts, window = [], (1 << net.input_bits) - 1
        for i, layer in enumerate(net.layers):
            if isinstance(layer, MaxPool):
                t = ttfs_maxpool(t, layer.groups)
                if acts:
                    acts[-1] = np.where(t >= 0, window - t, 0)
                if stats[-1].name == "input":
                    stats[-1].neurons = layer.n_out
                    stats[-1].counts = Counts(inferences=x.shape[0], spikes=int((t >= 0).sum()))
                continue
            p = layer_params(net, i)
            trace[i] = t
            r = ttfs_ticks(p, t)
            stats.append(LayerStats(f"dense{i}", layer.n_out if p.spiking else 0, r.counts, p.op_widths))
            if not p.spiking:
                return r.y, stats, acts, trace
            acts.append(r.y)
            t = np.where(r.t_out >= 0, r.t_out - p.T0, -1)
            window = p.B
    if c == "lif":
        o = net.options
        s = rate_encode(LFSRParams.from_dict(o["lfsr"]), x, net.input_bits, o["time_steps"])
        stats = [LayerStats("input", x.shape[1], Counts(inferences=x.shape[0], spikes=int(s.sum())), {})]
        acts = []
        for i, layer in enumerate(net.layers):
            p = layer_params(net, i)
            trace[i] = s
            r = lif_steps(p, s)
            stats.append(LayerStats(f"dense{i}", layer.n_out if p.spiking else 0, r.counts, p.op_widths))
            if layer.out_bits is None:
                if o["readout"] == "membrane":
                    return r.v, stats, acts, trace
                if o["readout"] == "vanrossum":
                    return -van_rossum_classify(r.spikes, tuple(o["leak_shifts"]))[1], stats, acts, trace
                counts = r.spikes.sum(axis=-2).astype(np.int64)
                rank = np.argsort(np.argsort(r.v, axis=-1, kind="stable"), axis=-1)
                return counts * r.v.shape[-1] + rank, stats, acts, trace
            acts.append(r.spikes.sum(axis=-2))
            s = r.spikes
    a, stats, acts = x, [], []
    for i, layer in enumerate(net.layers):
        p = layer_params(net, i)
        trace[i] = a
        r = if_steps(p, a)
        stats.append(LayerStats(f"dense{i}", layer.n_out if p.spiking else 0, r.counts, p.op_widths))
        if layer.out_bits is None:
            return r.v, stats, acts, trace
        acts.append(r.spikes.sum(axis=-2))
        a = r.spikes


def random_network(rng, coding):
    """A small random integer network in ``coding``: 1–3 dense layers, a max-pool now
    and then (not for rate codings), random core options."""
    input_bits, w_bits = int(rng.integers(1, 9)), int(rng.integers(3, 9))
    pool = coding not in ("lif", "if") and rng.random() < 0.4
    n, layers = (16 if pool else int(rng.integers(1, 9))), []
    if pool:
        layers.append(MaxPool((1, 4, 4), 2))
        n = 4
    depth = int(rng.integers(1, 4))
    for k in range(depth):
        last = k == depth - 1
        m = int(rng.integers(1, 7))
        core = {"threshold": int(rng.integers(1, 200))} if coding in ("lif", "if") else {}
        W, b = rand_matrix(rng, m, n, w_bits), rng.integers(-200, 201, m).tolist()
        if last:
            layers.append(Dense(W, b, 0, None, core))
        else:
            layers.append(Dense(W, b, int(rng.integers(0, 6)), int(rng.integers(1, 7)), core))
        n = m
    options = {}
    if coding in ("lif", "if"):
        options["time_steps"] = int(rng.integers(1, 40))
    if coding == "lif":
        options["readout"] = ["count", "membrane", "vanrossum"][int(rng.integers(0, 3))]
        options["leak_shifts"] = sorted(set(int(v) for v in rng.integers(1, 8, int(rng.integers(1, 5)))))
    if coding == "ttfs":
        options["variant"] = ["at_most_one", "exactly_one"][int(rng.integers(0, 2))]
    net = Network(coding, input_bits, tuple(layers), w_bits, options)
    x = rng.integers(0, 1 << input_bits, (int(rng.integers(1, 9)), net.n_inputs))
    return net, x


@pytest.mark.parametrize("coding", codings())
@pytest.mark.parametrize("seed", range(25))
def test_network_engine_equals_reference(coding, seed):
    net, x = random_network(np.random.default_rng(seed), coding)
    r = run_network(net, x, trace=True)
    scores, stats, acts, trace = reference_run(net, x)
    assert_same(r.scores, scores, "scores")
    assert_same(r.predictions, np.argmax(scores, axis=-1), "predictions")
    assert_same([(s.name, s.neurons, s.counts, s.widths) for s in r.layers],
                [(s.name, s.neurons, s.counts, s.widths) for s in stats], "layers")
    assert_same(r.activations, acts, "activations")
    assert_same(r.layer_inputs, trace, "layer_inputs")
    assert_same(run_network(net, x).scores, scores, "scores without trace")
    for i in range(x.shape[0]):                         # batch 1, the co-simulation's case
        assert_same(run_network(net, x[i:i + 1]).scores, scores[i:i + 1], f"scores[{i}]")


@pytest.mark.parametrize("coding", codings())
def test_network_input_width_error_names_the_value(coding):
    """An input below 0 or beyond input_bits raises check_width's error (the value named),
    whichever side and however many inputs; the largest value in range runs."""
    net, x = random_network(np.random.default_rng(5), coding)
    top = (1 << net.input_bits) - 1
    run_network(net, np.full_like(x, top))
    for bad in (-1, top + 1, -(1 << 40), 1 << 40):
        for rows in (1, 3, 40):
            y = np.resize(x, (rows, x.shape[1]))
            y[-1, -1] = bad
            expect = raised(check_width, "input_bits", y, net.input_bits, False)
            assert expect is not None and raised(run_network, net, y) == expect


@pytest.mark.parametrize("coding", ["lif", "if"])
@pytest.mark.parametrize("seed", range(6))
def test_network_rate_fallback_equals_reference(coding, seed, monkeypatch):
    """No state table fits: the engine runs the step-by-step models and still agrees."""
    import spikeforge.models.rate_if as if_module
    monkeypatch.setattr(lif_run_module, "TABLE_MAX", 1)
    monkeypatch.setattr(if_module, "TABLE_MAX", 1)
    net, x = random_network(np.random.default_rng(100 + seed), coding)
    r = run_network(net, x, trace=True)
    scores, stats, acts, trace = reference_run(net, x)
    assert_same(r.scores, scores, "scores")
    assert_same([s.counts for s in r.layers], [s.counts for s in stats], "counts")
    assert_same(r.activations, acts, "activations")
    assert_same(r.layer_inputs, trace, "layer_inputs")


@pytest.mark.parametrize("seed", range(30))
def test_network_lif_engine_modes_equal_reference(seed, monkeypatch):
    """Whole lif networks (every readout) with the batch engine's modes forced, batch and
    batch 1 alike, against the layer-by-layer step-by-step run."""
    rng = np.random.default_rng(2000 + seed)
    force_lif_modes(rng, monkeypatch)
    net, x = random_network(rng, "lif")
    if seed % 3 == 0:
        x = np.resize(x, (int(rng.integers(60, 140)), x.shape[1]))
    r = run_network(net, x, trace=True)
    scores, stats, acts, trace = reference_run(net, x)
    assert_same(r.scores, scores, "scores")
    assert_same([s.counts for s in r.layers], [s.counts for s in stats], "counts")
    assert_same(r.activations, acts, "activations")
    assert_same(r.layer_inputs, trace, "layer_inputs")
    for i in range(min(3, x.shape[0])):
        assert_same(run_network(net, x[i:i + 1]).scores, scores[i:i + 1], f"scores[{i}]")


def test_lif_network_runs_in_threads_equal_one_by_one():
    """Batch-1 lif runs (their states in a scratch array per thread) from several threads
    at once give the results of the runs one by one."""
    from concurrent.futures import ThreadPoolExecutor
    net, x = random_network(np.random.default_rng(31), "lif")
    x = np.resize(x, (48, x.shape[1]))
    one = [run_network(net, x[i:i + 1]).scores for i in range(len(x))]
    with ThreadPoolExecutor(4) as pool:
        many = list(pool.map(lambda i: run_network(net, x[i:i + 1]).scores, range(len(x))))
    assert_same(many, one)


@pytest.mark.parametrize("seed", range(10))
def test_rate_input_of_few_inputs_equals_rate_spikes(seed):
    """The network's rate encoder on a few inputs (one comparison with the cached draws)
    equals rate_spikes, whatever T, width and batch."""
    from spikeforge.models.simulate import FEW_INPUTS, _rate_input
    rng = np.random.default_rng(seed)
    lfsr = {"type": "lfsr", "width": 16, "taps": [16, 15, 13, 4], "seed": int(rng.integers(1, 1 << 16)),
            "leap": int(rng.integers(1, 20))}
    T, bits, n_in = int(rng.integers(1, 40)), int(rng.integers(1, 17)), int(rng.integers(1, 20))
    for rows in (0, 1, FEW_INPUTS, FEW_INPUTS + 1):
        x = rng.integers(0, 1 << bits, (rows, n_in))
        assert_same(_rate_input({"lfsr": lfsr}, x, bits, T),
                    rate_spikes(LFSRParams.from_dict(lfsr), x, bits, T))


def test_stepped_states_detects_a_state_outside_the_table():
    rng = np.random.default_rng(11)
    p = LIFParams(weights=rand_matrix(rng, 4, 6, 6), bias=(30, 30, 30, 30), threshold=1000, time_steps=12)
    s_t = np.ones((12, 3, 6), dtype=bool)
    lo, hi = p.v_interval
    table = lambda dtype: lif_run_module._lif_table(p.leak_shifts, p.threshold, lo, hi, dtype)  # noqa: E731
    assert lif_run_module.stepped_states(p, s_t, table, lo, hi) is not None
    narrow = lambda dtype: lif_run_module._lif_table(p.leak_shifts, p.threshold, -1, 1, dtype)  # noqa: E731
    assert lif_run_module.stepped_states(p, s_t, narrow, -1, 1) is None


@pytest.mark.parametrize("run", ["_small_run", "_table_run"])
@pytest.mark.parametrize("side", ["above", "below"])
def test_lif_engine_detects_a_state_outside_the_table(run, side, monkeypatch):
    """A plan whose table is too narrow for the states (impossible with the proven
    interval, forced here): the batch engine returns None, whichever side they leave by."""
    import copy
    monkeypatch.setattr(lif_run_module, "SMALL_STATES", 0 if run == "_table_run" else 1 << 30)
    monkeypatch.setattr(lif_run_module, "ARITH_STATES", 1 << 30)
    rng = np.random.default_rng(12)
    p = LIFParams(weights=rand_matrix(rng, 4, 6, 6), bias=(30, 30, 30, 30), threshold=1000, time_steps=12)
    s_t = np.ones((12, 3, 6), dtype=bool) if side == "above" else np.zeros((12, 3, 6), dtype=bool)
    plan = lif_run_module._plan(p)
    assert getattr(lif_run_module, run)(plan, s_t) is not None
    narrow = copy.copy(plan)
    narrow._unsigned = {}
    if side == "above":                             # bias 30 every step: the states grow past 2
        narrow.hi, narrow.ulim = plan.lo + 2, 2
    else:                                           # the domain starts above every state
        narrow.lo = narrow.hi - 3
        narrow.ulim = 3
        narrow.off = (p.b - narrow.lo).astype(np.float32)
    narrow.key = (plan.shifts, plan.th, narrow.lo, narrow.hi)
    narrow.small_unsigned = narrow.unsigned(np.intp)
    assert getattr(lif_run_module, run)(narrow, s_t) is None


def test_if_direct_fallback_in_the_network(monkeypatch):
    """The closed form declined: the direct-input layer runs step by step."""
    import spikeforge.models.rate_if as if_module
    monkeypatch.setattr(if_module, "_constant", lambda p, x: None)
    net, x = random_network(np.random.default_rng(4), "if")
    scores, stats, acts, trace = reference_run(net, x)
    r = run_network(net, x, trace=True)
    assert_same(r.scores, scores, "scores")
    assert_same([s.counts for s in r.layers], [s.counts for s in stats], "counts")
    assert_same(r.layer_inputs, trace, "layer_inputs")


@pytest.mark.parametrize("coding", ["fs", "amos"])
def test_digits_receive_falls_back_to_the_digit_decode(coding, monkeypatch):
    """W·y beyond the product's range: the receiving side decodes the spikes step by step."""
    import spikeforge.models.simulate as sim

    def strict(a, b, a_max=None, b_max=None):
        if b_max is not None:
            raise WidthError("matmul accumulator", 1 << 62, -(1 << 62), (1 << 62) - 1)
        return exact_matmul(a, b)
    net, x = random_network(np.random.default_rng(5), coding)
    expect = reference_run(net, x)
    monkeypatch.setattr(sim, "exact_matmul", strict)
    r = run_network(net, x)
    assert_same(r.scores, expect[0], "scores")
    assert_same([s.counts for s in r.layers], [s.counts for s in expect[1]], "counts")


# ------------------------------------------------------------------ threads

def blas_thread_counts():
    return [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]


def test_threads_knob(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert golden_threads() == 1
    assert golden_threads(3) == 3
    monkeypatch.setenv(THREADS_ENV, "0")
    assert golden_threads() == 0
    monkeypatch.setenv(THREADS_ENV, "many")
    with pytest.raises(ConfigError, match=f"^{THREADS_ENV} must be a whole number"):
        golden_threads()
    with pytest.raises(ConfigError, match="^threads must be >= 0"):
        golden_threads(-1)


def test_blas_threads_limits_and_restores():
    before = blas_thread_counts()
    with blas_threads(1):
        assert all(n == 1 for n in blas_thread_counts())
        with blas_threads(1):
            pass
        assert all(n == 1 for n in blas_thread_counts())
    assert blas_thread_counts() == before
    with blas_threads(0):
        assert blas_thread_counts() == before


def test_run_network_threads_argument():
    net, x = random_network(np.random.default_rng(1), "ann")
    x = np.resize(x, (5000, x.shape[1]))
    before = blas_thread_counts()
    expect = run_network(net, x, threads=0).scores
    assert_same(run_network(net, x, threads=1).scores, expect)
    assert_same(run_network(net, x, threads=2).scores, expect)
    assert blas_thread_counts() == before
