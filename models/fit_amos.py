"""Fitting AMOS units (front-end, float; Stöckl & Maass 2020, §1.1–1.2, Figs. 4–6, Table 3).

The unit with real parameters (eqs. 2, 4, 6, 7)::

    u_i = c_i·x (+ c'_i·x') − Σ_{j<i} h_ij·z_j − T_i;   z_i = Θ(u_i);   f̂ = Σ_i d_i·z_i

is fitted to a target by gradient descent through the K neurons (each z_i
depends on the earlier ones) with the triangle pseudo-derivative in place of
Θ' (§1.2), on a grid of inputs. Targets: an activation of
:data:`~spikeforge.models.activations.ACTIVATIONS` on its interval (sigmoid
K = 8, Swish K = 12 as in Figs. 4–5), or the two-input product x·x' on
[−1, 1]² (``"mult"``, K = 40 as in Fig. 6; the domain is this package's
choice, the paper does not state it).

Procedure (:func:`fit_amos`), deterministic for a seed:

1. Starting points. One input: the bit-shift units over [lo, hi] (*ramp*:
   c = 1, T_i = lo + R·2^−i, h_ij = R·2^−j) and over [0, P], P = 2^⌈log2 hi⌉
   (*ReLU*, §1.2), jittered by the seeded generator. Two inputs: gains and
   thresholds drawn from the seeded generator. d by weighted least squares,
   then ``steps`` Adam steps on c (c'), T, h, d; the best start is kept.
2. Integer unit at Q bits. The gains c, c' and the output weights d are
   Q-bit signed integers times a power-of-two step per table (the smallest
   that holds the table's largest magnitude); the input x (and x') is
   ⌊x / 2^−x_frac_bits⌋; T and h are integers in units of step_c·step_x (so that
   u_i is an integer: their widths follow, recorded in the table). d is
   refitted on the quantized spikes first, rounded and improved by exact
   integer coordinate descent. Then ``qat_steps`` of
   quantization-aware fine-tuning (straight-through estimator); the better
   integer unit is kept. f̂ = y·step_d.

Errors of the integer unit are measured with the golden model
(:func:`~spikeforge.models.amos.amos_golden`) on a fine grid of real inputs
(each floored to the input step), so they include the input quantization.
The naive baseline has uniform thresholds, c = 1 (one input per neuron, the
inputs taking turns) and no inhibition: a staircase in each input, d by
least squares.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .activations import ACTIVATIONS, get_activation
from .amos import MAX_K, AMOSParams, amos_golden
from .base import check_int, signed_bits
from .errors import ConfigError
from .fit_common import Adam, Q_RANGE, check_positive, error_stats, integer_lstsq, triangle, weighted_lstsq

__all__ = ["AMOSFitSpec", "AMOSFit", "fit_amos", "naive_amos", "amos_forward", "TWO_INPUT", "amos_targets"]


@dataclass(frozen=True)
class _Target:
    name: str
    f: object
    intervals: tuple          # one (lo, hi) per input
    K: int
    main: tuple | None = None
    main_weight: float = 1.0


#: two-input targets (name → function on its domain)
TWO_INPUT = {"mult": _Target("mult", lambda x, x2: x * x2, ((-1.0, 1.0), (-1.0, 1.0)), 40)}


def amos_targets():
    """Names :func:`fit_amos` accepts: the activations and the two-input targets."""
    return tuple(ACTIVATIONS) + tuple(TWO_INPUT)


def _target(name):
    if name in TWO_INPUT:
        return TWO_INPUT[name]
    if name not in ACTIVATIONS:
        raise ConfigError(f"target must be one of {', '.join(amos_targets())}, not {name!r}")
    a = get_activation(name)
    return _Target(a.name, a.f, (a.interval,), a.amos_K, a.main, a.main_weight)


@dataclass(frozen=True)
class AMOSFitSpec:
    """What to fit and how (see the module docstring).

    Parameters
    ----------
    target : str
        An activation name or ``"mult"`` (two inputs).
    K : int, optional
        Neurons; omitted: the target's (sigmoid 8, Swish 12, GELU 12, mult 40).
    Q : int
        Bits of the gains and output weights, 2..16. Default 8.
    x_frac_bits : int, optional
        Input step 2^−x_frac_bits; omitted: Q − 4 for one input (the FS grid), Q − 1
        for two inputs on [−1, 1].
    steps, qat_steps, lr, width, seed : as for :class:`~spikeforge.models.fit_fs.FSFitSpec`
        (width omitted: 0.5 for one input, 0.25 for two).
    points : int, optional
        Loss grid points per input; omitted: 2001 (one input), 41 (two).
    """

    target: str = "sigmoid"
    K: int | None = None
    Q: int = 8
    x_frac_bits: int | None = None
    steps: int = 2000
    qat_steps: int = 600
    lr: float = 0.01
    width: float | None = None
    seed: int = 0
    points: int | None = None

    def __post_init__(self):
        t = _target(self.target)
        two = len(t.intervals) == 2
        for name, default in (("K", t.K), ("x_frac_bits", self.Q - (1 if two else 4)),
                              ("width", 0.25 if two else 0.5), ("points", 41 if two else 2001)):
            if getattr(self, name) is None:
                object.__setattr__(self, name, default)
        check_int("K", self.K, 1, MAX_K)
        check_int("Q", self.Q, *Q_RANGE)
        check_int("x_frac_bits", self.x_frac_bits, -8, 24)
        check_int("steps", self.steps, 0, 10 ** 6)
        check_int("qat_steps", self.qat_steps, 0, 10 ** 6)
        check_positive("lr", self.lr, 10.0)
        check_positive("width", self.width, 100.0)
        check_int("seed", self.seed, 0, 2 ** 32 - 1)
        check_int("points", self.points, 8, 10 ** 6)

    def to_dict(self):
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class AMOSFit:
    """A fitted AMOS unit: integer tables (``tables``: c, T, d, h, c2), their steps, real
    parameters and the errors of the integer unit, the real one and the naive staircase."""

    spec: AMOSFitSpec
    intervals: tuple
    tables: dict
    x_step: float
    y_step: float
    real: dict
    error: dict
    error_real: dict
    error_naive: dict
    start: str
    history: dict = field(default_factory=dict)

    @property
    def two_inputs(self):
        return len(self.intervals) == 2

    @property
    def x_bits(self):
        """Signed width of ⌊x/x_step⌋ over the fitting domain (both inputs)."""
        ends = [int(np.floor(v / self.x_step)) for iv in self.intervals for v in iv]
        return signed_bits(min(ends), max(ends))

    def params(self, x_bits=None):
        """The integer unit as :class:`~spikeforge.models.amos.AMOSParams`."""
        xb = self.x_bits if x_bits is None else x_bits
        return AMOSParams(K=self.spec.K, x_bits=xb, x2_bits=xb if self.two_inputs else 12, **self.tables)


# ------------------------------------------------------------------ the real unit

def amos_forward(X, C, T, H):
    """Spikes Z and gate potentials U (K × N) of the real unit; X: inputs × N, C: K × inputs."""
    K = len(T)
    base = np.einsum("ki,in->kn", C, X) - T[:, None]
    Z, U = np.empty_like(base), np.empty_like(base)
    for i in range(K):
        U[i] = base[i] - np.einsum("j,jn->n", H[i, :i], Z[:i])
        Z[i] = U[i] >= 0
    return Z, U


def _loss_and_grads(X, y, w, C, T, H, d, width):
    Z, U = amos_forward(X, C, T, H)
    e = np.einsum("k,kn->n", d, Z) - y
    gy = 2.0 * w * e
    gd = np.einsum("kn,n->k", Z, gy)
    gZ = d[:, None] * gy[None, :]
    gU = np.empty_like(U)
    for i in range(len(T) - 1, -1, -1):
        gU[i] = gZ[i] * triangle(U[i], width)
        gZ[:i] -= H[i, :i, None] * gU[i]                   # z_j inhibits u_i through h_ij
    gC = np.einsum("kn,in->ki", gU, X)
    gT = -gU.sum(axis=1)
    gH = -np.tril(np.einsum("kn,jn->kj", gU, Z), -1)
    return float(np.sum(w * e * e)), (gC, gT, gH, gd)


def _grid(t, points):
    axes = [np.linspace(lo, hi, points) for lo, hi in t.intervals]
    X = np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")])
    w = np.ones(X.shape[1])
    if t.main is not None:
        w[(X[0] >= t.main[0]) & (X[0] <= t.main[1])] *= t.main_weight
    return X, w / w.sum(), _f(t, X)


def _f(t, X):
    return t.f(*X)


def _loss(X, y, w, C, T, H, d):
    Z, _ = amos_forward(X, C, T, H)
    e = np.einsum("k,kn->n", d, Z) - y
    return float(np.sum(w * e * e))


def _refit_d(X, y, w, C, T, H):
    Z, _ = amos_forward(X, C, T, H)
    return weighted_lstsq(Z, y, w)


def _starts(t, K, rng):
    powers = 2.0 ** -np.arange(1, K + 1)
    jitter = lambda a: a * (1.0 + 0.01 * rng.standard_normal(a.shape))     # noqa: E731
    if len(t.intervals) == 2:
        C = rng.standard_normal((K, 2))
        T = rng.uniform(-1.0, 1.0, K)
        H = np.tril(0.3 * rng.standard_normal((K, K)), -1)
        return {"random": (C, T, H)}
    lo, hi = t.intervals[0]
    out = {}
    for name, base, R in (("ramp", lo, hi - lo), ("relu", 0.0, 2.0 ** np.ceil(np.log2(hi)) if hi > 0 else 0)):
        if R > 0:
            r = R * powers
            out[name] = (np.ones((K, 1)), jitter(base + r), np.tril(np.tile(jitter(r), (K, 1)), -1))
    return out


# ------------------------------------------------------------------ quantization

def _block_step(values, Q):
    """The power-of-two step that puts max |values| on a Q-bit signed grid (1 for all-zero)."""
    m = float(np.abs(values).max()) if np.size(values) else 0.0
    return 2.0 ** int(np.ceil(np.log2(m / ((1 << (Q - 1)) - 1)))) if m > 0 else 1.0


def _qint(v, step, Q=None):
    k = np.rint(np.asarray(v) / step)
    if Q is not None:
        k = np.clip(k, -(1 << (Q - 1)), (1 << (Q - 1)) - 1)
    return k.astype(np.int64)


def _quantize(X, y, w, C, T, H, d, spec):
    """Integer unit (kC, kT, kH, kd, steps) and its quantized real equivalent."""
    sx = 2.0 ** -spec.x_frac_bits
    sc = _block_step(C, spec.Q)
    kC = _qint(C, sc, spec.Q)
    g = sc * sx
    kT, kH = _qint(T, g), np.tril(_qint(H, g), -1)
    Xq = np.floor(X / sx) * sx
    Z, _ = amos_forward(Xq, kC * sc, kT * g, kH * g)
    dr = weighted_lstsq(Z, y, w)
    sd = _block_step(dr, spec.Q)
    top = (1 << (spec.Q - 1)) - 1
    kd = integer_lstsq(Z, y, w, sd, _qint(dr, sd, spec.Q), -top - 1, top)
    return (kC, kT, kH, kd), (sx, sc, sd)


def _quantized_loss(X, y, w, k, steps):
    kC, kT, kH, kd = k
    sx, sc, sd = steps
    return _loss(np.floor(X / sx) * sx, y, w, kC * sc, kT * sc * sx, kH * sc * sx, kd * sd)


def _train(X, y, w, params, spec, steps, lr, quant=False):
    opt = Adam(params, lr)
    for _ in range(steps):
        if quant:
            (kC, kT, kH, kd), (sx, sc, sd) = _quantize_fixed(params, spec)
            used, Xu = [kC * sc, kT * sc * sx, kH * sc * sx, kd * sd], np.floor(X / sx) * sx
        else:
            used, Xu = params, X
        _, grads = _loss_and_grads(Xu, y, w, *used, spec.width)
        opt.step(grads)
    return params


def _quantize_fixed(params, spec):
    """Quantization without the least-squares refit of d (the forward pass of fine-tuning)."""
    C, T, H, d = params
    sx = 2.0 ** -spec.x_frac_bits
    sc, sd = _block_step(C, spec.Q), _block_step(d, spec.Q)
    g = sc * sx
    return (_qint(C, sc, spec.Q), _qint(T, g), np.tril(_qint(H, g), -1), _qint(d, sd, spec.Q)), (sx, sc, sd)


def _tables(k, two):
    kC, kT, kH, kd = k
    K = len(kT)
    out = {"c": tuple(int(v) for v in kC[:, 0]), "T": tuple(map(int, kT)), "d": tuple(map(int, kd)),
           "h": tuple(tuple(int(v) for v in kH[i, :i]) for i in range(K))}
    if two:
        out["c2"] = tuple(int(v) for v in kC[:, 1])
    return out


# ------------------------------------------------------------------ errors

def _eval_grid(t):
    n = 20001 if len(t.intervals) == 1 else 201
    axes = [np.linspace(lo, hi, n) for lo, hi in t.intervals]
    return np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")])


def amos_error(tables, x_step, y_step, target, x_bits=None):
    """Errors of the integer unit against ``target``, measured with the golden model on a fine
    grid of real inputs (each floored to ``x_step``)."""
    t = _target(target)
    X = _eval_grid(t)
    Xi = np.floor(X / x_step).astype(np.int64)
    xb = x_bits or signed_bits(int(Xi.min()), int(Xi.max()))
    two = "c2" in tables
    p = AMOSParams(K=len(tables["T"]), x_bits=xb, x2_bits=xb if two else 12, **tables)
    r = amos_golden(p, Xi[0], Xi[1] if two else None)
    return error_stats(r.y * y_step, _f(t, X), X[0], t.main)


def _real_error(t, C, T, H, d):
    X = _eval_grid(t)
    Z, _ = amos_forward(X, C, T, H)
    return error_stats(np.einsum("k,kn->n", d, Z), _f(t, X), X[0], t.main)


def naive_amos(target, K, points=None):
    """The naive baseline: neuron i reads input i mod n with c = 1, uniform thresholds over that
    input's interval, no inhibition; d by least squares. Returns real (C, T, H, d)."""
    t = _target(target)
    n = len(t.intervals)
    C = np.zeros((K, n))
    T = np.empty(K)
    for k in range(n):
        idx = np.arange(k, K, n)
        lo, hi = t.intervals[k]
        C[idx, k] = 1.0
        T[idx] = lo + np.arange(1, len(idx) + 1) * (hi - lo) / (len(idx) + 1)
    H = np.zeros((K, K))
    X, w, y = _grid(t, points or (2001 if n == 1 else 41))
    return C, T, H, _refit_d(X, y, w, C, T, H)


