"""Golden section of the comparison report.

Train the reference ReLU MLP on a bundled data set, quantize it to the
integer ANN and convert it to every coding (:func:`spikeforge.api.quantize_model`
and :func:`spikeforge.api.convert_quantized`, the two steps of
``convert_model``), run the golden models on the test split and collect
accuracy, agreement with the integer ANN, spikes, operation counts, the
energy proxy and predicted cycles; sweep the time steps of the rate codings.
"""

from __future__ import annotations

import numpy as np

from ..api import convert_quantized, quantize_model, resolve_data, train_on
from ..models.convert import from_npz, from_sklearn, quantize_inputs
from ..models.datasets import load_dataset, train_reference
from ..models.energy import ENERGY_SOURCE, ENERGY_TABLE
from ..models.evaluate import evaluate
from ..models.network import CODINGS
from ..models.registry import CORES
from .records import GoldenRow, GoldenSection, RatePoint

__all__ = ["golden_section", "RATE_STEPS", "RATE_STEPS_QUICK"]

RATE_STEPS = (8, 16, 32, 64, 128, 256)
RATE_STEPS_QUICK = (8, 32, 128)


def _user_model(dataset, data, input_range, progress):
    """(integer ANN, calibration inputs, test split, float accuracy, data description) on the user's data.

    A data ``.npz`` that carries a model's weights is that model; otherwise the
    reference architecture of ``dataset`` is trained on the user's training rows.
    """
    from ..models.userdata import has_model_arrays
    ds = resolve_data(None, None, data, input_range)
    path = data if isinstance(data, str) and has_model_arrays(data) else None
    if path is not None:
        fnet, model = from_npz(path), path
    else:
        progress(f"training the reference ReLU MLP architecture of {dataset} on {ds.source}")
        model = train_on(ds, dataset)
        fnet = from_sklearn(model)
    ann, xtr = quantize_model(model, data=ds, progress=progress)
    float_acc = float(np.mean(np.argmax(fnet.forward(ds.x_test)[1], axis=1) == ds.y_test))
    described = {**ds.describe(), "model": "the model in " + path if path else
                 f"the reference MLP architecture of {dataset}, trained on the training split"}
    return ann, xtr, ds, float_acc, described


def golden_section(dataset="digits", *, data=None, input_range=None, quick=False, progress=lambda *a, **k: None):
    """Golden-model figures of every coding on ``dataset`` or on the user's data.

    Parameters
    ----------
    dataset : str
        ``digits`` or ``iris``; with ``data``, the bundled set whose reference
        architecture is trained on the user's data (unless it carries a model).
    data : str or list of str, optional
        The user's own split (:func:`spikeforge.models.userdata.load_data`):
        an ``.npz`` (with a model's weights too, then that model is reported)
        or two CSV files. Calibration reads its training rows, accuracy its
        test rows, and the report says so.
    input_range : str or (float, float), optional
        The range the user's inputs come in (see ``--input-range``).
    quick : bool
        Fewer time steps in the rate-coding sweep.
    progress : callable
        Called with one line per step.

    Returns
    -------
    GoldenSection
        With the converted networks in ``networks`` (written to ``designs/``).
    """
    described = None
    if data is None:
        ds = load_dataset(dataset)
        ann, xtr = quantize_model(dataset, progress=progress)
        float_acc = None
    else:
        ann, xtr, ds, float_acc, described = _user_model(dataset, data, input_range, progress)
    xte = quantize_inputs(ds.x_test, ann.input_bits)
    nets = convert_quantized(ann, xtr, CODINGS, progress=progress)
    n_dense = len(ann.dense_indices)
    rows = {}
    for c, net in nets.items():
        progress(f"running the {c} golden model on {len(xte)} test inputs")
        rows[c] = GoldenRow.from_evaluation(evaluate(net, xte, ds.y_test), net.options, n_dense)
    sweep = []
    for c in (c.name for c in CORES.values() if c.time_steps):
        for norm in ("max", "robust"):
            progress(f"sweeping time steps of {c} ({norm} norm)")
            for T in (RATE_STEPS_QUICK if quick else RATE_STEPS):
                net = convert_quantized(ann, xtr, [c], time_steps=T, rate_norm=norm)[c]
                e = evaluate(net, xte, ds.y_test)
                sweep.append(RatePoint(coding=c, norm=norm, time_steps=T, accuracy=e.accuracy,
                                       agreement=e.agreement, spikes_per_neuron=e.spikes_per_neuron,
                                       energy_pj=e.energy_pj["total"], cycles=e.cycles))
    if float_acc is None:
        mlp = train_reference(dataset)              # cached: the net quantize_model trained
        float_acc = float(mlp.score(ds.x_test, ds.y_test))
    return GoldenSection(
        dataset=ds.name, network=ann.name, layer_sizes=[ann.n_inputs] + [ann.layers[i].n_out
                                                                         for i in ann.dense_indices],
        train_samples=int(len(xtr)), test_samples=int(len(xte)),
        float_accuracy=float_acc, data=described,
        quantization=ann.meta, codings=rows, rate_sweep=sweep,
        rate_defaults={c.name: c.options for c in CORES.values() if c.time_steps},
        energy_table={"source": ENERGY_SOURCE, **ENERGY_TABLE}, networks=nets)
