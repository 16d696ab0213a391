"""The host side of the board link: identify the board, stream samples, compare with the golden model.

A *transport* is any object with ``write(bytes)`` and ``read(n, timeout)``
(up to n bytes; fewer when ``timeout`` seconds pass) and, optionally,
``baud`` (for the resynchronisation after a time-out) and
``default_timeout``. Two exist:

- :class:`SerialTransport`: a real board on a serial port (pyserial, imported
  only when used);
- :class:`spikeforge.sim.board.SimTransport`: the virtual board, the board
  top in Amaranth's simulator.

:class:`Host` runs the same code against both. :func:`run_design` is what
``spikeforge run`` needs. Protocol: :mod:`spikeforge.models.protocol`,
docs/board.md.
"""

from __future__ import annotations

import time

import numpy as np

from .models import protocol as proto
from .models.circuit import CircuitParams, circuit_golden
from .models.errors import ConfigError, ProtocolError
from .models.protocol import BoardError

__all__ = ["Host", "SerialTransport", "run_design", "summary_lines", "BoardError"]


class SerialTransport:
    """A board on a serial port, 8N1 at ``baud``.

    A missing port (or pyserial missing) is one ProtocolError line; a silent
    port shows as a time-out of the first request (:meth:`Host.ident` says
    what to check)."""

    def __init__(self, port, baud=115_200):
        try:
            import serial
        except ImportError:
            raise ProtocolError("the serial link needs pyserial: pip install pyserial") from None
        self.port, self.baud = str(port), int(baud)
        try:
            self._ser = serial.Serial(self.port, self.baud, bytesize=8, parity="N", stopbits=1, timeout=1.0)
        except (serial.SerialException, OSError, ValueError) as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ProtocolError(f"cannot open serial port {self.port} at {self.baud} baud: {msg}") from None
        self._ser.reset_input_buffer()

    def __str__(self):
        return f"the board on {self.port} at {self.baud} baud"

    @property
    def default_timeout(self):
        return 2.0

    def write(self, data):
        try:
            self._ser.write(bytes(data))
            self._ser.flush()
        except Exception as e:                              # serial.SerialException, OSError
            raise ProtocolError(f"writing to {self.port} failed: {e}") from None

    def read(self, n, timeout):
        self._ser.timeout = float(timeout)
        try:
            return self._ser.read(n)
        except Exception as e:
            raise ProtocolError(f"reading from {self.port} failed: {e}") from None

    def close(self):
        self._ser.close()


