"""Golden section of the comparison report.

Train the reference ReLU MLP on a bundled data set, quantize it to the
integer ANN and convert it to every coding (:func:`spikeforge.api.quantize_model`
and :func:`spikeforge.api.convert_quantized`, the two steps of
``convert_model``), run the golden models on the test split and collect
accuracy, agreement with the integer ANN, spikes, operation counts, the
energy proxy and predicted cycles; sweep the time steps of the rate codings.
"""

from __future__ import annotations

from ..api import convert_quantized, quantize_model
from ..models.convert import quantize_inputs
from ..models.datasets import load_dataset, train_reference
from ..models.energy import ENERGY_SOURCE, ENERGY_TABLE
from ..models.evaluate import evaluate
from ..models.network import CODINGS
from ..models.registry import CORES
from .records import GoldenRow, GoldenSection, RatePoint

__all__ = ["golden_section", "RATE_STEPS", "RATE_STEPS_QUICK"]

RATE_STEPS = (8, 16, 32, 64, 128, 256)
RATE_STEPS_QUICK = (8, 32, 128)


def golden_section(dataset="digits", *, quick=False, progress=lambda *a, **k: None):
    """Golden-model figures of every coding on ``dataset``.

    Parameters
    ----------
    dataset : str
        ``digits`` or ``iris``.
    quick : bool
        Fewer time steps in the rate-coding sweep.
    progress : callable
        Called with one line per step.

    Returns
    -------
    GoldenSection
        With the converted networks in ``networks`` (written to ``designs/``).
    """
    ds = load_dataset(dataset)
    ann, xtr = quantize_model(dataset, progress=progress)
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
    mlp = train_reference(dataset)                  # cached: the net quantize_model trained
    return GoldenSection(
        dataset=dataset, network=ann.name, layer_sizes=[ann.n_inputs] + [ann.layers[i].n_out
                                                                         for i in ann.dense_indices],
        train_samples=int(len(xtr)), test_samples=int(len(xte)),
        float_accuracy=float(mlp.score(ds.x_test, ds.y_test)),
        quantization=ann.meta, codings=rows, rate_sweep=sweep,
        rate_defaults={c.name: c.options for c in CORES.values() if c.time_steps},
        energy_table={"source": ENERGY_SOURCE, **ENERGY_TABLE}, networks=nets)
