"""The board top on a real board: :class:`~spikeforge.hdl.board.BoardTop` wired to the
pins of an amaranth-boards platform.

The platform supplies the ``sync`` clock domain from its default clock (with
the device's power-on reset) and the I/O buffers; the UART's receive line
passes the receiver's own two-register synchronizer. Which resources are
used is data: :class:`~spikeforge.synth.boards.Pins` (``constraints/``).
"""

from __future__ import annotations

from amaranth import Elaboratable, Module
from amaranth.lib import io

from .board import BoardTop

__all__ = ["OnBoard"]

LEDS = ("idle", "busy", "error")         # the order of BoardTop.leds


class OnBoard(Elaboratable):
    """``BoardTop(cp, divisor)`` with ``rx``/``tx`` on the resource ``uart`` = (name, number)
    and each status line in ``leds`` (``idle``/``busy``/``error`` → (name, number)) on an LED."""

    def __init__(self, cp, divisor, uart, leds):
        self.top = BoardTop(cp, divisor)
        self.uart = tuple(uart)
        self.leds = dict(leds)

    def elaborate(self, platform):
        m = Module()
        m.submodules.board = top = self.top
        u = platform.request(*self.uart, dir="-")
        m.submodules.rx = rx = io.Buffer("i", u.rx)
        m.submodules.tx = tx = io.Buffer("o", u.tx)
        m.d.comb += [top.rx.eq(rx.i), tx.o.eq(top.tx)]
        for k, line in enumerate(LEDS):
            if line in self.leds:
                m.submodules[f"led_{line}"] = led = io.Buffer("o", platform.request(*self.leds[line], dir="-"))
                m.d.comb += led.o.eq(top.leds[k])
        return m
