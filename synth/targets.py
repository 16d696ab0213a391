"""Synthesis targets as data: one :class:`Target` record per target, defined once.

The flow (:mod:`~spikeforge.synth.flow`), the parsers, the command line,
sweeps (:mod:`spikeforge.sweep`) and the report (:mod:`spikeforge.report`)
read everything target-specific from here: device
and package, capacity, the Yosys synthesis command, the nextpnr arguments,
which cells count as LUT/FF/carry/BRAM/DSP, and whether a core must sit in
the iCE40 measurement harness. Boards (iCEBreaker, ULX3S) refer to these
records by name.

Capacities are the vendors' data-sheet figures: iCE40 UltraPlus family data
sheet (UP5K: 5,280 logic cells, 30 EBR of 4 kbit, 4 SPRAM of 256 kbit, 8 DSP);
ECP5 family data sheet (LFE5U-85F: 83,640 LUT4, 208 EBR of 18 kbit, 156
18×18 multipliers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..models.errors import ConfigError

__all__ = ["Target", "TARGETS", "TARGET_NAMES", "get_target", "DEFAULT_TARGET", "SEED"]

#: nextpnr placement seed: fixed, so results repeat
SEED = 1


@dataclass(frozen=True)
class Target:
    """One synthesis target.

    Parameters
    ----------
    name : str
        Command-line name, e.g. ``"ice40-up5k"``.
    label : str
        Name in reports, e.g. ``"iCE40UP5K"``.
    family : str
        ``"ice40"``, ``"ecp5"`` or ``"cmos"`` (Yosys's transistor estimate).
    device, package : str or None
        As nextpnr names them (``"up5k"``, ``"sg48"``; ``"85k"``).
    capacity : dict
        Resources of the device: ``logic_cells``, ``bram`` (blocks of ``bram_bits`` each),
        ``spram``, ``dsp``.
    synth : str
        The Yosys synthesis step (``{top}`` and ``{dsp}`` are filled in).
    pnr : tuple
        The nextpnr tool name and its arguments (empty: no place and route).
    freq_mhz : int or None
        nextpnr's timing target (the achieved Fmax is reported either way).
    needs_harness : bool
        The device has no out-of-context mode: place a core inside the
        measurement harness (:mod:`~spikeforge.synth.harness`).
    cells : dict
        Which Yosys cell types count as ``luts``, ``ffs``, ``carry``, ``bram``, ``dsp``.
    placed : tuple
        nextpnr utilization keys of (logic cells, I/O cells).
    """

    name: str
    label: str
    family: str
    device: str | None
    package: str | None
    capacity: dict
    synth: str
    pnr: tuple = ()
    freq_mhz: int | None = None
    needs_harness: bool = False
    cells: dict = field(default_factory=dict)
    placed: tuple = (None, None)
    stat_args: str = ""

    def use_dsp(self, multipliers):
        """Whether to map ``multipliers`` (one per lane) to DSP blocks: on the iCE40, when the
        device has one for each (``synth_ice40 -dsp``); Yosys's ECP5 flow maps them anyway."""
        return self.family == "ice40" and 0 < multipliers <= self.capacity.get("dsp", 0)

    @property
    def tools(self):
        """The external tools this target runs."""
        return ("yosys",) + ((self.pnr[0],) if self.pnr else ())

    def yosys_script(self, top, dsp=False):
        """The Yosys script: a coarse pass (for ``$mul`` counts), then synthesis and ``stat``."""
        read = "read_verilog design.v"
        coarse = f"hierarchy -top {top}; proc; opt -fast; tee -q -o coarse.json stat -json"
        synth = self.synth.format(top=top, dsp=" -dsp" if dsp else "")
        stat = "tee -q -o stat.json stat -json" + self.stat_args
        return f"{read}; {coarse}; design -reset; {read}; {synth}; {stat}"

    def commands(self, top, dsp=False):
        """The tool invocations (argv lists with the tool's name first)."""
        cmds = [["yosys", "-q", "-l", "yosys.log", "-p", self.yosys_script(top, dsp)]]
        if self.pnr:
            cmds.append([*self.pnr, "--json", "netlist.json", "--report", "report.json",
                         "--freq", str(self.freq_mhz), "--seed", str(SEED), "--timing-allow-fail"])
        return cmds


TARGETS = {t.name: t for t in (
    Target("ice40-up5k", "iCE40UP5K", "ice40", "up5k", "sg48",
           {"logic_cells": 5280, "bram": 30, "bram_bits": 4096, "spram": 4, "dsp": 8},
           "synth_ice40 -top {top}{dsp} -json netlist.json",
           ("nextpnr-ice40", "--up5k", "--package", "sg48"), freq_mhz=100, needs_harness=True,
           cells={"luts": ("SB_LUT4",), "ffs": ("SB_DFF",), "carry": ("SB_CARRY",),
                  "bram": ("SB_RAM40_4K",), "dsp": ("SB_MAC16",)},
           placed=("ICESTORM_LC", "SB_IO")),
    Target("ecp5-85f", "ECP5-85F", "ecp5", "85k", None,
           {"logic_cells": 83640, "bram": 208, "bram_bits": 18432, "spram": 0, "dsp": 156},
           "synth_ecp5 -top {top} -json netlist.json",
           ("nextpnr-ecp5", "--85k", "--out-of-context"), freq_mhz=250,
           cells={"luts": ("LUT4",), "ffs": ("TRELLIS_FF",), "carry": ("CCU2C",),
                  "bram": ("DP16KD", "PDPW16KD"), "dsp": ("MULT18X18D", "ALU54B")},
           placed=("TRELLIS_COMB", None)),
    Target("cmos", "CMOS estimate", "cmos", None, None, {},
           "synth -top {top}; dfflegalize -cell $_DFF_P_ 01; abc -g cmos2; opt_clean",
           cells={"ffs": ("$_DFF_",)}, stat_args=" -tech cmos"),
)}

TARGET_NAMES = tuple(TARGETS)
DEFAULT_TARGET = "ice40-up5k"


def get_target(name):
    """The :class:`Target` called ``name`` (ConfigError listing the known ones otherwise)."""
    if isinstance(name, Target):
        return name
    try:
        return TARGETS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown target {name!r}; choose from {', '.join(TARGETS)}") from None
