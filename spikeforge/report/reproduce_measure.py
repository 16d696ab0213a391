"""Measurements behind ``spikeforge reproduce`` (see :mod:`.reproduce`).

Each function measures one group of the papers' claims on this package's
models and returns ``(claims, details)``: a list of :class:`Claim` rows and a
dict of detail tables (lists of dicts) for the document. Nothing here is
recorded in advance: every "ours" figure is computed when the function runs.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from ..api import convert_model, quantize_model
from ..models.amos import AMOSParams
from ..models.convert import RATE_NORMS, from_sklearn, quantize_inputs, to_coding
from ..models.convert_act import convert_activation_net, evaluate_activation_net
from ..models.datasets import load_dataset, train_reference
from ..models.fit_amos import amos_error
from ..models.fit_common import grid_step
from ..models.activations import get_activation
from ..models.fit_fs import EVAL_POINTS, FSFitSpec, fit_fs, fs_error, quantize_tables
from ..models.fitted import find_table, load_table
from ..models.fs import FSParams, fs_golden
from ..models.registry import CORES, REFERENCE
from ..models.simulate import run_network
from ..models.train_mlp import train_mlp
from ..models.ttfs_general import integer_mapping, map_network, robustness, run_integer, run_snn

__all__ = ["Claim", "fs_fit", "spikes", "amos_units", "nets", "ttfs", "rate", "cosim"]

FS, AMOS = FSParams.core, AMOSParams.core
FS2021, AMOS2020 = "Stöckl & Maass 2021", "Stöckl & Maass 2020"
THESIS, DING = "Stanojevic 2023", "Ding et al. 2021"


@dataclass
class Claim:
    """One row: a paper's claim, its figure, ours, the command that measured ours, and why
    they differ."""

    id: str
    source: str
    claim: str
    paper: str
    ours: str
    command: str
    why: str
    data: dict = field(default_factory=dict)

    def to_dict(self):
        return asdict(self)


def _cmd(section):
    return f"spikeforge reproduce --only {section}"


def _pct(v):
    return f"{100 * v:.2f} %"


def _exact_codings():
    return [c.name for c in CORES.values() if c.exact and not c.is_reference]


def _rate_codings():
    return [c.name for c in CORES.values() if c.time_steps]


def _neuron_codings():
    return [c.name for c in CORES.values() if not c.layer_core]


# ------------------------------------------------------------------ FS fitting (Fig. 2, 3, 6)

def fs_fit(quick=False, progress=print):
    swish, sigmoid = find_table(FS, "swish"), find_table(FS, "sigmoid")
    e = swish.error
    claims = [Claim(
        "fs-swish-mse", f"{FS2021}, §1.2.1, Fig. 2", "an FS neuron with K = 16 approximates Swish on [−8, 12]",
        "MSE 0.0023 in [−2, 2], 0.0064 outside", f"MSE {e['mse_main']:.4f} in [−2, 2], {e['mse_outside']:.4f} "
        f"outside (integer tables, Q = 8; real tables {swish.data['error_real']['mse_main']:.4f} / "
        f"{swish.data['error_real']['mse_outside']:.4f})",
        f"python -m spikeforge.models.fitted --only {swish.name}; {_cmd('fs_fit')}",
        "our loss weights (5× in [−2, 2]), optimizer and least-squares refit of d are our choices "
        "(the paper gives none); ours are quantized to 8 bits and still lower",
        {"error": e, "error_real": swish.data["error_real"], "naive": swish.data["error_naive"]})]
    claims.append(Claim(
        "fs-sigmoid", f"{FS2021}, §1.2.1, Fig. 3", "an FS neuron with K = 12 approximates sigmoid on [−10, 10]",
        "shown in Fig. 3, no figure given", f"MSE {sigmoid.error['mse']:.5f}, max {sigmoid.error['max']:.3f} "
        f"(integer, Q = 8; naive staircase {sigmoid.data['error_naive']['mse']:.5f})",
        f"python -m spikeforge.models.fitted --only {sigmoid.name}", "no number to compare with"))
    Ks = (8, 16) if quick else (4, 8, 12, 16, 20)
    Qs = (4, 8) if quick else (4, 5, 6, 7, 8, 10, 12)
    k_rows = []
    for K in Ks:
        progress(f"fitting Swish FS K={K}")
        f = load_table(swish.name) if K == swish.K else None
        err = f.data["error_real"] if f else fit_fs(FSFitSpec(activation="swish", K=K, qat_steps=0)).error_real
        k_rows.append({"K": K, "mse": err["mse"], "mse_main": err["mse_main"],
                       "weighted_mse": _weighted(err, "swish"), "max": err["max"]})
    q_rows = []
    for table in (swish, sigmoid):
        spec = FSFitSpec(**table.data["spec"])
        real = table.data["real"]
        for Q in Qs:
            progress(f"quantizing {table.name} to Q={Q}")
            s = FSFitSpec(**{**spec.to_dict(), "Q": Q})
            (T, h, d), _, _ = quantize_tables(s, real["T"], real["h"], real["d"])
            err = fs_error(T, h, d, Q, table.target)
            q_rows.append({"activation": table.target, "K": table.K, "Q": Q, "step": grid_step(Q), **err})
    mono = all(a["weighted_mse"] >= b["weighted_mse"] for a, b in zip(k_rows, k_rows[1:]))
    claims.append(Claim(
        "fs-mse-vs-K", f"{FS2021}, §1.5, Fig. 6B", "the Swish approximation error falls with K",
        "a falling curve (no numbers in the text)",
        "weighted MSE " + ", ".join(f"K={r['K']}: {r['weighted_mse']:.4f}" for r in k_rows)
        + ("" if mono else " (not monotone)"), _cmd("fs_fit"),
        "real tables fitted by our procedure; the fit minimizes the MSE weighted 5× in [−2, 2], so that is "
        "the figure that falls with K (the plain MSE is in the detail table)"))
    claims.append(Claim(
        "fs-mse-vs-Q", f"{FS2021}, §1.5, Fig. 6C–D", "the error grows as the tables get fewer bits Q",
        "falling curves for Swish K = 16 and sigmoid K = 12 (no numbers in the text)",
        "; ".join(f"{t}: " + ", ".join(f"Q={r['Q']}: {r['mse']:.4f}" for r in q_rows if r["activation"] == t)
                  for t in ("swish", "sigmoid")),
        _cmd("fs_fit"), "our Q-bit grid is the two's-complement one (2^Q values on [−8, 8 − 2^(4−Q)]) with "
        "quantization-aware fine-tuning; sigmoid's outputs < 1 feel the step 2^(4−Q) most"))
    return claims, {"fs_error_vs_K": k_rows, "fs_error_vs_Q": q_rows}


def _weighted(err, activation):
    """The fit's loss on the evaluation grid: the MSE weighted ``main_weight``× in the main region."""
    a = get_activation(activation)
    x = np.linspace(*a.interval, EVAL_POINTS)
    p = float(np.mean((x >= a.main[0]) & (x <= a.main[1])))
    mw = a.main_weight
    return (mw * p * err["mse_main"] + (1 - p) * err["mse_outside"]) / (mw * p + 1 - p)


