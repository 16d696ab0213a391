"""Typed records of the comparison report.

The sections (:mod:`.golden`, :mod:`.hardware`) build these records; the
renderers read them: Markdown and HTML (:mod:`.document`), the figures
(:mod:`.plots`) and JSON (:meth:`ReportData.to_dict`). A field marked
``internal`` (the converted networks) is not written to JSON; an optional
field left ``None`` is left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

__all__ = ["Record", "Environment", "Stage", "GoldenRow", "RatePoint", "GoldenSection", "Area",
           "CoreRow", "CoresSection", "KPoint", "KSweep", "LayerArea", "NetworkRow",
           "NetworkSection", "CircuitRow", "CircuitSection", "Figure", "ReportData", "SCHEMA",
           "stage_label", "pareto_front",
           "wilson_interval"]

SCHEMA = "spikeforge.report/2"


def _plain(v):
    """A JSON-ready copy of ``v`` (records become dicts, NumPy scalars Python numbers)."""
    if isinstance(v, Record):
        return v.to_dict()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):     # NumPy scalar
        return v.item()
    return v


def internal(**kw):
    """A field kept in memory only (not written to JSON)."""
    return field(metadata={"internal": True}, **kw)


@dataclass
class Record:
    """Base of the report records: :meth:`to_dict` for JSON."""

    def to_dict(self):
        """The record as plain JSON data (``None`` optionals and internal fields left out)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.metadata.get("internal") or (v is None and f.default is None):
                continue
            out[f.name] = _plain(v)
        return out


# ------------------------------------------------------------------ golden section

@dataclass
class Environment(Record):
    """Tool versions and machine of one report run."""

    python: str
    platform: str
    machine: str
    cpus: int | None
    packages: dict
    command: str
    tools: dict | None = None


def stage_label(name, n_dense):
    """One name per stage for every coding: ``input encoding``, ``hidden layer k``, ``output layer``.

    The golden run names a stage after what produces it (``input``, ``dense{i}``
    for a layer core, ``neurons{i}`` for the FS/AMOS neurons after dense layer
    ``i``); the report names it after its place in the network.

    Parameters
    ----------
    name : str
        Stage name from the golden run.
    n_dense : int
        Number of dense layers of the network.
    """
    if name == "input":
        return "input encoding"
    for prefix in ("dense", "neurons"):
        tail = name[len(prefix):]
        if name.startswith(prefix) and tail.isdigit():
            i = int(tail)
            return "output layer" if i == n_dense - 1 else f"hidden layer {i + 1}"
    return name


@dataclass
class Stage(Record):
    """Spikes and work of one stage of a golden run, per inference."""

    name: str
    stage: str
    neurons: int
    spikes: float
    spikes_per_neuron: float | None
    synaptic_ops: float
    cycles: float


@dataclass
class GoldenRow(Record):
    """Golden-model figures of one coding on the test split (per inference)."""

    coding: str
    name: str
    samples: int
    accuracy: float | None
    agreement: float
    spikes_per_neuron: float
    spikes: float
    synaptic_ops: float
    state_updates: float
    multiplications: float
    memory_reads: float
    cycles: float
    energy_pj: dict
    layers: list
    options: dict

    @classmethod
    def from_evaluation(cls, e, options, n_dense):
        """The row of an :class:`~spikeforge.models.evaluate.Evaluation`."""
        d = e.to_dict()
        d["layers"] = [Stage(stage=stage_label(s["name"], n_dense), **s) for s in d["layers"]]
        return cls(options=dict(options), **d)

    @property
    def total_pj(self):
        return self.energy_pj["total"]


@dataclass
class RatePoint(Record):
    """One point of the rate codings' sweep over time steps."""

    coding: str
    norm: str
    time_steps: int
    accuracy: float | None
    agreement: float
    spikes_per_neuron: float
    energy_pj: float
    cycles: float


@dataclass
class GoldenSection(Record):
    """Golden models of every coding on one data set."""

    dataset: str
    network: str
    layer_sizes: list
    train_samples: int
    test_samples: int
    float_accuracy: float
    quantization: dict
    codings: dict                  # coding → GoldenRow
    rate_sweep: list               # RatePoint
    rate_defaults: dict
    energy_table: dict
    networks: dict = internal(default_factory=dict)      # coding → Network (designs/)
    data: dict | None = None       # the user's own split (--data): source, rows, input range, clipped


def pareto_front(points):
    """The points no other point beats in both energy (lower) and accuracy (higher).

    Parameters
    ----------
    points : list of (energy, accuracy, label)

    Returns
    -------
    list of (energy, accuracy, label), by rising energy (and rising accuracy).
    """
    front, best = [], -math.inf
    for e, a, label in sorted(points, key=lambda p: (p[0], -p[1])):
        if a > best:
            front.append((e, a, label))
            best = a
    return front


# ------------------------------------------------------------------ hardware sections

@dataclass
class Area(Record):
    """Area and speed of one synthesis run (``dsp``/``bram`` unset for the harness alone)."""

    luts: int
    ffs: int
    carry: int
    logic_cells: int
    fmax_mhz: float
    dsp: int | None = None
    bram: int | None = None

    @classmethod
    def of(cls, result):
        """The area fields of a synthesis result dict (``SynthResult.to_dict()`` or a harness dict)."""
        return cls(**{f.name: result.get(f.name) for f in fields(cls)})


