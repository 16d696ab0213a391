"""High-level Python API (what the CLI calls)."""

from __future__ import annotations

import os

from .models.base import check_int
from .models.convert import (check_coding_options, check_quantize_options, from_npz, quantize,
                             quantize_inputs, to_coding)
from .models.datasets import DATASETS, load_dataset, train_reference
from .models.errors import ConfigError
from .models.evaluate import evaluate
from .models.network import CODINGS, Network, load_network

__all__ = ["convert_model", "evaluate_design", "resolve_codings"]


def resolve_codings(codings):
    """Expand ``all`` and check every name."""
    out = []
    for c in codings or ["all"]:
        for part in str(c).split(","):
            part = part.strip()
            if part == "all":
                out.extend(CODINGS)
            elif part in CODINGS:
                out.append(part)
            else:
                raise ConfigError(f"unknown coding {part!r}; choose from {', '.join(CODINGS)} or all")
    return list(dict.fromkeys(out))


def _with_dataset(net, dataset):
    return Network(net.coding, net.input_bits, net.layers, net.w_bits, net.options, net.name,
                   {**net.meta, "dataset": dataset})


def convert_model(model="digits", *, dataset=None, codings=("all",), input_bits=8, act_bits=8,
                  w_bits=8, calibration="max", percentile=99.99, time_steps=None, rate_norm="max",
                  ttfs_variant="at_most_one", lif_readout=None, progress=lambda msg: None):
    """Convert a model into integer networks, one per coding (dict coding → Network).

    ``model``: ``"digits"``/``"iris"`` (the bundled reference net is trained),
    a path to a ``.npz`` file, or a fitted scikit-learn ``MLPClassifier``
    (then ``dataset`` names the calibration data).
    """
    codings = resolve_codings(codings)
    check_quantize_options(input_bits, act_bits, w_bits, calibration, percentile)
    for c in codings:
        check_coding_options(c, time_steps, rate_norm, ttfs_variant, lif_readout)
    if isinstance(model, str) and model in DATASETS:
        dataset = dataset or model
        if dataset != model:
            raise ConfigError(f"the reference net {model!r} is calibrated on its own data set, "
                              f"not {dataset!r}")
        progress(f"training the reference ReLU MLP on {model}")
        fmodel, label = train_reference(model), None
    elif isinstance(model, (str, os.PathLike)):
        if not str(model).endswith(".npz"):
            raise ConfigError(f"--model must be 'digits', 'iris' or a .npz file, not {str(model)!r}")
        if dataset is None:
            raise ConfigError("a .npz model needs --dataset (its calibration data)")
        fmodel, label = from_npz(model), os.path.splitext(os.path.basename(str(model)))[0]
    else:
        if dataset is None:
            raise ConfigError("pass dataset= to calibrate a model object")
        fmodel, label = model, None
    ds = load_dataset(dataset)
    from .models.convert import _as_floatnet
    fnet = _as_floatnet(fmodel)
    if fnet.n_inputs != ds.n_features:
        raise ConfigError(f"the model expects {fnet.n_inputs} inputs but data set {dataset!r} "
                          f"has {ds.n_features} features")
    sizes = [fnet.n_inputs] + [w.shape[0] for w in fnet.weights]
    name = label or f"{dataset}-" + "-".join(map(str, sizes))
    progress(f"quantizing {name} ({calibration} calibration)")
    ann = _with_dataset(quantize(fnet, ds.x_train, input_bits=input_bits, act_bits=act_bits,
                                 w_bits=w_bits, calibration=calibration, percentile=percentile,
                                 name=name), dataset)
    xq = quantize_inputs(ds.x_train, input_bits)
    nets = {}
    for c in codings:
        progress(f"converting to {c}")
        opts = {}
        if c in ("lif", "if"):
            opts = {"time_steps": time_steps, "rate_norm": rate_norm}
            if c == "lif":
                opts["lif_readout"] = lif_readout
        elif c == "ttfs":
            opts = {"ttfs_variant": ttfs_variant}
        nets[c] = to_coding(ann, c, xq, **opts)
    return nets


def evaluate_design(design, *, dataset=None, split="test", limit=None):
    """Golden evaluation of a network (object or JSON path) on a bundled data set."""
    net = design if isinstance(design, Network) else load_network(design)
    dataset = dataset or net.meta.get("dataset")
    if dataset is None:
        raise ConfigError("the design does not name its data set: pass --dataset")
    ds = load_dataset(dataset)
    if net.n_inputs != ds.n_features:
        raise ConfigError(f"the design has {net.n_inputs} inputs but data set {dataset!r} "
                          f"has {ds.n_features} features")
    if net.n_outputs < ds.n_classes:
        raise ConfigError(f"the design has {net.n_outputs} outputs but data set {dataset!r} "
                          f"has {ds.n_classes} classes")
    x, y = (ds.x_test, ds.y_test) if split == "test" else (ds.x_train, ds.y_train)
    if limit is not None:
        limit = check_int("--limit", limit, 1)
        x, y = x[:limit], y[:limit]
    return evaluate(net, quantize_inputs(x, net.input_bits), y)
