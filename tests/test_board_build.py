"""Boards, bitstreams and loading: ``spikeforge build`` and ``spikeforge program``.

The board records against their targets and amaranth-boards platforms, the
pin files in constraints/, a real bitstream of the small Iris circuit for the
iCEBreaker (CI), the digits 64-32-10 net for both boards (``slow``), the errors
of a design that does not fit or misses the clock, and openFPGALoader without
its libraries or without a board (whichever this machine has: both are one line).
"""

from __future__ import annotations

import json
import os
import pty
import stat

import pytest

from spikeforge.api import convert_model
from spikeforge.cli import main
from spikeforge.models import protocol as proto
from spikeforge.models.circuit import CircuitParams
from spikeforge.models.errors import ConfigError, ToolError
from spikeforge.models.network import save_network
from spikeforge.synth.bitstream import Bitstream, BuildSummary, prepare_bitstream
from spikeforge.synth.boards import BOARDS, get_board, load_pins
from spikeforge.synth.program import explain_loader_failure, program_board
from spikeforge.synth.targets import get_target

ICE40_SYNC = bytes.fromhex("7eaa997e")          # iCE40 configuration sync word
ECP5_PREAMBLE = bytes.fromhex("ffffbdb3")       # ECP5 bitstream preamble


@pytest.fixture(scope="module")
def iris_design(tmp_path_factory):
    path = tmp_path_factory.mktemp("design") / "iris-ann.json"
    save_network(convert_model("iris", codings=["ann"])["ann"], str(path))
    return path


@pytest.fixture(scope="module")
def iris_cp(iris_design):
    from spikeforge.models.network import load_network
    return CircuitParams(load_network(str(iris_design)), 1)


# ------------------------------------------------------------------ records and pin files

@pytest.mark.parametrize("name", sorted(BOARDS))
def test_boards_match_their_targets_and_pin_files(name):
    """Device and package of the amaranth-boards platform are the target's; the pin file's
    clock, UART and LEDs exist on the platform; the clock is the board's oscillator."""
    b = get_board(name)
    t = get_target(b.target)
    plat = b.new_platform()
    assert t.device in plat.device.lower().replace("ice40", "").replace("lfe5u-", "").replace("f", "k")
    if t.package:
        assert plat.package.lower() == t.package
    pins = load_pins(b)
    pins.apply(plat)
    assert plat.default_clk == pins.clock
    assert plat.default_clk_frequency == {"icebreaker": 12e6, "ulx3s": 25e6}[name]
    assert set(pins.leds) == {"idle", "busy", "error"}


@pytest.mark.parametrize("text,msg", [
    ("[clock\n", "not valid TOML"),
    ('[clock]\nresource = "clk12"\n[uart]\nresource = "uart"\n[pins]\n', "unknown section 'pins'"),
    ('[uart]\nresource = "uart"\n', "clock needs resource"),
    ('[clock]\nresource = "clk12"\n[uart]\nresource = "uart"\nnumber = -1\n', "number must be an integer"),
    ('[clock]\nresource = "clk12"\n[uart]\nresource = "uart"\n[leds]\nblink = { resource = "led" }\n',
     "takes idle, busy, error"),
    ('[clock]\nresource = "clk12"\n[uart]\nresource = "uart"\n[[resources]]\nname = "x"\nnumber = 0\n'
     'pin = "3"\n', "needs dir"),
])
def test_bad_pin_files_name_the_file_and_key(tmp_path, text, msg):
    f = tmp_path / "pins.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=msg) as e:
        load_pins("icebreaker", f)
    assert str(f) in str(e.value) or "TOML" in str(e.value)


def test_pin_file_resources_that_the_board_lacks(tmp_path, iris_cp):
    f = tmp_path / "pins.toml"
    f.write_text('[clock]\nresource = "clk12"\n[uart]\nresource = "uart"\nnumber = 3\n')
    with pytest.raises(ConfigError, match="uart: the board has no resource 'uart' number 3"):
        prepare_bitstream(iris_cp, "icebreaker", pins=f)
    f.write_text('[clock]\nresource = "clk99"\n[uart]\nresource = "uart"\n')
    with pytest.raises(ConfigError, match="no clock resource 'clk99'"):
        prepare_bitstream(iris_cp, "icebreaker", pins=f)
    with pytest.raises(ConfigError, match="unknown board 'arty'"):
        prepare_bitstream(iris_cp, "arty")


