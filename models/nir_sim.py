"""The float reference of a feed-forward NIR graph's semantics, which the NIR import
(:func:`~spikeforge.models.nir_io.from_nir`) is measured against (docs/frontends.md).

Needs the optional extra ``spikeforge[nir]``.
"""

from __future__ import annotations

import numpy as np

from .nir_export import _nir
from .nir_io import _gains_and_step, _layers_of, _vec

__all__ = ["simulate_nir"]


def simulate_nir(graph, inputs, dt=None):
    """The float reference of a feed-forward NIR graph's semantics.

    Forward Euler at step ``dt`` (default as :func:`~spikeforge.models.nir_io.from_nir`
    picks it): per step, I = W·s + b; LIF v += dt/τ·(v_leak − v + r·I), CubaLIF
    filters I first, IF v += dt·r·I, LI and I likewise without spikes; a neuron
    spikes when v > v_threshold and is then set to v_reset.

    Parameters
    ----------
    graph : nir.NIRGraph
        A graph :func:`~spikeforge.models.nir_io.from_nir` accepts.
    inputs : numpy.ndarray
        (T, batch, n_in): input spikes or currents per step.
    dt : float, optional

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Output spike counts (batch, n_out) (zeros for a non-spiking output)
        and the final output membrane (batch, n_out).
    """
    nir = _nir()
    _shape, layers = _layers_of(graph, "graph")
    params, dt = _gains_and_step(layers, "graph", dt)
    inputs = np.asarray(inputs, dtype=np.float64)
    T, batch = inputs.shape[:2]
    units = []
    for (_l, W, b, nname, nrn), (r, tau) in zip(layers, params):
        n = W.shape[0]
        vec = lambda attr: _vec(nrn, attr, n, "graph", nname)  # noqa: E731
        cuba = isinstance(nrn, (nir.CubaLIF, nir.CubaLI))
        spiking = hasattr(nrn, "v_threshold")
        units.append({
            "W": W, "b": b, "r": r, "tau": tau,
            "a_s": dt / vec("tau_syn") if cuba else None, "w_in": vec("w_in") if cuba else None,
            "v_leak": None if tau is None else vec("v_leak"),
            "th": vec("v_threshold") if spiking else None,
            "reset": (np.zeros(n) if getattr(nrn, "v_reset", None) is None else vec("v_reset")) if spiking else None,
            "v": np.zeros((batch, n)), "i": np.zeros((batch, n)), "count": np.zeros((batch, n)),
        })
    for t in range(T):
        s = inputs[t]
        for u in units:
            cur = s @ u["W"].T + u["b"]
            if u["a_s"] is not None:
                u["i"] = u["i"] + u["a_s"] * (u["w_in"] * cur - u["i"])
                cur = u["i"]
            if u["tau"] is None:
                u["v"] = u["v"] + dt * u["r"] * cur
            else:
                u["v"] = u["v"] + dt / u["tau"] * (u["v_leak"] - u["v"] + u["r"] * cur)
            if u["th"] is not None:
                z = u["v"] > u["th"]
                u["v"] = np.where(z, u["reset"], u["v"])
                u["count"] += z
                s = z.astype(np.float64)
            else:
                s = u["v"]
    return units[-1]["count"], units[-1]["v"]
