"""Golden run of a whole :class:`~spikeforge.models.network.Network`.

Each coding has an engine that moves its own representation between layers
and calls the core golden models:

- ``ann``: integer activations; the MAC core per layer.
- ``fs``: input values are sent as FS spikes (binary digits, MSB first, K =
  input_bits). A receiving layer accumulates MSB first by Horner's rule,
  acc ← 2·acc + Σ_j W_ij·z_j(t), then adds the bias; its FS neurons take
  acc >> shift. (Tables other than ReLU are decoded as Σ_t d(t)·W·z(t).)
- ``amos``: like fs, but all K digits arrive at once from an AMOS unit and
  the receiver adds Σ_i d_i·W·z_i.
- ``ttfs``: spike ticks, local to each layer; max-pool = earliest spike.
- ``lif``: LFSR rate-encoded input spikes, shift-and-add LIF layers; readout
  by spike count (ties broken by the final membrane), final membrane of a
  non-spiking output layer, or van Rossum distance.
- ``if``: direct (constant) input into the first layer, soft-reset IF layers,
  non-spiking output integrator read at T.

Predicted cycles: layers run one after another, so an inference's cycles are
the sum over layers. Layers built from a layer core (ttfs, lif, if, ann) take
the cycles of that core's RTL, which the co-simulation tests measure and the
core's parameter object documents (e.g. ``TTFSParams.cycle_count``). For fs
and amos, whose RTL core is the neuron, the receiving side is modelled: all
neurons of a layer in parallel, one incoming spike per cycle plus one cycle
per step (fs: spikes_in + K_in, Horner doubling per step; amos: spikes_in +
1 + K, the unit's pipeline).

Threads: the golden run's exact products go through floating-point BLAS
(:func:`~spikeforge.models.base.exact_matmul`). They are small, and BLAS
threads competing with another busy process for the cores cost far more than
they gain, so a run limits BLAS to ``threads`` threads: the argument of
:func:`run_network`, else the environment variable ``SPIKEFORGE_THREADS``,
else 1. ``0`` leaves BLAS's own setting (all cores). The limit holds for the
duration of the run only (:func:`blas_threads`, via threadpoolctl).

See docs/network.md.
"""

from __future__ import annotations

import copy
import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .amos import AMOSParams, amos_golden, amos_run
from .ann import ann_golden
from .base import Counts, check_int, check_int_array, check_width, exact_matmul, floor_shift
from .errors import ConfigError, WidthError
from .fs import FSParams, fs_golden, fs_run
from .lif import lif_run, van_rossum_classify
from .lfsr import LFSRParams, lfsr_draws, rate_spikes
from .registry import get_core
from .network import MaxPool, Network, layer_params
from .rate_if import if_run
from .ttfs import times_from_values, ttfs_golden, ttfs_maxpool

__all__ = ["LayerStats", "NetworkResult", "run_network", "blas_threads", "golden_threads",
           "THREADS_ENV", "DEFAULT_THREADS"]

#: Environment variable with the BLAS thread count of golden runs (``0``: BLAS's own).
THREADS_ENV = "SPIKEFORGE_THREADS"
#: BLAS threads of a golden run when neither the argument nor the variable sets them.
DEFAULT_THREADS = 1


@dataclass
class LayerStats:
    """Counts of one stage of a network run.

    ``neurons``: neurons whose spikes are counted here (0 for pure accumulators);
    ``widths``: bit widths of the operations, for the energy proxy
    (``add`` synaptic adder, ``state`` neuron state, ``mult`` multiplier,
    ``word`` memory word).
    """

    name: str
    neurons: int
    counts: Counts
    widths: dict = field(default_factory=dict)


