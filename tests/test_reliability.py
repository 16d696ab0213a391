"""Reliability of the command line: outputs never destroy a user's files, every
failure is one line, interruptions and concurrent runs leave nothing behind.

Each test reproduces a failure a hostile-input run once found.
"""

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from spikeforge.cli import main
from spikeforge.models.io import TMP_PREFIX

EXE = os.path.join(os.path.dirname(sys.executable), "spikeforge")


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err):
    """The error is one line, the last on stderr (progress lines may precede it)."""
    lines = err.splitlines()
    return (bool(lines) and lines[-1].startswith("error: ") and err.endswith("\n")
            and sum(l.startswith("error") for l in lines) == 1 and "Traceback" not in err)


def leftovers(folder):
    return [n for n in os.listdir(folder) if n.startswith(TMP_PREFIX) or n.startswith(".tmp-")]


# ------------------------------------------------------------ output policy

def test_report_refuses_a_folder_with_foreign_files(tmp_path, capsys):
    u = tmp_path / "u"
    u.mkdir()
    (u / "precious.txt").write_text("x")
    code, _, err = run(capsys, "report", "--golden-only", "--quick", "--out", u)
    assert code == 2 and one_error_line(err), err
    assert "precious.txt" in err and "--force" in err
    assert os.listdir(u) == ["precious.txt"]


def test_report_force_replaces_only_its_own_files(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "precious.txt").write_text("x")
    code, _, err = run(capsys, "report", "--golden-only", "--quick", "--out", ".")
    assert code == 2 and "precious.txt" in err
    code, _, err = run(capsys, "report", "--golden-only", "--quick", "--out", ".", "--force")
    assert code == 0, err
    assert (tmp_path / "precious.txt").read_text() == "x"
    manifest = json.loads((tmp_path / ".spikeforge-report.json").read_text())
    assert "report.md" in manifest["files"] and "precious.txt" not in manifest["files"]
    for f in manifest["files"]:
        assert (tmp_path / f).is_file()
    assert leftovers(tmp_path) == []
    # a previous report is the report's own: a rerun replaces it without --force
    (tmp_path / "report.md").write_text("old")
    code, _, err = run(capsys, "report", "--golden-only", "--quick", "--out", ".")
    assert code == 2                                   # precious.txt is still foreign
    code, _, err = run(capsys, "report", "--golden-only", "--quick", "--out", tmp_path / "r")
    assert code == 0
    code, _, err = run(capsys, "report", "--golden-only", "--quick", "--out", tmp_path / "r")
    assert code == 0, err


def test_generate_refuses_special_files_and_links(tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "to-stdout"
    link.symlink_to("/dev/stdout")
    target = tmp_path / "real.v"
    target.write_text("keep")
    link2 = tmp_path / "link.v"
    link2.symlink_to(target)
    for out in (fifo, link, "/dev/null", link2, tmp_path):
        code, _, err = run(capsys, "generate", "fs", "-o", out)
        assert code == 2 and one_error_line(err), (out, err)
        assert "refusing" in err or "folder" in err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.path.islink(link) and os.path.islink(link2)
    assert target.read_text() == "keep"
    assert leftovers(tmp_path) == []


def test_outputs_respect_the_umask_and_keep_modes(tmp_path, capsys):
    old = os.umask(0o022)
    try:
        new = tmp_path / "new.v"
        assert run(capsys, "generate", "fs", "-o", new)[0] == 0
        assert stat.S_IMODE(os.stat(new).st_mode) == 0o644
        kept = tmp_path / "kept.v"
        kept.write_text("x")
        os.chmod(kept, 0o640)
        assert run(capsys, "generate", "fs", "-o", kept)[0] == 0
        assert stat.S_IMODE(os.stat(kept).st_mode) == 0o640
        rep = tmp_path / "rep"
        assert run(capsys, "report", "--golden-only", "--quick", "--out", rep)[0] == 0
        assert stat.S_IMODE(os.stat(rep).st_mode) == 0o755
        assert stat.S_IMODE(os.stat(rep / "designs").st_mode) == 0o755
        assert stat.S_IMODE(os.stat(rep / "report.md").st_mode) == 0o644
        os.umask(0o077)
        private = tmp_path / "private.v"
        assert run(capsys, "generate", "fs", "-o", private)[0] == 0
        assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    finally:
        os.umask(old)


def test_convert_blocked_name_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "iris-4-16-3-fs.json").mkdir(parents=True)
    code, _, err = run(capsys, "convert", "--model", "iris", "--out", out)
    assert code == 2 and one_error_line(err), err
    assert sorted(os.listdir(out)) == ["iris-4-16-3-fs.json"]
    assert os.listdir(out / "iris-4-16-3-fs.json") == []


