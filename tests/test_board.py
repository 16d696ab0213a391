"""The board top and the host link, end to end on the virtual board.

The protocol's pieces in plain Python (CRC-8 against its catalogue vectors,
frames, the design hash); the hardware CRC against the table; then the
:class:`~spikeforge.host.Host` talking to :class:`~spikeforge.hdl.board.BoardTop`
in Amaranth's simulator (:class:`~spikeforge.sim.board.SimTransport`, UART
divisor 4): 20 digits samples in an exact coding (ann) and a rate coding
(if) equal the golden model in class, every score and every counter;
malformed frames, a wrong design hash, time-outs and a busy board each give a
clear host-side error and the next frame is answered correctly.
"""

import dataclasses

import numpy as np
import pytest
from amaranth import Module, Signal
from amaranth.sim import Simulator

from spikeforge.api import convert_model
from spikeforge.hdl.board import BoardTop, crc8_next
from spikeforge.host import Host, SerialTransport, run_design, summary_lines
from spikeforge.models import protocol as proto
from spikeforge.models.circuit import CircuitParams, circuit_golden
from spikeforge.models.convert import quantize_inputs
from spikeforge.models.datasets import load_dataset
from spikeforge.models.errors import ConfigError, ProtocolError, SpikeforgeError
from spikeforge.models.network import Dense, load_network, save_network
from spikeforge.sim.board import SimTransport

DIVISOR = 4


@pytest.fixture(scope="module")
def digits_nets():
    return convert_model("digits", codings=["fs", "if"])


@pytest.fixture(scope="module")
def iris_cp():
    return CircuitParams(convert_model("iris", codings=["ann"])["ann"], 4)


def _inputs(dataset, n):
    return quantize_inputs(load_dataset(dataset).x_test, 8)[:n]


# ------------------------------------------------------------------ protocol, pure Python

def _crc8_bitwise(data):
    c = 0
    for b in data:
        c ^= b
        for _ in range(8):
            c = ((c << 1) ^ 0x07) & 0xFF if c & 0x80 else (c << 1) & 0xFF
    return c


