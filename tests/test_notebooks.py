"""Every notebook is stored clean and opens with the same install and set-up cells."""

import json
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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_opens_with_title_install_cell_then_setup(path):
    """The title (under the Colab badge), the install cell (tests/test_colab.py), then setup()."""
    cells = json.loads(path.read_text())["cells"]
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).splitlines()[2].startswith("# ")
    install, first_code = [c for c in cells if c["cell_type"] == "code"][:2]
    assert install["id"] == "install-course"
    assert "".join(first_code["source"]).strip() == f'import course_utils\ncfg = course_utils.setup("{path.stem}")'


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
    prompt = [cell["id"] for cell in cells].index("predict-first")
    answer = next(i for i, cell in enumerate(cells) if "## What this run showed" in "".join(cell["source"]))
    assert "".join(cells[prompt]["source"]).startswith("**Predict first.**") and prompt < answer


def test_the_glossary_links_only_notebooks_that_exist():
    glossary = (NOTEBOOKS[0].parent.parent / "GLOSSARY.md").read_text()
    linked = {line.split("](notebooks/")[1].split(")")[0] for line in glossary.splitlines() if "](notebooks/" in line}
    assert linked == {path.name for path in NOTEBOOKS}