def test_own_pins_reach_the_constraint_file(tmp_path, iris_cp):
    """A UART on PMOD1A and an LED on PMOD1B, declared in a pin file, are what the
    plan's .pcf places; the board's own file gives the FTDI pins and the 12 MHz clock."""
    own = prepare_bitstream(iris_cp, "icebreaker").plan.files["spikeforge.pcf"]
    assert "set_io uart_0__rx__io 6" in own and "set_io uart_0__tx__io 9" in own
    assert "set_frequency clk12_0__io 12.0" in own
    f = tmp_path / "pins.toml"
    f.write_text('[clock]\nresource = "clk12"\n[uart]\nresource = "uart"\nnumber = 1\n'
                 '[leds]\nerror = { resource = "led_err", number = 0 }\n'
                 '[[resources]]\nname = "uart"\nnumber = 1\nrx = "1"\ntx = "2"\nconn = ["pmod", 0]\n'
                 '[[resources]]\nname = "led_err"\nnumber = 0\npin = "1"\ndir = "o"\nconn = ["pmod", 1]\n'
                 'attrs = { IO_STANDARD = "SB_LVCMOS" }\n')
    pcf = prepare_bitstream(iris_cp, "icebreaker", pins=f).plan.files["spikeforge.pcf"]
    assert "set_io uart_1__rx__io 4" in pcf and "set_io uart_1__tx__io 2" in pcf      # PMOD1A pins 1, 2
    assert "set_io led_err_0__io 43" in pcf                                          # PMOD1B pin 1
    assert "uart_0" not in pcf and "led_g" not in pcf
    lpf = prepare_bitstream(iris_cp, "ulx3s").plan.files["spikeforge.lpf"]
    assert 'LOCATE COMP "uart_0__rx__io" SITE "M1"' in lpf and 'FREQUENCY PORT "clk25_0__io" 25000000' in lpf


def test_multipliers_go_to_dsp_blocks_when_each_lane_has_one(iris_design):
    """As in the report's circuit section: -dsp on the iCE40 while every lane of every layer
    can have a DSP block (8 on the UP5K); Yosys's ECP5 flow maps multipliers itself."""
    from spikeforge.models.network import load_network
    net = load_network(str(iris_design))
    outs = [net.layers[i].n_out for i in net.dense_indices]
    assert sum(outs) > 8
    def synth_line(P, board):
        ys = prepare_bitstream(CircuitParams(net, P), board).plan.files["spikeforge.ys"]
        return next(l.strip() for l in ys.splitlines() if l.strip().startswith("synth_"))
    assert synth_line(1, "icebreaker") == "synth_ice40 -dsp -top spikeforge"
    assert synth_line(tuple(outs), "icebreaker").split() == ["synth_ice40", "-top", "spikeforge"]
    assert synth_line(1, "ulx3s").split() == ["synth_ecp5", "-top", "spikeforge"]


def test_baud_rates_the_clock_cannot_make(iris_cp):
    with pytest.raises(ConfigError, match="too fast for a 12000000 Hz clock"):
        prepare_bitstream(iris_cp, "icebreaker", baud=4_000_000)
    with pytest.raises(ConfigError, match="% off"):
        prepare_bitstream(iris_cp, "icebreaker", baud=650_000)      # 12 MHz / 18


# ------------------------------------------------------------------ building

def _check_bitstream(path, board):
    data = path.read_bytes()
    if board == "icebreaker":
        assert data.find(ICE40_SYNC) in range(0, 64)
    else:
        assert b"LFE5U-85F" in data[:64] and data.find(ECP5_PREAMBLE) in range(0, 64)


