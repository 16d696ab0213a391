"""Verilog export and port descriptions of the cores.

``to_verilog`` emits deterministic Verilog (no source-location attributes,
so the text depends only on the parameters and the tool versions), with a
header comment that records the core, its parameters as JSON, the ports and
the handshake. ``port_layouts`` describes every stream port's payload
(field name, bit offset, width, signedness) for testbenches.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import textwrap

from amaranth.hdl import Shape
from amaranth.lib import data, stream, wiring

from ..models.errors import ToolError
from ..models.io import TMP_PREFIX, cache_root

__all__ = ["to_verilog", "port_layouts", "top_name", "convert_verilog", "verilog_body"]


def top_name(core):
    """The stable top-module name of a core: ``spikeforge_<core>``."""
    return f"spikeforge_{core}"


def _fields(shape):
    """[(name, offset, width, signed)] of a payload shape; one unnamed field for a plain shape."""
    if isinstance(shape, data.StructLayout):
        out = []
        for name, f in shape:
            s = Shape.cast(f.shape)
            out.append((name, f.offset, s.width, s.signed))
        return out
    s = Shape.cast(shape)
    return [("", 0, s.width, s.signed)]


def port_layouts(component):
    """Describe the stream ports of ``component``: {port: {"dir": "in"|"out", "fields": …}}.

    "in" means the core consumes the stream (it drives ``ready``).
    """
    out = {}
    for name, member in component.signature.members.items():
        if not member.is_signature or not isinstance(member.signature, stream.Signature):
            continue
        direction = "in" if member.flow == wiring.In else "out"
        out[name] = {"dir": direction, "fields": _fields(member.signature.members["payload"].shape)}
    return out


def convert_verilog(component, name, ports=None):
    """Amaranth's Verilog of ``component`` (an Elaboratable with ``ports``, or a
    wiring.Component) as module ``name``; Yosys problems as one-line ToolErrors."""
    return _convert(component, name, ports)


#: Sub-folder of :func:`~spikeforge.models.io.cache_root` holding Yosys's Verilog per RTLIL text.
VERILOG_CACHE = "verilog"


def _yosys_identity():
    """What the Verilog Yosys writes depends on besides the RTLIL: which Yosys Amaranth
    runs (``AMARANTH_USE_YOSYS``) and its version, and Amaranth's own version."""
    from importlib import metadata

    from amaranth._toolchain.yosys import find_yosys
    which = os.environ.get("AMARANTH_USE_YOSYS", "")
    key = ("amaranth", which)
    if key not in _IDENTITY:
        yosys = find_yosys(lambda ver: ver >= (0, 40))
        _IDENTITY[key] = f"amaranth {metadata.version('amaranth')}; {which}; {yosys.__name__} {yosys.version()}"
    return _IDENTITY[key]


_IDENTITY = {}


@contextlib.contextmanager
def _cached_yosys(verilog):
    """While the block runs, Amaranth's RTLIL → Verilog step (one Yosys run, about a third of
    a CPU-second even for a small core) is looked up first in a cache keyed by the SHA-256 of
    the RTLIL text, the step's options and :func:`_yosys_identity`. The same design converted
    again (a co-simulation of a build made already, a report run twice, the tests) then costs
    no Yosys run; the text is the one Yosys wrote for it. Entries are written atomically and
    carry the SHA-256 of the text: one that does not match is converted again."""
    convert_text = getattr(verilog, "_convert_rtlil_text", None)
    if convert_text is None or os.environ.get("SPIKEFORGE_VERILOG_CACHE") == "0":
        yield                                   # another Amaranth: convert without the cache
        return

    def cached(rtlil_text, *, strip_internal_attrs=False, write_verilog_opts=()):
        blob = json.dumps([rtlil_text, bool(strip_internal_attrs), list(write_verilog_opts), _yosys_identity()])
        entry = cache_root() / VERILOG_CACHE / f"{hashlib.sha256(blob.encode()).hexdigest()[:32]}.json"
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError, AttributeError):
            record = json.loads(entry.read_text())      # anything unreadable: convert again
            text = record["verilog"]
            if hashlib.sha256(text.encode()).hexdigest() == record["sha256"]:
                return text
        text = convert_text(rtlil_text, strip_internal_attrs=strip_internal_attrs,
                            write_verilog_opts=write_verilog_opts)
        with contextlib.suppress(OSError):     # a cache that cannot be written is only slower
            entry.parent.mkdir(parents=True, exist_ok=True)
            tmp = entry.with_name(f"{TMP_PREFIX}{os.getpid()}-{entry.name}")
            tmp.write_text(json.dumps({"verilog": text, "sha256": hashlib.sha256(text.encode()).hexdigest()}))
            os.replace(tmp, entry)
        return text

    verilog._convert_rtlil_text = cached
    try:
        yield
    finally:
        verilog._convert_rtlil_text = convert_text


