"""The package's layers: imports go one way only.

    models ← hdl ← sim, synth ← report, sweep ← cli
    models ← api ← report, sweep, cli

``models`` never imports Amaranth; ``synth`` imports neither the API, the
report nor the co-simulation; there is no import cycle between layers, and
none between modules at module level. Checked twice: statically (every
``import`` and ``from`` statement, function-level ones included) and by
importing every module in a fresh process and reading what it loaded.
"""

import ast
import json
import pathlib
import subprocess
import sys
import textwrap
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

#: What each layer may import (itself included). ``root`` is spikeforge/__init__.py.
ALLOWED = {
    "models": {"models"},
    "constraints": {"constraints"},
    "hdl": {"hdl", "models"},
    "sim": {"sim", "hdl", "models"},
    "synth": {"synth", "hdl", "models"},
    "api": {"api", "models"},
    "report": {"report", "api", "synth", "sim", "hdl", "models"},
    "sweep": {"sweep", "api", "synth", "sim", "hdl", "models"},
    "host": {"host", "api", "sim", "hdl", "models"},
    "cli": {"cli", "api", "report", "sweep", "host", "synth", "sim", "hdl", "models"},
    "root": {"root", "api", "models"},
}
SUBPACKAGES = ("models", "hdl", "sim", "synth", "constraints", "report")
MODULES_OF_THE_ROOT = {"spikeforge.api": "api", "spikeforge.cli": "cli", "spikeforge.cli_board": "cli",
                       "spikeforge.cli_common": "cli", "spikeforge.cli_report": "cli",
                       "spikeforge.sweep": "sweep", "spikeforge.host": "host"}


def _package_dirs():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return {pkg: ROOT / folder for pkg, folder in cfg["package-dir"].items()}


def _modules():
    """Module name → source file, for every module under spikeforge (walking the package folders)."""
    dirs = _package_dirs()
    out = {}
    for pkg, folder in dirs.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if "__pycache__" not in rel.parts:
                out[".".join([pkg, *parts])] = path
    return out


MODULES = _modules()


def layer_of(module):
    if module == "spikeforge":
        return "root"
    if module in MODULES_OF_THE_ROOT:
        return MODULES_OF_THE_ROOT[module]
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in SUBPACKAGES:
        return parts[1]
    return None


def _resolve(name):
    """The longest known module that ``name`` starts with (None outside spikeforge)."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        cand = ".".join(parts[:k])
        if cand in MODULES:
            return cand
    return None


def imports_of(module):
    """(target, module_level) for every import statement of ``module`` (targets: full dotted names)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top = {id(n) for n in tree.body}
    for stmt in tree.body:                       # module level includes top-level if/try blocks
        if isinstance(stmt, (ast.If, ast.Try)):
            top |= {id(n) for n in ast.walk(stmt) if isinstance(n, (ast.Import, ast.ImportFrom))}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module
            for a in node.names:                 # `from X import Y`: Y may be a submodule
                full = f"{stem}.{a.name}"
                out.append((full if _resolve(full) == full else stem, id(node) in top))
    return out


def _edges(module_level_only=False):
    for m in MODULES:
        for target, top in imports_of(m):
            if module_level_only and not top:
                continue
            t = _resolve(target)
            if t is not None and t != m:
                yield m, t


def _cycle(graph):
    """One cycle of a directed graph {node: set(successors)} as a list, or None."""
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for s in sorted(graph.get(n, ())):
            if state.get(s) == 1:
                return stack[stack.index(s):] + [s]
            if s not in state:
                found = visit(s)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


# ------------------------------------------------------------ static scan

def test_the_walk_finds_every_subpackage():
    layers = {layer_of(m) for m in MODULES}
    assert set(ALLOWED) <= layers, set(ALLOWED) - layers
    assert "spikeforge.report.run" in MODULES and "spikeforge.synth.flow" in MODULES
    assert "spikeforge.models.simulate" in MODULES and "spikeforge.sweep" in MODULES


def test_every_module_has_a_layer():
    missing = [m for m in MODULES if layer_of(m) is None]
    assert not missing, f"modules outside every layer (add them to ALLOWED in this test): {missing}"


def test_imports_follow_the_layers():
    bad = [f"{m} ({layer_of(m)}) imports {t} ({layer_of(t)})" for m, t in _edges()
           if layer_of(t) not in ALLOWED[layer_of(m)]]
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_synth_imports_neither_api_report_nor_sim():
    bad = [(m, t) for m, t in _edges() if layer_of(m) == "synth"
           and t.startswith(("spikeforge.api", "spikeforge.report", "spikeforge.sim", "spikeforge.sweep",
                             "spikeforge.cli"))]
    assert not bad, bad


def test_models_never_import_amaranth():
    bad = [(m, t) for m in MODULES if layer_of(m) == "models"
           for t, _top in imports_of(m) if t.split(".")[0] == "amaranth"]
    assert not bad, bad


