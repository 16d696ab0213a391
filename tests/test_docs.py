"""The documentation in docs/: one page per registered core, module docstrings
that point to it, links that resolve, and no citation of files outside the
repository."""

import ast
import dataclasses
import importlib.util
import pathlib
import re

import pytest

import spikeforge.models  # noqa: F401  (registers the cores)
from spikeforge.models.registry import core_names, get_core
from spikeforge.models.lfsr import LFSRParams, RateEncoderParams

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CORES = core_names()

# Spelled in pieces so that this file does not match its own search.
FORBIDDEN = ("SPEC" + " §", "SPEC" + "§", ".." + "/shared", "SPEC" + ".md")
SCANNED = ("models", "hdl", "sim", "synth", "spikeforge", "tests", "benchmarks", "docs")
DOC_REF = re.compile(r"docs/(?:cores/)?[\w.-]+\.md")


def _module_file(name):
    return pathlib.Path(importlib.util.find_spec(name).origin)


def _docstring(path):
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


def _core_modules(core):
    """Source files of a core: its golden model and its RTL generator."""
    files = [_module_file(get_core(core).golden.__module__)]
    files.append(_module_file(get_core(core).resolve("component").__module__))
    return files


@pytest.mark.parametrize("core", CORES)
def test_every_core_has_a_page(core):
    page = DOCS / "cores" / f"{core}.md"
    assert page.is_file(), f"core {core!r} has no docs/cores/{core}.md"


@pytest.mark.parametrize("core", CORES)
def test_core_page_documents_every_parameter_field(core):
    cls = get_core(core).params
    text = (DOCS / "cores" / f"{core}.md").read_text(encoding="utf-8")
    assert f"`{cls.__name__}`" in text
    missing = [f.name for f in dataclasses.fields(cls) if f"`{f.name}`" not in text]
    assert not missing, f"docs/cores/{core}.md does not document {cls.__name__} field(s) {missing}"


def test_lif_page_documents_the_rate_encoder():
    text = (DOCS / "cores" / "lif.md").read_text(encoding="utf-8")
    for cls in (LFSRParams, RateEncoderParams):
        assert f"`{cls.__name__}`" in text
        missing = [f.name for f in dataclasses.fields(cls) if f"`{f.name}`" not in text]
        assert not missing, f"docs/cores/lif.md does not document {cls.__name__} field(s) {missing}"


@pytest.mark.parametrize("core", CORES)
def test_core_module_docstrings_point_to_the_page(core):
    for path in _core_modules(core):
        assert f"docs/cores/{core}.md" in _docstring(path), \
            f"the module docstring of {path.relative_to(ROOT)} does not point to docs/cores/{core}.md"


@pytest.mark.parametrize("module,page", [
    ("spikeforge.models.lfsr", "docs/cores/lif.md"),
    ("spikeforge.hdl.lfsr", "docs/cores/lif.md"),
    ("spikeforge.models.network", "docs/network.md"),
    ("spikeforge.models.simulate", "docs/network.md"),
    ("spikeforge.models.convert", "docs/network.md"),
    ("spikeforge.models.energy", "docs/network.md"),
])
def test_other_module_docstrings_point_to_their_page(module, page):
    assert page in _docstring(_module_file(module))


def _sources():
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".md"):
                yield path
    yield ROOT / "README.md"


def test_docs_pages_referenced_from_sources_exist():
    """Every docs/….md named in a source file or docs page is there."""
    for path in _sources():
        for ref in DOC_REF.findall(path.read_text(encoding="utf-8")):
            assert (ROOT / ref).is_file(), f"{path.relative_to(ROOT)} refers to {ref}, which does not exist"


def test_relative_links_in_docs_resolve():
    for page in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = (page.parent / target.split("#", 1)[0]).resolve()
            assert path.exists(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"


def test_no_citation_of_files_outside_the_repository():
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        for word in FORBIDDEN:
            assert word not in text, f"{path.relative_to(ROOT)} mentions {word!r}; cite docs/ instead"
