"""The report as a list of blocks, rendered to Markdown and to HTML; and as JSON.

Blocks: ``("h", level, text)``, ``("p", text)``, ``("table", headers, rows)``,
``("img", path, alt)``. Each section function turns one record of
:mod:`spikeforge.report.records` into blocks; the Markdown and HTML
renderers read the same blocks, so a number reads the same in both (table
cells are formatted by :func:`cell`). JSON is :meth:`ReportData.to_dict`.
"""

from __future__ import annotations

import html
import json

from ..models.registry import CORES, REFERENCE, core_names, get_core
from .records import pareto_front, wilson_interval

__all__ = ["build_blocks", "render_markdown", "render_html", "render_json", "cell", "percent", "LABELS"]

#: report label of every core (from the registry)
LABELS = {c.name: c.label for c in CORES.values()}


def cell(v, digits=2):
    """A table cell: ``—`` for None, yes/no, floats with ``digits`` decimals, ints with separators."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def percent(v):
    """A fraction as a percentage with two decimals."""
    return "—" if v is None else f"{100 * v:.2f} %"


# ---------------------------------------------------------------- sections

def _golden(g):
    b = [("h", 2, f"Golden models on {g.dataset} ({g.network})"),
         ("p", (f"Reference: scikit-learn MLPClassifier, ReLU, layer sizes {g.layer_sizes}, " if g.data is None
                else f"Model: {g.data['model']}, ReLU, layer sizes {g.layer_sizes}, ")
               + f"{g.train_samples} training / {g.test_samples} test samples; float test accuracy "
               f"{percent(g.float_accuracy)}. Quantized to 8-bit inputs, activations and weights "
               f"(calibration: {g.quantization['calibration']}), power-of-two shifts between layers.")]
    if g.data is not None:
        d = g.data
        scaling = ("inputs taken as given, in [0, 1]" if d["input_range"] is None else
                   f"inputs mapped from the stated range [{d['input_range'][0]:g}, {d['input_range'][1]:g}] "
                   f"to [0, 1]; values outside it clipped: {d['clipped'].get('train', 0):,} in the training "
                   f"split, {d['clipped'].get('test', 0):,} in the test split")
        b.append(("p", f"Data: your own split from {d['source']}, not a bundled data set: calibration on "
                       f"its {d['train_samples']:,} training rows, accuracy on its {d['test_samples']:,} "
                       f"test rows; {scaling}."))
    rows = [[LABELS.get(c, c), percent(e.accuracy), percent(e.agreement),
             e.spikes_per_neuron if not get_core(c).is_reference else None, e.synaptic_ops, e.multiplications,
             e.memory_reads, e.total_pj, e.cycles] for c, e in g.codings.items()]
    b.append(("table", ["coding", "accuracy", "agreement with integer ANN", "spikes / neuron", "SOPs",
                        "mults", "memory reads", "energy proxy (pJ)", "predicted cycles"], rows))
    lo, hi = wilson_interval(g.codings[REFERENCE].accuracy, g.test_samples) if REFERENCE in g.codings else (0, 0)
    b.append(("p", f"Accuracy on {g.test_samples} test samples: one sample moves it by "
                   f"{100 / g.test_samples:.2f} points, and the 95 % interval (Wilson) of the integer ANN's "
                   f"accuracy is {100 * lo:.2f}–{100 * hi:.2f} %: codings whose accuracies differ by less than "
                   f"about {50 * (hi - lo):.1f} points are not told apart by this test set."))
    b.append(("p", "Per inference, averaged over the test set. SOPs: additions caused by spikes (or MAC "
                   "additions for the ANN). Spikes / neuron counts every spiking stage, input encoding "
                   "included. Predicted cycles: the layer cores' RTL cycle formulas (TTFS, LIF, IF, ANN, "
                   "checked in co-simulation) and a receiver model for FS/AMOS layers, layers in sequence "
                   "(see `spikeforge.models.simulate`)."))
    front = pareto_front([(e.total_pj, e.accuracy, c) for c, e in g.codings.items()]
                         + [(s.energy_pj, s.accuracy, f"{s.coding} T = {s.time_steps} ({s.norm} norm)")
                            for s in g.rate_sweep])
    b.append(("p", "Pareto front of energy proxy against accuracy (`pareto.png`; no other point has both "
                   "less energy and higher accuracy): "
                   + "; ".join(f"{label} ({percent(a)}, {cell(e)} pJ)" for e, a, label in front) + "."))
    b.append(("h", 3, "Spikes per layer"))
    rows = [[c, s.stage, s.neurons, s.spikes, s.spikes_per_neuron]
            for c, e in g.codings.items() for s in e.layers if s.neurons]
    b.append(("table", ["coding", "stage", "neurons", "spikes / inference", "spikes / neuron"], rows))
    b.append(("p", "Stages are named by their place in the network; report.json keeps the golden run's "
                   "own name of each (`name`: `input`, `dense<i>` for a layer core, `neurons<i>` for the "
                   "FS/AMOS neurons after dense layer i). The IF net takes its inputs as currents and the "
                   "ANN sends values, so neither has an input encoding; only LIF's output layer spikes."))
    b.append(("h", 3, "Rate codings: accuracy against time steps"))
    rows = [[s.coding, s.norm, s.time_steps, percent(s.accuracy), percent(s.agreement),
             s.spikes_per_neuron, s.energy_pj] for s in g.rate_sweep]
    b.append(("table", ["coding", "threshold norm", "T", "accuracy", "agreement", "spikes / neuron",
                        "energy proxy (pJ)"], rows))
    d = g.rate_defaults
    b.append(("p", f"Defaults in the main table: IF T = {d['if']['time_steps']}, LIF T = "
                   f"{d['lif']['time_steps']}, leak shifts {d['lif']['leak_shifts']}, readout "
                   f"{d['lif']['readout']}; max norm. Robust norm = 99.9th percentile of the integer "
                   "activations (Rueckauer et al. 2017, as used by Ding et al. 2021)."))
    t = g.energy_table
    b.append(("h", 3, "Energy proxy"))
    b.append(("p", f"Counted operations × per-operation energy from {t['source']}: add 8/32 bit "
                   f"{t['add8_pj']}/{t['add32_pj']} pJ, multiply 8/32 bit {t['mult8_pj']}/{t['mult32_pj']} "
                   f"pJ, 8 kB SRAM 64-bit read {t['sram8kB_read64_pj']} pJ; other widths interpolated "
                   "(see `spikeforge.models.energy`). A proxy, not a power measurement. Memory model: "
                   "every weight access is charged as an SRAM read, as for a design that keeps its "
                   "weights in memory; the synthesized layer cores below hold their weights as constants "
                   "in logic, which this proxy does not model; the network-circuit section charges "
                   "what its circuits do (weights in block RAM, one read per word)."))
    return b


_CORE_HEADERS = ["core", "vectors", "cycles / inf.", "latency (cycles)", "iCE40 LUT4", "iCE40 FF",
                 "iCE40 carry", "iCE40 DSP", "iCE40 LC", "iCE40 Fmax (MHz)", "ECP5 LUT4", "ECP5 FF",
                 "ECP5 Fmax (MHz)", "CMOS transistors", "latency (ns)", "inferences / s", "spikes / inf.",
                 "toggles / inf.", "energy proxy (pJ / inf.)", "energy × area (pJ·LC)",
                 "energy × area (pJ·transistors)", "harness alone"]


def _core_row(r, vs_ann):
    i, e, h = r.ice40, r.ecp5, r.ice40_harness
    row = [r.core, r.vectors, r.cycles_per_inference, r.latency_cycles, i.luts, i.ffs, i.carry, i.dsp,
           i.logic_cells, i.fmax_mhz, e.luts, e.ffs, e.fmax_mhz, r.transistors, r.latency_ns,
           r.inferences_per_s, r.spikes_per_inference, r.toggles_per_inference, r.energy_pj,
           r.energy_x_area_pj_lc, r.energy_x_area_pj_transistors, f"{h.logic_cells} LC / {h.ffs} FF"]
    return row + [r.energy_x_area_vs_ann] if vs_ann else row


def _cores(c):
    b = [("h", 2, f"Cores at matched precision (K = {c.K}, {c.bits}-bit data)"),
         ("p", "Each core co-simulated in cocotb on Verilator against its golden model (every output "
               "beat equal; cycles, spikes and synaptic adds equal the model's counts) with a waveform for "
               "the toggle count, then synthesized. iCE40UP5K figures include the 4-pin measurement "
               "harness (its own cost in the last column); ECP5-85F is out of context. Latency and "
               "throughput use the iCE40 Fmax. Two tables, because the cores are two kinds of thing: "
               "compare energy × area only within a table.")]
    units, layers = c.of_kind("activation unit"), c.of_kind("layer core")
    if units:
        b.append(("h", 3, "Activation units (one neuron's activation, no synapses)"))
        b.append(("table", _CORE_HEADERS, [_core_row(r, False) for r in units]))
        b.append(("p", "FS and AMOS turn one pre-activation (a " f"{units[0].params.get('x_bits')}"
                       "-bit sum computed elsewhere) into spikes; they hold no weights and do no "
                       "synaptic additions. Set against the layer cores below they would look tens of "
                       "times cheaper only because the synapses are missing; their like-for-like "
                       "comparison is a whole network (neurons plus shift-and-add receivers): see the "
                       "network-circuit section."))
    if layers:
        n = sorted({r.synapses for r in layers})
        b.append(("h", 3, f"Layer cores (one neuron with {', '.join(map(str, n))} synapses)"))
        b.append(("table", _CORE_HEADERS + ["energy × area (pJ·transistors), vs ANN"],
                  [_core_row(r, True) for r in layers]))
    ann = next((r for r in c.rows if get_core(r.core).is_reference), None)
    if ann and ann.ice40_dsp is not None:
        d = ann.ice40_dsp
        b.append(("p", f"ANN MAC on iCE40 with `synth_ice40 -dsp`: {d.luts} LUT4, {d.dsp} SB_MAC16, "
                       f"{d.logic_cells} LC, {d.fmax_mhz} MHz; without: {ann.ice40.luts} LUT4, "
                       f"{ann.ice40.logic_cells} LC, {ann.ice40.fmax_mhz} MHz. The tables use "
                       "the LUT multipliers (no DSP), so every coding is measured in the same fabric."))
    muls = ", ".join(f"{r.core} {r.mul_cells}" for r in c.rows)
    b.append(("p", f"`$mul` cells before technology mapping: {muls}."))
    return b


def _ksweep(k):
    b = [("h", 3, "Area against K (iCE40 logic cells, harness included)")]
    cores = sorted({p.core for p in k.points}, key=core_names().index)
    b.append(("table", ["core"] + [f"K = {K}" for K in k.K], [[c] + [k.cell(c, K) for K in k.K] for c in cores]))
    b.append(("p", "FS/AMOS: K steps/neurons with K + 4-bit inputs; TTFS: K-bit windows; ANN: K-bit data."))
    return b


def _extremes(values):
    return min(values), max(values)


def _network_findings(n):
    """The caveat on the test-set size and the comparison with Widmer et al., in words."""
    b = []
    lo, hi = (f"{100 * w:.1f}" for w in _extremes([r.accuracy_ci95[1] - r.accuracy_ci95[0] for r in n.rows]))
    b.append(("p", f"Accuracy here rests on {n.test_samples} test samples: one sample moves it by "
                   f"{100 / n.test_samples:.2f} points, and the 95 % interval (Wilson) of each coding is "
                   f"{lo if lo == hi else f'{lo} to {hi}'} points wide, so these accuracies cannot tell the "
                   "codings apart. The golden section above compares accuracy on a larger test set."))
    ttfs, ann = n.row("ttfs"), n.row(REFERENCE)
    if ttfs is None or ann is None:
        return b
    su, mr = ttfs.energy_parts_pj.get("state_updates", 0.0), ann.energy_parts_pj.get("memory_reads", 0.0)
    if ttfs.energy_x_area_vs_ann > 1:
        B_in, B = n.ttfs_windows or ("?", "?")
        windows = f"two {B}-tick windows" if B_in == B else f"its two windows ({B_in} and {B} ticks)"
        F = n.ttfs_slope_shift
        b.append(("p", f"Widmer et al. (2023) found TTFS better than an ANN on Iris; here TTFS costs "
                       f"{cell(ttfs.energy_x_area_vs_ann)}× the ANN's energy × area. The difference is our "
                       f"TTFS layer core, not the coding: it updates every neuron's potential on every tick "
                       f"of {windows}, and these state updates are {cell(su)} pJ "
                       f"of its {cell(ttfs.energy_pj)} pJ energy proxy. After t_min the slope is "
                       f"2^F{f' = {1 << F}' if F is not None else ''} for every neuron, so the crossing "
                       "tick is (ϑ − V)/2^F, a shift: an event-driven TTFS engine computes it once per "
                       "neuron and drops the per-tick updates (the network-circuit section has the TTFS "
                       "engine once it is built)."))
    else:
        b.append(("p", f"As Widmer et al. (2023) found on Iris, TTFS is below the ANN in energy × area "
                       f"({cell(ttfs.energy_x_area_vs_ann)}× the ANN's)."))
    b.append(("p", f"Energy model: the proxy charges every weight access an SRAM read ({cell(mr)} pJ of "
                   f"the ANN's {cell(ann.energy_pj)} pJ), but these layers hold their weights as constants "
                   "in logic, so the area column is that of a weights-in-logic design and the energy "
                   "column that of a weights-in-SRAM design. The network-circuit section below gives "
                   "both one memory model: weights in block RAM, read as the circuit reads them."))
    return b


def _network(n):
    b = [("h", 2, f"The {n.dataset} network per coding: area and energy × area"),
         ("p", "Every dense layer of the converted reference net co-simulated on the whole test set "
               "(each layer core fed with the inputs the golden network gives it; every output beat and "
               "the cycle counts equal the golden model) and synthesized as its layer core (weights as "
               "constants), areas summed; energy proxy and accuracy from the golden run; cycles measured "
               "on the RTL (sum over layers); latency = cycles / lowest layer Fmax. Energy × area with "
               "Yosys's CMOS transistor estimate is the cost function of Widmer et al. (2023), who found "
               "TTFS better than an ANN on Iris in 7 nm. " + n.note)]
    rows = [[LABELS.get(r.coding, r.coding), percent(r.accuracy),
             f"{100 * r.accuracy_ci95[0]:.2f}–{100 * r.accuracy_ci95[1]:.2f} %", r.logic_cells, r.luts, r.ffs,
             r.fits_up5k, r.transistors, r.fmax_mhz, r.rtl_cycles, r.latency_us, r.energy_pj,
             r.energy_parts_pj.get("state_updates"), r.energy_parts_pj.get("memory_reads"),
             r.energy_x_area_pj_transistors, r.energy_x_area_vs_ann] for r in n.rows]
    b.append(("table", ["coding", "accuracy", "95 % interval", "iCE40 LC", "LUT4", "FF", "fits UP5K",
                        "CMOS transistors", "Fmax (MHz)", "RTL cycles", "latency (µs)", "energy proxy (pJ)",
                        "of which state updates (pJ)", "of which memory reads (pJ)",
                        "energy × area (pJ·transistors)", "vs ANN"], rows))
    return b + _network_findings(n)


_P_WORDS = {"1": "P = 1", "middle": "a quarter of each layer", "all": "all neurons"}


def _synth_cell(d, key):
    """A synthesis figure; for a design nextpnr found too big, the logic cells it needed
    (``over``: resource → [used, available]) and "–" for the figures it never produced."""
    if "error" not in d:
        return d.get(key)
    over = d.get("over")
    if not over:
        return "failed"
    if key == "logic_cells" and "ICESTORM_LC" in over:
        used, have = over["ICESTORM_LC"]
        return f"{used:,} of {have:,}"
    return "–"


def _circuits(s):
    """The network-circuit section: area and speed, then cycles, spikes and energy per row."""
    names = list(dict.fromkeys(r.p_name for r in s.rows))
    b = [("h", 2, f"The {s.dataset} network as one circuit, per coding and parallelism P"),
         ("p", f"Each converted design becomes one circuit (`spikeforge generate network`): one engine "
               "per dense layer, chained by streams, weights in block RAM, P neurons (lanes) at once "
               f"per layer (here {', '.join(_P_WORDS.get(n, n) for n in names)}"
               + ("; `spikeforge report --full` adds a quarter of each layer and all neurons"
                  if "all" not in names else "")
               + "). Synthesized whole, inside the "
               f"measurement harness, for {' and '.join(s.targets)}; co-simulated on {s.cosim_samples} "
               "test samples, one at a time: every score, counter and cycle count equals the golden "
               f"model, sample by sample. Accuracy, cycles, spikes and energy are the golden run's on "
               f"all {s.test_samples} test samples (the same circuit model). Energy proxy of these "
               f"rows: {s.energy_model}.")]
    rows = [[LABELS.get(r.coding, r.coding), r.p_name, "/".join(map(str, r.parallelism)),
             _synth_cell(r.ice40, "logic_cells"), _synth_cell(r.ice40, "luts"), _synth_cell(r.ice40, "ffs"),
             _synth_cell(r.ice40, "bram"), _synth_cell(r.ice40, "dsp"), _synth_cell(r.ice40, "fmax_mhz"),
             r.fits_up5k, _synth_cell(r.ecp5, "luts"), _synth_cell(r.ecp5, "ffs"), _synth_cell(r.ecp5, "bram"),
             _synth_cell(r.ecp5, "dsp"), _synth_cell(r.ecp5, "fmax_mhz")] for r in s.rows]
    b.append(("table", ["coding", "P", "P per layer", "UP5K LC", "LUT4", "FF", "BRAM", "DSP", "Fmax (MHz)",
                        "fits UP5K", "ECP5 LUT", "FF", "DP16KD", "DSP", "Fmax (MHz)"], rows))
    failed = [(r, d) for r in s.rows for d in (r.ice40, r.ecp5) if "error" in d]
    for r, d in failed:
        b.append(("p", f"{r.coding} at P = {r.p_name}: "
                       + (d["error"] if d.get("over") else f"synthesis failed: {d['error']}")))
    rows = [[LABELS.get(r.coding, r.coding), r.p_name, percent(r.accuracy), percent(r.agreement),
             r.cycles_measured, r.lower_bound, r.cycles, r.cycles_vs_bound, r.latency_us, r.inferences_per_s,
             r.spikes, r.synaptic_ops, r.energy_pj, r.energy_parts_pj.get("weight_reads"),
             r.energy_x_area_pj_lc] for r in s.rows]
    b.append(("table", ["coding", "P", "accuracy", "agrees with ANN",
                        f"cycles measured ({s.cosim_samples} samples)", "reference bound (same samples)",
                        f"cycles, all {s.test_samples} (golden)", "worst cycles / bound", "latency (µs)",
                        "inferences/s", "spikes / inference", "synaptic ops / inference",
                        "energy proxy (pJ)", "of which weight reads (pJ)", "energy × area (pJ·LC)"], rows))
    same = [(a.coding, b.coding) for a in s.rows for b in s.rows if a.coding < b.coding and
            a.p_name == b.p_name and a.ice40 == b.ice40 and a.cycles == b.cycles and a.spikes == b.spikes]
    for x, y in dict.fromkeys(same):
        b.append(("p", f"{x} and {y} give the same circuit here: with the bit-shift ReLU tables both send "
                       "the binary digits of each value (FS in time, AMOS in space) and the receiving "
                       "engine is the same; they differ with fitted tables (Swish, …)."))
    b.append(("p", "Cycles: first input beat to last score beat for a sample that finds the circuit idle "
                   "(samples back to back overlap in the layers, so the throughput of a stream is higher); "
                   "latency and inferences/s at the UP5K Fmax. Reference bound: the synaptic events over P "
                   "of every layer plus the output beats (docs/network.md, \"Network circuits\"); layers "
                   "overlap, so a circuit can finish below it."))
    return b


def build_blocks(data):
    """The blocks of the whole report (a :class:`~spikeforge.report.records.ReportData`)."""
    env = data.environment
    b = [("h", 1, "spikeforge comparison report"),
         ("p", f"Produced by `{env.command}` in {data.wall_time_s} s on {env.platform} "
               f"({env.cpus} CPUs), Python {env.python}; "
               + ", ".join(f"{k} {v}" for k, v in env.packages.items() if v)
               + (f"; tools: {', '.join(f'{k}: {v}' for k, v in env.tools.items())}" if env.tools else "")
               + ".")]
    b += _golden(data.golden)
    if data.cores is not None:
        b += _cores(data.cores)
    if data.k_sweep is not None:
        b += _ksweep(data.k_sweep)
    if data.network is not None:
        b += _network(data.network)
    if data.circuits is not None:
        b += _circuits(data.circuits)
    for fig in data.figures:
        b.append(("img", fig.file, fig.alt))
    b.append(("p", "Machine-readable: `report.json`. Network designs: `designs/`. All energy figures are "
                   "proxies (operation counts × a cited table; RTL toggles), not power measurements."))
    return b


# -------------------------------------------------------------- renderers

def render_markdown(data):
    """The report as Markdown."""
    out = []
    for blk in build_blocks(data):
        if blk[0] == "h":
            out += ["#" * blk[1] + " " + blk[2], ""]
        elif blk[0] == "p":
            out += [blk[1], ""]
        elif blk[0] == "img":
            out += [f"![{blk[2]}]({blk[1]})", ""]
        else:
            headers, rows = blk[1], blk[2]
            out.append("| " + " | ".join(headers) + " |")
            out.append("|" + "|".join("---" for _ in headers) + "|")
            out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
            out.append("")
    return "\n".join(out)


def _inline(text):
    """Escape, then render `code` spans."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if k % 2 else p for k, p in enumerate(parts))


def render_html(data):
    """The report as one HTML page (figures linked beside it)."""
    body = []
    for blk in build_blocks(data):
        if blk[0] == "h":
            body.append(f"<h{blk[1]}>{_inline(blk[2])}</h{blk[1]}>")
        elif blk[0] == "p":
            body.append(f"<p>{_inline(blk[1])}</p>")
        elif blk[0] == "img":
            body.append(f'<p><img src="{html.escape(blk[1])}" alt="{html.escape(blk[2])}" '
                        'style="max-width:100%"></p>')
        else:
            head = "".join(f"<th>{html.escape(h)}</th>" for h in blk[1])
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(cell(c))}</td>" for c in r) + "</tr>"
                           for r in blk[2])
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    style = ("body{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:0.85em;margin:1em 0}"
             "th,td{border:1px solid #bbb;padding:3px 6px;text-align:right}"
             "th{background:#eee}td:first-child{text-align:left}code{background:#f3f3f3}")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>spikeforge comparison report"
            f"</title><style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def render_json(data):
    """The report's records as JSON (keys sorted)."""
    return json.dumps(data.to_dict(), indent=1, sort_keys=True, default=float) + "\n"