class Host:
    """Talks to one board running the circuit of ``cp``.

    Parameters
    ----------
    transport : object with ``write(bytes)`` and ``read(n, timeout)``
    cp : CircuitParams
        The design (and P) the board must run.
    timeout : float, optional
        Seconds a reply may take (simulated seconds on the virtual board);
        default: the transport's ``default_timeout``, else 2 s.
    """

    def __init__(self, transport, cp, *, timeout=None):
        if not isinstance(cp, CircuitParams):
            raise ConfigError(f"expected a CircuitParams, not {cp!r}")
        proto.check_board_params(cp)
        self.transport, self.cp = transport, cp
        self.timeout = float(timeout if timeout is not None else getattr(transport, "default_timeout", 2.0))
        self.hash = proto.design_hash(cp)
        self._stale = False                 # a reply may still be on its way (after a time-out)

    # ------------------------------------------------------------------ frames

    def resync(self):
        """Wait until the line has been quiet for the board's partial-frame time-out plus the
        longest reply, discarding what arrives (a late reply, a time-out error)."""
        baud = getattr(self.transport, "baud", 115_200)
        n = proto.TIMEOUT_BYTES + proto.OVERHEAD + proto.reply_length(self.cp, proto.INFER) + 8
        quiet = n * 10 / baud
        for _ in range(64):
            if not self.transport.read(1 << 16, quiet):
                break
        self._stale = False

    def request(self, frame):
        """Send one frame and return the reply (command, payload). An ERROR reply is a
        :class:`BoardError` (its ``code``); a time-out or a damaged reply is a ProtocolError, and
        the next request first waits for the line to settle."""
        if self._stale:
            self.resync()
        self.transport.write(frame)
        try:
            cmd, payload = proto.read_frame(self.transport.read, self.timeout, f"reply from {self.transport}")
        except ProtocolError:
            self._stale = True
            raise
        if cmd == proto.ERROR:
            raise BoardError(payload[0] if len(payload) == 1 else None)
        return cmd, payload

    # ------------------------------------------------------------------ commands

    def ident(self):
        """Check the board: its protocol version and design hash; returns them as a dict.
        A board running another design is refused with one line."""
        try:
            version, h = proto.decode_ident(*self.request(proto.encode_ident()))
        except BoardError:
            raise
        except ProtocolError as e:
            baud = getattr(self.transport, "baud", None)
            at = f" and built for {baud} baud (spikeforge build --baud)" if baud else ""
            raise ProtocolError(f"{e}; is the board programmed, connected{at}?") from None
        if version != proto.VERSION:
            raise ProtocolError(f"the board speaks protocol version {version}, this host {proto.VERSION}")
        if h != self.hash:
            net = self.cp.network
            raise ProtocolError(f"the board runs design {h.hex()}, not {self.hash.hex()} ({net.name or 'this design'}, "
                                f"{net.coding}, P={list(self.cp.parallelism)}): load this design's bitstream")
        return {"version": version, "hash": h.hex()}

    def infer(self, x_row):
        """One sample: (class, scores (n_outputs,), counters dict) as the board reports them."""
        cls, scores, counters = proto.decode_infer(self.cp, *self.request(proto.encode_infer(self.cp, x_row)))
        return cls, np.asarray(scores, dtype=np.int64), counters

    def run(self, x, y=None, progress=None):
        """Stream the samples ``x`` (n, n_inputs) through the board and compare each with
        :func:`~spikeforge.models.circuit.circuit_golden` (class, every score, every counter).

        Returns a dict: ``samples``, ``accuracy`` (board, against ``y``; None without ``y``),
        ``golden_accuracy``, ``agreement`` (fraction of samples whose class equals the
        golden one), ``exact`` (every field of every sample equal), ``mismatches`` (one entry
        per differing sample: its index and the fields with golden and board values),
        ``classes``, ``cycles`` (per sample, the board's counter), ``cycles_mean``,
        ``wall_s`` and ``inferences_per_s`` (host wall time), and the transport's simulated
        ``sim_cycles`` if it has them."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.cp.n_inputs or x.shape[0] == 0:
            raise ConfigError(f"x must have shape (n ≥ 1, {self.cp.n_inputs}), not {x.shape}")
        n = x.shape[0]
        g = circuit_golden(self.cp, x)
        classes, cycles, mismatches = [], [], []
        sim0 = getattr(self.transport, "cycles", None)
        t0 = time.perf_counter()
        for k in range(n):
            cls, scores, counters = self.infer(x[k])
            classes.append(cls)
            cycles.append(counters["cycles"])
            diff = {}
            if cls != int(g.predictions[k]):
                diff["class"] = (int(g.predictions[k]), cls)
            bad = [j for j in range(self.cp.n_outputs) if int(scores[j]) != int(g.scores[k][j])]
            if bad:
                diff["scores"] = {j: (int(g.scores[k][j]), int(scores[j])) for j in bad}
            for name in proto.COUNTER_NAMES:
                if counters[name] != int(g.counters[name][k]):
                    diff[name] = (int(g.counters[name][k]), counters[name])
            if diff:
                mismatches.append({"sample": k, **diff})
            if progress:
                progress(f"sample {k + 1}/{n}" + (f", {len(mismatches)} mismatched" if mismatches else ""),
                         done=k + 1, total=n)
        wall = time.perf_counter() - t0
        classes = np.asarray(classes)
        out = {"samples": n,
               "accuracy": None if y is None else float(np.mean(classes == np.asarray(y)[:n])),
               "golden_accuracy": None if y is None else float(np.mean(g.predictions == np.asarray(y)[:n])),
               "agreement": float(np.mean(classes == g.predictions)),
               "exact": not mismatches, "mismatches": mismatches, "classes": classes.tolist(),
               "cycles": cycles, "cycles_mean": float(np.mean(cycles)),
               "wall_s": wall, "inferences_per_s": n / wall if wall > 0 else float("inf")}
        if sim0 is not None:
            out["sim_cycles"] = self.transport.cycles - sim0
        return out


def summary_lines(summary):
    """Human-readable lines of a :func:`run_design` summary; every mismatching sample is listed."""
    s = summary
    lines = [f"{s['transport']}: design {s['hash']} ({s['coding']}, P={s['P']}), {s['samples']} samples"]
    if s["accuracy"] is not None:
        lines.append(f"accuracy {100 * s['accuracy']:.2f} % (golden {100 * s['golden_accuracy']:.2f} %)")
    lines.append(f"agreement with the golden model {100 * s['agreement']:.2f} %; "
                 + ("every class, score and counter equal" if s["exact"] else
                    f"{len(s['mismatches'])} sample(s) differ"))
    for mm in s["mismatches"]:
        fields = "; ".join(f"{k} golden {v[0]} board {v[1]}" if isinstance(v, tuple) else
                           f"{k} " + ", ".join(f"[{j}] golden {a} board {b}" for j, (a, b) in v.items())
                           for k, v in mm.items() if k != "sample")
        lines.append(f"  sample {mm['sample']}: {fields}")
    lines.append(f"cycles per inference {s['cycles_mean']:.1f} (board counter); "
                 f"{s['inferences_per_s']:.2f} inferences/s over the link ({s['wall_s']:.2f} s wall)")
    if "sim_cycles" in s:
        lines.append(f"simulated {s['sim_cycles']} clock cycles ({s['sim_cycles'] / s['samples']:.0f} per sample, "
                     "UART included)")
    return lines


def run_design(design_path, *, P=None, dataset="digits", port=None, baud=115_200, sim=False, samples=None,
               progress=None, divisor=4):
    """Everything ``spikeforge run --sim`` / ``--port`` needs: load the design, open the link
    (the virtual board at UART ``divisor`` with ``sim``, else the serial ``port``), check the
    board's design hash, stream the first ``samples`` test samples of ``dataset`` (None: the
    one the design names) and compare each with the golden model.

    Returns the :meth:`Host.run` dict plus ``design``, ``coding``, ``P``, ``hash``, ``transport``
    and ``dataset`` (:func:`summary_lines` prints it)."""
    from .models.convert import quantize_inputs
    from .models.network import load_network
    from .api import resolve_data
    net = load_network(design_path)
    cp = CircuitParams(net, P)
    proto.check_board_params(cp)
    if dataset is None:
        dataset = net.meta.get("dataset")
        if dataset is None:
            raise ConfigError("the design does not name its data set: pass a dataset")
    ds = resolve_data(None, dataset)
    if ds.x_test.shape[1] != cp.n_inputs:
        raise ConfigError(f"the design has {cp.n_inputs} inputs, the data set {dataset} {ds.x_test.shape[1]}")
    x, y = quantize_inputs(ds.x_test, net.input_bits), ds.y_test
    if samples is not None:
        if not isinstance(samples, int) or samples < 1:
            raise ConfigError(f"samples must be a positive integer, not {samples!r}")
        x, y = x[:samples], y[:samples]
    if sim:
        from .sim.board import SimTransport
        if progress:
            progress("building the virtual board")
        transport = SimTransport(cp, divisor, baud=baud)
    elif port is None:
        raise ConfigError("give a serial port (--port) or run on the virtual board (--sim)")
    else:
        transport = SerialTransport(port, baud)
    try:
        host = Host(transport, cp)
        ident = host.ident()
        res = host.run(x, y, progress=progress)
    finally:
        close = getattr(transport, "close", None)
        if close:
            close()
    return {"design": str(design_path), "coding": net.coding, "P": list(cp.parallelism), "hash": ident["hash"],
            "transport": str(transport), "dataset": dataset, **res}
