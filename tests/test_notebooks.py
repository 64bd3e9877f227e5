"""Every notebook is stored clean and opens with the same install and set-up cells."""

import ast
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_start_here.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path):
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


def cell(cells: list[dict], cell_id: str) -> dict:
    """The notebook cell with id `cell_id` (ids say what a cell is; tests find cells by them)."""
    found = [c for c in cells if c.get("id") == cell_id]
    assert len(found) == 1, f"no cell {cell_id!r}" if not found else f"{len(found)} cells {cell_id!r}"
    return found[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_opens_with_title_install_cell_then_setup(path):
    """The title (under the Colab badge), the install cell (tests/test_colab.py), then the setup cell: one
    import and `session = course_utils.setup("<this notebook>")`."""
    cells = json.loads(path.read_text())["cells"]
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).splitlines()[2].startswith("# ")
    code = [c for c in cells if c["cell_type"] == "code"]
    assert [c["id"] for c in code[:2]] == ["install-course", "setup"]
    imported, assigned = ast.parse("".join(cell(cells, "setup")["source"])).body
    assert [alias.name for alias in imported.names] == ["course_utils"]
    assert [target.id for target in assigned.targets] == ["session"]
    call = assigned.value
    assert ast.unparse(call.func) == "course_utils.setup" and [a.value for a in call.args] == [path.stem]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_cell_ids_say_what_the_cell_is_not_which_issue_added_it(path):
    ids = [c["id"] for c in json.loads(path.read_text())["cells"]]
    assert not [i for i in ids if re.fullmatch(r"i\d+-.*", i)], ids


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_cell_has_a_unique_id(path):
    # nbformat 4.5 requires cell ids; a cell added by hand without one is a warning today, an error later.
    cells = json.loads(path.read_text())["cells"]
    ids = [cell.get("id") for cell in cells]
    assert None not in ids and len(set(ids)) == len(ids)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_title_cell_gives_time_what_comes_before_the_figure_to_beat_and_the_glossary(path):
    title = "".join(json.loads(path.read_text())["cells"][0]["source"])
    for label in ("**Time:** printed under the setup cell", "**Before this:**", "**The figure to beat:**",
                  "[glossary](../GLOSSARY.md)"):
        assert label in title
    assert (path.parent / "../GLOSSARY.md").resolve().is_file()


@pytest.mark.parametrize("path", NOTEBOOKS[1:], ids=lambda p: p.stem)
def test_a_predict_first_prompt_comes_before_the_run_and_its_answer(path):
    cells = json.loads(path.read_text())["cells"]
    ids = [c["id"] for c in cells]
    prompt, answer = ids.index("predict-first"), ids.index("what-this-run-showed")
    assert cells[prompt]["cell_type"] == cells[answer]["cell_type"] == "markdown" and prompt < answer
    # The answer is the lesson's verdict: the code cell right after it shows it.
    shown = ast.parse("".join(cells[answer + 1]["source"])).body[-1].value
    assert ast.unparse(shown) == "lessons.show(session)"


def test_the_glossary_links_only_notebooks_that_exist():
    glossary = (NOTEBOOKS[0].parent.parent / "GLOSSARY.md").read_text()
    linked = {line.split("](notebooks/")[1].split(")")[0] for line in glossary.splitlines() if "](notebooks/" in line}
    assert linked == {path.name for path in NOTEBOOKS}
