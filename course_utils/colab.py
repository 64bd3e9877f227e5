"""The two cells every notebook opens with for Google Colab: the badge and the install cell.

Both are built from the course's repository address, kept in one place:
`[project.urls] Repository` in `pyproject.toml`. After changing it, re-stamp
every notebook with `python -m course_utils badges`; `tests/test_colab.py`
checks that the notebooks and the address agree.
"""

from __future__ import annotations

import re
from pathlib import Path

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
INSTALL_CELL_ID = "install-course"

# The install cell, the same in every notebook. It must run where the course is not installed,
# so it uses the standard library only. It keeps the machine's TensorFlow: pip would otherwise
# pair TensorFlow Hub's tf-keras with the newest TensorFlow and replace Colab's own build.
INSTALL_CELL = '''\
#@title Install the course (Google Colab; where the course is installed, this cell does nothing)
import importlib.util
if importlib.util.find_spec("course_utils") is None:
    import importlib.metadata, os, re, subprocess, sys
    source = os.environ.get("COURSE_INSTALL_SOURCE", "git+{repository}")
    try:
        keep = [f"tensorflow=={{importlib.metadata.version('tensorflow')}}"]
    except importlib.metadata.PackageNotFoundError:
        keep = []
    print(f"Installing the course from {{source}}, keeping this machine's TensorFlow ...")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", source, *keep], capture_output=True, text=True)
    if pip.returncode != 0:
        # The line that explains, not pip's last one ("note: This error originates from a subprocess ..."):
        # a network failure first, then git's or pip's own error, then the last line that is not decoration.
        lines = [line.strip() for line in pip.stderr.splitlines() if line.strip()]
        offline = re.compile(r"(Could not resolve host|Temporary failure in name resolution|Name or service not known|"
                             r"Failed to establish a new connection|Network is unreachable|No route to host|"
                             r"timed out)[^'\\"]*")
        reasons = [found.group(0) for found in map(offline.search, lines) if found]
        reasons += [line for line in lines if line.startswith(("fatal:", "ERROR:"))]
        decoration = ("note:", "hint:", "error:", "×", "│", "╰", "[")
        reasons += [line for line in lines if not line.startswith(decoration)][-1:]
        reason = (reasons + ["pip failed"])[0]
        raise SystemExit(f"Could not install the course ({{reason}}). Offline, copy the course's folder to this "
                         "machine and set COURSE_INSTALL_SOURCE to it (or run `pip install <folder>`), then run this cell again.")
    importlib.invalidate_caches()'''


def repository_url(root: Path) -> str:
    """The course's repository address, from `[project.urls] Repository` in `root/pyproject.toml`."""
    text = (Path(root) / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^\s*Repository\s*=\s*"([^"]+)"', text, flags=re.MULTILINE)
    if not match:
        raise ValueError(f"no `Repository = \"...\"` under [project.urls] in {root / 'pyproject.toml'}")
    return match.group(1).rstrip("/")


def badge(repository: str, notebook: str) -> str:
    """The "Open in Colab" badge (one Markdown line) of `notebook` (a file name) in `repository`."""
    path = re.sub(r"^https://github\.com/", "", repository)
    return f"[![Open In Colab]({BADGE_IMAGE})](https://colab.research.google.com/github/{path}/blob/main/notebooks/{notebook})"


def install_cell(repository: str) -> str:
    """The install cell's source for `repository`."""
    return INSTALL_CELL.format(repository=repository)


def stamp(path: Path, repository: str) -> bool:
    """Give the notebook at `path` the current badge (first line of its first cell) and install
    cell (right before its `setup()` cell). Returns whether the file changed."""
    import nbformat  # in the `tools` extra, like the runner's notebook libraries

    nb = nbformat.read(path, as_version=4)
    title = nb.cells[0]
    lines = [line for line in title.source.splitlines() if not line.startswith("[![Open In Colab]")]
    while lines and not lines[0].strip():
        lines.pop(0)
    title.source = "\n".join([badge(repository, path.name), "", *lines])
    cell = nbformat.v4.new_code_cell(install_cell(repository), metadata={"cellView": "form"})
    cell.id = INSTALL_CELL_ID
    existing = [i for i, c in enumerate(nb.cells) if c.get("id") == INSTALL_CELL_ID]
    if existing:
        nb.cells[existing[0]] = cell
    else:
        setup_index = next(i for i, c in enumerate(nb.cells) if "course_utils.setup(" in c.source)
        nb.cells.insert(setup_index, cell)
    before = path.read_text(encoding="utf-8")
    after = nbformat.writes(nb) + "\n"
    if after != before:
        path.write_text(after, encoding="utf-8")
    return after != before


def stamp_all(root: Path) -> list[Path]:
    """Stamp every course notebook under `root/notebooks` from `root/pyproject.toml`; returns those changed."""
    repository = repository_url(root)
    return [path for path in sorted((Path(root) / "notebooks").glob("[0-9][0-9]_*.ipynb"))
            if stamp(path, repository)]
