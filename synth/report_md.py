"""Markdown rendering of the comparison report."""

from __future__ import annotations

__all__ = ["render_markdown", "md_table"]

LABELS = {"fs": "FS (few spikes)", "amos": "AMOS (at most one spike)", "ttfs": "TTFS (time to first spike)",
          "lif": "shift-add LIF (rate, LFSR input)", "if": "rate IF (soft reset)", "ann": "integer ANN (MAC)"}


def _f(v, digits=2):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def md_table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(_f(c) if not isinstance(c, str) else c for c in r) + " |" for r in rows]
    return "\n".join(out)


def _golden(g):
    lines = [f"## Golden models on {g['dataset']} ({g['network']})", "",
             f"Reference: scikit-learn MLPClassifier, ReLU, layer sizes {g['layer_sizes']}, "
             f"{g['train_samples']} training / {g['test_samples']} test samples; float test accuracy "
             f"{100 * g['float_accuracy']:.2f} %. Quantized to 8-bit inputs, activations and weights "
             f"(calibration: {g['quantization']['calibration']}), power-of-two shifts between layers.", ""]
    rows = []
    for c, e in g["codings"].items():
        rows.append([LABELS.get(c, c), f"{100 * e['accuracy']:.2f} %", f"{100 * e['agreement']:.2f} %",
                     e["spikes_per_neuron"] if c != "ann" else None, e["synaptic_ops"],
                     e["multiplications"], e["memory_reads"], e["energy_pj"]["total"], e["cycles"]])
    lines.append(md_table(["coding", "accuracy", "agreement with integer ANN", "spikes / neuron",
                           "SOPs", "mults", "memory reads", "energy proxy (pJ)", "predicted cycles"], rows))
    lines += ["", "Per inference, averaged over the test set. SOPs: additions caused by spikes "
              "(or MAC additions for the ANN). Spikes / neuron counts every spiking stage, input "
              "encoding included. Predicted cycles follow the schedule model documented in "
              "`spikeforge.models.simulate` (all neurons of a layer in parallel, one input event per "
              "cycle, layers in sequence).", ""]
    lines += ["### Spikes per layer", ""]
    rows = []
    for c, e in g["codings"].items():
        for l in e["layers"]:
            if l["neurons"]:
                rows.append([c, l["name"], l["neurons"], l["spikes"], l["spikes_per_neuron"]])
    lines += [md_table(["coding", "stage", "neurons", "spikes / inference", "spikes / neuron"], rows), ""]
    lines += ["### Rate codings: accuracy against time steps", ""]
    rows = [[s["coding"], s["norm"], s["time_steps"], f"{100 * s['accuracy']:.2f} %",
             f"{100 * s['agreement']:.2f} %", s["spikes_per_neuron"], s["energy_pj"]]
            for s in g["rate_sweep"]]
    lines += [md_table(["coding", "threshold norm", "T", "accuracy", "agreement", "spikes / neuron",
                        "energy proxy (pJ)"], rows), ""]
    d = g["rate_defaults"]
    lines += [f"Defaults in the main table: IF T = {d['if']['time_steps']}, LIF T = "
              f"{d['lif']['time_steps']}, leak shifts {d['lif']['leak_shifts']}, readout "
              f"{d['lif']['readout']}; max norm. Robust norm = 99.9th percentile of the integer "
              "activations (Rueckauer et al. 2017, as used by Ding et al. 2021).", ""]
    t = g["energy_table"]
    lines += ["### Energy proxy", "",
              f"Counted operations × per-operation energy from {t['source']}: add 8/32 bit "
              f"{t['add8_pj']}/{t['add32_pj']} pJ, multiply 8/32 bit {t['mult8_pj']}/{t['mult32_pj']} pJ, "
              f"8 kB SRAM 64-bit read {t['sram8kB_read64_pj']} pJ; other widths interpolated "
              "(see `spikeforge.models.energy`). A proxy, not a power measurement.", ""]
    return lines


def render_markdown(data):
    env = data["environment"]
    lines = ["# spikeforge comparison report", "",
             f"Produced by `{env['command']}` in {data['wall_time_s']} s on {env['platform']} "
             f"({env['cpus']} CPUs), Python {env['python']}; "
             + ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v) + ".", ""]
    if "golden" in data:
        lines += _golden(data["golden"])
    lines += ["Figures: `report.png`. Machine-readable: `report.json`. Network designs: `designs/`.", ""]
    return "\n".join(lines)