@dataclass
class CoreRow(Record):
    """One core at matched precision: co-simulation, synthesis on three targets, derived figures.

    ``kind`` is ``activation unit`` (FS, AMOS: a neuron's activation without
    synapses) or ``layer core`` (a neuron with its synapses); only rows of one
    kind are compared with each other.
    """

    core: str
    kind: str
    synapses: int
    params: dict
    vectors: int
    simulator: str
    cycles_per_inference: float
    latency_cycles: float
    initiation_interval: int | None
    spikes_per_inference: float
    toggles_per_inference: float
    energy_pj: float
    ice40: Area
    ice40_harness: Area
    ecp5: Area
    transistors: int
    mul_cells: int
    latency_ns: float
    inferences_per_s: int
    energy_x_area_pj_lc: float
    energy_x_area_pj_transistors: int
    energy_x_area_vs_ann: float | None = None
    ice40_dsp: Area | None = None


@dataclass
class CoresSection(Record):
    """Every core at matched precision (K steps / neurons, ``bits``-bit data)."""

    K: int
    bits: int
    rows: list                     # CoreRow

    def of_kind(self, kind):
        return [r for r in self.rows if r.kind == kind]


@dataclass
class KPoint(Record):
    """iCE40 area of one core at one K."""

    core: str
    K: int
    logic_cells: int
    luts: int
    ffs: int
    fmax_mhz: float


@dataclass
class KSweep(Record):
    """Area against K."""

    K: list
    points: list                   # KPoint

    def cell(self, core, K):
        return next((p.logic_cells for p in self.points if p.core == core and p.K == K), None)


@dataclass
class LayerArea(Area):
    """iCE40 area of one synthesized network layer."""

    layer: int = 0


def wilson_interval(p, n, z=1.96):
    """95 % Wilson score interval of a proportion ``p`` measured on ``n`` samples."""
    if not n:
        return (0.0, 1.0)
    d = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, mid - half), min(1.0, mid + half))


@dataclass
class NetworkRow(Record):
    """The reference net of a data set in one layer-core coding: summed layer areas, golden figures."""

    coding: str
    accuracy: float
    accuracy_ci95: list
    agreement: float
    rtl_bit_exact_inputs: int
    rtl_cycles: float
    layers: list                   # LayerArea
    logic_cells: int
    luts: int
    ffs: int
    dsp: int
    fits_up5k: bool
    transistors: int
    fmax_mhz: float
    cycles: float
    latency_us: float
    energy_pj: float
    energy_parts_pj: dict
    spikes_per_neuron: float
    energy_x_area_pj_lc: int
    energy_x_area_pj_transistors: int
    energy_x_area_vs_ann: float | None = None


@dataclass
class NetworkSection(Record):
    """Whole networks built from layer cores, one per coding."""

    dataset: str
    test_samples: int
    rows: list                     # NetworkRow
    note: str
    ttfs_windows: list | None = None        # [B_in, B] ticks of the first TTFS layer
    ttfs_slope_shift: int | None = None     # F: the slope 2^F in the window

    def row(self, coding):
        return next((r for r in self.rows if r.coding == coding), None)


@dataclass
class CircuitRow(Record):
    """One network circuit: a coding at one parallelism P per layer."""

    coding: str
    p_name: str                    # "1", "middle" or "all"
    parallelism: list
    accuracy: float
    accuracy_ci95: list
    agreement: float               # with the integer ANN's predictions
    cycles: float                  # mean per inference, one sample alone (golden)
    cycles_measured: float         # mean over the co-simulated samples (equal to golden per sample)
    lower_bound: float             # mean reference bound over the co-simulated samples
    cycles_vs_bound: float         # largest cycles / reference bound over all test samples
    spikes: float                  # per inference (hardware counter)
    synaptic_ops: float            # per inference (hardware counter)
    energy_pj: float               # energy proxy per inference of this circuit
    energy_parts_pj: dict
    ice40: dict                    # logic_cells, luts, ffs, bram, dsp, fmax_mhz (or error)
    ecp5: dict                     # luts, ffs, bram, dsp, fmax_mhz (or error)
    fits_up5k: bool
    latency_us: float | None = None            # cycles / iCE40 Fmax
    inferences_per_s: float | None = None      # one sample at a time
    energy_x_area_pj_lc: int | None = None


@dataclass
class CircuitSection(Record):
    """Whole designs as one circuit (network engines, weights in block RAM), per coding and P."""

    dataset: str
    test_samples: int
    cosim_samples: int
    rows: list                     # CircuitRow
    energy_model: str
    targets: list


# ------------------------------------------------------------------ the report

@dataclass
class Figure(Record):
    """A figure of the report: its file name and alternative text."""

    file: str
    alt: str


@dataclass
class ReportData(Record):
    """Everything the report shows; the hardware sections are ``None`` with ``--golden-only``."""

    environment: Environment
    golden: GoldenSection
    cores: CoresSection | None = None
    k_sweep: KSweep | None = None
    network: NetworkSection | None = None
    circuits: CircuitSection | None = None
    wall_time_s: float | None = None
    figures: list = field(default_factory=list)          # Figure

    def to_dict(self):
        return {"schema": SCHEMA, **super().to_dict()}