# ------------------------------------------------------------------ the fit

def fit_amos(spec: AMOSFitSpec | None = None, **kw) -> AMOSFit:
    """Fit, quantize and measure an AMOS unit (see the module docstring)."""
    spec = spec if spec is not None else AMOSFitSpec(**kw)
    t = _target(spec.target)
    X, w, y = _grid(t, spec.points)
    rng = np.random.default_rng(spec.seed)
    best = None
    for name, (C0, T0, H0) in _starts(t, spec.K, rng).items():
        C, T, H = C0.copy(), T0.copy(), H0.copy()
        d = _refit_d(X, y, w, C, T, H)
        C, T, H, d = _train(X, y, w, [C, T, H, d], spec, spec.steps, spec.lr)
        d = _refit_d(X, y, w, C, T, H)
        loss = _loss(X, y, w, C, T, H, d)
        if best is None or loss < best[0]:
            best = (loss, name, C, T, H, d)
    loss, start, C, T, H, d = best
    cands = [_quantize(X, y, w, C, T, H, d, spec)]
    if spec.qat_steps:
        P = _train(X, y, w, [C.copy(), T.copy(), H.copy(), d.copy()], spec, spec.qat_steps, spec.lr / 3,
                   quant=True)
        cands.append(_quantize(X, y, w, *P, spec))
    losses = [_quantized_loss(X, y, w, k, s) for k, s in cands]
    k, (sx, sc, sd) = cands[int(np.argmin(losses))]
    tables = _tables(k, len(t.intervals) == 2)
    nC, nT, nH, nd = naive_amos(spec.target, spec.K, spec.points)
    return AMOSFit(spec=spec, intervals=t.intervals, tables=tables, x_step=sx, y_step=sd,
                   real={"c": C.tolist(), "T": T.tolist(), "h": H.tolist(), "d": d.tolist()},
                   error=amos_error(tables, sx, sd, spec.target),
                   error_real=_real_error(t, C, T, H, d), error_naive=_real_error(t, nC, nT, nH, nd),
                   start=start, history={"loss_real": loss, "loss_quantized": min(losses),
                                         "qat_kept": bool(int(np.argmin(losses)) == 1),
                                         "gain_step": sc})
