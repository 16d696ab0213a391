"""NIR (Neuromorphic Intermediate Representation) export and import.

Needs the optional extra ``spikeforge[nir]`` (the ``nir`` package and h5py).
The mapping is documented in docs/frontends.md; in short:

Export: :mod:`~spikeforge.models.nir_export` (:func:`to_nir`, :func:`write_nir`, re-exported
here).

Import (:func:`read_nir_network`): a graph with that key is restored
exactly. Any other feed-forward graph ``Input → [Flatten] → (Affine|Linear)
→ (LIF|CubaLIF|IF) → … → (Affine|Linear) → (LIF|CubaLIF|IF|LI|CubaLI|I) →
Output`` (as snnTorch, Norse, Sinabs and Rockpool export it) becomes a
``lif`` or ``if`` network by :func:`from_nir`, with a warning that lists the
NIR semantics that could not be kept. :func:`~spikeforge.models.nir_sim.simulate_nir`
is the float reference of the NIR semantics the import is measured against.
"""

from __future__ import annotations

import io
import itertools
import math
import os

import numpy as np

from .errors import ConfigError, warn
from .inputs import limit, limit_error, parse_json, read_bytes
from .lif import leak_factor
from .network import Dense, Network
from .nir_export import DEFAULT_DT, META_KEY, NIR_SCHEMA, _affine_of, _nir, to_nir, write_nir  # noqa: F401
from .registry import CORES

