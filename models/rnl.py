"""Rate Norm Layer thresholds for the rate codings (Ding et al. 2021, §2.2–2.4, eqs. 6, 8–13).

Front-end code (float). The Rate Norm Layer (RNL) replaces each ReLU of the
ANN by a clip with a trainable upper bound and reads its output as a firing
rate (eq. 6)::

    θ_l = p_l · max_l,   z_l = clip(W_l·r̂_(l−1) + b_l, 0, θ_l),   r̂_l = z_l / θ_l,   p_l ∈ (0, 1]

With p_l = 1 it is max norm (Theorem 1). The thresholds are trained in the
paper's stage 2 (Fig. 5, eq. 13), after the weights are fixed:

    min over θ:  1 − cos(r̂*_L, r̂'_L) + λ · (1/L)·Σ_l Ω_l,     Ω_l = ‖r̂_l‖₁ / ‖r̂_l‖₂²    (eq. 8: K_l < 2Ω_l/t)

r̂*_L is the output with p = 1 (the accuracy-trained network), r̂'_L with the
trained thresholds; Ω_l, the Rate Inference Loss, bounds how slowly the rates
of layer l converge with the number of time steps t (Theorem 2), so lowering
it lets a rate network reach its accuracy in fewer steps; the cosine term
keeps the output close to the unclipped one.

Here the network is the *integer* ANN that the rate codings are converted
from (its hidden layer k computes clamp(⌊(W·a + b)/2^s⌋, 0, 2^K − 1)); the
relaxation drops the floor: z_k = (W·a + b)/2^s, a_k = clip(z_k, 0, θ_k) with
max_k the largest integer activation on the calibration inputs (max norm's
spike value). Its output r̂_L is the logit vector W·a + b (the rate codings
read the output layer as an integrator or by spike count; its spike value
keeps max norm). p_l starts at 1 and follows Adam on the exact gradient of
the objective, clipped to [0.05, 1]; λ_l = ⌈p_l·max_l⌉ become the spike
values of the hidden layers (``rate_norm = "rnl"`` in
:func:`~spikeforge.models.convert.calibrate_rate`).

Departures: the paper trains θ on mini-batches with a running maximum
during training (eq. 6); here the calibration set is one batch, the maxima are
exact. Stage 1 (training the weights with RNL, p = 1) equals training the
ReLU network (on the training data θ = max never clips), so only stage 2 is
run. docs/cores/if.md and docs/cores/lif.md give the figures.
"""

from __future__ import annotations

import numpy as np

from .base import check_int, check_int_array
from .errors import ConfigError
from .fit_common import Adam, check_positive
from .network import Dense, Network
from .simulate import blas_threads

__all__ = ["rnl_spike_values", "rnl_objective", "RNL_LAMBDA", "RNL_STEPS", "P_MIN"]

#: weight λ of the Rate Inference Loss in the stage-2 objective (eq. 13)
RNL_LAMBDA = 0.01
#: Adam steps of stage 2
RNL_STEPS = 300
#: smallest p_l (a threshold of 5 % of the layer's maximum)
P_MIN = 0.05


def _layers(net):
    dense = [l for l in net.layers if isinstance(l, Dense)]
    if len(dense) != len(net.layers):
        raise ConfigError("the Rate Norm Layer needs a network of dense layers only (no max-pool)")
    return [(l.W.astype(np.float64), l.b.astype(np.float64), float(2 ** l.shift)) for l in dense]


def _forward(layers, x, theta):
    """Hidden z, a and the logits of the relaxed integer ANN with clip bounds ``theta``;
    ``x`` is the first hidden layer's z (it does not depend on θ: computed once)."""
    a, zs, acts = None, [], []
    for k, (W, b, scale) in enumerate(layers[:-1]):
        z = x if k == 0 else (a @ W.T + b) / scale
        a = np.clip(z, 0.0, theta[k])
        zs.append(z)
        acts.append(a)
    W, b, _ = layers[-1]
    return zs, acts, a @ W.T + b