def _convert(component, name, ports=None):
    """Amaranth's Verilog back-end, with Yosys problems as one-line ToolErrors.

    Unless the user chose with ``AMARANTH_USE_YOSYS``, the Yosys built into
    Amaranth is used (not the ``YOSYS`` of the synthesis flow), so the text
    depends only on the parameters and the package versions. Yosys's step is
    cached (:func:`_cached_yosys`; ``SPIKEFORGE_VERILOG_CACHE=0`` turns it off).
    """
    from amaranth._toolchain.yosys import YosysError
    from amaranth.back import verilog

    chosen = "AMARANTH_USE_YOSYS" in os.environ
    if not chosen:
        os.environ["AMARANTH_USE_YOSYS"] = "builtin"
    try:
        kw = {} if ports is None else {"ports": ports}
        with _cached_yosys(verilog):
            text = verilog.convert(component, name=name, emit_src=False, strip_internal_attrs=True, **kw)
    except YosysError as e:
        detail = str(e).strip().splitlines()[-1] if str(e).strip() else "no message"
        which = os.environ.get("AMARANTH_USE_YOSYS", "system,builtin")
        raise ToolError(f"yosys (Verilog export, AMARANTH_USE_YOSYS={which}) failed: {detail}") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ToolError(f"yosys (Verilog export) failed: {e}") from None
    finally:
        if not chosen:
            os.environ.pop("AMARANTH_USE_YOSYS", None)
    if not isinstance(text, str) or not re.search(rf"^module {re.escape(name)}\b", text, re.M):
        raise ToolError(f"yosys (Verilog export) returned no module {name}: its output is not Verilog")
    return text


def verilog_body(text):
    """``text`` without its leading ``//`` comment lines: the header :func:`to_verilog` writes
    (core, parameters, ports, handshake) documents the design and changes nothing that Yosys,
    nextpnr or Verilator make of it. Caches of tool runs key on the body, so designs that differ
    only in their header (an fs and an amos circuit with the same ReLU tables) share one run."""
    lines = text.splitlines(keepends=True)
    k = 0
    while k < len(lines) and lines[k].startswith("//"):
        k += 1
    return "".join(lines[k:])


def to_verilog(component, core, params, handshake=None):
    """Deterministic Verilog for ``component`` (built from ``params`` of ``core``).

    This is the one Verilog path: ``spikeforge generate``, synthesis and
    co-simulation all use it, so what is verified is byte for byte what users
    get. ``handshake`` defaults to the component's ``handshake`` text.
    """
    if handshake is None:
        handshake = getattr(component, "handshake", "")
    name = top_name(core)
    text = _convert(component, name)
    lines = [f"// {name}: spikeforge core '{core}', generated by spikeforge from its parameter object.",
             f"// The math, parameters and schedule: {getattr(params, 'docs_page', f'docs/cores/{core}.md')} "
             "in spikeforge.",
             "// Parameters in effect (JSON members; 'derived' ones were computed, not declared):"]
    meaning = params.field_docs() if hasattr(params, "field_docs") else {}
    declared = set(params.to_dict()) if hasattr(params, "declared") else None
    for key, value in sorted(params.effective_dict().items()):   # values in effect, one per line, wrapped
        item = json.dumps({key: value})[1:-1]
        note = meaning.get(key, "")
        if declared is not None and key not in declared:
            note = f"derived; {note}" if note else "derived"
        chunks = textwrap.wrap(item, 100, break_long_words=False, break_on_hyphens=False,
                               subsequent_indent="  ")
        lines += [f"//   {chunk}" for chunk in chunks]
        if note:
            lines.append(f"//       ({note})")
    lines.append("// Ports: clk, rst (synchronous, active high) and ready/valid streams; a beat")
    lines.append("// transfers on a rising clock edge where valid and ready are both high.")
    for port, info in port_layouts(component).items():
        lines.append(f"//   {port} ({'input' if info['dir'] == 'in' else 'output'} stream): "
                     f"{port}__valid, {port}__ready, {port}__payload with the bits")
        for n, o, w, signed_ in info["fields"]:
            bits = f"[{o + w - 1}:{o}]" if w > 1 else f"[{o}]"
            lines.append(f"//     {port}__payload{bits} = {n or 'value'}"
                         f" ({w} bit{'s' if w > 1 else ''}{', signed' if signed_ else ''})")
    for hl in handshake.strip().splitlines():
        lines.append(f"// {hl.strip()}")
    return "\n".join(lines) + "\n" + text