# ------------------------------------------------------------------ spikes per neuron (Fig. 5, discussion)

def spikes(quick=False, progress=print):
    rng = np.random.default_rng(0)
    n = 50_000 if quick else 400_000
    swish = find_table(FS, "swish")
    x = rng.normal(-0.112, np.sqrt(1.99), n)
    p = swish.params(x_bits=12)
    xi = np.clip(np.floor(x / swish.x_step), -(1 << 11), (1 << 11) - 1).astype(np.int64)
    s_swish = float(fs_golden(p, xi).z.sum(axis=-1).mean())
    x = rng.normal(-0.3697, np.sqrt(2.19), n)
    lsb = 10.0 / 64
    xi = np.clip(np.floor(x / lsb), -(1 << 9), (1 << 9) - 1).astype(np.int64)
    s_relu = float(fs_golden(FSParams.relu(6, 10), xi).z.sum(axis=-1).mean())
    progress("FS spikes on digits")
    ds = load_dataset("digits")
    net = convert_model("digits", codings=[FS])[FS]
    r = run_network(net, quantize_inputs(ds.x_test, net.input_bits))
    stages = {s.name: s.counts.spikes / s.neurons / len(ds.x_test) for s in r.layers if s.neurons}
    claims = [Claim(
        "fs-spikes-swish", f"{FS2021}, §1.4, Fig. 5A; Discussion", "FS neurons for Swish emit about 2 spikes",
        "≈ 2 spikes per neuron (EfficientNet-B7, ImageNet)",
        f"{s_swish:.2f} spikes per neuron for inputs ~ N(−0.112, 1.99) (the Gaussian of Fig. 5A), shipped table",
        _cmd("spikes"), "our table minimizes the error only (no cost per spike) and differs from the paper's "
        "(its Fig. 2B keeps most T, h, d inside [−2, 2]); the inputs follow the paper's Gaussian model"),
        Claim(
        "fs-spikes-relu", f"{FS2021}, §1.4, Fig. 5B; Discussion", "FS neurons for ReLU emit about 1.5 spikes",
        "≈ 1.5 spikes per neuron (ResNet50, ImageNet; K = 6, α = 10 in Fig. 5B)",
        f"{s_relu:.2f} for inputs ~ N(−0.3697, 2.19), K = 6, α = 10; digits 64-32-10: "
        f"{r.spikes_per_neuron():.2f} (input stage {stages.get('input', 0):.2f}, hidden "
        f"{np.mean([v for k, v in stages.items() if k != 'input']):.2f})",
        _cmd("spikes"), "the neuron is the paper's (bit-shift tables); under the paper's own Gaussian model "
        "of the ResNet50 inputs it emits fewer than 1.5, so the 1.5 reflects the real network's inputs, not "
        "the neuron. On digits the spikes are the popcount of the 8-bit activations: most pixels are 0 or "
        "16/16 → 255 = 8 spikes, and the hidden layer is calibrated to fill 8 bits, where ImageNet-scale "
        "ReLU outputs are mostly small",
        {"stages": stages})]
    return claims, {}


