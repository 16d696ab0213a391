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

Quiet stretches are skipped in one step: after a cycle in which no source
offered a beat and no sink saw ``valid``, the cycles in which every source
stays idle (its idle pattern is 0 there, or it has nothing left to send)
and every sink keeps ``ready`` high would drive exactly the values already
on the ports and sample ``valid`` low; the testbench waits for the first of
a timer at the end of that stretch and a change of any sink's ``valid``,
then resumes cycle by cycle at the next falling edge. The simulation sees
the same inputs at the same times, and every beat is seen in the same
cycle, as when stepping every cycle.
"""

from __future__ import annotations

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, First, ReadOnly, Timer
from cocotb.utils import get_sim_time

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


class _Gate:
    """A 0/1 pattern repeated forever (``next()`` gives the next value), which can say how
    many 0s come next without consuming them."""

    def __init__(self, pattern):
        self.pattern = [int(v) for v in (pattern or [1])]
        self.pos = 0
        self._zeros = None

    def next(self):
        v = self.pattern[self.pos]
        self.pos = (self.pos + 1) % len(self.pattern)
        return v

    def advance(self, n):
        self.pos = (self.pos + n) % len(self.pattern)

    def zeros_ahead(self):
        """The run of 0s from the next value on (None: the pattern has no 1)."""
        if self._zeros is None:                  # once: the run of 0s starting at every position
            pat, n = self.pattern, len(self.pattern)
            if 1 not in pat:
                self._zeros = [None] * n
            else:
                runs, run = [0] * n, 0
                first = pat.index(1)
                for k in range(first - 1 + n, first - 1, -1):      # backwards, wrapping once
                    run = run + 1 if pat[k % n] == 0 else 0
                    runs[k % n] = run
                self._zeros = runs
        return self._zeros[self.pos]

    @property
    def always_one(self):
        return 0 not in self.pattern


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
        self._gate = _Gate(idle)
        self._offered = False
        self._was_offered = False     # valid in the cycle just driven
        self.valid.value = 0

    def send(self, beats):
        self.queue.extend(beats)

    def empty(self):
        return not self.queue

    def drive(self):
        # a beat once offered stays offered until it is taken (valid never drops on a pending
        # beat); the idle pattern only delays the start of the next beat
        if not self._offered:
            self._offered = bool(self.queue) and self._gate.next() == 1
        self._was_offered = self._offered
        self.valid.value = int(self._offered)
        if self.queue:
            self.payload.value = pack(self.fields, self.queue[0])

    def quiet(self):
        """Cycles from the next one on in which this source drives what it drives now (valid
        low, the same payload): 0 if valid was high in this cycle; None: every cycle."""
        if self._was_offered:
            return 0
        if not self.queue:
            return None
        return self._gate.zeros_ahead()

    def skip(self, n):
        """``n`` quiet cycles passed."""
        if self.queue:
            self._gate.advance(n)

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
        self._gate = _Gate(ready)
        self._ready = False
        self._seen_valid = True       # valid as sampled in this cycle (unknown: assume high)

    def drive(self):
        self._ready = self._gate.next() == 1
        self.ready.value = int(self._ready)

    def quiet(self):
        """Cycles from the next one on in which this sink keeps ready high and sees nothing
        unless its valid changes: 0 if valid was high in this cycle or ready may drop;
        None: every cycle."""
        return None if self._ready and not self._seen_valid and self._gate.always_one else 0

    def skip(self, n):
        self._gate.advance(n)

    def sample(self, cycle):
        self._seen_valid = True
        if self._ready and _bit(self.valid, f"{self.name}.valid", cycle):
            value = self.payload.value
            if not value.is_resolvable:          # X or Z on a transferred beat: a mismatch, not a crash
                self.beats.append((cycle, f"unresolved {value.binstr}"))
            else:
                self.beats.append((cycle, unpack(self.fields, int(value))))
        elif self._ready:
            self._seen_valid = False


class TB:
    """Owns clock and reset and steps all sources and sinks cycle by cycle."""

    def __init__(self, dut, period_ns=10, skip_quiet=True):
        self.dut = dut
        self.sources, self.sinks = {}, {}
        self.cycle = 0
        self.period_ps = int(period_ns * 1000)
        self.skip_quiet = skip_quiet   # pass over quiet stretches (False: step every cycle)
        self.skipped = 0               # cycles passed over in quiet stretches
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

    async def step(self, until=None):
        """Drive after a falling edge, sample at ReadOnly: one cycle. With ``until``, a quiet
        stretch that follows (see the module docstring) is passed over, up to cycle
        ``until`` − 1; ``self.cycle`` is then the cycle after it."""
        ports = list(self.sources.values()) + list(self.sinks.values())
        for p in ports:
            p.drive()
        await ReadOnly()
        for p in ports:
            p.sample(self.cycle)
        quiet = None if until is None else self._quiet(ports, until)
        self.cycle += 1
        if not quiet or quiet < 2:
            await FallingEdge(self.dut.clk)
            return
        # the falling edge of cycle c + quiet + 1 is (quiet + 1) periods on; wake a little before it
        start = get_sim_time("ps")
        await First(Timer((quiet + 1) * self.period_ps - self.period_ps // 4, unit="ps"),
                    *(s.valid.value_change for s in self.sinks.values()))
        await FallingEdge(self.dut.clk)
        passed = round((get_sim_time("ps") - start) / self.period_ps) - 1     # cycles not stepped
        for p in ports:
            p.skip(passed)
        self.cycle += passed
        self.skipped += passed

    def _quiet(self, ports, until):
        """Cycles after this one that drive nothing new and sample nothing (see the module
        docstring), at most up to cycle ``until`` − 1."""
        n = until - 1 - self.cycle
        for p in ports:
            q = p.quiet()
            if q is not None:
                n = min(n, q)
        return max(0, n)

    async def run_until(self, done, max_cycles, drain=0):
        """Step until ``done()`` holds, then ``drain`` more cycles; False on timeout."""
        while not done():
            if self.cycle >= max_cycles:
                return False
            await self.step(until=max_cycles if self.skip_quiet else None)
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
