"""course_utils.colab: every notebook's badge and install cell, and what the install cell does."""

import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from course_utils import colab

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_badge_and_install_cell_match_the_repository_address(path):
    repository = colab.repository_url(ROOT)
    cells = _cells(path)
    assert "".join(cells[0]["source"]).splitlines()[0] == colab.badge(repository, path.name)
    assert path.name in colab.badge(repository, path.name) and repository.split("github.com/")[1] in cells[0]["source"][0]
    install = next(i for i, c in enumerate(cells) if c.get("id") == colab.INSTALL_CELL_ID)
    assert "".join(cells[install]["source"]) == colab.install_cell(repository)
    # The install cell comes first, then the one setup() cell every notebook opens with.
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code[0]["id"] == colab.INSTALL_CELL_ID and code[1]["id"] == "setup"


def test_stamping_follows_a_changed_address(tmp_path):
    (tmp_path / "notebooks").mkdir()
    shutil.copy(NOTEBOOKS[1], tmp_path / "notebooks" / NOTEBOOKS[1].name)
    text = (ROOT / "pyproject.toml").read_text().replace(colab.repository_url(ROOT), "https://github.com/someone/fork")
    (tmp_path / "pyproject.toml").write_text(text)
    assert colab.stamp_all(tmp_path) == [tmp_path / "notebooks" / NOTEBOOKS[1].name]
    cells = _cells(tmp_path / "notebooks" / NOTEBOOKS[1].name)
    assert "github/someone/fork/blob/main/notebooks/" in cells[0]["source"][0]
    assert "git+https://github.com/someone/fork" in "".join(cells[1]["source"])
    assert sum(c.get("id") == colab.INSTALL_CELL_ID for c in cells) == 1
    assert colab.stamp_all(tmp_path) == []  # stamping twice changes nothing


def _run_install_cell(monkeypatch, missing: bool, returncode: int = 0):
    """Execute the install cell with pip replaced by a recorder; returns the pip calls."""
    calls = []

    def fake_run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, returncode, "", "ERROR: Could not find a version (no network)")

    monkeypatch.setattr(subprocess, "run", fake_run)
    if missing:
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "course_utils" else real(name, *a))
    exec(colab.install_cell(colab.repository_url(ROOT)), {})
    return calls


def test_install_cell_is_a_no_op_where_the_course_is_installed(monkeypatch):
    assert _run_install_cell(monkeypatch, missing=False) == []


def test_install_cell_keeps_this_machines_tensorflow(monkeypatch):
    monkeypatch.setenv("COURSE_INSTALL_SOURCE", "/somewhere/course")
    [command] = _run_install_cell(monkeypatch, missing=True)
    assert command[-2:] == ["/somewhere/course", f"tensorflow=={importlib.metadata.version('tensorflow')}"]


def test_install_cell_offline_says_what_to_do(monkeypatch):
    with pytest.raises(SystemExit) as stop:
        _run_install_cell(monkeypatch, missing=True, returncode=1)
    message = str(stop.value)
    assert "no network" in message and "COURSE_INSTALL_SOURCE" in message and "Traceback" not in message


def _install_offline(monkeypatch, source: str) -> str:
    """Run the install cell with the real pip where nothing can be downloaded; returns its message.

    The package index is a closed local port; pip's own configuration (extra indexes, local wheel
    folders) is set aside, so pip fails as on a machine without network, having installed nothing.
    """
    monkeypatch.setenv("COURSE_INSTALL_SOURCE", source)
    for name, value in {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
                        "PIP_RETRIES": "1", "PIP_DEFAULT_TIMEOUT": "5"}.items():
        monkeypatch.setenv(name, value)
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX"):
        monkeypatch.delenv(name, raising=False)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "course_utils" else real(name, *a))
    with pytest.raises(SystemExit) as stop:
        exec(colab.install_cell(colab.repository_url(ROOT)), {})
    return str(stop.value)


@pytest.mark.skipif(shutil.which("git") is None, reason="pip needs git for a git+ source")
def test_install_cell_offline_names_the_host_it_could_not_reach_not_pips_footer(monkeypatch):
    message = _install_offline(monkeypatch, "git+https://github.invalid/someone/course")  # .invalid never resolves
    assert message.startswith("Could not install the course (Could not resolve host: github.invalid). Offline, copy")
    assert "originates from a subprocess" not in message


def test_install_cell_offline_names_the_failed_connection_to_the_index(monkeypatch):
    message = _install_offline(monkeypatch, "course-utils-not-on-any-index")
    assert message.startswith("Could not install the course (Failed to establish a new connection: ")
    assert "Connection refused). Offline, copy" in message


# What pip 24 (Colab's in 2025) writes when git cannot reach the repository: its last line is boilerplate.
PIP_24_GIT_OFFLINE = """\
  Running command git clone --filter=blob:none --quiet https://github.com/someone/course /tmp/pip-req-build-x
  fatal: unable to access 'https://github.com/someone/course/': Could not resolve host: github.com
  error: subprocess-exited-with-error

  × git clone --filter=blob:none --quiet https://github.com/someone/course /tmp/pip-req-build-x did not run successfully.
  │ exit code: 128
  ╰─> See above for output.

  note: This error originates from a subprocess, and is likely not a problem with pip.
error: subprocess-exited-with-error

× git clone --filter=blob:none --quiet https://github.com/someone/course /tmp/pip-req-build-x did not run successfully.
│ exit code: 128
╰─> See above for output.

note: This error originates from a subprocess, and is likely not a problem with pip.
"""


@pytest.mark.parametrize("stderr, reason", [
    (PIP_24_GIT_OFFLINE, "Could not resolve host: github.com"),
    (PIP_24_GIT_OFFLINE.replace("unable to access 'https://github.com/someone/course/': Could not resolve host: "
                                "github.com", "repository 'https://github.com/someone/course/' not found"),
     "fatal: repository 'https://github.com/someone/course/' not found"),
    ("error: subprocess-exited-with-error\n× Building wheel did not run successfully.\n  setup.py: bad version\n"
     "note: This error originates from a subprocess, and is likely not a problem with pip.\n", "setup.py: bad version"),
    ("", "pip failed"),
])
def test_install_cell_quotes_the_line_that_explains(monkeypatch, stderr, reason):
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: subprocess.CompletedProcess(command, 1, "", stderr))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "course_utils" else real(name, *a))
    with pytest.raises(SystemExit) as stop:
        exec(colab.install_cell(colab.repository_url(ROOT)), {})
    assert str(stop.value).startswith(f"Could not install the course ({reason}). Offline, copy")
