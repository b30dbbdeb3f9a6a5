"""The model is documented in the repo: every citation of docs/ resolves, none points outside."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
SOURCES = [
    *ROOT.glob("apga_sim/**/*.py"),
    *ROOT.glob("tests/*.py"),
    *ROOT.glob("bench/*.py"),
    *ROOT.glob("notebooks/*.ipynb"),
    *ROOT.glob("scenarios/**/*.yaml"),
    ROOT / "README.md",
    *ROOT.glob("docs/*.md"),
]
OUTSIDE = ("algorithms" + ".md", "experiments" + ".md", "/work/" + "shared")


def test_nothing_cites_files_outside_the_repo():
    cited = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in SOURCES
        for name in OUTSIDE
        if name in path.read_text(encoding="utf-8")
    ]
    assert cited == []


def test_every_cited_doc_page_exists():
    pages = {
        match
        for path in SOURCES
        for match in re.findall(r"docs/[\w/-]+\.md", path.read_text(encoding="utf-8"))
    }
    assert pages, "docstrings cite docs/ pages"
    assert sorted(p for p in pages if not (ROOT / p).is_file()) == []


def test_links_between_doc_pages_resolve():
    for page in ROOT.glob("docs/*.md"):
        for target in re.findall(r"\]\(([\w/-]+\.md)\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).is_file(), f"{page.name} links to {target}"
