"""The host link's UART: bit-exact frames out, bytes in at ±2 % clock mismatch, framing errors.

Amaranth's simulator (no build): the transmitter's line is compared cycle by
cycle with the 8N1 waveform; the receiver is fed waveforms whose bit period is
the divisor × (1 ± 2 %), accumulated fractionally as a real sender's would be.
"""

import random

import pytest
from amaranth import Module
from amaranth.sim import Simulator

from spikeforge.hdl.uart import UARTRx, UARTTx, uart_divisor
from spikeforge.models.errors import ConfigError


def frame_bits(byte):
    return [0] + [(byte >> k) & 1 for k in range(8)] + [1]


@pytest.mark.parametrize("divisor", [4, 7, 104])
def test_tx_waveform_is_bit_exact(divisor):
    dut = UARTTx(divisor)
    data = [0x00, 0xFF, 0xA5, 0x3C, random.Random(divisor).randrange(256)]
    expected = [b for byte in data for b in frame_bits(byte) for _ in range(divisor)]
    seen = []

    async def tb(ctx):
        k = 0
        while k < len(data) or ctx.get(dut.i.ready) == 0:
            if k < len(data):
                ctx.set(dut.i.payload, data[k])
                ctx.set(dut.i.valid, 1)
            _, _, took = await ctx.tick().sample(dut.i.valid & dut.i.ready)
            if took:
                k += 1
                if k == len(data):
                    ctx.set(dut.i.valid, 0)
            seen.append(ctx.get(dut.tx))
        for _ in range(divisor * 2):
            await ctx.tick()
            seen.append(ctx.get(dut.tx))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    start = seen.index(0)                       # the first start bit
    got = seen[start:start + len(expected)]
    for cycle, (a, b) in enumerate(zip(got, expected)):
        assert a == b, f"tx differs at cycle {cycle} of the frames (bit {cycle // divisor}): {a} != {b}"
    assert all(v == 1 for v in seen[start + len(expected):]), "the line must idle at 1"


def frame(byte, idle=1.5):
    """An 8N1 frame as (level, length in bits) segments, then ``idle`` bits of idle line."""
    return [(b, 1) for b in frame_bits(byte)] + [(1, idle)]


def _drive_rx(divisor, period, segments):
    """Feed (level, bits) ``segments`` to a receiver with a sender's bit period of ``period``
    cycles (fractional: the edges fall where a real sender's would); returns (bytes received,
    error pulses, overruns)."""
    dut = UARTRx(divisor)
    wave, t = [1] * 3 * divisor, 3.0 * divisor
    for level, bits in segments + [(1, 3)]:
        t += bits * period
        wave.extend([level] * (round(t) - len(wave)))
    got, errors, overruns = [], [], []

    async def tb(ctx):
        ctx.set(dut.o.ready, 1)
        for v in wave:
            ctx.set(dut.rx, v)
            _, _, valid, data, err, ovr = await ctx.tick().sample(dut.o.valid, dut.o.payload, dut.error,
                                                                  dut.overrun)
            if valid:
                got.append(data)
            errors.append(err)
            overruns.append(ovr)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return got, sum(errors), sum(overruns)


@pytest.mark.parametrize("divisor", [8, 13, 104])
@pytest.mark.parametrize("mismatch", [-0.02, 0.0, 0.02])
def test_rx_takes_bytes_at_clock_mismatch(divisor, mismatch):
    rng = random.Random(divisor)
    data = [0x00, 0xFF, 0x55, 0xAA, 0x80, 0x01] + [rng.randrange(256) for _ in range(10)]
    got, errors, _ = _drive_rx(divisor, divisor * (1 + mismatch), [s for v in data for s in frame(v)])
    assert got == data and errors == 0


def test_rx_framing_error_and_recovery():
    """A frame whose stop bit is 0 is dropped with an error pulse; after the line has been idle
    the next frame is received."""
    bad = [(b, 1) for b in frame_bits(0x55)[:-1]] + [(0, 3), (1, 2)]       # stop bit 0, a short break
    got, errors, _ = _drive_rx(16, 16, frame(0x12) + bad + frame(0x34))
    assert got == [0x12, 0x34] and errors == 1


def test_rx_ignores_a_glitch():
    """A low pulse shorter than half a bit is not a start bit."""
    got, errors, _ = _drive_rx(32, 32, [(0, 1 / 8), (1, 2)] + frame(0x5A))
    assert got == [0x5A] and errors == 0


def test_rx_overrun_is_reported():
    """A byte not taken before the next one arrives is overwritten, with an overrun pulse."""
    dut = UARTRx(8)
    wave, t = [1] * 24, 24.0
    for level, bits in frame(0x11) + frame(0x22) + [(1, 3)]:
        t += bits * 8
        wave.extend([level] * (round(t) - len(wave)))
    seen = []

    async def tb(ctx):
        ctx.set(dut.o.ready, 0)                 # the consumer never takes a byte
        for v in wave:
            ctx.set(dut.rx, v)
            _, _, ovr, data = await ctx.tick().sample(dut.overrun, dut.o.payload)
            seen.append((ovr, data))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert sum(o for o, _ in seen) == 1 and seen[-1][1] == 0x22


def test_divisor_from_clock_and_baud():
    assert uart_divisor(12_000_000, 115_200) == 104
    assert uart_divisor(25_000_000, 115_200) == 217
    with pytest.raises(ConfigError, match="too fast"):
        uart_divisor(12_000_000, 6_000_000)
    with pytest.raises(ConfigError, match="% off"):
        uart_divisor(1_000_000, 140_000)
    with pytest.raises(ConfigError, match="divisor must be >= 4"):
        UARTTx(3)