def test_no_cycle_between_layers():
    graph = {}
    for m, t in _edges():
        if layer_of(m) != layer_of(t):
            graph.setdefault(layer_of(m), set()).add(layer_of(t))
    assert _cycle(graph) is None, f"import cycle between layers: {' → '.join(_cycle(graph))}"


def test_no_module_level_cycle_between_modules():
    graph = {}
    for m, t in _edges(module_level_only=True):
        graph.setdefault(m, set()).add(t)
    assert _cycle(graph) is None, f"module-level import cycle: {' → '.join(_cycle(graph))}"


def test_the_checker_sees_function_level_and_relative_imports():
    """The scan itself: a function-level import counts, relative imports resolve."""
    edges = set(_edges())
    assert ("spikeforge.report.hardware", "spikeforge.sim.verify") in edges        # inside a function
    assert ("spikeforge.report.hardware", "spikeforge.synth.targets") in edges     # ..synth.targets
    assert ("spikeforge.report.run", "spikeforge.report.plots") in edges            # from . import plots
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


# ------------------------------------------------------------ fresh processes

_PROBE = textwrap.dedent("""
    import importlib, json, os, sys
    import spikeforge                      # every import of a submodule runs it first
    # the heavy third-party libraries once, before the forks (only spikeforge's own modules and
    # Amaranth are checked, so these change nothing but the time)
    for lib in ("numpy", "scipy.special", "sklearn.neural_network", "matplotlib.pyplot", "click",
                "cocotb", "cocotb_tools.runner"):
        try:
            importlib.import_module(lib)
        except ImportError:
            pass
    base = set(sys.modules)
    out = {"spikeforge": {"ok": True, "new": sorted(m for m in base if m.startswith("spikeforge")
                                                    or m.split(".")[0] == "amaranth")}}
    for name in json.loads(sys.argv[1]):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:                       # a fresh copy of the interpreter: import one module
            os.close(r)
            try:
                importlib.import_module(name)
                res = {"ok": True, "new": sorted(m for m in set(sys.modules) - base
                                                 if m.startswith("spikeforge") or m.split(".")[0] == "amaranth")}
            except BaseException as e:
                res = {"ok": False, "error": f"{type(e).__name__}: {e}"}
            with os.fdopen(w, "w") as f:
                json.dump(res, f)
            os._exit(0)
        os.close(w)
        with os.fdopen(r) as f:
            out[name] = json.loads(f.read() or '{"ok": false, "error": "no answer"}')
        os.waitpid(pid, 0)
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def loaded():
    """What importing each module loads, each in a fresh fork of an interpreter that ran ``spikeforge``."""
    names = sorted(m for m in MODULES if m != "spikeforge")
    p = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(names)], capture_output=True, text=True,
                       timeout=600, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_every_module_imports_in_a_fresh_process(loaded):
    bad = {m: r["error"] for m, r in loaded.items() if not r["ok"]}
    assert not bad, bad


def test_loaded_modules_follow_the_layers(loaded):
    root = {layer_of(m) for m in loaded["spikeforge"]["new"] if m.startswith("spikeforge")}
    assert root <= ALLOWED["root"] and "amaranth" not in loaded["spikeforge"]["new"]
    bad = []
    for m, r in loaded.items():
        if m == "spikeforge" or not r["ok"]:
            continue
        layers = {layer_of(x) for x in r["new"] if x.startswith("spikeforge")}
        if not layers <= ALLOWED[layer_of(m)]:
            bad.append(f"{m} loads {sorted(layers - ALLOWED[layer_of(m)])}")
        if layer_of(m) == "models" and "amaranth" in r["new"]:
            bad.append(f"{m} loads amaranth")
    assert not bad, bad


def test_package_tops_load_on_first_use():
    """``spikeforge`` and ``spikeforge.models`` load their names on first use: the testbench
    that every simulation's embedded Python imports (sim.bfm, models.errors) stays free of
    NumPy and the cores, and every public name and subpackage still resolves."""
    code = textwrap.dedent("""
        import sys, json
        import spikeforge.sim.bfm
        light = sorted(m for m in ("numpy", "spikeforge.models.registry", "spikeforge.api") if m in sys.modules)
        import spikeforge
        names = [n for n in spikeforge.__all__ if getattr(spikeforge, n) is None]
        sub = [spikeforge.models.fs.FSParams.__name__, spikeforge.api.__name__, spikeforge.hdl.__name__]
        missing = [hasattr(spikeforge, "no_such_name"), hasattr(spikeforge.models, "no_such_module")]
        print(json.dumps([light, names, sub, missing]))
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    light, names, sub, missing = json.loads(p.stdout)
    assert light == [] and names == [] and missing == [False, False]
    assert sub == ["FSParams", "spikeforge.api", "spikeforge.hdl"]