def test_convert_replaces_same_names_and_keeps_the_rest(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("x")
    (out / "iris-4-16-3-ann.json").write_text("old")
    assert run(capsys, "convert", "--model", "iris", "--coding", "ann", "--out", out)[0] == 0
    assert (out / "mine.txt").read_text() == "x"
    assert json.loads((out / "iris-4-16-3-ann.json").read_text())["coding"] == "ann"
    assert leftovers(out) == []


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_report_leaves_nothing(tmp_path, sig, code):
    out = tmp_path / "rep"
    # the child starts with SIGINT's default action whatever this run inherited: a suite started
    # in the background by a shell ignores SIGINT, and so would the child (as POSIX asks)
    p = subprocess.Popen([EXE, "report", "--golden-only", "--out", str(out)], cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(4)
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode == code, err
    assert err.strip().splitlines()[-1] == "error: interrupted"
    assert "Traceback" not in err
    assert not out.exists()
    assert leftovers(tmp_path) == []


def test_training_keeps_an_ignored_sigint_ignored():
    """Training catches SIGINT to re-raise it after scikit-learn's fit, but a process that
    ignores SIGINT (a background job, nohup) must go on ignoring it."""
    from spikeforge.models.datasets import _interrupts_kept
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with _interrupts_kept():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with _interrupts_kept():
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"{TMP_PREFIX}{dead.pid}-abc"
    stale.mkdir()
    (stale / "half.json").write_text("{")
    stale_file = tmp_path / f"{TMP_PREFIX}{dead.pid}-x.v"
    stale_file.write_text("half")
    assert run(capsys, "generate", "fs", "-o", tmp_path / "fs.v")[0] == 0
    assert not stale.exists() and not stale_file.exists()


def test_sweep_tables_by_extension(tmp_path, capsys):
    from spikeforge.sweep import table_paths
    assert table_paths("s.jsonl") == ("s.csv", "s.jsonl")
    assert table_paths("a/s.csv") == ("a/s.csv", "a/s.jsonl")
    code, _, err = run(capsys, "sweep", "fs", "--axis", "K=4", "--out", tmp_path / "s.txt")
    assert code == 2 and ".csv or .jsonl" in err
    bad = tmp_path / "t.csv"
    bad.write_text("a,b\n1,2\n")
    code, _, err = run(capsys, "sweep", "fs", "--axis", "K=4", "--out", bad)
    assert code == 2 and "header differs" in err
    assert bad.read_text() == "a,b\n1,2\n"
    code, _, err = run(capsys, "sweep", "fs", "--axis", "K=4", "--target", "cmos", "--jobs", "1",
                       "--out", tmp_path / "s.jsonl")
    assert code == 0, err
    rows = [json.loads(l) for l in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["core"] == "fs"
    assert (tmp_path / "s.csv").read_text().splitlines()[0].startswith("core,target,params")


# ------------------------------------------------------------ tools

def _fake_tool(tmp_path, name, body):
    exe = tmp_path / name
    exe.write_text("#!/bin/sh\n" + body)
    exe.chmod(0o755)
    return str(exe)


def test_verilog_export_tool_failures_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AMARANTH_USE_YOSYS", "system")
    monkeypatch.setenv("YOSYS", "false")
    out = tmp_path / "fs.v"
    code, _, err = run(capsys, "generate", "fs", "-o", out)
    assert code == 3 and one_error_line(err) and "yosys" in err, err
    monkeypatch.setenv("YOSYS", _fake_tool(tmp_path, "yosys", 'echo "Yosys 0.40"\necho garbage\n'))
    code, _, err = run(capsys, "generate", "fs", "-o", out)
    assert code == 3 and one_error_line(err), err
    assert not out.exists() and leftovers(tmp_path) == []


def test_stuck_tool_is_stopped_with_its_children(tmp_path, capsys, monkeypatch):
    pidfile = tmp_path / "child.pid"
    stuck = _fake_tool(tmp_path, "stuck-yosys",
                       'case "$1" in -V) echo "Yosys 0.99 (stuck)"; exit 0;; esac\n'
                       f'sleep 300 & echo $! > {pidfile}\nwait\n')
    monkeypatch.setenv("YOSYS", stuck)
    monkeypatch.setenv("SPIKEFORGE_TOOL_TIMEOUT", "3")
    monkeypatch.setenv("SPIKEFORGE_CACHE", str(tmp_path / "cache"))
    t0 = time.monotonic()
    code, _, err = run(capsys, "synth", "fs", "--target", "cmos")
    assert time.monotonic() - t0 < 60
    assert code == 3 and one_error_line(err), err
    assert "within 3 s" in err and "SPIKEFORGE_TOOL_TIMEOUT" in err
    assert not running(int(pidfile.read_text()))


def running(pid):
    """Whether ``pid`` runs (a zombie waiting for a parent that never reaps it does not)."""
    for _ in range(50):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        if state in ("Z", "X"):
            return False
        time.sleep(0.1)
    return True


def test_bad_timeout_setting(capsys, monkeypatch):
    monkeypatch.setenv("SPIKEFORGE_TOOL_TIMEOUT", "soon")
    code, _, err = run(capsys, "synth", "fs", "--target", "cmos")
    assert code == 2 and "SPIKEFORGE_TOOL_TIMEOUT" in err


# ------------------------------------------------------------ the cache

def _synth_json(cache, *extra):
    env = {**os.environ, "SPIKEFORGE_CACHE": str(cache)}
    return subprocess.Popen([EXE, "synth", "fs", "--json", *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _figures(text):
    d = json.loads(text)
    return {k: d[k] for k in ("luts", "ffs", "carry", "logic_cells", "fmax_mhz", "transistors", "cells")}


def test_concurrent_synthesis_on_one_cold_cache(tmp_path):
    procs = [_synth_json(tmp_path / "cache", "--target", "ice40-up5k") for _ in range(4)]
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    figures = [_figures(o) for o, _ in outs]
    assert all(f == figures[0] for f in figures)
    assert figures[0]["luts"] > 0 and figures[0]["fmax_mhz"] > 0
    cached = [json.loads(o)["cached"] for o, _ in outs]
    assert cached.count(False) == 1, cached        # computed once, the others waited for it
    assert leftovers(tmp_path / "cache" / "synth") == []


@pytest.mark.parametrize("damage", ["truncate", "garble", "edit", "delete"])
def test_damaged_cache_entry_is_recomputed(tmp_path, capsys, monkeypatch, damage):
    monkeypatch.setenv("SPIKEFORGE_CACHE", str(tmp_path))
    code, out, err = run(capsys, "synth", "fs", "--target", "cmos", "--json")
    assert code == 0, err
    first = json.loads(out)
    entry = Path(first["log_dir"])
    res = entry / "result.json"
    if damage == "truncate":
        res.write_text(res.read_text()[:40])
    elif damage == "garble":
        res.write_bytes(b"\x00\xff" * 10)
    elif damage == "edit":
        d = json.loads(res.read_text())
        d["transistors"], d["ffs"] = 1, 0
        res.write_text(json.dumps(d, sort_keys=True))
    else:
        (entry / "integrity.json").unlink()
    code, out, err = run(capsys, "synth", "fs", "--target", "cmos", "--json")
    assert code == 0, err
    assert err.startswith("warning: ") and "damaged" in err
    again = json.loads(out)
    assert not again["cached"]
    assert again["transistors"] == first["transistors"] and again["ffs"] == first["ffs"]
    code, out, err = run(capsys, "synth", "fs", "--target", "cmos", "--json")
    assert json.loads(out)["cached"] and err == ""


def test_concurrent_reports_into_one_folder(tmp_path):
    out = tmp_path / "same"
    procs = [subprocess.Popen([EXE, "report", "--golden-only", "--quick", "--out", str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    manifest = json.loads((out / ".spikeforge-report.json").read_text())
    assert sorted(manifest["files"]) == sorted(
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != ".spikeforge-report.json")
    assert leftovers(out) == [] and leftovers(tmp_path) == []


# ------------------------------------------------------------ inputs: limits and hangs

def test_fifo_and_devices_as_inputs_do_not_block(tmp_path, capsys):
    fifo = tmp_path / "design.json"
    os.mkfifo(fifo)
    npz_fifo = tmp_path / "m.npz"
    os.mkfifo(npz_fifo)
    for args in (["evaluate", fifo], ["evaluate", "/dev/zero"], ["generate", "fs", "--from", fifo],
                 ["convert", "--model", npz_fifo, "--dataset", "iris", "--out", tmp_path / "o"]):
        code, _, err = run(capsys, *args)
        assert code == 2 and one_error_line(err) and "not a regular file" in err, (args, err)


def test_file_size_limit_names_its_variable(tmp_path, capsys, monkeypatch):
    big = tmp_path / "big.json"
    big.write_text(" " * (2 << 20) + "{}")
    monkeypatch.setenv("SPIKEFORGE_MAX_FILE_MB", "1")
    code, _, err = run(capsys, "evaluate", big)
    assert code == 2 and one_error_line(err) and "SPIKEFORGE_MAX_FILE_MB" in err, err


def test_zip_bomb_is_refused_before_unpacking(tmp_path):
    import zipfile
    bomb = tmp_path / "bomb.npz"
    n = 300 << 20                                  # 300 MiB of zeros, ~300 kB packed
    header = {"descr": "|u1", "fortran_order": False, "shape": (n,)}
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("w0.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, header)
            chunk = bytes(1 << 20)
            for _ in range(n >> 20):
                f.write(chunk)
    assert bomb.stat().st_size < 2 << 20
    code = ("import resource, sys\nfrom spikeforge.cli import main\n"
            f"rc = main(['convert', '--model', {str(bomb)!r}, '--dataset', 'iris', '--out', {str(tmp_path / 'o')!r}])\n"
            "print(rc, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    rc, rss_kb = map(int, p.stdout.split())
    assert rc == 2 and "beyond the limit" in p.stderr, p.stderr
    assert rss_kb < 600_000, f"peak RSS {rss_kb} kB"


def test_huge_declared_shape_is_refused(tmp_path, capsys):
    import zipfile
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as zf:
        with zf.open("w0.npy", "w") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False,
                                                     "shape": (100000, 100000)})
            f.write(bytes(64))
    code, _, err = run(capsys, "convert", "--model", path, "--dataset", "iris", "--out", tmp_path / "o")
    assert code == 2 and one_error_line(err), err
    assert "SPIKEFORGE_MAX_ARRAY_ELEMENTS" in err


def test_many_time_steps_run_in_bounded_chunks(monkeypatch):
    from spikeforge.api import convert_model
    from spikeforge.models.datasets import load_dataset
    from spikeforge.models.convert import quantize_inputs
    from spikeforge.models.errors import ConfigError
    from spikeforge.models.evaluate import chunk_size, run_chunked
    from spikeforge.models.simulate import run_network
    net = convert_model("iris", codings=["if"], time_steps=64)["if"]
    x = quantize_inputs(load_dataset("iris").x_test, 8)
    monkeypatch.setenv("SPIKEFORGE_MAX_RUN_ELEMENTS", str(64 * 16 * 5))
    assert chunk_size(net, len(x)) == 5
    whole, parts = run_network(net, x), run_chunked(net, x)
    np.testing.assert_array_equal(whole.scores, parts.scores)
    assert whole.total == parts.total
    for a, b in zip(whole.layers, parts.layers):
        assert a.counts == b.counts
    monkeypatch.setenv("SPIKEFORGE_MAX_RUN_ELEMENTS", "100")
    with pytest.raises(ConfigError, match="SPIKEFORGE_MAX_RUN_ELEMENTS"):
        chunk_size(net, len(x))


def test_huge_float_input_is_named_not_wrapped():
    from spikeforge import FSParams, fs_golden
    from spikeforge.models.errors import ConfigError
    with pytest.raises(ConfigError, match=r"^x holds 1e\+30, beyond the int64 range$"):
        fs_golden(FSParams.relu(K=8, x_bits=12), np.array([1e30]))


def test_tool_versions_follow_the_executable(tmp_path, monkeypatch):
    """A tool chosen through the environment has its own version (and so its own cache keys):
    a fake Yosys seen earlier in the process must not stand in for the real one later."""
    from spikeforge.synth.flow import tool_versions
    real = tool_versions(["yosys"])["yosys"]
    monkeypatch.setenv("YOSYS", _fake_tool(tmp_path, "other-yosys", 'echo "Yosys 9.99 (other)"\n'))
    assert tool_versions(["yosys"])["yosys"] == "Yosys 9.99 (other)"
    monkeypatch.delenv("YOSYS")
    assert tool_versions(["yosys"])["yosys"] == real