def test_crc8_known_vectors():
    assert proto.crc8(b"123456789") == 0xF4            # CRC-8/SMBUS catalogue check value
    assert proto.crc8(b"") == 0x00
    assert proto.crc8(b"\x01") == 0x07 and proto.crc8(b"\xff") == 0xF3
    rng = np.random.default_rng(1)
    for n in (1, 2, 7, 64):
        data = bytes(rng.integers(0, 256, n, dtype=np.uint8))
        assert proto.crc8(data) == _crc8_bitwise(data)
        assert proto.crc8(data[n // 2:], proto.crc8(data[:n // 2])) == proto.crc8(data)


def test_hardware_crc_equals_the_table():
    m = Module()
    crc, byte, out = Signal(8), Signal(8), Signal(8)
    m.d.comb += out.eq(crc8_next(crc, byte))
    bad = []

    async def tb(ctx):
        for c in (0x00, 0x01, 0x5A, 0x80, 0xFF):
            for b in range(256):
                ctx.set(crc, c)
                ctx.set(byte, b)
                if ctx.get(out) != proto.crc8(bytes([b]), c):
                    bad.append((c, b))

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()
    assert not bad


def test_frames_encode_and_decode():
    f = proto.encode_frame(proto.INFER, b"\x01\x02\x03")
    assert f[:4] == bytes([0xA5, 0x02, 3, 0]) and f[-1] == proto.crc8(f[1:-1])
    assert proto.decode_frame(f) == (proto.INFER, b"\x01\x02\x03")
    with pytest.raises(ProtocolError, match="bad checksum"):
        proto.decode_frame(f[:-1] + bytes([f[-1] ^ 1]))
    with pytest.raises(ProtocolError, match="says 3 payload bytes but holds 2"):
        proto.decode_frame(f[:4] + f[5:])
    with pytest.raises(ProtocolError, match="starts with 0xA5"):
        proto.decode_frame(b"\x00" + f[1:])
    # a reader skips stray bytes before the sync byte; a short read is a time-out
    stream = bytearray(b"\x00\x13" + f)

    def read(n, timeout):
        out = bytes(stream[:n])
        del stream[:n]
        return out
    assert proto.read_frame(read, 1.0) == (proto.INFER, b"\x01\x02\x03")
    stream.extend(f[:6])
    with pytest.raises(ProtocolError, match=r"no reply within 1 s \(time-out: in the payload, 2 of 4 bytes\)"):
        proto.read_frame(read, 1.0)
    with pytest.raises(proto.BoardError, match="ERROR 4: time-out") as e:
        proto.decode_ident(proto.ERROR, bytes([proto.TIMEOUT]))
    assert e.value.code == proto.TIMEOUT and isinstance(e.value, SpikeforgeError)


def test_requests_and_replies(iris_cp):
    cp = iris_cp
    x = _inputs("iris", 1)[0]
    cmd, payload = proto.decode_frame(proto.encode_infer(cp, x))
    assert cmd == proto.INFER and list(payload) == [int(v) for v in x]
    for bad, msg in ((x[:3], "4 input values"), (x * 100, r"\[0, 255\]"), (x - 300, r"\[0, 255\]"),
                     (x.astype(float), "must be integers")):
        with pytest.raises(ProtocolError, match=msg):
            proto.encode_infer(cp, bad)
    wide = CircuitParams(dataclasses.replace(cp.network, input_bits=12), 4)
    assert proto.decode_frame(proto.encode_infer(wide, np.array([0x123, 0, 0xFFF, 1])))[1] == \
        bytes([0x23, 0x01, 0, 0, 0xFF, 0x0F, 1, 0])
    counters = dict(zip(proto.COUNTER_NAMES, (118, 2 ** 32 - 1, 0, 19)))
    reply = proto.decode_frame(proto.encode_infer_reply(1, [-5, 7, -(2 ** 31)], counters))
    assert proto.decode_infer(cp, *reply) == (1, [-5, 7, -(2 ** 31)], counters)


def test_design_hash(tmp_path, iris_cp):
    cp = iris_cp
    save_network(cp.network, tmp_path / "d.json")
    again = CircuitParams(load_network(tmp_path / "d.json"), 4)
    assert proto.design_hash(again) == proto.design_hash(cp)
    assert len(proto.design_hash(cp)) == 8
    assert proto.design_hash(CircuitParams(cp.network, 1)) != proto.design_hash(cp)
    top = BoardTop(cp, DIVISOR)
    top._MustUse__silence = True
    assert top.design_hash == proto.design_hash(cp)


# ------------------------------------------------------------------ the virtual board

@pytest.mark.parametrize("coding,P", [("fs", 32), ("if", 32)])
def test_digits_on_the_virtual_board_equal_golden(digits_nets, coding, P):
    """20 digits samples through the host: class, scores and every counter equal the golden
    model, sample by sample, for an exact coding (fs) and a rate coding (if); the Iris
    tests below run the ANN (P = all hidden neurons keeps the simulation short)."""
    cp = CircuitParams(digits_nets[coding], P)
    ds = load_dataset("digits")
    x, y = quantize_inputs(ds.x_test, 8)[:20], ds.y_test[:20]
    t = SimTransport(cp, DIVISOR)
    host = Host(t, cp)
    assert host.ident() == {"version": proto.VERSION, "hash": proto.design_hash(cp).hex()}
    seen = []
    r = host.run(x, y, progress=lambda msg, done=None, total=None: seen.append(done))
    g = circuit_golden(cp, x)
    assert r["mismatches"] == [] and r["exact"] and r["agreement"] == 1.0
    assert r["classes"] == g.predictions.tolist() and r["cycles"] == g.counters["cycles"].tolist()
    assert r["accuracy"] == r["golden_accuracy"] and seen == list(range(1, 21))
    assert t.framing_errors == 0
    per = proto.OVERHEAD * 2 + proto.infer_length(cp) + proto.reply_length(cp, proto.INFER)
    assert r["sim_cycles"] >= 20 * per * 10 * DIVISOR


def test_malformed_frames_are_answered_and_the_board_recovers(iris_cp):
    cp = iris_cp
    x = _inputs("iris", 4)
    g = circuit_golden(cp, x)
    t = SimTransport(cp, DIVISOR)
    host = Host(t, cp)

    def good(k):
        cls, scores, counters = host.infer(x[k])
        assert cls == g.predictions[k] and scores.tolist() == g.scores[k].tolist()
        assert counters == {n: int(g.counters[n][k]) for n in proto.COUNTER_NAMES}

    frame = proto.encode_infer(cp, x[0])
    cases = [
        (frame[:-1] + bytes([frame[-1] ^ 0x40]), proto.BAD_CRC, "bad checksum"),
        (proto.encode_frame(proto.INFER, bytes(x[0]) + b"\x00"), proto.BAD_LENGTH, "bad length"),
        (proto.encode_frame(proto.INFER, bytes(x[0][:3])), proto.BAD_LENGTH, "bad length"),
        (proto.encode_frame(proto.IDENT, b"\x00"), proto.BAD_LENGTH, "bad length"),
        (proto.encode_frame(0x33, b"\x01\x02"), proto.UNKNOWN_COMMAND, "unknown command"),
        (b"\x00\x55" + proto.encode_frame(0x33), proto.UNKNOWN_COMMAND, "unknown command"),   # junk first
    ]
    for k, (bad, code, msg) in enumerate(cases):
        with pytest.raises(proto.BoardError, match=f"the board replied ERROR {code}: {msg}") as e:
            host.request(bad)
        assert e.value.code == code
        good(k % len(x))
    # the error LED went on with the first error and off with the next good frame
    leds = [v for _, v in t.leds]
    assert any(v & 4 for v in leds) and not leds[-1] & 4 and leds[-1] & 1


def test_wrong_design_hash_is_refused(iris_cp):
    cp = iris_cp
    other = CircuitParams(cp.network, 1)
    t = SimTransport(cp, DIVISOR)
    with pytest.raises(ProtocolError, match=r"the board runs design [0-9a-f]{16}, not [0-9a-f]{16} .*P=\[1, 1\]\)"
                                            r": load this design's bitstream") as e:
        Host(t, other).ident()
    assert "\n" not in str(e.value)
    host = Host(t, cp)
    host.ident()
    x = _inputs("iris", 1)
    assert host.infer(x[0])[0] == circuit_golden(cp, x).predictions[0]


def test_time_outs(iris_cp):
    """A partial frame is dropped by the board with a time-out reply; a host that gives up
    before the reply says so, and its next request still gets the right answer."""
    cp = iris_cp
    x = _inputs("iris", 3)
    g = circuit_golden(cp, x)
    t = SimTransport(cp, DIVISOR)
    host = Host(t, cp)
    frame = proto.encode_infer(cp, x[0])
    with pytest.raises(proto.BoardError, match="time-out: a partial frame was silent too long") as e:
        host.request(frame[:7])
    assert e.value.code == proto.TIMEOUT
    assert host.infer(x[1])[0] == g.predictions[1]
    # the host waits less than the board: no reply in time; the late error reply is discarded
    quick = Host(t, cp, timeout=0.5 * proto.TIMEOUT_BYTES * 10 / t.baud)
    with pytest.raises(ProtocolError, match=r"no reply from the virtual board .* within .* s \(time-out"):
        quick.request(frame[:7])
    cls, scores, _ = quick.infer(x[2])
    assert cls == g.predictions[2] and scores.tolist() == g.scores[2].tolist()


def test_a_frame_during_an_inference_is_busy(iris_cp):
    cp = iris_cp
    x = _inputs("iris", 2)
    t = SimTransport(cp, DIVISOR)
    t.write(proto.encode_infer(cp, x[0]) + proto.encode_infer(cp, x[1]))
    first = proto.read_frame(t.read, 0.1)
    assert proto.decode_infer(cp, *first)[0] == circuit_golden(cp, x[:1]).predictions[0]
    with pytest.raises(proto.BoardError, match="busy") as e:
        proto.decode_infer(cp, *proto.read_frame(t.read, 0.1))
    assert e.value.code == proto.BUSY
    host = Host(t, cp)
    assert host.infer(x[1])[0] == circuit_golden(cp, x).predictions[1]


def test_a_mismatch_is_reported_per_sample(iris_cp):
    """A board built from one corrupted weight: the host lists every differing sample."""
    cp = iris_cp
    net = cp.network
    i = net.dense_indices[-1]
    layer = net.layers[i]
    W = [list(r) for r in layer.weights]
    W[0] = [w ^ 1 for w in W[0]]
    bad = dataclasses.replace(net, layers=net.layers[:i] + (Dense(W, layer.bias, layer.shift, layer.out_bits,
                                                                  layer.core),))
    x = _inputs("iris", 3)
    r = Host(SimTransport(CircuitParams(bad, 4), DIVISOR), cp).run(x)
    assert not r["exact"] and [mm["sample"] for mm in r["mismatches"]] == [0, 1, 2]
    assert all(0 in mm["scores"] for mm in r["mismatches"])


def test_run_design_on_the_virtual_board(tmp_path, iris_cp):
    path = tmp_path / "iris.json"
    save_network(iris_cp.network, path)
    s = run_design(path, P=4, dataset="iris", sim=True, samples=3)
    assert s["exact"] and s["samples"] == 3 and s["hash"] == proto.design_hash(iris_cp).hex()
    text = "\n".join(summary_lines(s))
    assert "every class, score and counter equal" in text and "virtual board" in text
    with pytest.raises(ConfigError, match="--port"):
        run_design(path, P=4, dataset="iris")


def test_serial_port_missing_is_one_line():
    with pytest.raises(ProtocolError, match="cannot open serial port /nonexistent/tty") as e:
        SerialTransport("/nonexistent/tty", 115200)
    assert "\n" not in str(e.value)


def test_board_refuses_what_the_protocol_cannot_carry(iris_cp):
    with pytest.raises(ConfigError, match="divisor must be >= 4"):
        BoardTop(iris_cp, 3)
    with pytest.raises(ConfigError, match="CircuitParams"):
        BoardTop("x", 4)


def test_run_command_on_the_virtual_board(tmp_path, capsys):
    """`spikeforge run --sim` prints the comparison; a missing port or a wrong choice of link is
    one error line with exit 2, and nothing is left behind."""
    from spikeforge.cli import main
    design = tmp_path / "iris-ann.json"
    save_network(convert_model("iris", codings=["ann"])["ann"], str(design))
    assert main(["run", "--design", str(design), "--sim", "--param", "P=4", "--samples", "3"]) == 0
    out = capsys.readouterr().out
    assert "every class, score and counter equal" in out and "3 samples" in out
    for args, msg in ((["--port", "/dev/spikeforge-no-such-port"], "cannot open serial port"),
                      ([], "give either --sim"), (["--sim", "--port", "x"], "give either --sim"),
                      (["--sim", "--param", "K=3"], "one parameter, P")):
        assert main(["run", "--design", str(design), "--samples", "2", *args]) == 2
        err = capsys.readouterr().err
        assert msg in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iris-ann.json"]
