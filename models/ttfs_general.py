"""TTFS exact mapping in its general form (Stanojevic 2023, ch. 2, §2.2.2, §2.4.1–2.4.4).

A float reference in continuous time and an integer (tick) form of the
thesis' mapping, for comparison with the linearly mappable integer layer of
:mod:`~spikeforge.models.ttfs` (which the RTL implements). Front-end code.

Preprocessing (§2.4.1 (iii)–(iv), Algorithm 1; inputs already in [0, 1], no
batch norm): layer by layer, neuron i's incoming weight sum c_i = Σ_j w̄_ij is
brought into [−B_low, 1 − δ] — if c_i > 1 − δ its incoming weights and bias are
multiplied by (1 − δ)/c_i and its outgoing weights by c_i/(1 − δ) (eqs.
2.16–2.17); if c_i ≤ −B_low by B_low/|c_i| and |c_i|/B_low (eqs. 2.18–2.19).
ReLU's scaling symmetry keeps the network's output. X(n) is the largest
scaled output of layer n on the calibration data (eq. 2.24).

Conversion (§2.4.2, Algorithm 2; α(n) = α for every neuron, the Corollary)::

    t_min(0) = 0, t_max(0) = 1, input spike t_j = 1 − x_j
    t_min(n) = t_max(n−1),  B(n) = (1 + ζ)·X(n),  t_max(n) = t_min(n) + B(n)
    J_ij = α·w̄_ij / (1 − Σ_j' w̄_ij')                                     (2.28)
    ϑ_i  = α·(t_max(n) − t_min(n−1)) + D_i,
    D_i  = B(n)·Σ_j J_ij − (α + Σ_j J_ij)·b̄_i                              (2.25–2.27)

Dynamics (eq. 2.2): V_i(t) = α·(t − t_min(n−1)) + Σ_j J_ij·(t − t_j) over the
inputs that have arrived; neuron i fires at the first t ≥ t_min(n) with
V_i ≥ ϑ_i (the formal threshold is infinite before t_min(n), §2.4.2 (iv);
``formal=False`` uses the constant threshold for all t ≥ t_min(n−1), the
thesis' practice), and at t_max(n) if it has not fired (the external pulse).
Then t_i = t_max(n) − x̄_i exactly (Lemma of §2.4.2). A neuron that fires
before t_max(n) is *active*; the "less than one spike per neuron" scheme
(§2.2.3) sends only those spikes, so the fraction of active neurons is the
spikes per neuron of Table 2.1. Output layer (§2.4.4): a non-spiking
integrator with α_i = b̄_i/(t_max(M) − t_min(M)) read at t_max(M):
V_i = b̄_i + Σ_j w̄_ij·x̄_j.

Robustness (§2.2.4, Fig. 2.5): Gaussian jitter of standard deviation σ on
every spike time (input spikes included; 16 trials), and a neuron-specific
slope α_i + Y, Y ~ N(0, σ²), fixed per trial, with the conversion done for α.

Integer form (:func:`integer_mapping`, :func:`run_integer`): time in ticks of
2^−τ, weights J and α in units of 2^−F (α = 2^F), potential in units of
2^−F·2^−τ; ϑ_i recomputed from the integer J and windows; a neuron fires at
the first whole tick with V ≥ ϑ (a ceiling division per segment). The tick
floor and the rounding of J make it approximate, unlike the linearly
mappable integer layer, whose slope is 2^F for every neuron.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import check_int
from .convert import FloatNet
from .errors import ConfigError
from .fit_common import check_positive

__all__ = ["GeneralMapping", "IntegerMapping", "scale_network", "map_network", "run_snn", "run_ann",
           "integer_mapping", "run_integer", "robustness"]


# ------------------------------------------------------------------ preprocessing

def scale_network(fnet: FloatNet, B_low=10.0, delta=0.01):
    """The scaled ReLU network (w̄, b̄) with −B_low ≤ Σ_j w̄_ij ≤ 1 − δ for every hidden neuron."""
    if not fnet.is_relu or fnet.pools:
        raise ConfigError("the general TTFS mapping is defined for ReLU networks of dense layers")
    B_low = check_positive("B_low", B_low, 1e6)
    delta = check_positive("delta", delta, 0.999)
    ws = [w.copy() for w in fnet.weights]
    bs = [b.copy() for b in fnet.biases]
    for n in range(len(ws) - 1):
        c = ws[n].sum(axis=1)
        f = np.ones_like(c)
        hi, lo = c > 1 - delta, c <= -B_low
        f[hi] = (1 - delta) / c[hi]
        f[lo] = B_low / np.abs(c[lo])
        ws[n] *= f[:, None]
        bs[n] *= f
        ws[n + 1] /= f[None, :]
    return ws, bs


def run_ann(ws, bs, x):
    """Hidden outputs and logits of a (scaled) ReLU network."""
    a, hidden = np.asarray(x, dtype=np.float64), []
    for w, b in zip(ws[:-1], bs[:-1]):
        a = np.maximum(a @ w.T + b, 0.0)
        hidden.append(a)
    return hidden, a @ ws[-1].T + bs[-1]


@dataclass(frozen=True)
class GeneralMapping:
    """The SNN of the general mapping: per hidden layer J, ϑ and the window; the output layer's
    scaled weights; the scaled ReLU network (w̄, b̄) and X(n) it came from."""

    J: tuple
    theta: tuple
    t_min: tuple            # t_min(n), n = 1..M
    t_max: tuple            # t_max(n), n = 1..M
    w_out: np.ndarray
    b_out: np.ndarray
    ws: tuple
    bs: tuple
    X: tuple
    alpha: float
    zeta: float
    B_low: float
    delta: float


def map_network(fnet: FloatNet, calib_x, *, zeta=0.5, B_low=10.0, delta=0.01, alpha=1.0) -> GeneralMapping:
    """Preprocess and convert a float ReLU network (inputs in [0, 1]); see the module docstring."""
    if not isinstance(zeta, (int, float)) or not -1 < zeta <= 100:
        raise ConfigError(f"zeta must be a number in (−1, 100], not {zeta!r}")
    alpha = check_positive("alpha", alpha, 1e6)
    ws, bs = scale_network(fnet, B_low, delta)
    hidden, _ = run_ann(ws, bs, calib_x)
    X = [float(h.max()) for h in hidden]
    J, theta, tmins, tmaxs = [], [], [], []
    t_min_prev, t_max_prev = 0.0, 1.0
    for n, (w, b) in enumerate(zip(ws[:-1], bs[:-1])):
        t_min = t_max_prev
        B = (1 + zeta) * X[n]
        t_max = t_min + B
        Jn = alpha * w / (1.0 - w.sum(axis=1))[:, None]
        S = Jn.sum(axis=1)
        D = B * S - (alpha + S) * b
        theta.append(alpha * (t_max - t_min_prev) + D)
        J.append(Jn)
        tmins.append(t_min)
        tmaxs.append(t_max)
        t_min_prev, t_max_prev = t_min, t_max
    return GeneralMapping(tuple(J), tuple(theta), tuple(tmins), tuple(tmaxs), ws[-1], bs[-1], tuple(ws),
                          tuple(bs), tuple(X), alpha, float(zeta), B_low, delta)


# ------------------------------------------------------------------ dynamics

def _first_crossing(t_in, J, alpha, theta, t0, start, integer=False):
    """First t ≥ ``start`` with V_i(t) ≥ ϑ_i, V_i(t) = α_i·(t − t0) + Σ_j J_ij·(t − t_j)_+
    (piecewise linear; breakpoints at the input times). t_in (N, m); J (n, m); α scalar
    or (N, n); returns (N, n), +inf where V never reaches ϑ. ``integer``: whole ticks."""
    N, m = t_in.shape
    order = np.argsort(t_in, axis=1, kind="stable")
    ts = np.take_along_axis(t_in, order, axis=1)                       # (N, m)
    Js = J.T[order]                                                     # (N, m, n)
    zero = np.zeros((N, 1, J.shape[0]), dtype=Js.dtype)
    S = np.concatenate([zero, np.cumsum(Js, axis=1)], axis=1)           # slope part, segment k
    P = np.concatenate([zero, np.cumsum(Js * ts[..., None], axis=1)], axis=1)
    lo = np.concatenate([np.full((N, 1), -np.inf if not integer else np.iinfo(np.int64).min // 4,
                                 dtype=ts.dtype), ts], axis=1)
    hi = np.concatenate([ts, np.full((N, 1), np.inf if not integer else np.iinfo(np.int64).max // 4,
                                     dtype=ts.dtype)], axis=1)
    a = np.maximum(lo, start)[..., None]                                # segment start (N, m+1, 1)
    b = hi[..., None]
    alpha = np.asarray(alpha)
    al = alpha[:, None, :] if alpha.ndim == 2 else alpha
    V = al * (a - t0) + a * S - P
    slope = al + S
    th = theta[None, None, :]
    need = th - V
    if integer:
        pos = slope > 0
        k = np.where(pos, -(-need // np.where(pos, slope, 1)), 0)
        t = np.where(need <= 0, a, np.where(pos, a + k, np.iinfo(np.int64).max))
        ok = (b > a) & (t < b) & ((need <= 0) | pos)
        t = np.where(ok, t, np.iinfo(np.int64).max).min(axis=1)
        return t
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(need <= 0, a, np.where(slope > 0, a + need / slope, np.inf))
    ok = (b > a) & (t < b)
    return np.where(ok, t, np.inf).min(axis=1)


def run_snn(m: GeneralMapping, x, *, jitter=0.0, slope_sd=0.0, rng=None, formal=True):
    """Run the float SNN on inputs x ∈ [0, 1] (N, n_in).

    Returns a dict: ``scores`` (N, classes), ``predictions``, ``values`` (the decoded
    x̄ = t_max(n) − t_i per hidden layer) and ``active`` (fraction of hidden neurons that
    fire before t_max, over all hidden layers and inputs).
    """
    x = np.asarray(x, dtype=np.float64)
    rng = rng if rng is not None else np.random.default_rng(0)
    t = 1.0 - x
    if jitter:
        t = t + rng.normal(0.0, jitter, t.shape)
    t_min_prev, values, active, total = 0.0, [], 0, 0
    for n, (J, th) in enumerate(zip(m.J, m.theta)):
        alpha = m.alpha + (rng.normal(0.0, slope_sd, J.shape[0]) if slope_sd else 0.0)
        alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (x.shape[0], J.shape[0])) \
            if slope_sd else m.alpha
        start = m.t_min[n] if formal else t_min_prev
        tf = _first_crossing(t, J, alpha, th, t_min_prev, start)
        tf = np.minimum(tf, m.t_max[n])                                 # forced spike at t_max
        active += int(np.count_nonzero(tf < m.t_max[n]))
        total += tf.size
        values.append(m.t_max[n] - tf)
        t = tf + (rng.normal(0.0, jitter, tf.shape) if jitter else 0.0)
        t_min_prev = m.t_min[n]
    x_last = m.t_max[-1] - t                                            # what the integrator sees
    scores = x_last @ m.w_out.T + m.b_out
    return {"scores": scores, "predictions": np.argmax(scores, axis=1), "values": values,
            "active": active / max(1, total)}


# ------------------------------------------------------------------ integer form

@dataclass(frozen=True)
class IntegerMapping:
    """Integer tick form: J (units 2^−F), α = 2^F, ϑ (units 2^−F·2^−τ), windows in ticks of
    2^−τ, the output layer's weights and bias in units 2^−F (bias ×2^τ)."""

    J: tuple
    theta: tuple
    t_min: tuple
    t_max: tuple
    w_out: np.ndarray
    b_out: np.ndarray
    F: int
    tau: int

    @property
    def alpha(self):
        return 1 << self.F