# ------------------------------------------------------------------ AMOS units (Table 3, Figs. 4–6)

def amos_units(quick=False, progress=print):
    rows, claims = [], []
    for target, K in (("sigmoid", 8), ("relu", 10), ("swish", 12), ("mult", 40)):
        if target == "relu":
            rows.append({"unit": "ReLU K=10 (bit-shift, exact)", "K": 10,
                         "params": AMOSParams.relu(10, 12).param_count, "mse": 0.0})
            continue
        t = find_table(AMOS, target, K=K)
        err = amos_error(t.tables(), t.x_step, t.y_step, target)     # re-measured here
        rows.append({"unit": t.name, "K": K, "params": t.params().param_count, "mse": err["mse"],
                     "max": err["max"], "naive_mse": t.data["error_naive"]["mse"]})
    counts = "/".join(str(r["params"]) for r in rows)
    claims.append(Claim(
        "amos-params", f"{AMOS2020}, §2.2, Table 3", "parameters of the AMOS units",
        "sigmoid K=8: 52, ReLU K=10: 75, Swish K=12: 102, mult K=40: 940", counts + " (same order)",
        _cmd("amos_units"), "identical: 3K + K(K−1)/2, plus K for the second input"))
    mult = rows[-1]
    claims.append(Claim(
        "amos-mult-mse", f"{AMOS2020}, Fig. 6", "a K = 40 two-input AMOS unit approximates x·x'",
        "MSE 0.0102", f"MSE {mult['mse']:.5f} on [−1, 1]² (integer unit, 8-bit gains and outputs)",
        "python -m spikeforge.models.fitted --only amos-mult-K40-Q8", "the paper does not state the domain; "
        "ours is [−1, 1]² with 41 × 41 training points and our fitting choices"))
    claims.append(Claim(
        "amos-sigmoid-swish", f"{AMOS2020}, Figs. 4–5", "AMOS units approximate sigmoid (K = 8) and Swish (K = 12)",
        "plots only", f"MSE {rows[0]['mse']:.5f} (sigmoid), {rows[2]['mse']:.4f} (Swish), integer units",
        _cmd("amos_units"), "no number to compare with; intervals as for the FS neuron (our choice)"))
    return claims, {"amos_units": rows}