__all__ = ["META_KEY", "NIR_SCHEMA", "DEFAULT_DT", "to_nir", "write_nir", "read_nir", "read_nir_network",
           "from_nir", "network_from_graph", "nir_chain", "choose_leak_shifts"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


# ------------------------------------------------------------------ reading

def _check_hdf5(f, path):
    """Refuse links to other files, external data, and datasets beyond the element limit or the
    unpacked-size limit, before anything is read."""
    import h5py
    cap, cap_bytes, total = limit("array_elements"), limit("file_mb") << 20, [0]

    def link(name, lnk):                        # nothing outside this file is ever opened
        if isinstance(lnk, h5py.ExternalLink):
            return ConfigError(f"{path}: {name} links to another file ({lnk.filename}); not a NIR graph")
        return None

    def visit(name, obj):                       # a returned error stops the walk (raised below)
        if not isinstance(obj, h5py.Dataset):
            return None
        if obj.is_virtual or obj.external:
            return ConfigError(f"{path}: dataset {name} keeps its data in other files; not a NIR graph")
        n = math.prod(obj.shape) if obj.shape else 1
        if n > cap:
            return limit_error("array_elements", f"{path}: {name} of shape {obj.shape}", n)
        total[0] += n * max(1, obj.dtype.itemsize)
        if total[0] > cap_bytes:
            return limit_error("file_mb", f"{path}: the graph unpacked", math.ceil(total[0] / (1 << 20)))
        return None
    for walk, func in ((f.visititems_links, link), (f.visititems, visit)):
        problem = walk(func)
        if problem is not None:
            raise problem


def read_nir(path):
    """Read a NIR graph file through the input layer.

    Raises
    ------
    ConfigError
        The file is not HDF5, not a NIR graph, or too large unpacked.
    """
    nir = _nir()
    import h5py
    path = os.fspath(path)
    raw = read_bytes(path)
    if not raw.startswith(_HDF5_MAGIC):
        raise ConfigError(f"{path}: not a NIR file (NIR graphs are HDF5 files; this one has no HDF5 signature)")
    try:
        with h5py.File(io.BytesIO(raw), "r") as f:
            _check_hdf5(f, path)
            if "node" not in f:
                raise ConfigError(f"{path}: an HDF5 file without a NIR graph (no 'node' group)")
    except ConfigError:
        raise
    except Exception as e:
        raise ConfigError(f"{path}: not a readable NIR file ({type(e).__name__}: "
                          f"{str(e).splitlines()[0][:160] if str(e) else ''})") from None
    try:
        graph = nir.read(io.BytesIO(raw), type_check=False)
    except Exception as e:                  # nir raises ValueError, KeyError, AssertionError, TypeError …
        raise ConfigError(f"{path}: not a readable NIR graph ({type(e).__name__}: "
                          f"{str(e).splitlines()[0][:160] if str(e) else ''})") from None
    if not isinstance(graph, nir.NIRGraph):
        raise ConfigError(f"{path}: the file holds a single {type(graph).__name__} node, not a NIR graph")
    return graph


def nir_chain(graph, where="graph"):
    """The node names of a feed-forward graph from its one Input to its one Output, in order."""
    nir = _nir()
    nodes, edges = graph.nodes, [tuple(e) for e in graph.edges]
    ins = [k for k, n in nodes.items() if isinstance(n, nir.Input)]
    outs = [k for k, n in nodes.items() if isinstance(n, nir.Output)]
    if len(ins) != 1 or len(outs) != 1:
        raise ConfigError(f"{where}: {len(ins)} Input and {len(outs)} Output nodes; one of each is supported")
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise ConfigError(f"{where}: edge ({a!r}, {b!r}) names no node {end!r}")
    succ = {}
    for a, b in edges:
        if a in succ or sum(1 for x, y in edges if y == b) > 1:
            raise ConfigError(f"{where}: node {a!r} or {b!r} has more than one edge in or out; only a chain of "
                              "nodes (feed-forward, no branches or recurrence) is supported")
        succ[a] = b
    chain, k = [ins[0]], ins[0]
    while k in succ:
        k = succ[k]
        if k in chain:
            raise ConfigError(f"{where}: the edges form a cycle through node {k!r}; recurrent networks are "
                              "not supported")
        chain.append(k)
    if chain[-1] != outs[0] or len(chain) != len(nodes):
        left = sorted(set(nodes) - set(chain))
        raise ConfigError(f"{where}: the nodes do not form one chain from input to output"
                          + (f" (not on it: {', '.join(left[:5])})" if left else ""))
    return chain


def _restore(graph, where):
    """The Network a spikeforge-exported graph describes (checked against the graph's Affine nodes)."""
    facts = parse_json(graph.metadata[META_KEY], f"{where}: metadata {META_KEY!r}")
    if not isinstance(facts, dict) or facts.get("schema") != NIR_SCHEMA:
        raise ConfigError(f"{where}: metadata {META_KEY!r} has schema "
                          f"{facts.get('schema') if isinstance(facts, dict) else None!r}; this version reads "
                          f"{NIR_SCHEMA!r}")
    doc = facts.get("network")
    if not isinstance(doc, dict) or not isinstance(doc.get("layers"), list):
        raise ConfigError(f"{where}: metadata {META_KEY!r} holds no network")
    layers = []
    for k, d in enumerate(doc["layers"]):
        if not isinstance(d, dict):
            raise ConfigError(f"{where}: metadata layer {k} is not an object")
        d = {key: v for key, v in d.items() if key not in ("affine", "affine_is_layer", "core_params", "neuron")}
        if doc["layers"][k].get("affine_is_layer"):
            node = graph.nodes.get(doc["layers"][k].get("affine"))
            if node is None or not hasattr(node, "weight"):
                raise ConfigError(f"{where}: metadata layer {k} names no Affine node")
            d["weights"] = _int_matrix(node.weight, f"{where}: node {doc['layers'][k]['affine']!r}")
            d["bias"] = _int_matrix(np.asarray(node.bias).reshape(1, -1),
                                    f"{where}: node {doc['layers'][k]['affine']!r} bias")[0]
        layers.append(d)
    try:
        net = Network.from_dict({**doc, "layers": layers})
    except ConfigError as e:
        raise ConfigError(f"{where}: metadata {META_KEY!r}: {e}") from None
    for i, d in enumerate(doc["layers"]):          # the Affine nodes must still be what the network adds
        node = graph.nodes.get(d.get("affine"))
        W, b = _affine_of(net, i)
        if node is None or not (np.array_equal(np.asarray(node.weight), W)
                                and np.array_equal(np.asarray(node.bias).reshape(-1), b)):
            raise ConfigError(f"{where}: Affine node {d.get('affine')!r} no longer holds the weights the "
                              f"spikeforge metadata describes (edited after export?); remove the "
                              f"{META_KEY!r} metadata to import it as a plain NIR graph")
    return net


def _int_matrix(a, what):
    a = np.asarray(a)
    if a.dtype.kind not in "iuf" or a.ndim != 2 or not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
        raise ConfigError(f"{what}: expected a matrix of integers")
    return a.astype(np.int64).tolist()


def read_nir_network(path, *, input_bits=8, w_bits=8, time_steps=None, readout=None, dt=None,
                     progress=lambda *a, **k: None):
    """The integer network of NIR file ``path``.

    A graph exported by spikeforge is restored exactly (any coding); any
    other graph is quantized by :func:`from_nir` (``lif`` or ``if``).

    Returns
    -------
    Network
    """
    path = os.fspath(path)
    progress(f"reading the NIR graph {path}")
    graph = read_nir(path)
    if META_KEY in (graph.metadata or {}):
        return _restore(graph, path)
    name = os.path.splitext(os.path.basename(path))[0] or "nir"
    return from_nir(graph, name=name, input_bits=input_bits, w_bits=w_bits, time_steps=time_steps,
                    readout=readout, dt=dt, where=path)


def network_from_graph(graph, where="graph", **kw):
    """:func:`read_nir_network` for an in-memory ``nir.NIRGraph``."""
    if META_KEY in (graph.metadata or {}):
        return _restore(graph, where)
    return from_nir(graph, where=where, **kw)


# ------------------------------------------------------------------ generic import

def _vec(node, attr, n, where, name):
    v = getattr(node, attr, None)
    if v is None:
        raise ConfigError(f"{where}: node {name!r} has no {attr}")
    v = np.asarray(v)
    if v.dtype.kind not in "iuf":
        raise ConfigError(f"{where}: node {name!r}: {attr} must hold real numbers")
    v = v.astype(np.float64).reshape(-1)
    if v.size == 1:
        v = np.full(n, v[0])
    if v.size != n:
        raise ConfigError(f"{where}: node {name!r}: {attr} has {v.size} values for {n} neurons")
    if not np.all(np.isfinite(v)):
        raise ConfigError(f"{where}: node {name!r}: {attr} contains NaN or infinite values")
    return v


def choose_leak_shifts(lam, max_shifts=6, max_shift=16):
    """The distinct shift set I whose leak Σ 2^−ι is closest to ``lam`` (fewest shifts on a tie)."""
    best = None
    for k in range(1, max_shifts + 1):
        for combo in itertools.combinations(range(1, max_shift + 1), k):
            err = abs(leak_factor(combo) - lam)
            if best is None or err < best[0] - 1e-15:
                best = (err, combo)
    return list(best[1])


def _layers_of(graph, where):
    """[(name, Affine-like node, name, neuron node or None)] along the chain, after Input/Flatten."""
    nir = _nir()
    chain = nir_chain(graph, where)
    body = [k for k in chain[1:-1]]
    inp = graph.nodes[chain[0]]
    shape = [int(s) for s in np.asarray(inp.input_type["input"]).reshape(-1)]
    n = math.prod(shape) if shape else 0
    k, layers = 0, []
    while k < len(body) and isinstance(graph.nodes[body[k]], nir.Flatten):
        k += 1
    if k == 0 and len(shape) > 1:
        raise ConfigError(f"{where}: the input has shape {shape}; add a Flatten node before the first layer")
    neuron_types = (nir.LIF, nir.CubaLIF, nir.IF, nir.LI, nir.CubaLI, nir.I)
    while k < len(body):
        name = body[k]
        node = graph.nodes[name]
        if not isinstance(node, (nir.Affine, nir.Linear)):
            kind = type(node).__name__
            raise ConfigError(f"{where}: node {name!r} is {kind}; expected Affine or Linear here (supported: "
                              "Input, Flatten, Affine, Linear, LIF, CubaLIF, IF, LI, CubaLI, I, Output)")
        W = np.asarray(node.weight)
        if W.dtype.kind not in "iuf" or W.ndim != 2:
            raise ConfigError(f"{where}: node {name!r}: weight must be a real matrix (out, in), not shape "
                              f"{W.shape}")
        W = W.astype(np.float64)
        if not np.all(np.isfinite(W)):
            raise ConfigError(f"{where}: node {name!r}: weight contains NaN or infinite values")
        if W.shape[1] != n:
            raise ConfigError(f"{where}: node {name!r}: weight of shape {W.shape} (out, in) for {n} inputs")
        b = _vec(node, "bias", W.shape[0], where, name) if isinstance(node, nir.Affine) else np.zeros(W.shape[0])
        neuron = None
        if k + 1 < len(body):
            neuron = graph.nodes[body[k + 1]]
            if not isinstance(neuron, neuron_types):
                raise ConfigError(f"{where}: node {body[k + 1]!r} is {type(neuron).__name__}; expected a neuron "
                                  "node (LIF, CubaLIF, IF; LI, CubaLI or I at the output) after an Affine")
            layers.append((name, W, b, body[k + 1], neuron))
            k += 2
        else:
            raise ConfigError(f"{where}: the last Affine node {name!r} feeds the Output directly; the output "
                              "layer needs a neuron node (LIF, IF, LI or I)")
        n = W.shape[0]
    if not layers:
        raise ConfigError(f"{where}: the graph holds no Affine/Linear layer")
    return shape, layers


def _gains_and_step(layers, where, dt=None):
    """Per layer (r, tau) (tau None for IF/I neurons), checked positive, and the time step: ``dt``
    checked, or by default the one at which the input enters the membrane unscaled each step
    (LIF: τ/r; IF: 1/r), which all neurons must agree on."""
    nir = _nir()
    params, dts = [], []
    for lname, W, b, nname, nrn in layers:
        n = W.shape[0]
        r = _vec(nrn, "r", n, where, nname)
        if np.any(r <= 0):
            raise ConfigError(f"{where}: node {nname!r}: r must be positive")
        if isinstance(nrn, (nir.IF, nir.I)):
            tau = None
            dts.append(1.0 / r)
        else:
            tau = _vec(nrn, "tau" if hasattr(nrn, "tau") else "tau_mem", n, where, nname)
            if np.any(tau <= 0):
                raise ConfigError(f"{where}: node {nname!r}: tau must be positive")
            dts.append(tau / r)
        params.append((r, tau))
    if dt is None:
        allv = np.concatenate(dts)
        dt = float(np.median(allv))
        if np.max(np.abs(allv - dt)) > 1e-3 * dt:
            raise ConfigError(f"{where}: the neurons' time constants imply different time steps "
                              f"({allv.min():g} to {allv.max():g} s for an input that enters unscaled); "
                              "give the time step (--nir-dt)")
    elif not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise ConfigError(f"--nir-dt must be a positive number of seconds, not {dt!r}")
    return params, dt


def from_nir(graph, *, name="nir", input_bits=8, w_bits=8, act_bits=8, time_steps=None, readout=None,
             dt=None, where="graph"):
    """Quantize a feed-forward NIR IF/LIF/CubaLIF graph into a ``lif`` or ``if`` network.

    Discrete semantics (forward Euler, step dt) of neuron i with input
    current I = W·s + b:

    - LIF: v ← v + (dt/τ)(v_leak − v + r·I); CubaLIF first filters the
      current, I_syn ← I_syn + (dt/τ_syn)(w_in·I − I_syn); IF: v ← v + dt·r·I;
    - spike z = v > v_threshold, then v ← v_reset.

    Quantization (per layer): with k_i the per-step input gain (LIF: dt·r/τ,
    CubaLIF: dt·r·w_in/τ, IF: dt·r), each neuron's state is scaled by
    g_i = ϑ/v_threshold_i so that every neuron of the layer shares one integer
    threshold ϑ, the largest for which all |round(g_i·k_i·W_ij)| fit
    ``w_bits``; weights W_int = round(g_i·k_i·W), bias round(g_i·k_i·(b +
    v_leak/r)). A non-spiking output (LI, I) takes one scale for all neurons.
    The leak 1 − dt/τ of every LIF neuron becomes the one shift-add leak of
    the network (the shift set closest to their mean, :func:`choose_leak_shifts`).

    Parameters
    ----------
    graph : nir.NIRGraph
    name : str
        The network's name.
    input_bits, w_bits, act_bits : int
        Input width (inputs in [0, 1] become input_bits integers), weight
        width, activation width of the reference integer ANN.
    time_steps : int, optional
        T (default: the coding's default, 32).
    readout : str, optional
        LIF output readout; default ``count`` for a spiking output layer,
        ``membrane`` for an LI/CubaLI one.
    dt : float, optional
        Time step (s). Default: the one at which the input enters the
        membrane unscaled each step (LIF: τ/r, snnTorch's convention; IF:
        1/r); a graph whose neurons disagree on it needs ``dt``.
    where : str
        Names the graph in messages.

    Returns
    -------
    Network
        With ``meta["nir"]`` recording the time step, the leak and the list
        of what was not kept (also issued as one warning).
    """
    nir = _nir()
    shape, layers = _layers_of(graph, where)
    spiking_lif = (nir.LIF, nir.CubaLIF, nir.LI, nir.CubaLI)
    kinds = {"lif" if isinstance(nrn, spiking_lif) else "if" for *_x, nrn in layers}
    rate = [c for c in CORES.values() if c.time_steps]
    by_leak = {bool(c.options.get("leak_shifts")): c.name for c in rate}
    if len(kinds) != 1:
        raise ConfigError(f"{where}: the graph mixes leaky (LIF/CubaLIF/LI) and non-leaky (IF/I) neurons; "
                          "one kind per network is supported")
    leaky = kinds == {"lif"}
    coding = by_leak[leaky]
    for lname, _W, _b, nname, nrn in layers[:-1]:
        if isinstance(nrn, (nir.LI, nir.CubaLI, nir.I)):
            raise ConfigError(f"{where}: hidden node {nname!r} is a non-spiking {type(nrn).__name__}; only the "
                              "output layer may be")
    lost = []
    params, dt = _gains_and_step(layers, where, dt)
    lams = []
    for (lname, W, b, nname, nrn), (r, tau) in zip(layers, params):
        if tau is not None:
            a = dt / tau
            if np.any(a >= 1):
                raise ConfigError(f"{where}: node {nname!r}: time step {dt:g} s is not below tau "
                                  f"({tau.min():g} s): the discrete leak would be zero or negative; give "
                                  "the simulator's time step with --nir-dt (Norse: 0.001)")
            lams.append(1 - a)
    shifts = None
    if leaky:
        allλ = np.concatenate(lams)
        shifts = choose_leak_shifts(float(allλ.mean()))
        lost.append(f"continuous time constants: every leak 1 - dt/tau (from {allλ.min():.4f} to "
                    f"{allλ.max():.4f}, dt = {dt:g} s) becomes the one shift-add leak "
                    f"{leak_factor(shifts):.6f} (shifts {shifts})")
    wlim = (1 << (w_bits - 1)) - 1
    dense, bits_in = [], input_bits
    L = len(layers)
    for k, ((lname, W, b, nname, nrn), (r, tau)) in enumerate(zip(layers, params)):
        n = W.shape[0]
        last = k == L - 1
        if isinstance(nrn, (nir.IF, nir.I)):
            gain = dt * r
        else:
            gain = dt / tau * r
        if isinstance(nrn, (nir.CubaLIF, nir.CubaLI)):
            w_in = _vec(nrn, "w_in", n, where, nname)
            gain = gain * w_in
            if k == 0 or not any("tau_syn" in s for s in lost):
                lost.append("CubaLIF synaptic current filters (tau_syn): dropped, their DC gain w_in kept")
        leak = _vec(nrn, "v_leak", n, where, nname) if hasattr(nrn, "v_leak") else np.zeros(n)
        b_eff = b + leak / r
        if np.any(leak != 0) and not any("v_leak" in s for s in lost):
            lost.append("v_leak: kept as a constant input current v_leak / r")
        direct = k == 0 and not leaky
        q = 1.0 / ((1 << input_bits) - 1) if direct else 1.0
        spiking = hasattr(nrn, "v_threshold")
        if spiking:
            th = _vec(nrn, "v_threshold", n, where, nname)
            if np.any(th <= 0):
                raise ConfigError(f"{where}: node {nname!r}: v_threshold must be positive")
            reset = _vec(nrn, "v_reset", n, where, nname) if getattr(nrn, "v_reset", None) is not None \
                else np.zeros(n)
            if not leaky and not any("subtract" in s for s in lost):
                lost.append("reset: NIR resets IF neurons to v_reset; spikeforge's IF subtracts the threshold")
            elif leaky and np.any(reset != 0) and not any("v_reset" in s for s in lost):
                lost.append("v_reset != 0: spikeforge's LIF resets to zero")
        else:
            th = np.ones(n)
        per = np.abs(gain[:, None] * W * q).max(axis=1) / th
        m = float(per.max()) if per.size else 0.0
        theta = int(min(max(1, math.floor(wlim / m)) if m > 0 else wlim, 1 << 40))
        g = theta / th
        if not spiking:                            # one scale for every neuron: the arg-max is kept
            g = np.full(n, float(theta))
        W_int = np.rint(g[:, None] * gain[:, None] * W * q).astype(np.int64)
        b_int = np.rint(g * gain * b_eff).astype(np.int64)
        if np.abs(b_int).max(initial=0) > (1 << 40):
            raise ConfigError(f"{where}: node {lname!r}: the bias is too large against the threshold")
        if theta < 8 and spiking:
            lost.append(f"layer {k}: threshold resolution: integer threshold {theta} (weights limited by "
                        f"w_bits = {w_bits})")
        scale_in = 1 if direct else 1 << bits_in
        r_shift = 0 if direct else bits_in
        out_bits = None if last else act_bits
        if last:
            shift = 0
        else:
            shift = int(round(math.log2(theta) + (0 if direct else bits_in) - act_bits))
            shift = max(0, min(62, shift))
        dense.append(Dense(W_int.tolist(), (b_int * scale_in).tolist(), shift, out_bits,
                           {"threshold": theta, "in_scale": scale_in, "weight_shift": r_shift}))
        bits_in = act_bits
    out = layers[-1][4]
    opts = {}
    if time_steps is not None:
        opts["time_steps"] = time_steps
    if leaky:
        opts["leak_shifts"] = shifts
        auto = "membrane" if isinstance(out, (nir.LI, nir.CubaLI)) else "count"
        if readout is not None and (readout == "membrane") != (auto == "membrane"):
            raise ConfigError(f"{where}: the output node is {type(out).__name__}; readout {readout!r} does not "
                              f"apply (use {auto!r})")
        opts["readout"] = readout or auto
    elif isinstance(out, nir.IF):
        lost.append("output layer: spikeforge's IF network reads the output integrator (total input scaled by "
                    "1/v_threshold), not the output spikes")
    if not leaky:
        lost.append("input: spikeforge's IF network takes the inputs as a constant current each step")
    else:
        lost.append(f"input: the inputs in [0, 1] arrive as the LFSR rate code, P(spike) = x_int / 2^{input_bits}")
    lost.append("threshold: spikeforge fires at v >= threshold on integers, NIR at v > v_threshold")
    meta = {"source": where, "nir": {"dt": dt, "coding": coding, "leak_shifts": shifts, "not_kept": lost,
                                     "quantization": f"per layer one integer threshold, weights within "
                                                     f"w_bits = {w_bits}"}}
    try:
        net = Network(coding, input_bits, tuple(dense), w_bits, opts, name, meta)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    warn(f"{where}: imported into the {coding} coding; NIR semantics not kept: " + "; ".join(lost))
    return net
