"""High-level Python API: conversion, evaluation and core parameters.

What the command line and the report call. It reads :mod:`spikeforge.models`
only, so every layer above (``spikeforge.report``, ``spikeforge.sweep``, the
CLI) may use it; ``spikeforge.synth`` and ``spikeforge.sim`` do not.
"""

from __future__ import annotations

import os

from .models.base import check_int
from .models.convert import (check_coding_options, check_quantize_options, quantize, quantize_inputs,
                             to_coding)
from .models.datasets import DATASETS, load_dataset, train_reference
from .models.errors import ConfigError
from .models.evaluate import evaluate
from .models.io import read_json
from .models.network import CODINGS, Network, load_network

__all__ = ["core_parameters", "circuit_params", "parallelism", "is_design", "has_engine", "NETWORK", "convert_model",
           "quantize_model", "convert_quantized", "evaluate_design", "resolve_codings", "core_params",
           "parse_param", "core_of_file", "convert_nir", "resolve_data", "load_float_model", "model_kind",
           "train_on", "FRONT_ENDS", "export_nir"]


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


def _with_dataset(net, dataset, data=None):
    meta = {**net.meta}
    if data is None:
        meta["dataset"] = dataset
    else:
        meta.pop("dataset", None)
        meta["data"] = data.describe()
    return Network(net.coding, net.input_bits, net.layers, net.w_bits, net.options, net.name, meta)


#: Model file extension → front-end (``"module:function"`` under spikeforge, path → FloatNet).
FRONT_ENDS = {".npz": "models.convert:from_npz", ".onnx": "models.onnx_import:from_onnx"}
#: Model file extensions read as a whole integer network (NIR graphs).
NETWORK_FILES = (".nir",)


def model_kind(model):
    """The extension of a model file (``.npz``, ``.onnx``, ``.nir``); refuses any other name."""
    ext = os.path.splitext(str(model))[1].lower()
    if ext not in FRONT_ENDS and ext not in NETWORK_FILES:
        known = ", ".join(sorted(FRONT_ENDS) + list(NETWORK_FILES))
        raise ConfigError(f"--model must be 'digits', 'iris' or a model file ({known}), not {str(model)!r}")
    return ext


def load_float_model(path):
    """The float ReLU network in model file ``path``, read by the front-end of its extension.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npz`` (:func:`~spikeforge.models.convert.from_npz`) or ``.onnx``
        (:func:`~spikeforge.models.onnx_import.from_onnx`).

    Returns
    -------
    FloatNet
    """
    import importlib
    ext = model_kind(path)
    if ext not in FRONT_ENDS:
        raise ConfigError(f"{path}: a {ext} file holds a spiking network, not a float ReLU network")
    module, _, func = FRONT_ENDS[ext].partition(":")
    return getattr(importlib.import_module(f"spikeforge.{module}"), func)(path)


def resolve_data(model=None, dataset=None, data=None, input_range=None):
    """The data a conversion or evaluation reads: the user's split or a bundled data set.

    Parameters
    ----------
    model : str, os.PathLike or None
        A model ``.npz`` that may carry its own split (used when neither
        ``dataset`` nor ``data`` is given).
    dataset : str or None
        A bundled data set (``digits``, ``iris``).
    data : str, os.PathLike, sequence of two paths, UserData or None
        The user's split (:func:`~spikeforge.models.userdata.load_data`).
    input_range : (float, float) or str or None
        The range the user's inputs come in; only with user data.

    Returns
    -------
    Dataset, UserData or None
        None if nothing names data.
    """
    from .models.userdata import UserData, data_in_npz, load_data

    if data is not None and dataset is not None:
        raise ConfigError("give either --dataset (bundled data) or --data (your own), not both")
    if isinstance(data, UserData):
        return data
    if data is not None:
        return load_data(data, input_range)
    if (dataset is None and isinstance(model, (str, os.PathLike)) and str(model).lower().endswith(".npz")
            and data_in_npz(model)):
        return load_data(model, input_range)
    if input_range is not None:
        raise ConfigError("--input-range applies to your own data (--data); the bundled data sets are "
                          "in [0, 1] already")
    return None if dataset is None else load_dataset(dataset)