# ------------------------------------------------------------------ networks

def nets(quick=False, progress=print):
    ds = load_dataset("digits")
    xq = quantize_inputs(ds.x_test, 8)
    progress("exact codings against the integer ANN (digits)")
    conv = convert_model("digits", codings=[REFERENCE] + _exact_codings())
    ref = run_network(conv[REFERENCE], xq).predictions
    agree = {c: float(np.mean(run_network(conv[c], xq).predictions == ref)) for c in _exact_codings()}
    claims = [Claim(
        "exact-relu", f"{FS2021} §1.2.2; {AMOS2020} §1.2; {THESIS} Table 2.1",
        "ReLU networks convert without loss", "100 % agreement (FS, AMOS: exact on integers; TTFS: Table 2.1)",
        ", ".join(f"{c}: {_pct(v)}" for c, v in agree.items()) + " against the integer ANN (digits test split)",
        _cmd("nets"), "none: the integer models are exact by construction (and tested)", {"agreement": agree})]
    rows = []
    epochs = 60 if quick else 300
    for act in ("swish", "sigmoid", "gelu"):
        progress(f"training a {act} MLP on digits")
        f = train_mlp(ds.x_train, ds.y_train, (32,), act, epochs=epochs)
        for c in _neuron_codings():
            r = evaluate_activation_net(f, convert_activation_net(f, ds.x_train, c), ds.x_test, ds.y_test)
            rows.append({"activation": act, "coding": c, **r})
    sw = [r for r in rows if r["activation"] == "swish"]
    claims.append(Claim(
        "act-nets", f"{FS2021} Table 1; {AMOS2020} Table 1", "networks with Swish/sigmoid convert with a small loss",
        "EfficientNet-B7: 85 % → 83.57 % (FS), 80.97 % (AMOS) on ImageNet",
        "; ".join(f"{r['activation']} {r['coding']}: {_pct(r['float_accuracy'])} → {_pct(r['accuracy'])} "
                  f"(agreement {_pct(r['agreement'])})" for r in rows),
        _cmd("nets"), "an 8×8-digits MLP with one hidden layer, not a 218-layer CNN: fewer approximation errors "
        "accumulate; units fitted and quantized by us", {"swish": sw}))
    return claims, {"activation_nets": rows}


# ------------------------------------------------------------------ TTFS general mapping (ch. 2)