def integer_mapping(m: GeneralMapping, F=8, tau=8) -> IntegerMapping:
    """Round the general mapping to integers (see the module docstring)."""
    F = check_int("F", F, 0, 24)
    tau = check_int("tau", tau, 0, 24)
    if m.alpha != 1.0:
        raise ConfigError("the integer form takes α = 1 (α = 2^F in its units)")
    one = 1 << tau
    J, theta, tmins, tmaxs = [], [], [], []
    tmin_prev = 0
    tmax_prev = one
    for n, Jf in enumerate(m.J):
        Ji = np.rint(Jf * (1 << F)).astype(np.int64)
        tmin, tmax = tmax_prev, tmax_prev + int(np.ceil((1 + m.zeta) * m.X[n] * one))
        S = Ji.sum(axis=1)
        b_ticks = m.bs[n] * one
        D = (tmax - tmin) * S - (np.rint((((1 << F) + S) * b_ticks)).astype(np.int64))
        theta.append((1 << F) * (tmax - tmin_prev) + D)
        J.append(Ji)
        tmins.append(tmin)
        tmaxs.append(tmax)
        tmin_prev, tmax_prev = tmin, tmax
    w_out = np.rint(m.w_out * (1 << F)).astype(np.int64)
    b_out = np.rint(m.b_out * (1 << F) * one).astype(np.int64)
    return IntegerMapping(tuple(J), tuple(theta), tuple(tmins), tuple(tmaxs), w_out, b_out, F, tau)


