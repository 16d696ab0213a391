"""The board top: a network circuit behind a UART, speaking the host protocol.

    rx ─▶ UARTRx ─▶ frame parser ──▶ input memory ─▶ feeder ─▶ NetworkCircuit ─▶ scores, class, counters
                         │  (IDENT, errors)                                             │
                         └──────────────▶ reply slot ──▶ frame builder ◀────────────────┘
                                                              │
                                                              └─▶ UARTTx ─▶ tx

- The **parser** takes every byte the receiver offers. It hunts for the sync
  byte, reads the command and the length, stores an INFER payload in the input
  memory (only if the length is the INFER length and no inference is in
  flight), reads the payload bytes the length announces and the CRC. It then
  answers exactly once: bad checksum, unknown command, bad length, busy (the
  frame began while an inference was in flight), or the command's reply. A
  partial frame silent for more than ``timeout_bytes`` byte times is dropped
  with a time-out error. Bytes outside a frame are ignored.
- The **feeder** streams the stored values into the circuit, one beat per cycle
  (so the circuit's ``cycles`` counter is the golden model's); the scores are
  shifted into a register as they leave, the class is the first maximum
  (numpy's argmax), and the counters beat ends the sample. One sample is in
  flight at a time.
- The **builder** sends one reply at a time: an INFER reply when the sample is
  complete, else the parser's reply slot (an IDENT reply or an error). The
  CRC is computed as the bytes leave.
- ``leds``: bit 0 idle (nothing received, computed or sent), bit 1 busy,
  bit 2 error (set by an error reply, cleared by the next good request).

Protocol: :mod:`spikeforge.models.protocol`, docs/board.md.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from ..models.base import check_int
from ..models.circuit import CircuitParams
from ..models.errors import ConfigError
from ..models import protocol as proto
from .network import NetworkCircuit
from .uart import UARTRx, UARTTx

__all__ = ["BoardTop", "crc8_next", "board_verilog"]


def board_verilog(cp, divisor):
    """Verilog of the board top of ``cp`` at UART ``divisor`` (top module ``spikeforge_board``)."""
    from amaranth.back import verilog
    top = BoardTop(cp, divisor)
    return verilog.convert(top, name="spikeforge_board", emit_src=False)


def _crc8_matrix():
    """For each output bit of one CRC-8 step, the bits of crc ^ byte it is the XOR of (the
    step is linear over GF(2): the table entry of a sum of bits is the XOR of theirs)."""
    return [[j for j in range(8) if (proto.CRC8_TABLE[1 << j] >> i) & 1] for i in range(8)]


def crc8_next(crc, byte):
    """The CRC-8 (polynomial 0x07) after ``byte``: combinational, one XOR of a few bits per
    output bit (the table of :mod:`spikeforge.models.protocol` as a linear map)."""
    v = [crc[j] ^ byte[j] for j in range(8)]
    bits = []
    for row in _crc8_matrix():
        b = Const(0, 1)
        for j in row:
            b = b ^ v[j]
        bits.append(b)
    return Cat(*bits)


class BoardTop(wiring.Component):
    """A network circuit behind the host protocol (see the module docstring).

    Parameters
    ----------
    cp : CircuitParams
    divisor : int
        Clock cycles per UART bit (:func:`~spikeforge.hdl.uart.uart_divisor`).
    timeout_bytes : int
        A partial frame silent for more than this many byte times (10 bits) is dropped.

    Members
    -------
    rx : In(1)      the UART line from the host (idles at 1)
    tx : Out(1)     the UART line to the host
    leds : Out(3)   idle, busy, error
    """

    def __init__(self, cp, divisor, timeout_bytes=proto.TIMEOUT_BYTES):
        if not isinstance(cp, CircuitParams):
            self._MustUse__silence = True
            raise ConfigError(f"expected a CircuitParams, not {cp!r}")
        try:
            proto.check_board_params(cp)
            self.divisor = check_int("divisor", divisor, 4, 1 << 24)
            self.timeout_bytes = check_int("timeout_bytes", timeout_bytes, 2, 1 << 16)
            self.circuit = NetworkCircuit(cp)
        except ConfigError:
            self._MustUse__silence = True
            raise
        self.circuit._MustUse__silence = True
        self.cp = cp
        self.design_hash = proto.design_hash(cp)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "leds": Out(3)})

    def elaborate(self, platform):
        cp = self.cp
        m = Module()
        m.submodules.urx = urx = UARTRx(self.divisor)
        m.submodules.utx = utx = UARTTx(self.divisor)
        m.submodules.net = net = self.circuit
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]

        n_in, n_out, vb = cp.n_inputs, cp.n_outputs, proto.value_bytes(cp)
        infer_len = proto.infer_length(cp)
        m.submodules.mem = mem = memory.Memory(shape=unsigned(cp.input_bits), depth=max(n_in, 2), init=[])
        wp = mem.write_port()
        rp = mem.read_port()

        # ---------------------------------------------------------------- shared state
        exec_busy = Signal()                    # an inference is in flight (start .. reply loaded)
        start = Signal()                        # parser → executor: a good INFER frame is stored
        slot_valid = Signal()                   # parser → builder: one pending short reply
        slot_cmd = Signal(8)
        slot_code = Signal(8)
        slot_take = Signal()
        err_led = Signal()

        # ---------------------------------------------------------------- parser
        byte = urx.o.payload
        got = urx.o.valid
        m.d.comb += urx.o.ready.eq(1)
        crc = Signal(8)
        cmd = Signal(8)
        length = Signal(16)
        count = Signal(16)
        lo = Signal(8)
        store = Signal()                        # this frame's payload goes to the input memory
        busy_at_start = Signal()
        limit = self.timeout_bytes * 10 * self.divisor
        silence = Signal(range(limit + 1))
        outcome = Signal()                      # comb: the frame ends this cycle, with
        out_cmd = Signal(8)                     # the reply's command (IDENT or ERROR)
        out_code = Signal(8)
        out_start = Signal()                    # or the start of an inference
        out_good = Signal()
        crc_next = crc8_next(crc, byte)
        timed_out = Signal()
        m.d.comb += timed_out.eq(~got & (silence == limit))

        with m.If(got):
            m.d.sync += silence.eq(0)
        with m.Elif(silence != limit):
            m.d.sync += silence.eq(silence + 1)

        def error(code):
            return [outcome.eq(1), out_cmd.eq(proto.ERROR), out_code.eq(code)]

        with m.FSM(name="parser") as parser:
            with m.State("HUNT"):
                with m.If(got & (byte == proto.SYNC)):
                    m.d.sync += [crc.eq(0), busy_at_start.eq(exec_busy)]
                    m.next = "CMD"
            with m.State("CMD"):
                with m.If(timed_out):
                    m.next = "HUNT"
                with m.If(got):
                    m.d.sync += [cmd.eq(byte), crc.eq(crc_next)]
                    m.next = "LEN0"
            with m.State("LEN0"):
                with m.If(timed_out):
                    m.next = "HUNT"
                with m.If(got):
                    m.d.sync += [length[:8].eq(byte), crc.eq(crc_next)]
                    m.next = "LEN1"
            with m.State("LEN1"):
                with m.If(timed_out):
                    m.next = "HUNT"
                with m.If(got):
                    full = Cat(length[:8], byte)
                    m.d.sync += [length[8:].eq(byte), crc.eq(crc_next), count.eq(0),
                                 store.eq((cmd == proto.INFER) & (full == infer_len) & ~busy_at_start)]
                    with m.If(full == 0):
                        m.next = "CRC"
                    with m.Else():
                        m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                with m.If(timed_out):
                    m.next = "HUNT"
                with m.If(got):
                    m.d.sync += [crc.eq(crc_next), count.eq(count + 1)]
                    if vb == 1:
                        m.d.comb += [wp.addr.eq(count), wp.data.eq(byte), wp.en.eq(store)]
                    else:
                        m.d.sync += lo.eq(byte)
                        m.d.comb += [wp.addr.eq(count >> 1), wp.data.eq(Cat(lo, byte)),
                                     wp.en.eq(store & count[0])]
                    with m.If(count == length - 1):
                        m.next = "CRC"
            with m.State("CRC"):
                with m.If(timed_out):
                    m.next = "HUNT"
                with m.If(got):
                    m.next = "HUNT"
                    with m.If(byte != crc):
                        m.d.comb += error(proto.BAD_CRC)
                    with m.Elif((cmd != proto.IDENT) & (cmd != proto.INFER)):
                        m.d.comb += error(proto.UNKNOWN_COMMAND)
                    with m.Elif(length != Mux(cmd == proto.IDENT, 0, infer_len)):
                        m.d.comb += error(proto.BAD_LENGTH)
                    with m.Elif(busy_at_start):
                        m.d.comb += error(proto.BUSY)
                    with m.Elif(cmd == proto.IDENT):
                        m.d.comb += [outcome.eq(1), out_cmd.eq(proto.IDENT), out_good.eq(1)]
                    with m.Else():
                        m.d.comb += [out_start.eq(1), out_good.eq(1)]
        with m.If(~parser.ongoing("HUNT") & timed_out):
            m.d.comb += error(proto.TIMEOUT)

        with m.If(slot_take):
            m.d.sync += slot_valid.eq(0)
        with m.If(outcome & (~slot_valid | slot_take)):     # a reply while one is pending: dropped
            m.d.sync += [slot_valid.eq(1), slot_cmd.eq(out_cmd), slot_code.eq(out_code)]
        with m.If(outcome & (out_cmd == proto.ERROR)):
            m.d.sync += err_led.eq(1)
        with m.If(out_good):
            m.d.sync += err_led.eq(0)
        m.d.comb += start.eq(out_start)

        # ---------------------------------------------------------------- executor
        rd = Signal(range(n_in + 1))            # next address to read
        fed = Signal(range(n_in + 1))           # beats accepted by the circuit
        i_valid = Signal()
        m.d.comb += [net.i.valid.eq(i_valid), net.i.payload.eq(rp.data), rp.en.eq(0)]
        took = net.i.valid & net.i.ready
        score32 = Signal(signed(32))
        m.d.comb += [score32.eq(net.o.payload.value), net.o.ready.eq(1), net.c.ready.eq(1)]
        scores = Signal(32 * n_out)
        best = Signal(signed(cp.score_bits))
        cls = Signal(8)
        k = Signal(range(max(n_out, 2)))
        counters = Signal(32 * len(proto.COUNTER_NAMES))
        reply_req = Signal()
        reply_take = Signal()

        with m.If(net.o.valid):                 # scores leave in order; the first maximum wins
            m.d.sync += [scores.eq(Cat(scores[32:], score32)), k.eq(Mux(net.o.payload.last, 0, k + 1))]
            with m.If((k == 0) | (net.o.payload.value > best)):
                m.d.sync += [best.eq(net.o.payload.value), cls.eq(k)]
        with m.If(net.c.valid):
            m.d.sync += [counters.eq(net.c.payload.as_value()), reply_req.eq(1)]
        with m.If(reply_take):
            m.d.sync += [reply_req.eq(0), exec_busy.eq(0)]

        with m.FSM(name="executor"):
            with m.State("IDLE"):
                with m.If(start):
                    m.d.sync += [exec_busy.eq(1), rd.eq(0), fed.eq(0)]
                    m.next = "FEED"
            with m.State("FEED"):
                advance = ~i_valid | net.i.ready
                with m.If(took):
                    m.d.sync += fed.eq(fed + 1)
                with m.If(advance):
                    with m.If(rd != n_in):
                        m.d.comb += [rp.addr.eq(rd), rp.en.eq(1)]
                        m.d.sync += [rd.eq(rd + 1), i_valid.eq(1)]
                    with m.Else():
                        m.d.sync += i_valid.eq(0)
                with m.If(took & (fed == n_in - 1)):
                    m.next = "WAIT"
            with m.State("WAIT"):               # scores and counters arrive; the builder takes the reply
                with m.If(reply_take):
                    m.next = "IDLE"

        # ---------------------------------------------------------------- builder
        pay_bytes = max(proto.reply_length(cp, c) for c in (proto.IDENT, proto.INFER, proto.ERROR))
        pl = Signal(8 * pay_bytes)
        b_cmd = Signal(8)
        b_len = Signal(16)
        b_cnt = Signal(16)
        b_crc = Signal(8)
        out = Signal(8)
        o_valid = Signal()
        m.d.comb += [utx.i.payload.eq(out), utx.i.valid.eq(o_valid)]
        sent = utx.i.valid & utx.i.ready
        ident = Cat(Const(proto.VERSION, 8), Const(int.from_bytes(self.design_hash, "little"),
                                                   8 * proto.HASH_BYTES))
        with m.FSM(name="builder") as builder:
            with m.State("IDLE"):
                with m.If(reply_req):
                    m.d.comb += reply_take.eq(1)
                    m.d.sync += [b_cmd.eq(proto.INFER), b_len.eq(proto.reply_length(cp, proto.INFER)),
                                 pl.eq(Cat(cls, scores, counters))]
                    m.next = "SYNC"
                with m.Elif(slot_valid):
                    m.d.comb += slot_take.eq(1)
                    m.d.sync += b_cmd.eq(slot_cmd)
                    with m.If(slot_cmd == proto.IDENT):
                        m.d.sync += [b_len.eq(1 + proto.HASH_BYTES), pl.eq(ident)]
                    with m.Else():
                        m.d.sync += [b_len.eq(1), pl.eq(slot_code)]
                    m.next = "SYNC"
            with m.State("SYNC"):
                m.d.comb += [out.eq(proto.SYNC), o_valid.eq(1)]
                with m.If(sent):
                    m.d.sync += b_crc.eq(0)
                    m.next = "CMD"
            with m.State("CMD"):
                m.d.comb += [out.eq(b_cmd), o_valid.eq(1)]
                with m.If(sent):
                    m.d.sync += b_crc.eq(crc8_next(b_crc, out))
                    m.next = "LEN0"
            with m.State("LEN0"):
                m.d.comb += [out.eq(b_len[:8]), o_valid.eq(1)]
                with m.If(sent):
                    m.d.sync += b_crc.eq(crc8_next(b_crc, out))
                    m.next = "LEN1"
            with m.State("LEN1"):
                m.d.comb += [out.eq(b_len[8:]), o_valid.eq(1)]
                with m.If(sent):
                    m.d.sync += [b_crc.eq(crc8_next(b_crc, out)), b_cnt.eq(0)]
                    m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                m.d.comb += [out.eq(pl[:8]), o_valid.eq(1)]
                with m.If(sent):
                    m.d.sync += [b_crc.eq(crc8_next(b_crc, out)), b_cnt.eq(b_cnt + 1), pl.eq(pl >> 8)]
                    with m.If(b_cnt == b_len - 1):
                        m.next = "CRC"
            with m.State("CRC"):
                m.d.comb += [out.eq(b_crc), o_valid.eq(1)]
                with m.If(sent):
                    m.next = "IDLE"

        idle = parser.ongoing("HUNT") & ~exec_busy & ~slot_valid & builder.ongoing("IDLE") & utx.i.ready
        m.d.comb += self.leds.eq(Cat(idle, ~idle, err_led))
        return m