def _check_fits(n_inputs, n_outputs, ds, what="the model", verb="expects"):
    from .models.userdata import UserData
    label = ds.source if isinstance(ds, UserData) else f"data set {ds.name!r}"
    if n_inputs != ds.n_features:
        raise ConfigError(f"{what} {verb} {n_inputs} inputs but {label} has {ds.n_features} features")
    if n_outputs < ds.n_classes:
        raise ConfigError(f"{what} has {n_outputs} outputs but {label} has labels up to "
                          f"{ds.n_classes - 1} ({ds.n_classes} classes)")


def convert_model(model="digits", *, dataset=None, data=None, input_range=None, codings=("all",), input_bits=8,
                  act_bits=8, w_bits=8, calibration="max", percentile=99.99, time_steps=None, rate_norm="max",
                  ttfs_variant="at_most_one", lif_readout=None, nir_dt=None, progress=lambda *a, **k: None):
    """Convert a model into integer networks, one per coding (dict coding → Network).

    ``model``: ``"digits"``/``"iris"`` (the bundled reference net is trained),
    a model file (``.npz``, ``.onnx``: float ReLU networks; ``.nir``: a
    spiking network, see :func:`convert_nir`), or a fitted scikit-learn
    ``MLPClassifier`` (then ``dataset`` or ``data`` names the calibration
    data). ``data`` is the user's own split (an ``.npz`` or two CSV files,
    :func:`~spikeforge.models.userdata.load_data`): calibration reads its
    training rows. A model ``.npz`` that carries its split needs neither.
    The two steps are :func:`quantize_model` and :func:`convert_quantized`.
    """
    codings = resolve_codings(codings)
    check_quantize_options(input_bits, act_bits, w_bits, calibration, percentile)
    for c in codings:
        check_coding_options(c, time_steps, rate_norm, ttfs_variant, lif_readout)
    if isinstance(model, (str, os.PathLike)) and str(model) not in DATASETS and model_kind(model) in NETWORK_FILES:
        return convert_nir(model, codings, dataset=dataset, data=data, input_range=input_range,
                           input_bits=input_bits, w_bits=w_bits, time_steps=time_steps, lif_readout=lif_readout,
                           nir_dt=nir_dt, progress=progress)
    ann, xq = quantize_model(model, dataset=dataset, data=data, input_range=input_range, input_bits=input_bits,
                             act_bits=act_bits, w_bits=w_bits, calibration=calibration, percentile=percentile,
                             progress=progress)
    return convert_quantized(ann, xq, codings, time_steps=time_steps, rate_norm=rate_norm,
                             ttfs_variant=ttfs_variant, lif_readout=lif_readout, progress=progress)


def convert_nir(path, codings=("all",), *, dataset=None, data=None, input_range=None, input_bits=8, w_bits=8,
                time_steps=None, lif_readout=None, nir_dt=None, progress=lambda *a, **k: None):
    """A NIR graph as an integer network (dict coding → Network, one entry).

    A graph written by spikeforge (``spikeforge export --nir``) is restored
    exactly, in its own coding. Any other feed-forward IF/LIF/CubaLIF graph
    is quantized into the ``if`` or ``lif`` coding
    (:func:`~spikeforge.models.nir_io.from_nir`); ``data`` or ``dataset``,
    when given, only checks that the network fits it.
    """
    from .models.nir_io import read_nir_network
    net = read_nir_network(path, input_bits=input_bits, w_bits=w_bits, time_steps=time_steps,
                           readout=lif_readout, dt=nir_dt, progress=progress)
    codings = resolve_codings(codings)
    if codings != list(CODINGS) and codings != [net.coding]:
        raise ConfigError(f"{path} holds a {net.coding!r} network; it converts to --coding {net.coding} only")
    ds = resolve_data(path, dataset, data, input_range)
    if ds is not None:
        _check_fits(net.n_inputs, net.n_outputs, ds, f"the network in {path}")
        from .models.userdata import UserData
        net = _with_dataset(net, ds.name, ds if isinstance(ds, UserData) else None)
    return {net.coding: net}