def run_integer(im: IntegerMapping, x):
    """Run the integer tick form on inputs x ∈ [0, 1]: input spike at tick 2^τ − round(x·2^τ)."""
    one = 1 << im.tau
    t = one - np.rint(np.asarray(x, dtype=np.float64) * one).astype(np.int64)
    tmin_prev, active, total = 0, 0, 0
    for n, (J, th) in enumerate(zip(im.J, im.theta)):
        tf = _first_crossing(t, J, np.int64(im.alpha), th, tmin_prev, im.t_min[n], integer=True)
        tf = np.minimum(tf, im.t_max[n])
        active += int(np.count_nonzero(tf < im.t_max[n]))
        total += tf.size
        t, tmin_prev = tf, im.t_min[n]
    scores = (im.t_max[-1] - t) @ im.w_out.T + im.b_out
    return {"scores": scores, "predictions": np.argmax(scores, axis=1), "active": active / max(1, total)}


# ------------------------------------------------------------------ robustness (Fig. 2.5)

def robustness(m: GeneralMapping, x, y, *, jitters=(0.0, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1),
               slope_sds=(0.0, 1e-4, 1e-3, 1e-2, 1e-1), trials=16, seed=0):
    """Accuracy (mean over ``trials``) of the float SNN under spike-time jitter and under
    neuron-specific slope mismatch, as in Fig. 2.5b–c. Returns two lists of
    ``{"sd", "accuracy", "min", "max"}``."""
    y = np.asarray(y)
    out = {}
    for kind, values in (("jitter", jitters), ("slope", slope_sds)):
        rows = []
        for sd in values:
            accs = []
            for k in range(trials if sd else 1):
                rng = np.random.default_rng([seed, k])
                kw = {"jitter": sd} if kind == "jitter" else {"slope_sd": sd}
                accs.append(float(np.mean(run_snn(m, x, rng=rng, **kw)["predictions"] == y)))
            rows.append({"sd": sd, "accuracy": float(np.mean(accs)), "min": min(accs), "max": max(accs)})
        out[kind] = rows
    return out