def ttfs(quick=False, progress=print):
    ds = load_dataset("digits")
    fnet = from_sklearn(train_reference("digits"))
    m = map_network(fnet, ds.x_train)
    ref = fnet.forward(ds.x_test)[1].argmax(axis=1)
    r = run_snn(m, ds.x_test)
    int_rows = []
    for F in ((4, 8) if quick else (2, 4, 6, 8, 10)):
        im = integer_mapping(m, F=F, tau=F)
        ri = run_integer(im, ds.x_test)
        int_rows.append({"F": F, "tau": F, "agreement": float(np.mean(ri["predictions"] == ref)),
                         "accuracy": float(np.mean(ri["predictions"] == ds.y_test)), "ticks": int(im.t_max[-1])})
    progress("TTFS robustness curves")
    rob = robustness(m, ds.x_test, ds.y_test, trials=4 if quick else 16)
    zeta_rows = []
    for z in (-0.75, -0.5, 0.0, 0.5):
        mz = map_network(fnet, ds.x_train, zeta=z)
        rz = run_snn(mz, ds.x_test, formal=False)
        zeta_rows.append({"zeta": z, "accuracy": float(np.mean(rz["predictions"] == ds.y_test)),
                          "latency": float(mz.t_max[-1])})
    base = float(np.mean(r["predictions"] == ds.y_test))

    def drop(kind, sd):
        row = next(x for x in rob[kind] if x["sd"] == sd)
        return f"{100 * (row['accuracy'] - base):+.2f} pp"

    claims = [
        Claim("ttfs-agreement", f"{THESIS}, §2.2.1–2.2.4, Table 2.1", "the general mapping is exact",
              "100 % agreement on every data set", f"{_pct(float(np.mean(r['predictions'] == ref)))} "
              f"(float SNN, digits); integer tick form: " + ", ".join(
                  f"F=τ={x['F']}: {_pct(x['agreement'])}" for x in int_rows),
              _cmd("ttfs"), "the float form is exact (to 1e−13); the integer form rounds J and floors times"),
        Claim("ttfs-active", f"{THESIS}, Table 2.1", "fraction of active neurons (spikes per neuron)",
              "50.28 % (2-layer FC net, MNIST)", _pct(r["active"]) + " (digits 64-32-10)", _cmd("ttfs"),
              "a 32-neuron hidden layer on 8×8 digits is mostly active; the thesis' net is larger and on MNIST"),
        Claim("ttfs-jitter", f"{THESIS}, §2.2.4, Fig. 2.5b", "robust to spike-time jitter",
              "no loss up to σ = 0.001; about −0.66 pp at σ ≈ 0.01 (VGG16, CIFAR10)",
              f"σ=0.001: {drop('jitter', 1e-3)}, 0.01: {drop('jitter', 1e-2)}, 0.1: {drop('jitter', 1e-1)}",
              _cmd("ttfs"), "one hidden layer instead of 15: less accumulation of timing errors"),
        Claim("ttfs-slope", f"{THESIS}, §2.2.4, Fig. 2.5c", "sensitive to slope mismatch",
              "a dramatic drop already at σ = 0.001 (VGG16, CIFAR10)",
              f"σ=0.001: {drop('slope', 1e-3)}, 0.01: {drop('slope', 1e-2)}, 0.1: {drop('slope', 1e-1)}",
              _cmd("ttfs"), "a slope error accumulates over each layer's integration interval; digits has one "
              "short interval, VGG16 fifteen"),
        Claim("ttfs-zeta", f"{THESIS}, §2.2.4, Fig. 2.5a", "ζ down to −0.5 degrades gracefully and cuts latency ×3",
              "graceful to ζ = −0.5, latency ÷3 from ζ = 0.5", ", ".join(
                  f"ζ={x['zeta']}: {_pct(x['accuracy'])} at t={x['latency']:.2f}" for x in zeta_rows),
              _cmd("ttfs"), "constant threshold (the thesis' practice); t_max = 1 + (1+ζ)·X with one hidden "
              "layer, so the input window (1 unit) keeps the ratio below 3 (VGG16's 15 windows dominate it)")]
    return claims, {"ttfs_integer": int_rows, "ttfs_jitter": rob["jitter"], "ttfs_slope": rob["slope"],
                    "ttfs_zeta": zeta_rows}


# ------------------------------------------------------------------ rate codings (Ding et al.)

