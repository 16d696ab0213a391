"""Boards as data: one :class:`Board` record per board, defined once.

A board names its synthesis :class:`~spikeforge.synth.targets.Target` (device
and capacity), its amaranth-boards platform (pins, clock, I/O standards), the
pin file in ``constraints/`` that says which of the platform's resources the
board top uses (:func:`load_pins`), the bitstream the packer writes and the
openFPGALoader arguments that load it. :mod:`~spikeforge.synth.bitstream`
builds and :mod:`~spikeforge.synth.program` loads; docs/board.md describes both.
"""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..models.errors import ConfigError
from .targets import get_target

__all__ = ["Board", "BOARDS", "BOARD_NAMES", "get_board", "Pins", "load_pins"]


@dataclass(frozen=True)
class Board:
    """One board.

    Parameters
    ----------
    name, label : str
        Command-line name (``"icebreaker"``) and name in reports (``"iCEBreaker"``).
    target : str
        Name of the :class:`~spikeforge.synth.targets.Target` of its FPGA.
    platform : str
        The amaranth-boards platform, ``"module:Class"``.
    pins : str
        The pin file in ``constraints/`` (:func:`load_pins`).
    packer : str
        The tool that writes the bitstream (``"icepack"``, ``"ecppack"``).
    bitstream : str
        The bitstream's file extension (``"bin"``, ``"bit"``).
    loader : tuple
        openFPGALoader's arguments for this board, before the file.
    volatile : bool
        True if the loader writes the FPGA's configuration memory (lost at power-off), False
        if it writes the configuration flash the FPGA boots from.
    flash : tuple
        openFPGALoader's arguments that write the flash instead (empty: it always does).
    """

    name: str
    label: str
    target: str
    platform: str
    pins: str
    packer: str
    bitstream: str
    loader: tuple
    volatile: bool
    flash: tuple = ()

    def platform_class(self):
        module, cls = self.platform.split(":")
        return getattr(importlib.import_module(module), cls)

    def new_platform(self):
        """A fresh platform object (amaranth platforms are used for one build each)."""
        return self.platform_class()()

    @property
    def target_record(self):
        return get_target(self.target)


BOARDS = {b.name: b for b in (
    Board("icebreaker", "iCEBreaker", "ice40-up5k", "amaranth_boards.icebreaker:ICEBreakerPlatform",
          "icebreaker.toml", "icepack", "bin",
          # the iCEBreaker's FT2232H reaches the SPI flash (the FPGA then boots from it)
          loader=("-b", "ice40_generic"), volatile=False),
    Board("ulx3s", "ULX3S-85F", "ecp5-85f", "amaranth_boards.ulx3s:ULX3S_85F_Platform",
          "ulx3s.toml", "ecppack", "bit",
          # JTAG through the FT231X: -m loads the configuration memory, -f the flash
          loader=("-b", "ulx3s", "-m"), volatile=True, flash=("-b", "ulx3s", "-f")),
)}

BOARD_NAMES = tuple(BOARDS)


def get_board(name):
    """The :class:`Board` called ``name`` (ConfigError listing the known ones otherwise)."""
    if isinstance(name, Board):
        return name
    try:
        return BOARDS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown board {name!r}; choose from {', '.join(BOARDS)}") from None


@dataclass(frozen=True)
class Pins:
    """Which platform resources the board top uses (from a pin file).

    ``clock``: resource name of the clock; ``uart``: (name, number);
    ``leds``: status line (``idle``, ``busy``, ``error``) → (name, number);
    ``add``: names of resource lists of the platform class to add;
    ``resources``: extra resources as amaranth ``Resource`` objects; ``source``:
    the file read.
    """

    clock: str
    uart: tuple
    leds: dict
    add: tuple
    resources: tuple
    source: str

    def apply(self, platform):
        """Add this file's resources to ``platform`` and make its clock the default clock."""
        for name in self.add:
            extra = getattr(type(platform), name, None)
            if not isinstance(extra, list):
                raise ConfigError(f"{self.source}: the board file has no resource list {name!r} to add")
            platform.add_resources(extra)
        if self.resources:
            platform.add_resources(list(self.resources))
        try:
            platform.lookup(self.clock, 0)
        except Exception:
            raise ConfigError(f"{self.source}: the board has no clock resource {self.clock!r}") from None
        platform.default_clk = self.clock
        for what, (name, number) in [("uart", self.uart), *self.leds.items()]:
            try:
                platform.lookup(name, number)
            except Exception:
                raise ConfigError(f"{self.source}: {what}: the board has no resource {name!r} number {number}") \
                    from None