def quantize_model(model="digits", *, dataset=None, data=None, input_range=None, input_bits=8, act_bits=8,
                   w_bits=8, calibration="max", percentile=99.99, progress=lambda *a, **k: None):
    """Calibrate and quantize a model into the integer ANN (first step of :func:`convert_model`).

    Parameters
    ----------
    model, dataset, data, input_range, input_bits, act_bits, w_bits, calibration, percentile
        As for :func:`convert_model`.
    progress : callable
        Called with one line per step.

    Returns
    -------
    ann : Network
        The integer ANN (coding ``ann``), its ``meta`` naming the data set
        (``dataset``) or describing the user's data (``data``).
    calib_xq : numpy.ndarray
        The training inputs quantized to ``input_bits`` (the calibration
        inputs of the rate codings).
    """
    check_quantize_options(input_bits, act_bits, w_bits, calibration, percentile)
    user = None
    if isinstance(model, str) and model in DATASETS:
        user = resolve_data(None, None, data, input_range)
        dataset = dataset or (model if user is None else None)
        if user is None and dataset != model:
            raise ConfigError(f"the reference net {model!r} is calibrated on its own data set, "
                              f"not {dataset!r}")
        if user is None:
            progress(f"training the reference ReLU MLP on {model}")
            fmodel, label, user = train_reference(model), None, load_dataset(model)
        else:
            progress(f"training the reference ReLU MLP architecture of {model} on {user.source}")
            fmodel, label = train_on(user, model), None
    elif isinstance(model, (str, os.PathLike)):
        fmodel, label = load_float_model(model), os.path.splitext(os.path.basename(str(model)))[0]
        user = resolve_data(model, dataset, data, input_range)
        if user is None:
            raise ConfigError(f"a {model_kind(model)} model needs --dataset (a bundled data set) or "
                              "--data FILE (your own split) for its calibration")
    else:
        user = resolve_data(None, dataset, data, input_range)
        if user is None:
            raise ConfigError("pass dataset= or data= to calibrate a model object")
        fmodel, label = model, None
    ds = user
    from .models.convert import _as_floatnet
    from .models.userdata import UserData
    own = isinstance(ds, UserData)
    fnet = _as_floatnet(fmodel)
    _check_fits(fnet.n_inputs, fnet.weights[-1].shape[0], ds)
    sizes = [fnet.n_inputs] + [w.shape[0] for w in fnet.weights]
    name = label or f"{ds.name}-" + "-".join(map(str, sizes))
    progress(f"quantizing {name} ({calibration} calibration on {len(ds.y_train)} training rows"
             + (f" of {ds.source})" if own else ")"))
    ann = _with_dataset(quantize(fnet, ds.x_train, input_bits=input_bits, act_bits=act_bits,
                                 w_bits=w_bits, calibration=calibration, percentile=percentile,
                                 name=name), ds.name, ds if own else None)
    return ann, quantize_inputs(ds.x_train, input_bits)


def train_on(data, like="digits"):
    """The reference ReLU MLP architecture of bundled data set ``like``, trained on ``data``.

    Parameters
    ----------
    data : Dataset or UserData
        Training rows in [0, 1] and their labels.
    like : str
        The bundled data set whose reference architecture and training
        settings are used (hidden sizes, Adam, ``random_state=0``).

    Returns
    -------
    sklearn.neural_network.MLPClassifier
    """
    from sklearn.neural_network import MLPClassifier

    from .models.datasets import _HIDDEN, _MAX_ITER, fit_mlp
    mlp = MLPClassifier(hidden_layer_sizes=_HIDDEN[like], activation="relu", solver="adam",
                        max_iter=_MAX_ITER[like], random_state=0)
    return fit_mlp(mlp, data.x_train, data.y_train)


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