def _omega(r):
    """Ω = Σ r / Σ r² per sample (0 where every rate is 0), and its gradient in r."""
    s1, s2 = r.sum(axis=1), (r * r).sum(axis=1)
    ok = s2 > 0
    s2s = np.where(ok, s2, 1.0)
    om = np.where(ok, s1 / s2s, 0.0)
    g = np.where(ok[:, None], 1.0 / s2s[:, None] - 2.0 * r * (s1 / (s2s * s2s))[:, None], 0.0)
    return om, g


def rnl_objective(layers, x, theta, ref, lam):
    """The stage-2 objective (eq. 13) and its gradient in θ (one entry per hidden layer);
    ``x`` is the first hidden layer's z."""
    zs, acts, out = _forward(layers, x, theta)
    n, H = x.shape[0], len(theta)
    no, nr = np.linalg.norm(out, axis=1), np.linalg.norm(ref, axis=1)
    denom = np.maximum(no * nr, 1e-12)
    cos = (out * ref).sum(axis=1) / denom
    loss = float(np.mean(1.0 - cos))
    g_out = -(ref / denom[:, None] - cos[:, None] * out / np.maximum(no * no, 1e-12)[:, None]) / n
    grad = np.zeros(H)
    g_a = g_out @ layers[-1][0]
    for k in range(H - 1, -1, -1):
        th, z, a = theta[k], zs[k], acts[k]
        om, g_r = _omega(a / th)
        loss += lam / H * float(np.mean(om))
        coef = lam / H / n
        g_a = g_a + coef * g_r / th                                  # Ω through a
        grad[k] = float((g_a * (z >= th)).sum()) - coef * float((g_r * a).sum()) / (th * th)
        if k:
            W, _, scale = layers[k]
            g_a = ((g_a * ((z > 0) & (z < th))) @ W) / scale
    return loss, grad


def rnl_spike_values(ann_net: Network, xq, maxima, *, lam=RNL_LAMBDA, steps=RNL_STEPS, lr=0.02):
    """Spike values of the hidden layers trained as Rate Norm Layer thresholds.

    Parameters
    ----------
    ann_net : Network
        The integer ANN (dense layers only).
    xq : array (n, n_in)
        Integer calibration inputs.
    maxima : sequence of int
        max_l of each hidden layer (max norm's spike values).
    lam, steps, lr
        Weight of the Rate Inference Loss, Adam steps and step size.

    Returns
    -------
    (list of int, dict)
        λ_l = max(1, ⌈p_l·max_l⌉) per hidden layer, and a record of the training
        (p_l, objective before and after, λ, steps).
    """
    xq = check_int_array("calibration inputs", xq)
    check_int("steps", steps, 0, 10 ** 6)
    lam = float(lam) if lam == 0 else check_positive("rnl lambda", lam, 100.0)
    layers = _layers(ann_net)
    m = np.asarray(maxima, dtype=np.float64)
    if len(m) != len(layers) - 1:
        raise ConfigError(f"maxima: expected {len(layers) - 1} hidden-layer maxima, not {len(m)}")
    W, b, scale = layers[0]
    with blas_threads():
        x = (xq.astype(np.float64) @ W.T + b) / scale
        ref = _forward(layers, x, m)[2]
        p = np.ones(len(m))
        opt = Adam([p], lr)
        before = rnl_objective(layers, x, p * m, ref, lam)[0]
        for _ in range(steps):
            _, g = rnl_objective(layers, x, p * m, ref, lam)
            opt.step([g * m])
            np.clip(p, P_MIN, 1.0, out=p)
        after = rnl_objective(layers, x, p * m, ref, lam)[0]
    lam_int = [max(1, int(np.ceil(v))) for v in p * m]
    return lam_int, {"p": [round(float(v), 6) for v in p], "objective": [before, after],
                     "lambda": lam, "steps": steps}
