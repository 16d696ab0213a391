"""Fitting FS neurons to an activation function (front-end, float; Stöckl & Maass 2021, §1.2.1, §1.5).

The FS neuron with real tables T, h, d (eqs. 1–3)::

    v(1) = x;   z(t) = Θ(v(t) − T(t));   v(t+1) = v(t) − h(t)·z(t);   f̂(x) = Σ_t d(t)·z(t)

is fitted to f on an interval [lo, hi] by gradient descent through the K
steps (backpropagation through time) with the triangle pseudo-derivative
(:func:`~spikeforge.models.fit_common.triangle`) in place of Θ', minimizing
the weighted squared error on a grid of x (more weight on the activation's
main region, as §1.2.1 does for Swish on [−2, 2]).

Procedure (:func:`fit_fs`), deterministic for a seed:

1. Two starting points, each jittered by the seeded generator: a *ramp* —
   the bit-shift tables over [lo, hi], T(t) = lo + R·2^−t, h(t) = R·2^−t,
   R = hi − lo — and a *ReLU* start, the bit-shift ReLU tables
   T = h = P·2^−t with P = 2^⌈log2 hi⌉ (§1.2.2). For each, d by weighted least
   squares, then ``steps`` Adam steps on T, h, d; the start with the smaller
   loss is kept, and d is refitted by least squares.
2. Quantization to Q bits (§1.5): every entry to the grid k·2^(4−Q),
   k a signed Q-bit integer (:func:`~spikeforge.models.fit_common.to_grid`);
   d refitted on the quantized spikes, rounded, and improved by exact integer
   coordinate descent (:func:`~spikeforge.models.fit_common.integer_lstsq`). Then ``qat_steps`` of
   quantization-aware fine-tuning (forward pass with the quantized tables,
   gradients to the real ones: the straight-through estimator); the better of
   the two quantized tables is kept.
3. The integer neuron: tables T, h, d = the integers k, input x_int =
   ⌊x / 2^(4−Q)⌋, output f̂ = y·2^(4−Q). Because every T(t) + Σ h(j)·z(j) is a
   multiple of the step, Θ(x − that) = Θ(⌊x/step⌋ − its integer), so the
   integer neuron on ⌊x/step⌋ reproduces the quantized real neuron *exactly*
   for every real x — the input quantization adds no error.

The reported errors of the quantized tables are measured by the integer
golden model (:func:`~spikeforge.models.fs.fs_golden`) on a fine grid of real
x, not by the float code. The naive baseline (:func:`naive_fs`) has uniform
thresholds and no reset (a K-step staircase, d by least squares).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .activations import get_activation
from .base import check_int, signed_bits
from .fit_common import (Adam, Q_RANGE, check_positive, error_stats, grid_step, integer_lstsq, loss_grid,
                         to_grid, triangle, weighted_lstsq)
from .fs import MAX_K, FSParams, fs_golden

__all__ = ["FSFitSpec", "FSFit", "fit_fs", "quantize_tables", "naive_fs", "fs_forward", "fs_error",
           "EVAL_POINTS"]

#: points of the evaluation grid on the fitting interval (errors are measured there)
EVAL_POINTS = 20001


@dataclass(frozen=True)
class FSFitSpec:
    """What to fit and how (see the module docstring).

    Parameters
    ----------
    activation : str
        A name of :data:`~spikeforge.models.activations.ACTIVATIONS`.
    K : int, optional
        Time steps; omitted: the activation's ``fs_K`` (Swish 16, sigmoid 12, GELU 16).
    Q : int
        Bits per table entry, 2..16. Default 8.
    steps, qat_steps : int
        Adam steps of the real fit and of the quantization-aware fine-tuning.
    lr : float
        Adam step size. Default 0.01.
    width : float
        Half-width ε of the triangle pseudo-derivative, in units of x. Default 0.5.
    seed : int
        Seed of the jitter of the starting points. Default 0.
    points : int
        Points of the loss grid. Default 4001.
    """

    activation: str = "swish"
    K: int | None = None
    Q: int = 8
    steps: int = 2000
    qat_steps: int = 600
    lr: float = 0.01
    width: float = 0.5
    seed: int = 0
    points: int = 4001

    def __post_init__(self):
        act = get_activation(self.activation)
        if self.K is None:
            object.__setattr__(self, "K", act.fs_K)
        check_int("K", self.K, 1, MAX_K)
        check_int("Q", self.Q, *Q_RANGE)
        check_int("steps", self.steps, 0, 10 ** 6)
        check_int("qat_steps", self.qat_steps, 0, 10 ** 6)
        check_positive("lr", self.lr, 10.0)
        check_positive("width", self.width, 100.0)
        check_int("seed", self.seed, 0, 2 ** 32 - 1)
        check_int("points", self.points, 16, 10 ** 6)

    def to_dict(self):
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class FSFit:
    """A fitted FS neuron: real tables, integer tables on the Q-bit grid and their errors.

    ``T``, ``h``, ``d`` are the integer tables (units of ``step`` = 2^(4−Q));
    ``real`` holds the unquantized tables; ``error`` the errors of the integer
    neuron, ``error_real`` of the real one, ``error_naive`` of the uniform-threshold
    staircase (real, unquantized), all on :data:`EVAL_POINTS` points of the interval.
    """

    spec: FSFitSpec
    interval: tuple
    main: tuple | None
    T: tuple
    h: tuple
    d: tuple
    real: dict
    error: dict
    error_real: dict
    error_naive: dict
    start: str
    history: dict = field(default_factory=dict)

    @property
    def step(self):
        """The grid step 2^(4−Q): the LSB of x, of the tables and of f̂."""
        return grid_step(self.spec.Q)

    @property
    def x_bits(self):
        """Signed width of ⌊x/step⌋ over the fitting interval."""
        lo, hi = (int(np.floor(v / self.step)) for v in self.interval)
        return signed_bits(lo, hi)

    def params(self, x_bits=None):
        """The integer neuron as :class:`~spikeforge.models.fs.FSParams` (x_bits: default
        the fitting interval's)."""
        return FSParams(K=self.spec.K, x_bits=self.x_bits if x_bits is None else x_bits,
                        T=self.T, h=self.h, d=self.d)


def fs_forward(x, T, h):
    """Spikes Z (K × N, float 0/1) and the compared values U = v(t) − T(t) of the real neuron."""
    K = len(T)
    v = np.array(x, dtype=np.float64)
    Z = np.empty((K,) + v.shape)
    U = np.empty_like(Z)
    for t in range(K):
        U[t] = v - T[t]
        Z[t] = U[t] >= 0
        v = v - h[t] * Z[t]
    return Z, U


def _loss_and_grads(x, y, w, T, h, d, width):
    """Weighted squared error and its gradients by backpropagation through the K steps."""
    Z, U = fs_forward(x, T, h)
    e = np.einsum("k,kn->n", d, Z) - y
    gy = 2.0 * w * e
    gd = np.einsum("kn,n->k", Z, gy)
    gT, gh, gv = np.empty(len(T)), np.empty(len(T)), np.zeros_like(x)
    for t in range(len(T) - 1, -1, -1):
        du = (gy * d[t] - gv * h[t]) * triangle(U[t], width)     # dL/dz(t) · Θ'
        gT[t] = -du.sum()
        gh[t] = -(gv * Z[t]).sum()
        gv = gv + du                                             # v(t) feeds u(t) and v(t+1)
    return float(np.sum(w * e * e)), (gT, gh, gd)


def _train(x, y, w, params, steps, lr, width, Q=None):
    """Adam on [T, h, d] in place; with ``Q`` the forward pass sees the quantized tables."""
    opt = Adam(params, lr)
    step = None if Q is None else grid_step(Q)
    for _ in range(steps):
        used = params if Q is None else [to_grid(p, Q) * step for p in params]
        _, grads = _loss_and_grads(x, y, w, *used, width)
        opt.step(grads)
    return params


def _refit_d(x, y, w, T, h):
    Z, _ = fs_forward(x, T, h)
    return weighted_lstsq(Z, y, w)


def _loss(x, y, w, T, h, d):
    Z, _ = fs_forward(x, T, h)
    e = np.einsum("k,kn->n", d, Z) - y
    return float(np.sum(w * e * e))


def _starts(lo, hi, K, rng):
    R = hi - lo
    powers = 2.0 ** -np.arange(1, K + 1)
    out = {"ramp": (lo + R * powers, R * powers)}
    if hi > 0:
        P = 2.0 ** np.ceil(np.log2(hi))
        out["relu"] = (P * powers, P * powers)
    jitter = lambda a: a * (1.0 + 0.01 * rng.standard_normal(K))      # noqa: E731
    return {k: (jitter(T), jitter(h)) for k, (T, h) in out.items()}


def _quantize(x, y, w, T, h, Q):
    """Integer tables: T, h to the grid, d refitted on the quantized spikes, rounded to the grid
    and improved by integer coordinate descent."""
    step = grid_step(Q)
    Tq, hq = to_grid(T, Q), to_grid(h, Q)
    Z, _ = fs_forward(x, Tq * step, hq * step)
    top = (1 << (Q - 1)) - 1
    dq = integer_lstsq(Z, y, w, step, to_grid(weighted_lstsq(Z, y, w), Q), -top - 1, top)
    return Tq, hq, dq


def fs_error(T, h, d, Q, activation, K=None):
    """Errors of the integer FS neuron (tables in grid units) against the activation, measured
    with the golden model on :data:`EVAL_POINTS` real x of the fitting interval."""
    act = get_activation(activation)
    step = grid_step(Q)
    x = np.linspace(*act.interval, EVAL_POINTS)
    xi = np.floor(x / step).astype(np.int64)
    p = FSParams(K=len(T) if K is None else K, x_bits=signed_bits(int(xi.min()), int(xi.max())),
                 T=tuple(map(int, T)), h=tuple(map(int, h)), d=tuple(map(int, d)))
    r = fs_golden(p, xi)
    return error_stats(r.y * step, act(x), x, act.main)


def _real_error(T, h, d, activation):
    act = get_activation(activation)
    x = np.linspace(*act.interval, EVAL_POINTS)
    Z, _ = fs_forward(x, T, h)
    return error_stats(np.einsum("k,kn->n", d, Z), act(x), x, act.main)


def naive_fs(activation, K):
    """The naive baseline: uniform thresholds T(t) = lo + t·(hi − lo)/(K + 1), no reset
    (h = 0), d by least squares — a K-step staircase. Returns (T, h, d) real tables."""
    act = get_activation(activation)
    lo, hi = act.interval
    T = lo + np.arange(1, K + 1) * (hi - lo) / (K + 1)
    h = np.zeros(K)
    x, w = loss_grid(lo, hi, 4001, act.main, act.main_weight)
    return T, h, _refit_d(x, act(x), w, T, h)


def fit_fs(spec: FSFitSpec | None = None, **kw) -> FSFit:
    """Fit, quantize and measure an FS neuron (see the module docstring); ``kw`` build the spec."""
    spec = spec if spec is not None else FSFitSpec(**kw)
    act = get_activation(spec.activation)
    lo, hi = act.interval
    x, w = loss_grid(lo, hi, spec.points, act.main, act.main_weight)
    y = act(x)
    rng = np.random.default_rng(spec.seed)
    best = None
    for name, (T0, h0) in _starts(lo, hi, spec.K, rng).items():
        T, h = T0.copy(), h0.copy()
        d = _refit_d(x, y, w, T, h)
        T, h, d = _train(x, y, w, [T, h, d], spec.steps, spec.lr, spec.width)
        d = _refit_d(x, y, w, T, h)
        loss = _loss(x, y, w, T, h, d)
        if best is None or loss < best[0]:
            best = (loss, name, T, h, d)
    loss, start, T, h, d = best
    (Tq, hq, dq), qloss, qat_kept = quantize_tables(spec, T, h, d)
    nT, nh, nd = naive_fs(spec.activation, spec.K)
    return FSFit(spec=spec, interval=act.interval, main=act.main,
                 T=tuple(map(int, Tq)), h=tuple(map(int, hq)), d=tuple(map(int, dq)),
                 real={"T": T.tolist(), "h": h.tolist(), "d": d.tolist()},
                 error=fs_error(Tq, hq, dq, spec.Q, spec.activation),
                 error_real=_real_error(T, h, d, spec.activation),
                 error_naive=_real_error(nT, nh, nd, spec.activation), start=start,
                 history={"loss_real": loss, "loss_quantized": qloss, "qat_kept": qat_kept})


def quantize_tables(spec: FSFitSpec, T, h, d):
    """Step 2 of the fit for real tables T, h, d: the integer tables at ``spec.Q`` (rounded, and
    after ``spec.qat_steps`` of quantization-aware fine-tuning; the better one). Returns
    ((T, h, d) int arrays, its weighted loss, whether the fine-tuned one was kept)."""
    act = get_activation(spec.activation)
    x, w = loss_grid(*act.interval, spec.points, act.main, act.main_weight)
    y = act(x)
    T, h, d = (np.asarray(v, dtype=np.float64) for v in (T, h, d))
    step = grid_step(spec.Q)
    candidates = [_quantize(x, y, w, T, h, spec.Q)]
    if spec.qat_steps:
        Tf, hf, df = _train(x, y, w, [T.copy(), h.copy(), d.copy()], spec.qat_steps, spec.lr / 3,
                            spec.width, Q=spec.Q)
        candidates.append(_quantize(x, y, w, Tf, hf, spec.Q))
    losses = [_loss(x, y, w, *(c * step for c in cand)) for cand in candidates]
    k = int(np.argmin(losses))
    return candidates[k], losses[k], k == 1