def evaluate_design(design, *, dataset=None, data=None, input_range=None, split="test", limit=None):
    """Golden evaluation of a network (object or JSON path) on a bundled data set or the user's data.

    Parameters
    ----------
    design : Network or str
        The network or its JSON file.
    dataset : str, optional
        A bundled data set; default: the one the design names.
    data : str, os.PathLike, sequence of two paths or UserData, optional
        The user's split (``.npz`` or two CSV files); needed when the
        design was converted with the user's data.
    input_range : (float, float) or str, optional
        The range of the user's inputs; default: the one recorded at
        conversion (``meta["data"]["input_range"]``).
    split : str
        ``test`` or ``train``.
    limit : int, optional
        Only the first ``limit`` samples.

    Returns
    -------
    Evaluation
    """
    net = design if isinstance(design, Network) else load_network(design)
    recorded = net.meta.get("data") if isinstance(net.meta.get("data"), dict) else None
    if data is not None and input_range is None and recorded is not None:
        input_range = recorded.get("input_range")
    if data is None and dataset is None:
        dataset = net.meta.get("dataset")
        if dataset is None and recorded is not None:
            raise ConfigError(f"the design was calibrated on your data ({recorded.get('source')}); "
                              "pass --data FILE")
        if dataset is None:
            raise ConfigError("the design does not name its data set: pass --dataset or --data")
    ds = resolve_data(None, dataset, data, input_range)
    _check_fits(net.n_inputs, net.n_outputs, ds, "the design", "has")
    x, y = (ds.x_test, ds.y_test) if split == "test" else (ds.x_train, ds.y_train)
    if limit is not None:
        limit = check_int("--limit", limit, 1)
        x, y = x[:limit], y[:limit]
    return evaluate(net, quantize_inputs(x, net.input_bits), y)


def export_nir(design, path, dt=None):
    """Write a network (object or design JSON path) as a NIR graph file.

    Parameters
    ----------
    design : Network or str
    path : str
        The ``.nir`` file to write (atomically).
    dt : float, optional
        The time step the neuron nodes are stated for (default
        :data:`~spikeforge.models.nir_io.DEFAULT_DT`).

    Returns
    -------
    Network
        The exported network.
    """
    from .models.nir_io import DEFAULT_DT, write_nir
    net = design if isinstance(design, Network) else load_network(design)
    write_nir(net, path, DEFAULT_DT if dt is None else dt)
    return net


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


def is_design(path):
    """Whether the JSON file ``path`` is a network design (it names a ``schema``)."""
    d = read_json(path)
    return isinstance(d, dict) and "schema" in d


#: the name ``generate``/``synth`` take for the circuit of a whole network design
NETWORK = "network"


def circuit_params(source, overrides=()):
    """The :class:`~spikeforge.models.circuit.CircuitParams` of design ``source`` (a network
    JSON file); ``overrides`` may set ``P=4`` or ``P=[16,4]`` (parallelism per dense layer)."""
    from .models.circuit import CircuitParams
    if source is None:
        raise ConfigError("a network circuit needs --from DESIGN.json")
    net = load_network(source)
    return CircuitParams(net, parallelism(overrides))


def parallelism(overrides):
    """P from ``NAME=VALUE`` texts (``P=4`` or ``P=[16,4]``; None if not given); any other name
    is refused: a network circuit takes one parameter."""
    P = None
    for text in overrides:
        name, value = parse_param(text)
        if name != "P":
            raise ConfigError(f"a network circuit takes one parameter, P (parallelism), not {name!r}")
        P = tuple(value) if isinstance(value, list) else value
    return P


def has_engine(coding):
    """Whether ``coding`` has a network engine (its designs become one circuit)."""
    from .models.registry import get_core
    return get_core(coding).engine is not None


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
