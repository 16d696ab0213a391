"""The virtual board: the board top in Amaranth's simulator behind a byte transport.

:class:`SimTransport` offers what :class:`spikeforge.host.SerialTransport`
offers — ``write(bytes)`` and ``read(n, timeout)`` — so the same
:class:`~spikeforge.host.Host` code runs against a real board and against
this one. Written bytes are driven onto ``rx`` as 8N1 frames, back to back;
``tx`` is decoded back into bytes at the middle of each bit.

Time is simulated: the board's clock runs at ``baud × divisor`` Hz (a board
whose UART is exactly ``baud``), and a ``read`` time-out is that many
simulated seconds, so nothing depends on the speed of the machine. The
simulator only runs inside ``read``: while the host is busy, the board is
frozen.

Amaranth's simulator, not Verilator: the transport must advance the
simulation from plain blocking calls, which Amaranth's ``run_until`` does in
process. Measured on the digits circuits (docs/board.md, "Virtual board").
"""

from __future__ import annotations

from collections import deque

from amaranth.sim import Simulator

from ..hdl.board import BoardTop
from ..models import protocol as proto
from ..models.base import check_int
from ..models.errors import ConfigError

__all__ = ["SimTransport"]


async def _ticks(ctx, n):
    # one tick at a time: a simulator dropped while waiting closes cleanly (``repeat`` does not)
    for _ in range(n):
        await ctx.tick()


class SimTransport:
    """A byte transport to a :class:`~spikeforge.hdl.board.BoardTop` in simulation.

    Parameters
    ----------
    cp : CircuitParams
    divisor : int
        UART clock cycles per bit (4..; small values keep the simulation short).
    baud : int
        The nominal baud rate: it only converts time-outs (seconds) into cycles.
    timeout_bytes : int
        The board's partial-frame time-out in byte times.

    Attributes
    ----------
    cycles : int
        Clock cycles simulated so far.
    framing_errors : int
        Bytes from the board whose stop bit read 0 (should stay 0).
    """

    def __init__(self, cp, divisor=4, *, baud=115_200, timeout_bytes=proto.TIMEOUT_BYTES):
        self.divisor = check_int("divisor", divisor, 4, 1 << 24)
        self.baud = check_int("baud", baud, 1, 10 ** 8)
        self.clk_hz = self.baud * self.divisor
        self.board = BoardTop(cp, divisor, timeout_bytes)
        self.cp = cp
        self._out = deque()                     # bytes to drive onto rx
        self._got = bytearray()                 # bytes decoded from tx
        self.framing_errors = 0
        self._cycle = 0                         # cycles simulated so far (whole cycles only)
        self._period = 1.0 / self.clk_hz
        self.leds = []                          # (cycle, leds) whenever the LEDs change (to a byte time)
        sim = Simulator(self.board)
        sim.add_clock(self._period)
        self._period_fs = int(self._period * 1e15)      # as the simulator counts it
        sim.add_testbench(self._drive, background=True)
        sim.add_testbench(self._monitor, background=True)
        sim.add_testbench(self._watch_leds, background=True)
        self._sim = sim
        self._closed = False

    def __str__(self):
        return f"the virtual board (Amaranth simulator, UART divisor {self.divisor})"

    @property
    def cycles(self):
        return self._cycle

    def _run(self, cycles):
        # run_until stops at the first event at or after the deadline; deadlines on whole
        # cycles (a femtosecond past the edge, against rounding) keep them increasing
        self._cycle += cycles
        self._sim.run_until((self._cycle * self._period_fs + 1) / 1e15)

    @property
    def default_timeout(self):
        """Simulated seconds a reply may take: the longest frames both ways, the board's
        partial-frame time-out, and a million cycles of computation."""
        cp = self.cp
        frames = 2 * proto.OVERHEAD + proto.infer_length(cp) + proto.reply_length(cp, proto.INFER)
        return (frames + proto.TIMEOUT_BYTES) * 10 / self.baud + 1e6 / self.clk_hz

    # ------------------------------------------------------------------ testbenches

    async def _drive(self, ctx):
        d, rx = self.divisor, self.board.rx
        ctx.set(rx, 1)
        while True:
            if not self._out:
                await _ticks(ctx, d)                # the line idles: look again one bit later
                continue
            byte = self._out.popleft()
            for bit in [0] + [(byte >> k) & 1 for k in range(8)] + [1]:
                ctx.set(rx, bit)
                await _ticks(ctx, d)

    async def _monitor(self, ctx):
        d, tx = self.divisor, self.board.tx
        while True:
            await ctx.negedge(tx)
            await _ticks(ctx, d // 2)                 # the middle of the start bit
            if ctx.get(tx):
                continue                                    # a glitch
            byte = 0
            for k in range(8):
                await _ticks(ctx, d)
                byte |= ctx.get(tx) << k
            await _ticks(ctx, d)
            if ctx.get(tx):
                self._got.append(byte)
            else:
                self.framing_errors += 1

    async def _watch_leds(self, ctx):
        leds = self.board.leds
        while True:
            await ctx.changed(leds)
            self.leds.append((self._cycle, ctx.get(leds)))

    # ------------------------------------------------------------------ the transport

    def write(self, data):
        if self._closed:
            raise ConfigError("the virtual board is closed")
        self._out.extend(bytes(data))

    def read(self, n, timeout):
        """Up to ``n`` bytes: runs the simulation until they have arrived or ``timeout``
        simulated seconds have passed."""
        if self._closed:
            raise ConfigError("the virtual board is closed")
        budget = int(float(timeout) * self.clk_hz)
        step = 10 * self.divisor                            # one byte time
        while len(self._got) < n and budget > 0:
            self._run(min(step, budget))
            budget -= step
        out = bytes(self._got[:n])
        del self._got[:n]
        return out

    def idle(self, seconds):
        """Let the board run ``seconds`` (simulated) with a silent line."""
        self._run(int(float(seconds) * self.clk_hz))

    def close(self):
        self._closed = True
