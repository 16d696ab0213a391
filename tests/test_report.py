"""``spikeforge report`` writes every file it promises, and its three documents agree.

Two runs of the command: ``--golden-only --quick`` (seconds) and ``--quick``
with co-simulation and synthesis (a few minutes from a cold cache). Each
checks the files (report.md, report.html, report.json, every figure,
designs/*.json, nothing else) and that every table cell of report.md reads the
same in report.html and that its numbers are values of report.json.

The hardware run uses the default synthesis cache (``SPIKEFORGE_CACHE`` or
``~/.cache/spikeforge``), as a user's run does: the cache is keyed by the
hash of the Verilog, the commands and the tool versions, and verified by
SHA-256 (tested in test_reliability.py), so a warm cache gives the same
numbers and keeps repeated CI runs short.
"""

import html.parser
import json
import os
import re
import subprocess
import sys

import pytest

EXE = os.path.join(os.path.dirname(sys.executable), "spikeforge")
CODINGS = ("fs", "amos", "ttfs", "lif", "if", "ann")
NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def numbers_of(cell):
    """The numbers of a numeric table cell (``1,366``, ``97.37 %``, ``86.50–99.53 %``,
    ``21 LC / 15 FF``); none for a label such as ``hidden layer 1``."""
    t = cell
    for unit in (" LC", " FF", " %"):
        t = t.replace(unit, "")
    parts = t.replace("/", " ").replace("–", " ").split()
    return parts if parts and all(NUMBER.fullmatch(x) for x in parts) else []


def _run_report(out, *extra):
    p = subprocess.run([EXE, "report", "--quick", "--out", str(out), *extra], capture_output=True,
                       text=True, timeout=1200)
    assert p.returncode == 0, p.stderr[-3000:]
    return p


@pytest.fixture(scope="module")
def golden_only(tmp_path_factory):
    out = tmp_path_factory.mktemp("golden") / "rep"
    return out, _run_report(out, "--golden-only")


@pytest.fixture(scope="module")
def hardware(tmp_path_factory):
    out = tmp_path_factory.mktemp("hardware") / "rep"
    return out, _run_report(out)


# ------------------------------------------------------------ parsing the documents

def markdown_tables(text):
    """Every table of a Markdown document as (headers, rows), rows as lists of cell strings."""
    tables, lines = [], text.splitlines()
    k = 0
    while k < len(lines):
        if lines[k].startswith("| ") and k + 1 < len(lines) and lines[k + 1].startswith("|---"):
            split = lambda line: [c.strip() for c in line.strip().strip("|").split(" | ")]
            headers, rows, k = split(lines[k]), [], k + 2
            while k < len(lines) and lines[k].startswith("| "):
                rows.append(split(lines[k]))
                k += 1
            tables.append((headers, rows))
        else:
            k += 1
    return tables


