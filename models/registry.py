"""The one registry of cores and codings.

Every core is one neuron family (FS, AMOS, TTFS, LIF, IF, ANN MAC); each
names a coding of the same name for whole networks. A :class:`Core` record
holds everything the rest of the package looks up about it — parameter
class, golden model, RTL component, co-simulation driver, report label,
matched-precision instance, how a network layer becomes its parameter
object, its golden network run, its conversion and its network options.
Lists of cores or codings anywhere else (CLI help, reports, sweeps, tests)
are read from :data:`CORES`; no other module decides behaviour by a core's
name.

Parts that live above ``models`` (the Amaranth component, the cocotb
driver) and parts whose modules import this one are named as
``"module:attribute"`` paths under ``spikeforge`` and resolved on first use,
so ``models`` never imports Amaranth and no import cycle arises.

Adding a core: its own files (``models/<core>.py``, ``hdl/<core>.py``,
``sim/<core>.py``, ``docs/cores/<core>.md``) plus one :func:`register` call
below.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from .amos import AMOSParams, amos_golden
from .ann import MACParams, ann_golden
from .errors import ConfigError
from .fs import FSParams, fs_golden
from .lfsr import LFSRParams
from .lif import DEFAULT_LEAK_SHIFTS, LIFParams, lif_golden
from .rate_if import IFParams, if_golden
from .ttfs import TTFSParams, ttfs_golden

__all__ = ["Core", "CORES", "register", "get_core", "core_names", "codings", "REFERENCE"]

#: the coding every other coding is compared against (the integer ANN)
REFERENCE = "ann"


def _resolve(path):
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(f"spikeforge.{module}"), attr)


@dataclass(frozen=True)
class Core:
    """Everything the package knows about one core and its coding.

    Members
    -------
    name, label, summary : str
        Registry name (also the coding's name), report label, one-line summary.
    params : type
        The frozen parameter dataclass (golden model and RTL read it alike).
    golden : callable
        The golden model ``golden(params, inputs) -> result``.
    component, driver : str
        ``"hdl.<module>:<Class>"`` of the Amaranth component and
        ``"sim.<module>"`` of its co-simulation vectors (resolved on use).
    matched : callable
        ``matched(K, bits)``: the core at matched precision (K steps or neurons,
        ``bits``-wide data) for side-by-side comparisons.
    k_sweep : callable or None
        ``k_sweep(K)``: the core whose size follows K, for area-against-K plots.
    layer_core : bool
        Whether the RTL core is a whole layer (else a neuron: fs, amos).
    time_steps : bool
        Rate-coded (runs T time steps; max-pool is undefined).
    exact : bool
        The coding reproduces the integer ANN exactly (same predictions and scores order).
    options : dict
        Network-wide options of the coding and their defaults.
    core_keys : frozenset
        Keys a dense layer's ``core`` dict may hold in this coding.
    convert_options : tuple
        The conversion options (of :func:`~spikeforge.models.convert.to_coding`)
        that apply to this coding.
    layer_params, run, convert, check_options : str
        ``"models.<module>:<function>"`` paths: dense layer → parameter object;
        golden network run; integer ANN → this coding; option validation.
    engine, circuit : str or None
        The network layer engine (``"hdl.<module>:<Class>"``) and the circuit model
        module (``"models.<module>"``: engine parameters, golden run with counters and
        cycles, see :mod:`spikeforge.models.circuit`), where built.
    """

    name: str
    label: str
    summary: str
    params: type
    golden: Callable[..., Any]
    component: str
    driver: str
    matched: Callable[[int, int], Any]
    k_sweep: Callable[[int], Any] | None
    layer_core: bool
    time_steps: bool
    exact: bool
    options: dict
    core_keys: frozenset
    convert_options: tuple
    layer_params: str
    run: str
    convert: str
    check_options: str = "models.network:no_options"
    engine: str | None = None
    circuit: str | None = None
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def resolve(self, part):
        """The object behind the path of ``part`` (``"component"``, ``"run"``, …), imported once."""
        if part not in self._cache:
            path = getattr(self, part)
            if path is None:
                raise ConfigError(f"core {self.name!r} has no {part} yet")
            self._cache[part] = importlib.import_module(f"spikeforge.{path}") if ":" not in path \
                else _resolve(path)
        return self._cache[part]

    @property
    def is_reference(self):
        return self.name == REFERENCE


CORES: dict[str, Core] = {}


def register(core):
    """Add ``core`` to the registry; refuses a second core of the same name."""
    if not isinstance(core, Core):
        raise TypeError(f"expected a Core record, not {core!r}")
    if core.name in CORES:
        raise ValueError(f"core {core.name!r} is already registered (by {CORES[core.name].params.__name__})")
    core.params.core = core.name
    CORES[core.name] = core
    return core


def get_core(name):
    """The :class:`Core` called ``name``; unknown names raise ConfigError listing the known ones."""
    try:
        return CORES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown core {name!r}; known cores: {', '.join(CORES)}") from None


def core_names():
    """Registered core names, in registration order (fs, amos, ttfs, lif, if, ann)."""
    return list(CORES)


def codings():
    """The coding names (one per core), in registry order."""
    return tuple(CORES)


_RATE_CONVERT = ("time_steps", "rate_norm")
_DIGITS_KEYS = frozenset({"T", "h", "d"})
_RATE_KEYS = frozenset({"threshold", "in_scale", "weight_shift"})

register(Core(
    "fs", "FS (few spikes)", "few-spike neuron, K time-multiplexed steps", FSParams, fs_golden,
    "hdl.fs:FSNeuron", "sim.fs", matched=lambda K, bits: FSParams.relu(K, bits + 4),
    k_sweep=lambda K: FSParams.relu(K, K + 4), layer_core=False, time_steps=False, exact=True, options={},
    core_keys=_DIGITS_KEYS, convert_options=(), layer_params="models.network:digits_layer",
    run="models.simulate:run_fs", convert="models.convert:plain_coding",
    engine="hdl.digit_engine:DigitEngine", circuit="models.circuit_digits"))
register(Core(
    "amos", "AMOS (at most one spike)", "at-most-one-spike unit, K pipelined threshold gates",
    AMOSParams, amos_golden, "hdl.amos:AMOSUnit", "sim.amos",
    matched=lambda K, bits: AMOSParams.relu(K, bits + 4), k_sweep=lambda K: AMOSParams.relu(K, K + 4),
    layer_core=False, time_steps=False, exact=True, options={}, core_keys=_DIGITS_KEYS | {"c"}, convert_options=(),
    layer_params="models.network:digits_layer", run="models.simulate:run_amos",
    convert="models.convert:plain_coding", engine="hdl.digit_engine:DigitEngine", circuit="models.circuit_digits"))
register(Core(
    "ttfs", "TTFS (time to first spike)", "time-to-first-spike integrator layer", TTFSParams, ttfs_golden,
    "hdl.ttfs:TTFSLayer", "sim.ttfs", matched=lambda K, bits: TTFSParams(in_bits=bits, out_bits=bits),
    k_sweep=lambda K: TTFSParams(in_bits=K, out_bits=K), layer_core=True, time_steps=False, exact=True,
    options={"variant": "at_most_one"}, core_keys=frozenset(), convert_options=("ttfs_variant",),
    layer_params="models.network:ttfs_layer", run="models.simulate:run_ttfs",
    convert="models.convert:ttfs_coding", check_options="models.network:check_ttfs_options",
    engine="hdl.ttfs_engine:TTFSEngine", circuit="models.circuit_ttfs"))
register(Core(
    "lif", "shift-add LIF (rate, LFSR input)", "shift-and-add leaky integrate-and-fire layer", LIFParams, lif_golden,
    "hdl.lif:LIFLayer", "sim.lif", matched=lambda K, bits: LIFParams(), k_sweep=None, layer_core=True,
    time_steps=True, exact=False,
    options={"time_steps": 32, "leak_shifts": list(DEFAULT_LEAK_SHIFTS), "readout": "count",
             "lfsr": LFSRParams().to_dict()},
    core_keys=_RATE_KEYS, convert_options=_RATE_CONVERT + ("lif_readout", "leak_shifts", "lif_threshold_scale"),
    layer_params="models.network:lif_layer", run="models.simulate:run_lif",
    convert="models.convert:lif_coding", check_options="models.network:check_lif_options",
    engine="hdl.lif_engine:LIFEngine", circuit="models.circuit_lif"))
register(Core(
    "if", "rate IF (soft reset)", "rate-coded integrate-and-fire, soft reset (baseline)", IFParams, if_golden,
    "hdl.rate_if:IFLayer", "sim.rate_if", matched=lambda K, bits: IFParams(), k_sweep=None, layer_core=True,
    time_steps=True, exact=False, options={"time_steps": 32}, core_keys=_RATE_KEYS, convert_options=_RATE_CONVERT,
    layer_params="models.network:if_layer", run="models.simulate:run_if",
    convert="models.convert:if_coding", check_options="models.network:check_rate_options",
    engine="hdl.rate_engine:IFEngine", circuit="models.circuit_rate"))
register(Core(
    "ann", "integer ANN (MAC)", "integer ANN multiply-accumulate baseline", MACParams, ann_golden,
    "hdl.ann:MACLayer", "sim.ann", matched=lambda K, bits: MACParams(in_bits=bits, out_bits=bits),
    k_sweep=lambda K: MACParams(in_bits=K, out_bits=K), layer_core=True, time_steps=False, exact=True,
    options={},
    core_keys=frozenset(), convert_options=(), layer_params="models.network:mac_layer",
    run="models.simulate:run_ann", convert="models.convert:plain_coding",
    engine="hdl.mac_engine:MACEngine", circuit="models.circuit_mac"))
