"""The byte protocol between a host and a board running a network circuit.

Every frame, in both directions, is

    0xA5 | command | length (16 bits, little-endian) | payload (length bytes) | CRC-8

The CRC-8 (polynomial 0x07, initial value 0, no reflection, no final XOR:
CRC-8/SMBUS, check value 0xF4 over ``b"123456789"``) covers the command,
the two length bytes and the payload. The host sends requests; the board
answers each frame with exactly one reply (a frame with the request's
command, or an ERROR frame):

| command | code | request payload | reply payload |
|---|---|---|---|
| IDENT | 0x01 | none | protocol version (1 byte), design hash (8 bytes) |
| INFER | 0x02 | n_inputs values, 1 byte each (input_bits ≤ 8) or 2 bytes LE | class (1 byte), n_outputs scores (4 bytes signed LE), cycles, synaptic_ops, spikes, state_updates (4 bytes LE each) |
| ERROR | 0x7F | (reply only) | error code (1 byte, :data:`ERRORS`) |

The design hash is the first 8 bytes of SHA-256 over the canonical JSON of
the design and its parallelism P (:func:`design_hash`); the RTL generator
bakes it into the board, the host compares it. Everything here is plain
Python; the board's side is :mod:`spikeforge.hdl.board`, the host's
:mod:`spikeforge.host`. See docs/board.md.
"""

from __future__ import annotations

import hashlib
import json

from .errors import ConfigError, ProtocolError

__all__ = ["SYNC", "VERSION", "IDENT", "INFER", "ERROR", "ERRORS", "BAD_CRC", "BAD_LENGTH", "UNKNOWN_COMMAND",
           "TIMEOUT", "BUSY", "TIMEOUT_BYTES", "HASH_BYTES", "COUNTER_NAMES", "crc8", "design_hash",
           "encode_frame", "decode_frame", "read_frame", "encode_ident", "encode_infer", "infer_length",
           "reply_length", "decode_ident", "decode_infer", "encode_ident_reply", "encode_infer_reply",
           "encode_error", "check_board_params", "value_bytes"]

SYNC = 0xA5
#: protocol version the IDENT reply carries
VERSION = 1
IDENT, INFER, ERROR = 0x01, 0x02, 0x7F
COMMANDS = {IDENT: "IDENT", INFER: "INFER", ERROR: "ERROR"}

BAD_CRC, BAD_LENGTH, UNKNOWN_COMMAND, TIMEOUT, BUSY = 1, 2, 3, 4, 5
#: error code → what the board says (the host's message)
ERRORS = {
    BAD_CRC: "bad checksum (the frame was damaged on the line)",
    BAD_LENGTH: "bad length (the payload length does not fit the command)",
    UNKNOWN_COMMAND: "unknown command",
    TIMEOUT: "time-out: a partial frame was silent too long and was dropped",
    BUSY: "busy: a frame began while an inference was in flight",
}
#: a partial frame silent for more than this many byte times (10 bits each) is dropped
TIMEOUT_BYTES = 128
HASH_BYTES = 8
#: the counters of an INFER reply, in order
COUNTER_NAMES = ("cycles", "synaptic_ops", "spikes", "state_updates")
HEADER = 4                                     # sync, command, length
OVERHEAD = HEADER + 1                          # and the CRC


def _table():
    out = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = ((c << 1) ^ 0x07) & 0xFF if c & 0x80 else (c << 1) & 0xFF
        out.append(c)
    return tuple(out)


#: CRC-8 of each single byte (polynomial 0x07)
CRC8_TABLE = _table()


def crc8(data, crc=0):
    """CRC-8, polynomial 0x07 (CRC-8/SMBUS) of ``data``, continuing from ``crc``."""
    t = CRC8_TABLE
    for b in bytes(data):
        crc = t[crc ^ b]
    return crc


# ------------------------------------------------------------------ the design

def design_hash(cp) -> bytes:
    """First 8 bytes of SHA-256 over the canonical JSON of the design and its P.

    Canonical: ``{"design": network.to_dict(), "P": [P per dense layer]}`` with
    sorted keys, no spaces, ASCII only. A design loaded from its JSON file and
    the same design in memory give the same hash."""
    doc = {"design": cp.network.to_dict(), "P": [int(p) for p in cp.parallelism]}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(text.encode("ascii")).digest()[:HASH_BYTES]


def value_bytes(cp):
    """Bytes per input value in an INFER request: 1 up to 8 input bits, else 2."""
    return 1 if cp.input_bits <= 8 else 2


def infer_length(cp):
    """Payload length of an INFER request."""
    return cp.n_inputs * value_bytes(cp)


def reply_length(cp, command):
    """Payload length of the reply to ``command``."""
    return {IDENT: 1 + HASH_BYTES, INFER: 1 + 4 * cp.n_outputs + 4 * len(COUNTER_NAMES), ERROR: 1}[command]


def check_board_params(cp):
    """ConfigError unless the circuit of ``cp`` fits the protocol: at most 256 classes (a one-byte
    class), scores of at most 32 bits, a request payload below 65,536 bytes."""
    if cp.n_outputs > 256:
        raise ConfigError(f"the board protocol sends the class in one byte: at most 256 outputs, "
                          f"not {cp.n_outputs}")
    if cp.score_bits > 32:
        raise ConfigError(f"scores of {cp.score_bits} bits do not fit the protocol's 4 bytes")
    if infer_length(cp) > 0xFFFF:
        raise ConfigError(f"{cp.n_inputs} inputs do not fit one frame (at most 65,535 payload bytes)")


