"""Bitstreams: a network circuit behind the host link, built for a board.

:func:`prepare_bitstream` puts the board top (:class:`~spikeforge.hdl.board_pins.OnBoard`)
on the board's amaranth-boards platform and returns a :class:`BitstreamPlan`:
the platform's files (RTLIL, pin and clock constraints, Yosys script) and its
commands (Yosys, nextpnr, icepack/ecppack), inspectable before anything runs.
:meth:`BitstreamPlan.execute` runs the commands one at a time with the tools of
:func:`~spikeforge.synth.flow.tool_path` (YoWASP wheels, or native tools named by
``YOSYS``, ``NEXTPNR_ICE40``, ``NEXTPNR_ECP5``, ``ICEPACK``, ``ECPPACK``) and
returns a :class:`Bitstream`: the file and its :class:`BuildSummary` (resources,
Fmax against the board clock, pins). Builds are cached like synthesis results:
by a hash of the files, the commands and the tools, each entry built in a
temporary folder and renamed into place complete with the SHA-256 of its files.

A design that does not fit fails in nextpnr; the error's first line names the
resource (``the design does not fit the iCEBreaker (iCE40UP5K): ICESTORM_LC 7,073
of 5,280 (133 %)``). A design that fits but misses the board clock is built and
cached, and :meth:`Bitstream.check` refuses it naming both frequencies.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..models.errors import ConfigError, ToolError
from ..models.io import cache_root
from ..models.process import run_tool, tool_timeout
from ..models import protocol as proto
from .boards import get_board, load_pins
from .cache import cached_run
from .flow import overfull, tool_path, tool_versions
from .parse import cells_by_type, count_cells

__all__ = ["BitstreamPlan", "Bitstream", "BuildSummary", "prepare_bitstream", "bitstream_cache", "NAME"]

#: top-level name of the build (file names ``spikeforge.il``, ``spikeforge.bin`` …)
NAME = "spikeforge"
SUMMARY = "summary.json"


def bitstream_cache():
    return cache_root() / "bitstreams"


@dataclass
class BuildSummary:
    """What a bitstream build gives: the board, the design, resources after synthesis
    (``luts``, ``ffs``, ``carry``, ``bram``, ``dsp``) and after placement (``logic_cells``
    of ``logic_cells_available``, ``io``), Fmax against the board clock, the pins
    (port → package pin), the UART, the tools, the bitstream's size and SHA-256."""

    board: str
    board_label: str
    target: str
    device: str
    coding: str
    parallelism: list
    design_hash: str
    clock_mhz: float
    fmax_mhz: float | None
    baud: int
    divisor: int
    luts: int = 0
    ffs: int = 0
    carry: int = 0
    bram: int = 0
    dsp: int = 0
    logic_cells: int | None = None
    logic_cells_available: int | None = None
    io: int | None = None
    pins: dict = field(default_factory=dict)
    tools: dict = field(default_factory=dict)
    bitstream: str = ""
    bitstream_bytes: int = 0
    bitstream_sha256: str = ""
    seconds: float = 0.0
    cached: bool = False

    @property
    def meets_timing(self):
        return self.fmax_mhz is not None and self.fmax_mhz >= self.clock_mhz

    def to_dict(self):
        return {**asdict(self), "meets_timing": self.meets_timing}

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in fields(cls)}
        if not isinstance(d, dict) or not {"board", "design_hash"} <= set(d):
            raise ValueError("not a build summary")
        return cls(**{k: v for k, v in d.items() if k in names})

    def lines(self):
        """The summary as text lines (``spikeforge build`` prints them)."""
        lc = (f"{self.logic_cells:,} of {self.logic_cells_available:,} logic cells "
              f"({100 * self.logic_cells / self.logic_cells_available:.0f} %)"
              if self.logic_cells is not None and self.logic_cells_available else "logic cells: –")
        fmax = f"{self.fmax_mhz:.1f} MHz" if self.fmax_mhz is not None else "–"
        verdict = "meets" if self.meets_timing else "MISSES"
        p = ",".join(map(str, self.parallelism))
        return [
            f"board      {self.board_label} ({self.device}), design {self.design_hash} ({self.coding}, P={p})",
            f"area       {lc}; {self.luts:,} LUT4, {self.ffs:,} FF, {self.carry:,} carry, "
            f"{self.bram} BRAM, {self.dsp} DSP",
            f"timing     Fmax {fmax} {verdict} the board clock {self.clock_mhz:g} MHz",
            f"uart       {self.baud:,} baud (divisor {self.divisor})",
            "pins       " + ", ".join(f"{k} {v}" for k, v in self.pins.items()),
            f"bitstream  {self.bitstream} ({self.bitstream_bytes:,} bytes, sha256 {self.bitstream_sha256[:16]}…)",
            "tools      " + "; ".join(f"{k} {_short(v)}" for k, v in sorted(self.tools.items())),
        ]


