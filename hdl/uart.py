"""A small 8N1 UART for the host link of a board: a transmitter and a receiver.

Both count ``divisor`` clock cycles per bit (divisor = f_clk / baud, rounded;
e.g. 12 MHz / 115,200 → 104, 0.16 % off). Frames are 8N1: a start bit (0),
eight data bits LSB first, a stop bit (1); the line idles at 1.

- :class:`UARTTx`: takes a byte on ``i`` when idle and drives ``tx``; each
  bit lasts exactly ``divisor`` cycles, and the next frame may start in the
  cycle after the stop bit ends (``i.ready`` is high then).
- :class:`UARTRx`: ``rx`` passes a two-register synchronizer; a falling edge
  starts a frame, the start bit is checked at its middle (a glitch shorter
  than half a bit is ignored), each data bit and the stop bit are sampled at
  their middles, counted from that point. A frame whose stop bit reads 0 is
  dropped and raises ``error`` for one cycle (a framing error: a wrong baud
  rate or a line break); the receiver then waits for the line to return to 1
  before it looks for the next start bit. A byte is offered on ``o`` and a
  new frame overwrites one the consumer has not taken (``overrun`` pulses).

Sampling at the middle (the synchronizer's delay taken off) tolerates a clock
mismatch of about ±0.5/9.5 of a bit over a frame less a cycle of jitter: ±4.3 %
at divisor 104, ±3 % at divisor 8, so the ±2 % of two crystal or RC clocks is
inside (tested at several divisors).
"""

from __future__ import annotations

from amaranth import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..models.base import check_int

__all__ = ["UARTTx", "UARTRx", "uart_divisor"]


def uart_divisor(clk_hz, baud):
    """Clock cycles per bit for ``baud`` at ``clk_hz``; ConfigError if the rounding error is
    beyond 1 % or the divisor below 4 (the receiver samples at half a bit)."""
    from ..models.errors import ConfigError
    check_int("clk_hz", clk_hz, 1, 10 ** 10)
    check_int("baud", baud, 1, 10 ** 8)
    d = round(clk_hz / baud)
    if d < 4:
        raise ConfigError(f"{baud} baud is too fast for a {clk_hz} Hz clock (at least 4 cycles per bit)")
    err = abs(clk_hz / d - baud) / baud
    if err > 0.01:
        raise ConfigError(f"{baud} baud from a {clk_hz} Hz clock is {100 * err:.2f} % off (divisor {d}); "
                          "choose a baud rate within 1 %")
    return d


class UARTTx(wiring.Component):
    """8N1 transmitter. Parameters: ``divisor`` (cycles per bit, ≥ 4).
    Members: ``i`` (In stream of bytes), ``tx`` (Out, the line)."""

    def __init__(self, divisor):
        self.divisor = check_int("divisor", divisor, 4, 1 << 24)
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        shift = Signal(10, init=0x3FF)          # stop, data[7:0], start: sent LSB first
        bits = Signal(range(11))                # bits still to send
        count = Signal(range(self.divisor))
        last = (bits == 1) & (count == 0)       # the stop bit's last cycle: the next byte may load
        m.d.comb += [self.tx.eq(shift[0]), self.i.ready.eq((bits == 0) | last)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [shift.eq(Cat(0, self.i.payload, 1)), bits.eq(10), count.eq(self.divisor - 1)]
        with m.Elif(bits != 0):
            with m.If(count == 0):
                m.d.sync += [shift.eq(Cat(shift[1:], 1)), bits.eq(bits - 1), count.eq(self.divisor - 1)]
            with m.Else():
                m.d.sync += count.eq(count - 1)
        return m


class UARTRx(wiring.Component):
    """8N1 receiver. Parameters: ``divisor`` (cycles per bit, ≥ 4).
    Members: ``rx`` (In, the line), ``o`` (Out stream of bytes), ``error`` and ``overrun``
    (Out, one-cycle pulses)."""

    def __init__(self, divisor):
        self.divisor = check_int("divisor", divisor, 4, 1 << 24)
        super().__init__({"rx": In(1, init=1), "o": Out(stream.Signature(8)), "error": Out(1),
                          "overrun": Out(1)})

    def elaborate(self, platform):
        m = Module()
        d = self.divisor
        sync = Signal(2, init=0b11)
        m.d.sync += sync.eq(Cat(self.rx, sync[0]))
        line = sync[1]
        count = Signal(range(d))
        bit = Signal(range(10))
        data = Signal(8)
        m.d.sync += [self.error.eq(0), self.overrun.eq(0)]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):               # the synchronizer delayed the edge by 2 cycles
                    m.d.sync += count.eq(max(0, d // 2 - 3))
                    m.next = "START"
            with m.State("START"):              # wait to the middle of the start bit
                with m.If(count == 0):
                    with m.If(line):
                        m.next = "IDLE"         # a glitch, not a start bit
                    with m.Else():
                        m.d.sync += [count.eq(d - 1), bit.eq(0)]
                        m.next = "DATA"
                with m.Else():
                    m.d.sync += count.eq(count - 1)
            with m.State("DATA"):               # bits 0..7 at their middles, then the stop bit
                with m.If(count == 0):
                    m.d.sync += count.eq(d - 1)
                    with m.If(bit == 8):
                        with m.If(line):
                            m.d.sync += [self.o.payload.eq(data), self.o.valid.eq(1),
                                         self.overrun.eq(self.o.valid & ~self.o.ready)]
                            m.next = "IDLE"
                        with m.Else():
                            m.d.sync += self.error.eq(1)
                            m.next = "BREAK"
                    with m.Else():
                        m.d.sync += [data.eq(Cat(data[1:], line)), bit.eq(bit + 1)]
                with m.Else():
                    m.d.sync += count.eq(count - 1)
            with m.State("BREAK"):              # after a framing error: wait for the idle line
                with m.If(line):
                    m.next = "IDLE"
        return m