class _HTMLTables(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self.images, self._cell = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append(([], []))
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr":
            headers, rows = self.tables[-1]
            if headers:
                rows.append(self._row)
            else:
                headers.extend(self._row)

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def html_tables(text):
    p = _HTMLTables()
    p.feed(text)
    return p.tables, p.images


def json_subtrees(v):
    """Every dict and list of a JSON document (the root first)."""
    yield v
    children = v.values() if isinstance(v, dict) else v if isinstance(v, list) else ()
    for c in children:
        if isinstance(c, (dict, list)):
            yield from json_subtrees(c)


def shown(v):
    """The ways a JSON number is shown in a table: as is (ints with separators, floats with two
    decimals) or as a percentage with two decimals."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return set()
    out = {f"{100 * v:.2f}"}
    out.add(f"{v:,}" if isinstance(v, int) else f"{v:,.2f}")
    return out


def leaves_shown(v):
    out = set()
    for s in json_subtrees(v):
        for c in (s.values() if isinstance(s, dict) else s):
            out |= shown(c)
    return out


def check_documents(out):
    md = (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    data = json.loads((out / "report.json").read_text())
    md_t = markdown_tables(md)
    html_t, images = html_tables(page)
    assert md_t, "report.md has no tables"
    # the same tables, cell for cell, in Markdown and HTML
    assert [h for h, _ in md_t] == [h for h, _ in html_t]
    for (h, rows_md), (_h, rows_html) in zip(md_t, html_t):
        assert rows_md == rows_html, h[0]
    # every number of every row is a value of one part of report.json (not the whole document)
    parts = [(s, leaves_shown(s)) for s in json_subtrees(data) if s is not data]
    checked = 0
    for headers, rows in md_t:
        for row in rows:
            numbers = [n for c in row[1:] for n in numbers_of(c)]
            if not numbers:
                continue
            assert any(set(numbers) <= values for _s, values in parts), \
                f"row {row[:2]} of the table {headers[:3]}: numbers {numbers} not all in one part of report.json"
            checked += len(numbers)
    assert checked > 50
    return md, images, data


# ------------------------------------------------------------ the tests

def _files(out):
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def _check_files(out, data, md, images):
    figures = [f["file"] for f in data["figures"]]
    net = data["golden"]["network"]
    designs = [f"designs/{net}-{c}.json" for c in CODINGS]
    expected = sorted(["report.md", "report.html", "report.json", ".spikeforge-report.json", *figures, *designs])
    assert _files(out) == expected
    manifest = json.loads((out / ".spikeforge-report.json").read_text())
    assert sorted(manifest["files"]) == sorted(set(expected) - {".spikeforge-report.json"})
    assert images == figures
    for f in figures:
        assert f"]({f})" in md
        head = (out / f).read_bytes()[:8]
        assert head == b"\x89PNG\r\n\x1a\n" and (out / f).stat().st_size > 10_000, f
    for d in designs:
        assert json.loads((out / d).read_text())["coding"] == d.rsplit("-", 1)[1][:-5]
    return figures


def test_golden_only_report(golden_only):
    out, proc = golden_only
    md, images, data = check_documents(out)
    figures = _check_files(out, data, md, images)
    assert figures == ["report.png", "pareto.png", "spikes_per_layer.png"]
    assert not {"cores", "k_sweep", "network", "circuits"} & set(data)
    assert "report written to" in proc.stdout


def test_hardware_report(hardware):
    out, proc = hardware
    md, images, data = check_documents(out)
    figures = _check_files(out, data, md, images)
    assert "area_vs_k.png" in figures and "circuits.png" in figures
    assert {"cores", "k_sweep", "network", "circuits"} <= set(data)
    # network circuits: every coding with an engine (co-simulated: a mismatch fails the report)
    from spikeforge.models.registry import CORES
    rows = data["circuits"]["rows"]
    assert sorted(r["coding"] for r in rows) == sorted(c.name for c in CORES.values() if c.engine)
    for r in rows:
        assert r["fits_up5k"] and r["ice40"]["bram"] >= 1 and r["ice40"]["fmax_mhz"] > 10, r
        assert r["cycles_measured"] >= r["lower_bound"] * 0.8 and r["energy_pj"] > 0
    assert "as one circuit, per coding and parallelism P" in md
    # like with like: activation units and layer cores in separate tables
    kinds = {r["core"]: r["kind"] for r in data["cores"]["rows"]}
    assert kinds == {"fs": "activation unit", "amos": "activation unit", "ttfs": "layer core",
                     "lif": "layer core", "if": "layer core", "ann": "layer core"}
    assert "### Activation units" in md and "### Layer cores" in md
    # the Iris caveat and, when TTFS loses to the ANN, its explanation
    n = data["network"]
    assert f"rests on {n['test_samples']} test samples" in md
    ttfs = next(r for r in n["rows"] if r["coding"] == "ttfs")
    if ttfs["energy_x_area_vs_ann"] > 1:
        assert "event-driven TTFS engine" in md and "state updates" in md
    assert "Energy model:" in md
    # progress lines without a terminal name the task and what each job is
    assert re.search(r"area against K: \[\d+/\d+\] \w+ at K = \d+", proc.stderr)
    assert re.search(r"synthesizing the iris layers: \[\d+/\d+\] \w+ layer \d+ on", proc.stderr)


def test_table_parsers_see_a_difference():
    """The comparison can fail: a changed cell or a number absent from the JSON is found."""
    md = "| a | b |\n|---|---|\n| x | 1.50 |\n"
    page = "<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>x</td><td>1.5</td></tr></tbody></table>"
    assert markdown_tables(md)[0][1] != html_tables(page)[0][0][1]
    assert "1.50" in leaves_shown({"r": {"v": 1.5}}) and "1.50" not in leaves_shown({"r": {"v": 1.49}})
    assert "150.00" in leaves_shown({"acc": 1.5}) and "1,234" in leaves_shown([1234])
    assert numbers_of("21 LC / 15 FF") == ["21", "15"] and numbers_of("86.50–99.53 %") == ["86.50", "99.53"]
    assert numbers_of("hidden layer 1") == [] and numbers_of("—") == [] and numbers_of("1,366") == ["1,366"]


# ------------------------------------------------------------ the report's job pool

def _record(path, name, *, may_defer=False):
    """A pool job: appends its name (and whether it could step aside) to a file."""
    with open(path, "a") as f:
        f.write(f"{name} {int(may_defer)}\n")
    return name.upper()


def _busy_once(path, name, *, may_defer=False):
    """Answers BUSY the first time it may step aside, then runs."""
    from spikeforge.report.pool import BUSY
    seen = os.path.exists(path) and f"{name} busy" in open(path).read()
    if may_defer and not seen:
        with open(path, "a") as f:
            f.write(f"{name} busy\n")
        return BUSY
    return _record(path, name, may_defer=may_defer)


def _sleeps(seconds, name, *, may_defer=False):
    import time
    time.sleep(seconds)
    return name


def test_pool_names_long_running_jobs():
    """While no job finishes for ``heartbeat`` seconds, the pool says which jobs are running."""
    from spikeforge.report.pool import JobPool
    seen = []
    pool = JobPool(workers=2, progress=lambda *a, **k: seen.append(a), heartbeat=0.2)
    pool.add(_sleeps, (1.0, "long synthesis"), task="t", name="long synthesis", cost=2)
    pool.add(_sleeps, (0.0, "short"), task="t", name="short", cost=1)
    pool.run()
    notes = [a[0] for a in seen if len(a) == 1]
    assert notes and all(n.startswith("still running: long synthesis (") for n in notes), seen
    assert ("long synthesis", 2, 2) in seen


def _fails(path, name, *, may_defer=False):
    raise ValueError(f"{name} failed")


def test_pool_runs_longest_first_and_reports_each_job(tmp_path):
    from spikeforge.report.pool import JobPool
    log = tmp_path / "log"
    seen = []
    pool = JobPool(workers=1, progress=lambda *a, **k: seen.append((a, k)))
    jobs = [pool.add(_record, (str(log), n), task="t" + n[0], name=n, cost=c)
            for n, c in (("a-short", 1), ("b-long", 9), ("a-middle", 5))]
    pool.run()
    assert [l.split()[0] for l in log.read_text().splitlines()] == ["b-long", "a-middle", "a-short"]
    assert [j.result for j in jobs] == ["A-SHORT", "B-LONG", "A-MIDDLE"]
    assert (("a-short", 2, 2), {"task": "ta"}) in seen and (("b-long", 1, 1), {"task": "tb"}) in seen
    pool.run()                                     # nothing left to run
    assert len(log.read_text().splitlines()) == 3


def test_pool_puts_a_busy_job_back_and_runs_it_last(tmp_path):
    from spikeforge.report.pool import JobPool
    log = tmp_path / "log"
    pool = JobPool(workers=1)
    first = pool.add(_busy_once, (str(log), "twin"), task="t", name="twin", cost=9)
    others = [pool.add(_record, (str(log), n), task="t", name=n, cost=c) for n, c in (("x", 5), ("y", 1))]
    pool.run()
    assert log.read_text().splitlines() == ["twin busy", "x 1", "y 1", "twin 0"]
    assert first.result == "TWIN" and first.deferred == 1 and [o.result for o in others] == ["X", "Y"]


def test_pool_stops_at_a_failing_job(tmp_path):
    from spikeforge.report.pool import JobPool
    pool = JobPool(workers=1)
    pool.add(_fails, (str(tmp_path), "bad"), task="t", name="bad", cost=9)
    later = pool.add(_record, (str(tmp_path / "log"), "later"), task="t", name="later", cost=1)
    with pytest.raises(ValueError, match="bad failed"):
        pool.run()
    assert not later.done and not (tmp_path / "log").exists()


def test_a_job_steps_aside_only_while_there_is_other_work(tmp_path, monkeypatch):
    """A synthesis job whose plan another process has claimed answers BUSY when it may step
    aside, and otherwise runs."""
    from spikeforge.report.pool import BUSY, claimed
    from spikeforge.synth.flow import prepare
    monkeypatch.setenv("SPIKEFORGE_CACHE", str(tmp_path))
    plan = prepare("module m(input a, output b); assign b = a; endmodule\n", "m", "ecp5-85f")
    with plan.claim() as held:
        assert held
        assert claimed([plan], True, lambda: "ran") == BUSY
        assert claimed([plan], False, lambda: "ran") == "ran"
    assert claimed([plan], True, lambda: "ran") == "ran"


# ------------------------------------------------------------ the network-circuit section

def test_circuit_parallelisms_default_and_full():
    """P = 1 by default; the full set adds a quarter of each layer and all neurons, once each."""
    from types import SimpleNamespace as NS

    from spikeforge.report.circuits import P_NAMES, parallelisms
    net = NS(layers=[NS(n_out=32), NS(n_out=10)], dense_indices=[0, 1])
    assert parallelisms(net) == [("1", (1, 1))]
    assert parallelisms(net, P_NAMES) == [("1", (1, 1)), ("middle", (8, 2)), ("all", (32, 10))]
    small = NS(layers=[NS(n_out=3)], dense_indices=[0])       # its middle is P = 1
    assert parallelisms(small, P_NAMES) == [("1", (1,)), ("all", (3,))]


def test_does_not_fit_cells_name_the_cells_needed():
    """A circuit nextpnr found too big shows the logic cells it needed, not "failed"."""
    from spikeforge.report.document import _synth_cell
    from spikeforge.synth.flow import DoesNotFit, overfull
    log = ("Info: Device utilisation:\nInfo:     ICESTORM_LC:  7073/ 5280   133%\n"
           "Info:     ICESTORM_RAM:    12/   30    40%\n")
    e = DoesNotFit(f"the design does not fit ice40-up5k: {'; '.join(overfull(log))}\nnextpnr-ice40 failed")
    assert e.resources() == {"ICESTORM_LC": [7073, 5280]}
    d = {"error": str(e).splitlines()[0], "over": e.resources()}
    assert _synth_cell(d, "logic_cells") == "7,073 of 5,280" and _synth_cell(d, "fmax_mhz") == "–"
    assert _synth_cell({"error": "yosys failed"}, "logic_cells") == "failed"
    assert _synth_cell({"logic_cells": 12}, "logic_cells") == 12


def test_full_is_refused_with_quick():
    p = subprocess.run([EXE, "report", "--quick", "--full", "--out", "x"], capture_output=True, text=True)
    assert p.returncode == 2 and "--full cannot be combined with --quick" in p.stderr


def test_circuit_section_with_a_circuit_that_does_not_fit(tmp_path):
    """The Markdown rows, the note and the figure of a section where one circuit does not fit
    the UP5K: its cell shows the logic cells it needed, the figure names it under the axes."""
    from types import SimpleNamespace as NS

    from spikeforge.report.document import _circuits
    from spikeforge.report.plots import circuit_pareto_figure
    from spikeforge.report.records import CircuitRow, CircuitSection

    def row(coding, ice, fits, lat):
        return CircuitRow(coding=coding, p_name="1", parallelism=[1, 1], accuracy=0.9, accuracy_ci95=[0.8, 0.95],
                          agreement=0.97, cycles=100.0, cycles_measured=100.0, lower_bound=90.0,
                          cycles_vs_bound=1.1, spikes=10.0, synaptic_ops=50.0, energy_pj=5.0,
                          energy_parts_pj={}, ice40=ice, ecp5={"luts": 900, "ffs": 700, "fmax_mhz": 50.0},
                          fits_up5k=fits, latency_us=lat)
    over = {"error": "the design does not fit ice40-up5k: ICESTORM_LC 6,179 of 5,280 (117 %)",
            "over": {"ICESTORM_LC": [6179, 5280]}}
    s = CircuitSection(dataset="digits", test_samples=450, cosim_samples=50, energy_model="e", targets=["a"],
                       rows=[row("ann", {"logic_cells": 1208, "fmax_mhz": 41.0}, True, 2.5),
                             row("lif", over, False, None)])
    blocks = _circuits(s)
    table = next(b for b in blocks if b[0] == "table")
    lif = next(r for r in table[2] if r[0] != "integer ANN (MAC)")
    assert lif[3] == "6,179 of 5,280" and lif[8] == "–" and lif[10] == 900
    text = " ".join(b[1] for b in blocks if b[0] == "p")
    assert "lif at P = 1: the design does not fit ice40-up5k: ICESTORM_LC 6,179" in text
    assert "here P = 1; `spikeforge report --full` adds" in text
    circuit_pareto_figure(NS(circuits=s), tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 1000