LEDS = ("idle", "busy", "error")


def load_pins(board, path=None):
    """The :class:`Pins` of ``board`` from ``path`` (default: its file in ``constraints/``).

    The file is TOML (``constraints/README.md`` documents it); a missing key, a
    wrong type or an unknown name is a ConfigError naming the file and the key.
    """
    board = get_board(board)
    if path is None:
        text = resources.files("spikeforge.constraints").joinpath(board.pins).read_text()
        source = f"constraints/{board.pins}"
    else:
        source = str(path)
        try:
            text = Path(path).read_text()
        except OSError as e:
            raise ConfigError(f"cannot read the pin file {path}: {e.strerror}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source} is not valid TOML: {e}") from None
    unknown = set(doc) - {"clock", "uart", "leds", "extra", "resources"}
    if unknown:
        raise ConfigError(f"{source}: unknown section {sorted(unknown)[0]!r} (clock, uart, leds, extra, resources)")
    clock = _ref(doc, "clock", source, numbered=False)
    uart = _ref(doc, "uart", source)
    leds = doc.get("leds", {})
    if not isinstance(leds, dict) or set(leds) - set(LEDS):
        raise ConfigError(f"{source}: [leds] takes {', '.join(LEDS)}")
    leds = {k: _ref(leds, k, source) for k in LEDS if k in leds}
    extra = doc.get("extra", {})
    add = extra.get("add", []) if isinstance(extra, dict) else None
    if not isinstance(add, list) or not all(isinstance(a, str) for a in add):
        raise ConfigError(f"{source}: [extra] add must be a list of names")
    res = tuple(_resource(r, source) for r in _list(doc.get("resources", []), "resources", source))
    return Pins(clock=clock, uart=uart, leds=leds, add=tuple(add), resources=res, source=source)


def _list(v, key, source):
    if not isinstance(v, list) or not all(isinstance(r, dict) for r in v):
        raise ConfigError(f"{source}: {key} must be a list of tables ([[{key}]])")
    return v


def _ref(doc, key, source, numbered=True):
    """A ``{resource = NAME, number = N}`` entry: NAME (numbered=False) or (NAME, N)."""
    v = doc.get(key)
    if not isinstance(v, dict) or not isinstance(v.get("resource"), str):
        raise ConfigError(f"{source}: {key} needs resource = \"NAME\"")
    if not numbered:
        return v["resource"]
    n = v.get("number", 0)
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ConfigError(f"{source}: {key}: number must be an integer ≥ 0")
    return (v["resource"], n)


def _resource(r, source):
    """An amaranth ``Resource`` from a ``[[resources]]`` table: one pin (name, number, pin,
    dir, and optionally invert) or a UART (name, number, rx, tx); both optionally with
    conn = [name, number] and attrs = {…}."""
    from amaranth.build import Attrs, Pins as APins, PinsN, Resource
    from amaranth_boards.resources import UARTResource
    uart = "rx" in r or "tx" in r
    want = {"name": str, "number": int, **({"rx": str, "tx": str} if uart else {"pin": str, "dir": str})}
    for k, t in want.items():
        if not isinstance(r.get(k), t) or isinstance(r.get(k), bool):
            raise ConfigError(f"{source}: each [[resources]] needs {k} ({t.__name__})")
    name = r["name"]
    unknown = set(r) - set(want) - {"conn", "attrs"} - (set() if uart else {"invert"})
    if unknown:
        raise ConfigError(f"{source}: resource {name}: unknown key {sorted(unknown)[0]!r}")
    conn = r.get("conn")
    if conn is not None and not (isinstance(conn, list) and len(conn) == 2
                                 and isinstance(conn[0], str) and isinstance(conn[1], int)):
        raise ConfigError(f"{source}: resource {name}: conn must be [name, number]")
    conn = tuple(conn) if conn else None
    attrs = r.get("attrs", {})
    if not isinstance(attrs, dict):
        raise ConfigError(f"{source}: resource {name}: attrs must be a table")
    attrs = Attrs(**{k: str(v) for k, v in attrs.items()})
    if uart:
        return UARTResource(name, r["number"], rx=r["rx"], tx=r["tx"], conn=conn, attrs=attrs)
    if r["dir"] not in ("i", "o"):
        raise ConfigError(f"{source}: resource {name}: dir must be \"i\" or \"o\"")
    pins = (PinsN if r.get("invert") else APins)(r["pin"], dir=r["dir"], conn=conn)
    return Resource(name, r["number"], pins, attrs)
