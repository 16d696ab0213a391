"""Stream drivers, monitors and a scoreboard for Amaranth ready/valid ports (cocotb 2).

A stream port ``p`` of an Amaranth component appears in Verilog as
``p__valid``, ``p__ready`` and ``p__payload`` (path joined with ``__``); a
struct payload is packed LSB first in field order. The bus is declared by
its name and its field list, as in cocotbext-axi's ``from_prefix``.

Timing discipline (works alike on Verilator and Icarus): every input
(valid, payload, ready of sinks) is driven right after a *falling* clock
edge; handshakes are sampled in the ReadOnly phase that follows, once all
combinational paths have settled; a beat transfers on the next rising edge.
Cycle k is the rising edge that follows falling edge k after reset.
"""

from __future__ import annotations

import itertools

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly

from ..models.errors import SimulationMismatch

__all__ = ["pack", "unpack", "StreamSource", "StreamSink", "TB", "compare_beats"]


def pack(fields, beat):
    """Pack a dict (or a bare int for an unnamed field) into the payload integer."""
    if len(fields) == 1 and fields[0][0] == "":
        beat = {"": beat}
    word = 0
    for name, off, width, _signed in fields:
        word |= (int(beat[name]) & ((1 << width) - 1)) << off
    return word


def unpack(fields, word):
    """Unpack a payload integer into a dict (a bare int for an unnamed field)."""
    out = {}
    for name, off, width, signed in fields:
        v = (word >> off) & ((1 << width) - 1)
        if signed and v >> (width - 1):
            v -= 1 << width
        out[name] = v
    return out[""] if list(out) == [""] else out


class _Port:
    def __init__(self, dut, name, fields):
        self.name, self.fields = name, fields
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.payload = getattr(dut, f"{name}__payload")


def _bit(handle, name, cycle):
    v = handle.value
    if not v.is_resolvable:
        raise SimulationMismatch(cycle, name, "0 or 1", v.binstr, "X or Z on a handshake signal")
    return int(v)


class StreamSource(_Port):
    """Drives beats into an input stream; ``idle`` is a 0/1 pattern gating valid."""

    def __init__(self, dut, name, fields, idle=None):
        super().__init__(dut, name, fields)
        self.queue = []
        self.accepted = []            # cycle of each accepted beat
        self._gate = itertools.cycle(idle or [1])
        self._offered = False
        self.valid.value = 0

    def send(self, beats):
        self.queue.extend(beats)

    def empty(self):
        return not self.queue

    def drive(self):
        # a beat once offered stays offered until it is taken (valid never drops on a pending
        # beat); the idle pattern only delays the start of the next beat
        if not self._offered:
            self._offered = bool(self.queue) and next(self._gate) == 1
        self.valid.value = int(self._offered)
        if self.queue:
            self.payload.value = pack(self.fields, self.queue[0])

    def sample(self, cycle):
        if self._offered and _bit(self.ready, f"{self.name}.ready", cycle):
            self.accepted.append(cycle)
            self.queue.pop(0)
            self._offered = False


class StreamSink(_Port):
    """Collects beats from an output stream; ``ready`` follows a 0/1 pattern."""

    def __init__(self, dut, name, fields, ready=None):
        super().__init__(dut, name, fields)
        self.beats = []               # (cycle, payload)
        self._gate = itertools.cycle(ready or [1])
        self._ready = False

    def drive(self):
        self._ready = next(self._gate) == 1
        self.ready.value = int(self._ready)

    def sample(self, cycle):
        if self._ready and _bit(self.valid, f"{self.name}.valid", cycle):
            value = self.payload.value
            if not value.is_resolvable:          # X or Z on a transferred beat: a mismatch, not a crash
                self.beats.append((cycle, f"unresolved {value.binstr}"))
            else:
                self.beats.append((cycle, unpack(self.fields, int(value))))


class TB:
    """Owns clock and reset and steps all sources and sinks cycle by cycle."""

    def __init__(self, dut, period_ns=10):
        self.dut = dut
        self.sources, self.sinks = {}, {}
        self.cycle = 0
        cocotb.start_soon(Clock(dut.clk, period_ns, unit="ns").start())

    async def reset(self, cycles=2):
        self.dut.rst.value = 1
        for s in self.sources.values():
            s.valid.value = 0
        for s in self.sinks.values():
            s.ready.value = 1              # as after reset: an idle core then shows no activity
        await ClockCycles(self.dut.clk, cycles)
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def step(self):
        """Drive after a falling edge, sample at ReadOnly: one cycle."""
        for p in list(self.sources.values()) + list(self.sinks.values()):
            p.drive()
        await ReadOnly()
        for p in list(self.sources.values()) + list(self.sinks.values()):
            p.sample(self.cycle)
        self.cycle += 1
        await FallingEdge(self.dut.clk)

    async def run_until(self, done, max_cycles, drain=0):
        """Step until ``done()`` holds, then ``drain`` more cycles; False on timeout."""
        while not done():
            if self.cycle >= max_cycles:
                return False
            await self.step()
        for _ in range(drain):
            await self.step()
        return True


def compare_beats(port, fields, expected, got):
    """Scoreboard: raise SimulationMismatch at the first beat that differs.

    ``got`` is [(cycle, payload)]; ``expected`` a list of payloads (a dict payload
    names the fields to compare; fields it leaves out are not checked).
    """
    for k, exp in enumerate(expected):
        if k >= len(got):
            raise SimulationMismatch("end", f"{port}", exp, "no beat",
                                     f"only {len(got)} of {len(expected)} beats arrived")
        cycle, act = got[k]
        if isinstance(exp, dict) and isinstance(act, dict):    # the fields the beat names
            for name in exp:
                if act.get(name) != exp[name]:
                    raise SimulationMismatch(cycle, f"{port}.{name}", exp[name], act.get(name),
                                             f"beat {k}")
        elif act != exp:
            raise SimulationMismatch(cycle, f"{port}", exp, act, f"beat {k}")
    if len(got) > len(expected):
        cycle, act = got[len(expected)]
        raise SimulationMismatch(cycle, f"{port}", "no beat", act,
                                 f"{len(got) - len(expected)} unexpected extra beat(s)")
