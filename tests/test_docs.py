"""The README and docs/: the README keeps the course's two commands and stays short, and every relative
link of the documentation (and of the notebooks' markdown) leads to a file that exists and, with an
#anchor, to a heading of it."""

import json
import re
from collections.abc import Iterator

import pytest

from conftest import ROOT, documentation

TWO_COMMANDS = ("make course              # set up, execute every notebook in order, write build/report/",
                "make test                # the tests: unit tests, then every notebook under nbval (smoke profile)")
README_MOST_LINES = 150  # a newcomer reads it in five minutes; the rest is in docs/, by reader

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def _markdown_pages() -> dict[str, str]:
    """Every page a reader follows links from: the README, docs/, the other top-level pages, and the
    markdown cells of the notebooks."""
    pages = dict(documentation())
    pages.update({page.name: page.read_text(encoding="utf-8") for page in sorted(ROOT.glob("*.md"))})
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        pages[f"notebooks/{notebook.name}"] = "\n\n".join(
            "".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")
    return pages


def _anchors(markdown: str) -> Iterator[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens,
    a repeated one numbered."""
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", FENCE.sub("", markdown), re.M):
        anchor = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        seen[anchor] = seen.get(anchor, -1) + 1
        yield anchor if seen[anchor] == 0 else f"{anchor}-{seen[anchor]}"


def _relative_links(markdown: str) -> list[str]:
    text = CODE_SPAN.sub("", FENCE.sub("", markdown))
    return [target for target in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def test_the_readme_keeps_the_two_commands_and_stays_short():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = readme.splitlines()
    for command in TWO_COMMANDS:
        assert command in lines, f"README.md has lost one of its two commands: {command}"
        target = command.split()[1]
        assert re.search(rf"^{target}:", (ROOT / "Makefile").read_text(), re.M), f"the Makefile has no `{target}`"
    assert len(lines) < README_MOST_LINES, f"README.md has {len(lines)} lines: move the detail into docs/"


def test_the_documentation_has_a_page_for_each_reader():
    assert {"README.md", "docs/learners.md", "docs/teachers.md", "docs/reports.md",
            "docs/maintainers.md"} <= set(documentation())


def test_the_link_checker_finds_links_and_anchors():
    page = "# A title\n\n## What `make course` writes\n\n## Notes\n\n## Notes\n\n```\n# not a heading\n```\n"
    assert set(_anchors(page)) == {"a-title", "what-make-course-writes", "notes", "notes-1"}
    text = "[a](docs/a.md#b) [`c`](c.ipynb), [web](https://x.org), `[d](e.md)`\n```\n[f](g.md)\n```\n"
    assert _relative_links(text) == ["docs/a.md#b", "c.ipynb"]


PAGES = _markdown_pages()


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page):
    links = _relative_links(PAGES[page])
    broken = []
    for link in links:
        path, _, anchor = link.partition("#")
        target = (ROOT / page).parent / path if path else ROOT / page
        if not target.resolve().exists():
            broken.append(f"{link}: no file {target.resolve().relative_to(ROOT.resolve())}")
        elif anchor and target.suffix == ".md" and anchor not in set(_anchors(target.read_text(encoding="utf-8"))):
            broken.append(f"{link}: no heading with the anchor #{anchor}")
    assert not broken, f"{page}: " + "; ".join(broken)
    if page == "README.md" or page.startswith("docs/"):
        assert links, f"{page} links nowhere: a link checker that finds no link checks nothing"