@dataclass
class NetworkResult:
    """Scores (batch, classes), predicted classes, per-layer stats and, per
    dense hidden layer, the decoded integer activations. With ``trace``,
    ``layer_inputs[i]`` holds what the core of dense layer i receives, in that
    core's own input format (activations, spike ticks, spike trains; for
    fs/amos the pre-activations entering layer i's neurons)."""

    scores: np.ndarray
    predictions: np.ndarray
    layers: list
    activations: list
    layer_inputs: dict = field(default_factory=dict)

    @property
    def total(self) -> Counts:
        c = Counts()
        for s in self.layers:
            c = c + Counts(**{**s.counts.to_dict(), "inferences": 0})
        return Counts(**{**c.to_dict(), "inferences": self.layers[0].counts.inferences})

    def spikes_per_neuron(self):
        """Spikes per neuron per inference over all spiking stages (input included)."""
        n = sum(s.neurons for s in self.layers)
        spikes = sum(s.counts.spikes for s in self.layers)
        return spikes / max(1, n) / max(1, self.layers[0].counts.inferences)


def _check_input(net, x):
    x = check_int_array("x", x)
    if x.ndim != 2 or x.shape[1] != net.n_inputs:
        raise ConfigError(f"input must have shape (batch, {net.n_inputs}), not {x.shape}")
    # one pass: as unsigned, a negative value is above every width; check_width names the culprit
    if x.size and int(np.maximum.reduce(x.view(np.uint64), axis=None)) >> net.input_bits:
        check_width("input_bits", x, net.input_bits, signed=False)
    return x


# ---------------------------------------------------------------- threads

def golden_threads(threads=None):
    """The BLAS thread count of a golden run: ``threads`` if given, else the environment
    variable :data:`THREADS_ENV` (``SPIKEFORGE_THREADS``), else :data:`DEFAULT_THREADS`.
    ``0`` means BLAS's own setting (no limit)."""
    if threads is None:
        text = os.environ.get(THREADS_ENV, "").strip()
        if not text:
            return DEFAULT_THREADS
        try:
            threads = int(text)
        except ValueError:
            raise ConfigError(f"{THREADS_ENV} must be a whole number >= 0 (0: BLAS's own "
                              f"thread count), not {text!r}") from None
    return check_int("threads", threads, 0, 4096)


#: Multiply-adds below which BLAS computes a product on one thread anyway (OpenBLAS
#: threads a product only above 2^18), so that a run of only such products needs no limit.
_SMALL_PRODUCT = 1 << 17

_blas = {"libs": None, "depth": 0, "saved": ()}
_blas_lock = threading.Lock()


def _blas_libs():
    if _blas["libs"] is None:
        try:
            from threadpoolctl import ThreadpoolController
            _blas["libs"] = tuple(ThreadpoolController().select(user_api="blas").lib_controllers)
        except (ImportError, OSError):          # no introspection: leave BLAS alone
            _blas["libs"] = ()
    return _blas["libs"]


class blas_threads:
    """Context manager: BLAS uses at most :func:`golden_threads` (``threads``) threads inside.

    Nested and concurrent uses share one limit, set by the first to enter and
    lifted when the last leaves; ``0`` changes nothing. Costs a few microseconds.
    """

    def __init__(self, threads=None):
        self.threads = golden_threads(threads)
        self.libs = _blas_libs() if self.threads else ()

    def __enter__(self):
        if self.libs:
            with _blas_lock:
                if _blas["depth"] == 0:
                    _blas["saved"] = tuple(lib.get_num_threads() for lib in self.libs)
                    for lib in self.libs:
                        lib.set_num_threads(self.threads)
                _blas["depth"] += 1
        return self.threads

    def __exit__(self, *exc):
        if self.libs:
            with _blas_lock:
                _blas["depth"] -= 1
                if _blas["depth"] == 0:
                    for lib, n in zip(self.libs, _blas["saved"]):
                        lib.set_num_threads(n)
        return False


# ---------------------------------------------------------------- engines