def _short(version):
    """A tool's version line without its build details ("Yosys 0.70", "nextpnr-0.11.1")."""
    m = re.search(r"\(Version ([^)]+)\)", version)
    return m.group(1) if m else re.sub(r"\s*\(git sha1.*", "", version)


@dataclass
class Bitstream:
    """A built bitstream: ``path`` (in the cache) and its :class:`BuildSummary`."""

    path: Path
    summary: BuildSummary
    log_dir: Path

    def check(self):
        """ConfigError if the design misses the board clock (the summary names both figures)."""
        s = self.summary
        if not s.meets_timing:
            fmax = f"{s.fmax_mhz:.1f} MHz" if s.fmax_mhz is not None else "no Fmax"
            raise ConfigError(f"the design misses the {s.board_label} clock: {fmax} < {s.clock_mhz:g} MHz "
                              f"(nextpnr log: {self.log_dir / (NAME + '.tim')}); try a smaller P")
        return self


def prepare_bitstream(cp, board, *, baud=115_200, pins=None):
    """Plan the bitstream of circuit ``cp`` (:class:`~spikeforge.models.circuit.CircuitParams`)
    for ``board`` (a name or :class:`~spikeforge.synth.boards.Board`) with the host link at
    ``baud``; ``pins``: a pin file (default: the board's file in ``constraints/``).

    The engines with multipliers have one per lane; on the iCE40 they go to DSP blocks when
    the device has one for every lane of every layer (as in the report's circuit section)."""
    from ..hdl.board_pins import OnBoard
    from ..hdl.uart import uart_divisor
    board = get_board(board)
    proto.check_board_params(cp)
    pin_map = load_pins(board, pins)
    platform = board.new_platform()
    pin_map.apply(platform)
    clock_hz = platform.default_clk_frequency
    divisor = uart_divisor(int(round(clock_hz)), baud)
    top = OnBoard(cp, divisor, pin_map.uart, pin_map.leds)
    dsp = board.target_record.use_dsp(sum(cp.parallelism))
    plan = platform.prepare(top, name=NAME, synth_opts="-dsp" if dsp else "",
                            script_after_synth="tee -q -o stat.json stat -json",
                            nextpnr_opts="--report report.json --timing-allow-fail")
    return BitstreamPlan(board=board, cp=cp, plan=plan, clock_mhz=clock_hz / 1e6, baud=baud, divisor=divisor,
                         pin_file=pin_map.source)


