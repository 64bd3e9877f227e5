"""The course runner: execute every notebook in order and write the report.

    python -m course_utils run [--profile quick] [--only 00_start_here ...]

Each notebook is executed with nbclient in the chosen profile; the executed
copy goes to `<build>/notebooks/`. A failing cell stops the run with the
notebook, the cell number and the error. Afterwards every result the
notebooks recorded is collected into the report (see `report.py`).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from .config import build_dir, resolve_profile
from .report import write_report


class NotebookFailed(RuntimeError):
    """A notebook cell raised: the message names the notebook and the cell."""


def course_notebooks(folder: Path) -> list[Path]:
    """The course's notebooks, `NN_name.ipynb`, in order."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))


def execute_notebook(path: Path, out_dir: Path, timeout: int = 3600) -> float:
    """Execute one notebook (its folder as working directory), save the executed
    copy into `out_dir`, and return the wall time in seconds.

    Raises `NotebookFailed` naming the cell that failed; the executed copy,
    with the traceback, is saved all the same.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as error:
                    first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()  # no terminal colours
                    summary = text.splitlines()[-1] if text else repr(error)
                    raise NotebookFailed(
                        f"{path.name} failed in cell {index} ({first_line!r}): {summary}\n"
                        f"The executed copy with the full traceback is {out_dir / path.name}"
                    ) from None
    finally:
        nbformat.write(nb, out_dir / path.name)
    return time.time() - started


def run_course(profile: str | None = None, notebooks_dir: Path = Path("notebooks"),
               only: list[str] | None = None, build: Path | None = None) -> Path:
    """Make the data available, execute the notebooks in order and write the report.

    Returns the report's path. Used by the README's first command.
    """
    from .data import DATASETS, ensure_dataset

    profile = resolve_profile(profile)
    os.environ["COURSE_PROFILE"] = profile  # the kernels inherit it
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the log
    build = Path(build or build_dir()).resolve()
    os.environ["COURSE_BUILD_DIR"] = str(build)
    paths = course_notebooks(notebooks_dir)
    if only:
        paths = [p for p in paths if p.stem in only or p.name in only]
    if not paths:
        raise FileNotFoundError(f"no course notebooks to run in {notebooks_dir} (only={only})")
    for name in DATASETS:
        ensure_dataset(name)
    timings = {}
    for path in paths:
        (build / "results" / f"{path.stem}.jsonl").unlink(missing_ok=True)
        print(f"[{profile}] executing {path.name} ...", flush=True)
        timings[path.stem] = execute_notebook(path, build / "notebooks")
        print(f"[{profile}] {path.name} done in {timings[path.stem]:.0f} s", flush=True)
    report = write_report(build, profile, timings)
    print(f"Report: {report}")
    return report