def test_build_the_iris_circuit_for_the_icebreaker(tmp_path, iris_design, iris_cp, capsys):
    """`spikeforge build`: bitstream, summary in text and JSON; the figures are the tools'
    (fits, meets 12 MHz); a second build is the cached one, byte for byte."""
    out = tmp_path / "out"
    assert main(["build", "--board", "icebreaker", "--design", str(iris_design), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    files = sorted(p.name for p in out.iterdir())
    assert files == ["iris-ann-icebreaker-build.json", "iris-ann-icebreaker-build.txt", "iris-ann-icebreaker.bin"]
    s = json.loads((out / "iris-ann-icebreaker-build.json").read_text())
    assert s["board"] == "icebreaker" and s["meets_timing"] and s["fmax_mhz"] >= 12
    assert 0 < s["logic_cells"] <= s["logic_cells_available"] == 5280
    assert s["pins"]["uart_0.rx"] == "6" and s["pins"]["uart_0.tx"] == "9" and s["pins"]["clk12_0"] == "35"
    assert s["divisor"] == 104 and s["design_hash"] == proto.design_hash(iris_cp).hex()
    assert (out / "iris-ann-icebreaker-build.txt").read_text().splitlines() == text.splitlines()[:-1]
    assert text.splitlines()[-1].startswith(f"written: {out / 'iris-ann-icebreaker.bin'}")
    assert "meets the board clock 12 MHz" in text and "of 5,280 logic cells" in text
    _check_bitstream(out / "iris-ann-icebreaker.bin", "icebreaker")
    first = (out / "iris-ann-icebreaker.bin").read_bytes()
    assert main(["build", "--board", "icebreaker", "--design", str(iris_design), "-o", str(out), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["cached"] and again["bitstream_sha256"] == s["bitstream_sha256"]
    assert (out / "iris-ann-icebreaker.bin").read_bytes() == first


def test_a_design_that_does_not_fit_names_the_resource(tmp_path, iris_design, capsys, monkeypatch):
    """nextpnr's own over-capacity report becomes the first line of the error (here a
    stand-in nextpnr prints it, as nextpnr-ice40 0.11 does); nothing is written."""
    fake = tmp_path / "nextpnr"
    fake.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "nextpnr stand-in"; exit 0; fi\n'
                    'echo "Info: Device utilisation:"\n'
                    'echo "Info:            ICESTORM_LC:  7073/ 5280   133%"\n'
                    'echo "Info:           ICESTORM_RAM:    14/   30    46%"\n'
                    'echo "ERROR: Unable to place cell" ; exit 1\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("NEXTPNR_ICE40", str(fake))
    out = tmp_path / "out"
    assert main(["build", "--board", "icebreaker", "--design", str(iris_design), "-o", str(out)]) == 3
    err = [l for l in capsys.readouterr().err.splitlines() if not l.startswith("[")]     # not progress
    assert err[0] == ("error: the design does not fit the iCEBreaker (iCE40UP5K): ICESTORM_LC 7,073 of 5,280 "
                      "(133 %) — try a smaller P or another coding")
    assert not out.exists()


def test_missing_the_board_clock_names_both_figures(tmp_path):
    s = BuildSummary(board="icebreaker", board_label="iCEBreaker", target="ice40-up5k", device="iCE40UP5K",
                     coding="ttfs", parallelism=[8, 2], design_hash="00", clock_mhz=12.0, fmax_mhz=10.4,
                     baud=115200, divisor=104)
    with pytest.raises(ConfigError, match=r"misses the iCEBreaker clock: 10.4 MHz < 12 MHz"):
        Bitstream(tmp_path / "x.bin", s, tmp_path).check()
    assert "MISSES the board clock 12 MHz" in "\n".join(s.lines())
    s.fmax_mhz = 12.0
    assert Bitstream(tmp_path / "x.bin", s, tmp_path).check() and s.meets_timing


@pytest.mark.slow
@pytest.mark.parametrize("board", sorted(BOARDS))
def test_digits_bitstream_for_each_board(tmp_path, board, capsys):
    """The digits 64-32-10 net in the fs coding (exact ReLU) at P = 1 fits both boards and
    meets their clocks (12 MHz iCEBreaker, 25 MHz ULX3S)."""
    path = tmp_path / "digits-fs.json"
    save_network(convert_model("digits", codings=["fs"])["fs"], str(path))
    out = tmp_path / "out"
    assert main(["build", "--board", board, "--design", str(path), "-o", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["meets_timing"] and s["logic_cells"] <= s["logic_cells_available"]
    assert s["bram"] <= get_target(get_board(board).target).capacity["bram"]
    _check_bitstream(out / s["bitstream"], board)


# ------------------------------------------------------------------ loading

def test_program_refuses_what_is_not_the_boards_bitstream(tmp_path, capsys):
    bit = tmp_path / "net-icebreaker.bin"
    assert main(["program", "--board", "icebreaker", str(bit)]) == 2
    assert "no bitstream file" in capsys.readouterr().err
    bit.write_bytes(b"\xff\x00")
    assert main(["program", "--board", "ulx3s", str(bit)]) == 2
    assert "takes a .bit bitstream" in capsys.readouterr().err
    (tmp_path / "net-icebreaker-build.json").write_text(json.dumps({"board": "ulx3s"}))
    with pytest.raises(ConfigError, match="was built for the ulx3s, not the icebreaker"):
        program_board("icebreaker", bit)


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_program_without_a_board_or_libusb_is_one_line(tmp_path, board, capsys):
    """The real openFPGALoader: this machine has no board on USB, and maybe not libusb; either
    way one line that says which, exit 3, and nothing written."""
    b = get_board(board)
    bit = tmp_path / f"x.{b.bitstream}"
    bit.write_bytes(b"\xff\x00" * 64)
    assert main(["program", "--board", board, str(bit)]) == 3
    err = [l for l in capsys.readouterr().err.splitlines() if l.startswith("error:")]
    assert len(err) == 1
    assert ("lacks libusb-1.0" in err[0] or "lacks libftdi" in err[0]
            or f"no {b.label} answered on USB" in err[0]), err
    assert sorted(p.name for p in tmp_path.iterdir()) == [bit.name]


def test_loader_failures_are_explained():
    b = get_board("ulx3s")
    assert "lacks libusb-1.0.so.0" in explain_loader_failure(
        "openFPGALoader: error while loading shared libraries: libusb-1.0.so.0: cannot open shared object file", 127, b)
    assert "no ULX3S-85F answered on USB" in explain_loader_failure(
        "empty\nunable to open ftdi device: -3 (device not found)\nJTAG init failed with: x", 1, b)
    assert explain_loader_failure("Error: bitstream too large", 1, b) == (
        "openFPGALoader failed (exit 1) loading the ULX3S-85F: Error: bitstream too large")


def test_a_loader_that_is_not_there(tmp_path, monkeypatch):
    bit = tmp_path / "x.bit"
    bit.write_bytes(b"\xff")
    monkeypatch.setenv("OPENFPGALOADER", str(tmp_path / "no-such-loader"))
    with pytest.raises(ToolError, match="OPENFPGALOADER=.* is not an executable"):
        program_board("ulx3s", bit)


# ------------------------------------------------------------------ the host on a silent port

def test_run_on_a_silent_port_is_one_line(tmp_path, iris_design, capsys):
    """A port that exists but never answers (a pseudo-terminal): the identity request times
    out with one line saying what to check, exit ≠ 0, nothing written."""
    master, slave = pty.openpty()
    try:
        code = main(["run", "--design", str(iris_design), "--port", os.ttyname(slave), "--samples", "1"])
    finally:
        os.close(master)
        os.close(slave)
    err = [l for l in capsys.readouterr().err.splitlines() if l.startswith("error:")]
    assert code != 0 and len(err) == 1, err
    assert "no reply" in err[0] or "time" in err[0], err
    assert sorted(p.name for p in iris_design.parent.iterdir()) == [iris_design.name]