def run_ann(net, x, trace):
    a, stats, acts = x, [], []
    for i, layer in enumerate(net.layers):
        if isinstance(layer, MaxPool):
            a = layer.apply(a)
            if acts:
                acts[-1] = a
            continue
        p = layer_params(net, i)
        if trace is not None:
            trace[i] = a
        r = ann_golden(p, a)
        a = r.y
        if layer.out_bits is not None:
            acts.append(a)
        stats.append(LayerStats(f"dense{i}", 0, r.counts, p.op_widths))
    return a, stats, acts


def _decode_digits(z, W, d, horner):
    """Σ_t d(t)·(W·z(t)) over spikes z (batch, n_in, K); Horner's rule when d = 2^(K−t).

    The reference of the receiving side; :func:`_run_digits` computes the same sum as
    W·y, y = Σ_t d(t)·z(t) the decoded values (the identity is exact in integers)."""
    K = z.shape[-1]
    acc = np.zeros((z.shape[0], W.shape[0]), dtype=np.int64)
    for t in range(K):
        part = exact_matmul(z[..., t].astype(np.int64), W.T)
        acc = 2 * acc + part if horner else acc + d[t] * part
    return acc


@lru_cache(maxsize=64)
def _input_neuron(fs, bits):
    """The input layer's ReLU neuron: K = input_bits, fed with the (pooled) input values."""
    return (FSParams if fs else AMOSParams).relu(bits, bits + 1)


@lru_cache(maxsize=256)
def _neuron_info(p):
    """``(is_relu, op_widths)`` of an fs/amos neuron, once per parameter set."""
    return p.is_relu, p.op_widths


def _receive(net, i, p, r, u, fs):
    """Σ_t d(t)·W·z(t) + b of dense layer i: W·y, y = Σ_t d(t)·z(t) decoded; the Horner
    decode of the spikes if that product's bound were beyond the int64 range."""
    layer = net.layers[i]
    try:
        return exact_matmul(r.y, layer.W.T, b_max=1 << (net.w_bits - 1)) + layer.b
    except WidthError:
        z = (fs_golden(p, u) if fs else amos_golden(p, u)).z
        return _decode_digits(z, layer.W, p.d_table, horner=p.is_relu) + layer.b


def run_fs(net, x, trace):
    """fs: binary-digit spike codes, time-multiplexed (see :func:`_run_digits`)."""
    return _run_digits(net, x, trace, fs=True)


def run_amos(net, x, trace):
    """amos: binary-digit spike codes, space-multiplexed (see :func:`_run_digits`)."""
    return _run_digits(net, x, trace, fs=False)


def _run_digits(net, x, trace, fs):
    """fs and amos: binary-digit spike codes, time- or space-multiplexed.

    The neurons of a layer emit while the next layer receives, so their
    cycles are counted once, on the receiving side; their synaptic adds too.
    """
    run = fs_run if fs else amos_run
    u, stats, acts, batch = x, [], [], x.shape[0]
    name, p, owner = "input", _input_neuron(fs, net.input_bits), None
    for i, layer in enumerate(net.layers):
        if isinstance(layer, MaxPool):
            u = layer.apply(u)
            if owner is not None and trace is not None:
                trace[owner] = u
            continue
        r = run(p, u, spikes=False)
        if name != "input":
            acts.append(r.y)
        c = r.counts
        relu, widths = _neuron_info(p)
        own = Counts(inferences=batch, spikes=c.spikes, synaptic_adds=c.synaptic_adds - c.spikes,
                     state_updates=c.state_updates, multiplications=c.multiplications,
                     memory_reads=c.memory_reads, cycles=0)
        stats.append(LayerStats(name, u.shape[1], own, dict(widths)))
        # receiving side of dense layer i
        mac = net.mac_params(i)
        acc = _receive(net, i, p, r, u, fs)
        check_width("acc_bits", acc, mac.acc_width)
        spikes_in, K_in = c.spikes, p.K
        steps = K_in if fs else 1 + K_in
        recv = Counts(inferences=batch, synaptic_adds=spikes_in * layer.n_out,
                      state_updates=batch * layer.n_out * (K_in if fs and relu else 1),
                      memory_reads=spikes_in * layer.n_out, cycles=batch * steps + spikes_in)
        stats.append(LayerStats(f"dense{i}", 0, recv, mac.op_widths))
        if layer.out_bits is None:
            return acc, stats, acts
        u = floor_shift(acc, layer.shift)
        name, p, owner = f"neurons{i}", layer_params(net, i), i
        if trace is not None:
            trace[i] = u                   # before a max-pool; replaced below if one follows
    raise ConfigError("network has no output layer")  # unreachable: validated


