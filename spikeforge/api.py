"""High-level Python API: conversion, evaluation and core parameters.

What the command line and the report call. It reads :mod:`spikeforge.models`
only, so every layer above (``spikeforge.report``, ``spikeforge.sweep``, the
CLI) may use it; ``spikeforge.synth`` and ``spikeforge.sim`` do not.
"""

from __future__ import annotations

import os

from .models.base import check_int
from .models.convert import (check_coding_options, check_quantize_options, from_npz, quantize,
                             quantize_inputs, to_coding)
from .models.datasets import DATASETS, load_dataset, train_reference
from .models.errors import ConfigError
from .models.evaluate import evaluate
from .models.io import read_json
from .models.network import CODINGS, Network, load_network

__all__ = ["core_parameters", "convert_model", "quantize_model", "convert_quantized", "evaluate_design",
           "resolve_codings", "core_params", "parse_param", "core_of_file"]


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
                  ttfs_variant="at_most_one", lif_readout=None, progress=lambda *a, **k: None):
    """Convert a model into integer networks, one per coding (dict coding → Network).

    ``model``: ``"digits"``/``"iris"`` (the bundled reference net is trained),
    a path to a ``.npz`` file, or a fitted scikit-learn ``MLPClassifier``
    (then ``dataset`` names the calibration data). The two steps are
    :func:`quantize_model` and :func:`convert_quantized`.
    """
    codings = resolve_codings(codings)
    check_quantize_options(input_bits, act_bits, w_bits, calibration, percentile)
    for c in codings:
        check_coding_options(c, time_steps, rate_norm, ttfs_variant, lif_readout)
    ann, xq = quantize_model(model, dataset=dataset, input_bits=input_bits, act_bits=act_bits,
                             w_bits=w_bits, calibration=calibration, percentile=percentile,
                             progress=progress)
    return convert_quantized(ann, xq, codings, time_steps=time_steps, rate_norm=rate_norm,
                             ttfs_variant=ttfs_variant, lif_readout=lif_readout, progress=progress)


def quantize_model(model="digits", *, dataset=None, input_bits=8, act_bits=8, w_bits=8,
                   calibration="max", percentile=99.99, progress=lambda *a, **k: None):
    """Calibrate and quantize a model into the integer ANN (first step of :func:`convert_model`).

    Parameters
    ----------
    model, dataset, input_bits, act_bits, w_bits, calibration, percentile
        As for :func:`convert_model`.
    progress : callable
        Called with one line per step.

    Returns
    -------
    ann : Network
        The integer ANN (coding ``ann``), its ``meta`` naming the data set.
    calib_xq : numpy.ndarray
        The data set's training inputs quantized to ``input_bits`` (the
        calibration inputs of the rate codings).
    """
    check_quantize_options(input_bits, act_bits, w_bits, calibration, percentile)
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
    return ann, quantize_inputs(ds.x_train, input_bits)


def convert_quantized(ann, calib_xq, codings=("all",), *, time_steps=None, rate_norm="max",
                      ttfs_variant="at_most_one", lif_readout=None, progress=lambda *a, **k: None):
    """The integer ANN in each coding (second step of :func:`convert_model`).

    Parameters
    ----------
    ann : Network
        The integer ANN, e.g. from :func:`quantize_model`.
    calib_xq : numpy.ndarray
        Integer calibration inputs (the rate codings' thresholds).
    codings, time_steps, rate_norm, ttfs_variant, lif_readout
        As for :func:`convert_model`.
    progress : callable
        Called with one line per coding.

    Returns
    -------
    dict
        coding → Network.
    """
    nets = {}
    for c in resolve_codings(codings):
        progress(f"converting to {c}")
        nets[c] = to_coding(ann, c, calib_xq, time_steps=time_steps, rate_norm=rate_norm,
                            ttfs_variant=ttfs_variant, lif_readout=lif_readout)
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


def parse_param(text):
    """``NAME=VALUE`` → (name, value); VALUE is read as JSON when it parses, else as a word."""
    import json
    if "=" not in text:
        raise ConfigError(f"--param expects NAME=VALUE, not {text!r}")
    name, raw = text.split("=", 1)
    name = name.strip()
    if not name.isidentifier():
        raise ConfigError(f"--param: {name!r} is not a parameter name")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    if isinstance(value, float):
        raise ConfigError(f"--param {name}: {raw} is not an integer")
    return name, value


def core_of_file(path):
    """The core a design JSON (its coding) or a core parameter JSON (its "type") is for."""
    d = read_json(path)
    core = d.get("coding", d.get("type")) if isinstance(d, dict) else None
    if not isinstance(core, str):
        raise ConfigError(f"{path}: neither a network design (with 'coding') nor core parameters (with 'type')")
    return core


def core_parameters(core):
    """The declared parameters of ``core``: (name, default, derived when unset, meaning).

    The meaning is the first sentence of the field's entry in the parameter
    class's numpydoc ``Parameters`` section.
    """
    import dataclasses

    from .models.registry import get_core

    cls = get_core(core).params
    docs = cls.field_docs()
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        derived = default is None and f.name in getattr(cls, "DERIVED", {})
        meaning = docs.get(f.name) or "(see the class docstring)"
        out.append((f.name, default, derived, meaning))
    return out


def core_params(core, overrides=(), source=None, layer=None):
    """The parameter object of ``core``: defaults, or taken from ``source``
    (a network design or a core parameter JSON), then ``NAME=VALUE`` overrides."""
    import dataclasses

    from .models.registry import get_core
    from .models.network import Network, layer_params

    info = get_core(core)
    base = {}
    if source is not None:
        d = read_json(source)
        if isinstance(d, dict) and "schema" in d:
            net = Network.from_dict(d)
            if net.coding != core:
                raise ConfigError(f"{source} is a {net.coding!r} design, not {core!r}")
            dense = net.dense_indices
            i = dense[0] if layer is None else layer
            if i not in dense:
                raise ConfigError(f"--layer {i}: the design's dense layers are {dense}")
            p = layer_params(net, i)
            if p is None:
                raise ConfigError(f"layer {i} of {source} has no {core} neurons (it is the output "
                                  "accumulator); pick a hidden layer")
            base = p.to_dict()
        elif isinstance(d, dict):
            base = d
        else:
            raise ConfigError(f"{source}: expected a JSON object")
        if layer is not None and "schema" not in d:
            raise ConfigError("--layer only applies to a network design")
    elif layer is not None:
        raise ConfigError("--layer needs --from DESIGN.json")
    base.pop("type", None) if base.get("type") in (None, core) else None
    from_source = set(base)
    names = {f.name for f in dataclasses.fields(info.params)}
    for text in overrides:
        name, value = parse_param(text)
        if name not in names:
            raise ConfigError(f"core {core!r} has no parameter {name!r}; its parameters: "
                              f"{', '.join(sorted(names))}")
        base[name] = value
    try:
        return info.params.from_dict(base)
    except ConfigError as e:
        # values that could be derived but are declared in the source (e.g. the tables of a
        # file written before to_dict left derived values out) may clash with an override
        kept = sorted((from_source & set(info.params.DERIVED)) - {parse_param(t)[0] for t in overrides})
        if not (overrides and kept):
            raise
        raise ConfigError(f"{e} ({source} declares {', '.join(kept)}; leave them out of the file "
                          "to have them derived)") from None