@dataclass
class BitstreamPlan:
    """The files and commands of one bitstream build (see the module docstring)."""

    board: object
    cp: object
    plan: object
    clock_mhz: float
    baud: int
    divisor: int
    pin_file: str

    @property
    def commands(self):
        """The tool invocations, argv lists with the tool's name first (from the platform's
        build script)."""
        return json.loads(self.plan.files[f"build_{NAME}.json"])["commands"]

    def key(self):
        cmds = self.commands
        tools = sorted({c[0] for c in cmds})
        versioned = [t for t in tools if t.startswith(("yosys", "nextpnr"))]
        blob = json.dumps([self.board.name, self.plan.digest().hex(), cmds, tool_versions(versioned),
                           {t: tool_path(t) for t in tools if t not in versioned}], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def execute(self, progress=lambda *a, **k: None, cache=True):
        """Build (or reuse a verified cached build); returns a :class:`Bitstream`."""
        cmds = self.commands
        exes = {c[0]: tool_path(c[0]) for c in cmds}          # every tool is there before starting
        tool_timeout()
        name = f"{self.board.name}-{self.key()}"

        def produce(work, final):
            t0 = time.perf_counter()
            self.plan.extract(work)
            self._run(work, exes, cmds, progress, final.with_name(f"{name}-failed"))
            s = self._summary(work, exes)
            s.seconds = round(time.perf_counter() - t0, 1)
            (work / SUMMARY).write_text(json.dumps(s.to_dict(), sort_keys=True, indent=1))
            return Bitstream(final / s.bitstream, s, final)

        return cached_run(bitstream_cache(), name, produce, _load_entry, what="bitstream build", cache=cache)

    def _run(self, work, exes, cmds, progress, failed):
        what = {"yosys": "synthesis", "nextpnr": "place and route", "icepack": "bitstream",
                "ecppack": "bitstream"}
        for k, cmd in enumerate(cmds):
            tool = cmd[0]
            step = what.get(tool.split("-")[0], tool)
            progress(f"{self.board.label}: {tool} ({step}, step {k + 1} of {len(cmds)})")
            log = work / f"{k}-{tool}.log"
            with open(log, "w") as f:
                p = run_tool([exes[tool], *cmd[1:]], name=tool, cwd=work, stdout=f)
            if p.returncode == 0:
                continue
            text = log.read_text(errors="replace")
            tim = work / f"{NAME}.tim"
            if tim.exists():
                text += "\n" + tim.read_text(errors="replace")
            over = overfull(text)
            target = self.board.target_record
            head = (f"the design does not fit the {self.board.label} ({target.label}): " + "; ".join(over)
                    + " — try a smaller P or another coding\n") if over else ""
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-12:])
            raise ToolError(f"{head}{tool} failed (exit {p.returncode}): {' '.join(cmd)}\n"
                            f"last lines of its log ({failed / log.name}):\n{tail}")

    def _summary(self, work, exes):
        t = self.board.target_record
        try:
            cells = cells_by_type(json.loads((work / "stat.json").read_text()))
            rep = json.loads((work / "report.json").read_text())
            fmax = [v["achieved"] for v in rep.get("fmax", {}).values()]
            util = rep.get("utilization", {})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise ToolError(f"the tools' reports in {work} could not be understood ({type(e).__name__}: {e})") \
                from None
        bit = work / f"{NAME}.{self.board.bitstream}"
        if not bit.is_file() or bit.stat().st_size == 0:
            raise ToolError(f"{self.board.packer} wrote no bitstream {bit.name} in {work}")
        data = bit.read_bytes()
        lc, io = t.placed
        s = BuildSummary(
            board=self.board.name, board_label=self.board.label, target=t.name, device=t.label,
            coding=self.cp.network.coding, parallelism=list(self.cp.parallelism),
            design_hash=proto.design_hash(self.cp).hex(), clock_mhz=round(self.clock_mhz, 6),
            fmax_mhz=round(min(fmax), 2) if fmax else None, baud=self.baud, divisor=self.divisor,
            logic_cells=util.get(lc, {}).get("used"), logic_cells_available=util.get(lc, {}).get("available"),
            io=util.get(io, {}).get("used") if io else None, pins=_pins(work),
            tools={**tool_versions([x for x in exes if x.startswith(("yosys", "nextpnr"))]),
                   **{x: os.path.basename(e) for x, e in exes.items() if not x.startswith(("yosys", "nextpnr"))}},
            bitstream=bit.name, bitstream_bytes=len(data), bitstream_sha256=hashlib.sha256(data).hexdigest())
        for attr, prefixes in t.cells.items():
            setattr(s, attr, count_cells(cells, prefixes))
        return s


_PCF = re.compile(r"^set_io\s+(?:-\S+\s+)*(\S+)\s+(\S+)", re.M)
_LPF = re.compile(r'^LOCATE\s+COMP\s+"([^"]+)"\s+SITE\s+"([^"]+)"', re.M)


def _pins(work):
    """Port → package pin, from the platform's constraint file (``.pcf`` or ``.lpf``)."""
    out = {}
    for ext, rx in (("pcf", _PCF), ("lpf", _LPF)):
        f = work / f"{NAME}.{ext}"
        if f.exists():
            for port, pin in rx.findall(f.read_text()):
                out[re.sub(r"__io$", "", port).replace("__", ".")] = pin
    return out


def _load_entry(entry):
    """The build in a verified cache ``entry`` (ValueError/TypeError/OSError if unreadable)."""
    s = BuildSummary.from_dict(json.loads((entry / SUMMARY).read_text()))
    s.cached = True
    return Bitstream(entry / s.bitstream, s, entry)