def run_ttfs(net, x, trace):
    variant = net.options["variant"]
    t = times_from_values(x, net.input_bits, variant)
    spikes = int(np.count_nonzero(t >= 0))
    stats = [LayerStats("input", x.shape[1], Counts(inferences=x.shape[0], spikes=spikes), {})]
    acts, window = [], (1 << net.input_bits) - 1
    for i, layer in enumerate(net.layers):
        if isinstance(layer, MaxPool):
            t = ttfs_maxpool(t, layer.groups)
            if acts:
                acts[-1] = np.where(t >= 0, window - t, 0)
            if stats[-1].name == "input":     # pooled input spikes are the ones sent on
                stats[-1].neurons = layer.n_out
                stats[-1].counts = Counts(inferences=x.shape[0], spikes=int(np.count_nonzero(t >= 0)))
            continue
        p = layer_params(net, i)
        if trace is not None:
            trace[i] = t
        r = ttfs_golden(p, t)
        stats.append(LayerStats(f"dense{i}", layer.n_out if p.spiking else 0, r.counts, p.op_widths))
        if not p.spiking:
            return r.y, stats, acts
        acts.append(r.y)
        t = np.where(r.t_out >= 0, r.t_out - p.T0, -1)     # into the next layer's local time
        window = p.B
    raise ConfigError("network has no output layer")


_LFSRS = {}
#: Inputs up to which the rate encoder's spikes are one comparison with its cached draws.
FEW_INPUTS = 16


def _lfsr(options):
    """The LFSR of the rate encoder of ``options["lfsr"]`` and a dict for its draws, built
    once per such dict."""
    d = options["lfsr"]
    hit = _LFSRS.get(id(d))
    if hit is None or hit[0] != d:
        if len(_LFSRS) > 64:
            _LFSRS.clear()
        hit = _LFSRS[id(d)] = (copy.deepcopy(d), LFSRParams.from_dict(d), {})
    return hit[1], hit[2]


def _rate_input(options, x, bits, T):
    """The rate-coded input spikes (T, batch, n_in) bool of checked inputs ``x``:
    :func:`~spikeforge.models.lfsr.rate_spikes`; a few inputs (batch 1) by one comparison
    x_j > r_(t,j) with the encoder's draws (T, 1, n_in), kept per (T, n_in, bits)."""
    p, draws = _lfsr(options)
    if x.shape[0] > FEW_INPUTS or bits > p.width:      # (rate_spikes refuses the latter)
        return rate_spikes(p, x, bits, T)
    key = (T, x.shape[1], bits)
    r = draws.get(key)
    if r is None:
        r = draws[key] = lfsr_draws(p, T * x.shape[1], bits).reshape(T, 1, x.shape[1])
    return np.greater(x, r)


def _batch_major(spikes):
    """Time-major spikes (T, batch, n) as the cores' batch-major uint8 (batch, T, n)."""
    return np.ascontiguousarray(spikes.transpose(1, 0, 2)).view(np.uint8)