# ------------------------------------------------------------------ frames

def encode_frame(command, payload=b""):
    """A whole frame: sync, command, length, payload, CRC."""
    payload = bytes(payload)
    if not 0 <= command <= 0xFF:
        raise ProtocolError(f"command {command} is not a byte")
    if len(payload) > 0xFFFF:
        raise ProtocolError(f"a payload of {len(payload)} bytes does not fit a frame (at most 65,535)")
    body = bytes([command, len(payload) & 0xFF, len(payload) >> 8]) + payload
    return bytes([SYNC]) + body + bytes([crc8(body)])


def decode_frame(frame):
    """(command, payload) of one whole frame; ProtocolError names what is wrong."""
    frame = bytes(frame)
    if len(frame) < OVERHEAD:
        raise ProtocolError(f"a frame has at least {OVERHEAD} bytes, not {len(frame)}")
    if frame[0] != SYNC:
        raise ProtocolError(f"a frame starts with 0x{SYNC:02X}, not 0x{frame[0]:02X}")
    n = frame[2] | frame[3] << 8
    if len(frame) != n + OVERHEAD:
        raise ProtocolError(f"the frame says {n} payload bytes but holds {len(frame) - OVERHEAD}")
    if crc8(frame[1:-1]) != frame[-1]:
        raise ProtocolError(f"bad checksum in a reply: 0x{frame[-1]:02X}, computed 0x{crc8(frame[1:-1]):02X}")
    return frame[1], frame[4:-1]


def read_frame(read, timeout, what="reply"):
    """Read one frame with ``read(n, timeout)`` (bytes, possibly fewer on a time-out); bytes before
    the sync byte are skipped. Returns (command, payload); a time-out is a ProtocolError."""
    def exactly(n, part):
        got = bytes(read(n, timeout))
        if len(got) != n:
            raise ProtocolError(f"no {what} within {timeout:g} s (time-out: {part}, "
                                f"{len(got)} of {n} bytes)")
        return got
    skipped = 0
    while True:
        b = exactly(1, "waiting for the sync byte" if not skipped else f"after {skipped} stray bytes")
        if b[0] == SYNC:
            break
        skipped += 1
        if skipped > 1 << 16:
            raise ProtocolError("no sync byte in 65,536 bytes: is this a spikeforge board?")
    head = exactly(3, "in the header")
    n = head[1] | head[2] << 8
    rest = exactly(n + 1, "in the payload")
    return decode_frame(b + head + rest)


# ------------------------------------------------------------------ requests and replies

def encode_ident():
    return encode_frame(IDENT)


def encode_infer(cp, x_row):
    """The INFER request of one sample; ProtocolError if a value is not an unsigned input_bits integer."""
    import numpy as np
    row = np.asarray(x_row)
    if row.shape != (cp.n_inputs,):
        raise ProtocolError(f"a sample has {cp.n_inputs} input values, not shape {row.shape}")
    if row.dtype.kind not in "iub":
        raise ProtocolError(f"input values must be integers, not {row.dtype}")
    hi = (1 << cp.input_bits) - 1
    if row.size and (int(row.min()) < 0 or int(row.max()) > hi):
        raise ProtocolError(f"input values must lie in [0, {hi}] ({cp.input_bits} bits), "
                            f"not [{int(row.min())}, {int(row.max())}]")
    k = value_bytes(cp)
    payload = b"".join(int(v).to_bytes(k, "little") for v in row)
    return encode_frame(INFER, payload)


def _check_reply(command, payload, expected, n):
    if command == ERROR:
        code = payload[0] if len(payload) == 1 else None
        raise BoardError(code)
    if command != expected:
        raise ProtocolError(f"expected a {COMMANDS[expected]} reply, got command 0x{command:02X}")
    if len(payload) != n:
        raise ProtocolError(f"a {COMMANDS[expected]} reply has {n} payload bytes, not {len(payload)}")


def decode_ident(command, payload):
    """(version, hash) of an IDENT reply; BoardError for an ERROR reply."""
    _check_reply(command, payload, IDENT, 1 + HASH_BYTES)
    return payload[0], bytes(payload[1:])


def decode_infer(cp, command, payload):
    """(class, scores list, counters dict) of an INFER reply; BoardError for an ERROR reply."""
    _check_reply(command, payload, INFER, reply_length(cp, INFER))
    cls = payload[0]
    scores = [int.from_bytes(payload[1 + 4 * k:5 + 4 * k], "little", signed=True) for k in range(cp.n_outputs)]
    base = 1 + 4 * cp.n_outputs
    counters = {name: int.from_bytes(payload[base + 4 * k:base + 4 * k + 4], "little")
                for k, name in enumerate(COUNTER_NAMES)}
    return cls, scores, counters


def encode_ident_reply(h, version=VERSION):
    return encode_frame(IDENT, bytes([version]) + bytes(h))


def encode_infer_reply(cls, scores, counters):
    payload = bytes([cls]) + b"".join(int(s).to_bytes(4, "little", signed=True) for s in scores)
    payload += b"".join(int(counters[name]).to_bytes(4, "little") for name in COUNTER_NAMES)
    return encode_frame(INFER, payload)


def encode_error(code):
    return encode_frame(ERROR, bytes([code]))


class BoardError(ProtocolError):
    """The board answered with an ERROR frame; ``code`` is its error code (or None if malformed)."""

    def __init__(self, code):
        self.code = code
        what = ERRORS.get(code, f"unknown error code {code!r}")
        super().__init__(f"the board replied ERROR {code}: {what}")


__all__.append("BoardError")