def _held_out(name, hidden, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    ds = load_dataset(name)
    m = MLPClassifier(hidden_layer_sizes=hidden, random_state=seed, max_iter=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m.fit(ds.x_train, ds.y_train)
    return m, ds


def rate(quick=False, progress=print):
    ds = load_dataset("digits")
    ann, xq = quantize_model("digits")
    xt = quantize_inputs(ds.x_test, 8)
    float_acc = float(np.mean(train_reference("digits").predict(ds.x_test) == ds.y_test))
    Ts = (8, 32) if quick else (8, 16, 32, 64, 128)
    rows = []
    for norm in RATE_NORMS:
        for c in _rate_codings():
            progress(f"{c} with {norm} spike values")
            accs = {}
            for T in Ts:
                net = to_coding(ann, c, xq, time_steps=T, rate_norm=norm)
                accs[T] = float(np.mean(run_network(net, xt).predictions == ds.y_test))
            rows.append({"coding": c, "rate_norm": norm, **{f"T={T}": v for T, v in accs.items()}})
    at32 = {(r["coding"], r["rate_norm"]): r["T=32"] for r in rows}
    held = []
    for name, hidden, seed in (("digits", (64,), 1), ("iris", (16,), 0)):
        progress(f"held-out {name} MLP {hidden}")
        m, dsh = _held_out(name, hidden, seed)
        a, x_cal = quantize_model(m, dataset=name)
        fa = float(np.mean(m.predict(dsh.x_test) == dsh.y_test))
        for c in _rate_codings():
            for norm in (RATE_NORMS[0], RATE_NORMS[2]):
                net = to_coding(a, c, x_cal, time_steps=32, rate_norm=norm)
                acc = float(np.mean(run_network(net, quantize_inputs(dsh.x_test, 8)).predictions == dsh.y_test))
                held.append({"net": f"{name} {hidden} seed {seed}", "coding": c, "rate_norm": norm,
                             "float": fa, "T=32": acc, "delta_pp": 100 * (acc - fa)})
    claims = [Claim(
        "rate-rnl-T", f"{DING}, §3.3, Table 2", "RNL reaches its accuracy in fewer time steps than max/robust norm",
        "VGG-16, CIFAR-10, T = 32: max norm 10.00 %, robust norm 43.03 %, RNL+RIL 85.40 %",
        "digits, T = 32: " + ", ".join(f"{c} {n}: {_pct(v)}" for (c, n), v in at32.items()) +
        f" (float {_pct(float_acc)})", _cmd("rate"),
        "a one-hidden-layer MLP with constant input has no depth over which rate errors accumulate; every "
        "rule is close by T = 16, the differences are a few of 450 test samples"),
        Claim(
        "rate-goal", "issue goal", "LIF and IF at T = 32 within 0.5 pp of float on the bundled digits net",
        "—", ", ".join(f"{c} rnl: {100 * (at32[(c, RATE_NORMS[2])] - float_acc):+.2f} pp" for c in _rate_codings()),
        _cmd("rate"), "measured; a test checks it"),
        Claim(
        "rate-held-out", "issue 13 (measured before)", "LIF with default options loses accuracy on held-out nets",
        "−1.1 pp (a digits MLP), −4.4 pp (an Iris MLP), as a new user would try",
        "; ".join(f"{h['net']} {h['coding']} {h['rate_norm']}: {h['delta_pp']:+.2f} pp" for h in held),
        _cmd("rate"), "our held-out nets (sklearn MLPs with other sizes/seeds) are not the ones measured "
        "then; Iris' test split has 38 samples (1 sample = 2.6 pp)")]
    return claims, {"rate_vs_T": rows, "rate_held_out": held, "float_accuracy": float_acc}


# ------------------------------------------------------------------ co-simulation of the fitted tables

def cosim(quick=False, progress=print):
    from ..sim.verify import verify
    units = [("fs-swish-K16-Q8", FS), ("amos-sigmoid-K8-Q8", AMOS), ("amos-mult-K16-Q8", AMOS)]
    if not quick:
        units.append(("amos-mult-K40-Q8", AMOS))
    rows = []
    for name, core in units:
        progress(f"co-simulating {name}")
        p = load_table(name).params()
        r = verify(core, p, n_random=60)
        rows.append({"table": name, "inputs": r["inputs"], "spikes": r.get("spikes"), "cycles": r.get("cycles"),
                     "latency": r["latency"], "interval": r["interval"], "wall_s": r["wall_s"]})
    return [Claim(
        "fitted-cosim", "issue acceptance", "fitted tables load into the FS/AMOS RTL, bit-exact like ReLU",
        "—", "; ".join(f"{r['table']}: {r['inputs']} inputs bit- and cycle-exact" for r in rows),
        _cmd("cosim"), "co-simulated with Verilator against the golden model (spikes, cycles, latency, II)")], \
        {"cosim": rows}