def run_lif(net, x, trace):
    """LIF layers run time-major (:func:`~spikeforge.models.lif.lif_run`); ``trace`` gets
    the cores' batch-major spike trains."""
    o = net.options
    T = o["time_steps"]
    s = _rate_input(o, x, net.input_bits, T)                        # (T, batch, n_in)
    n_spikes = int(np.count_nonzero(s))
    stats = [LayerStats("input", x.shape[1], Counts(inferences=x.shape[0], spikes=n_spikes), {})]
    acts = []
    for i, layer in enumerate(net.layers):
        p = layer_params(net, i)
        if trace is not None:
            trace[i] = _batch_major(s)
        r = lif_run(p, s, n_spikes)
        stats.append(LayerStats(f"dense{i}", layer.n_out if p.spiking else 0, r.counts, p.op_widths))
        if layer.out_bits is None:
            readout = o["readout"]
            if readout == "membrane":
                return r.v, stats, acts
            if readout == "vanrossum":
                _, dist = van_rossum_classify(_batch_major(r.spikes()), tuple(o["leak_shifts"]))
                return -dist, stats, acts
            return _count_scores(_spike_sums(r.spikes(), np.int64), r.v), stats, acts
        s, n_spikes = r.spikes(), r.counts.spikes
        acts.append(_spike_sums(s, np.uint64))        # the dtype of a uint8 spike train's sum
    raise ConfigError("network has no output layer")


def _spike_sums(spikes, dtype):
    """Spikes per neuron (batch, n) of a time-major bool train (T, batch, n), as ``dtype``
    (summed in the narrowest type that holds T, which is the fast one)."""
    acc = np.int16 if len(spikes) < 1 << 15 else np.int32
    return np.add.reduce(spikes.view(np.uint8), axis=0, dtype=acc).astype(dtype)


def _count_scores(counts, v):
    """Spike count first, final membrane as tie-break, folded into one integer score."""
    rank = v.argsort(axis=-1, kind="stable").argsort(axis=-1)           # 0..C−1 by membrane
    return np.multiply(counts, v.shape[-1], dtype=np.int64) + rank


def run_if(net, x, trace):
    """IF layers run time-major (:func:`~spikeforge.models.rate_if.if_run`); a layer's spike
    trains are made only if a spiking layer (or ``trace``) reads them."""
    src, stats, acts = x, [], []
    for i, layer in enumerate(net.layers):
        p = layer_params(net, i)
        if trace is not None:
            trace[i] = src if i == 0 else _batch_major(src.spikes())
        r = if_run(p, src)
        stats.append(LayerStats(f"dense{i}", layer.n_out if p.spiking else 0, r.counts, p.op_widths))
        if layer.out_bits is None:
            return r.v, stats, acts
        acts.append(r.totals().astype(np.uint64))
        src = r
    raise ConfigError("network has no output layer")


def run_network(net: Network, x, trace=False, threads=None) -> NetworkResult:
    """Golden run of ``net`` on inputs ``x`` (batch, n_inputs) of unsigned ints.

    ``trace`` keeps every dense layer's input (see :class:`NetworkResult`).
    ``threads``: BLAS threads during the run (see :func:`golden_threads`: default
    ``$SPIKEFORGE_THREADS``, else 1; 0 leaves BLAS's own setting).
    """
    if not isinstance(net, Network):
        raise ConfigError(f"expected a Network, not {type(net).__name__}")
    x = _check_input(net, x)
    limit = blas_threads(threads)
    rows = x.shape[0] * (net.options["time_steps"] if get_core(net.coding).time_steps else 1)
    if rows * max(l.n_in * l.n_out for l in net.layers) < _SMALL_PRODUCT:
        return _run(net, x, trace)          # BLAS runs products this small on one thread
    with limit:
        return _run(net, x, trace)


def _run(net, x, trace):
    inputs = {} if trace else None
    scores, stats, acts = get_core(net.coding).resolve("run")(net, x, inputs)
    return NetworkResult(scores=scores, predictions=np.argmax(scores, axis=-1), layers=stats,
                         activations=acts, layer_inputs=inputs if trace else {})
