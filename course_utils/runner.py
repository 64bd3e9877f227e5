"""The course runner: execute every notebook in order and write the report.

    python -m course_utils run [--profile quick] [--only 00_start_here ...]

Each notebook is executed with nbclient in the chosen profile; the executed
copy goes to `<build>/notebooks/`. A failing cell stops the run with the
notebook, the cell number and the error. Afterwards every result the
notebooks recorded is collected into the report (see `report.py`).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from .config import artifact_path, build_dir, new_run_id, resolve_profile, seed_setting
from .errors import CourseError
from .files import atomic_path, remove_abandoned_staging
from .report import write_report


class NotebookFailed(CourseError):
    """A notebook cell raised: the message names the notebook, the cell and the error."""


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
                    # The exception's type and whole message (the traceback's last line may be a
                    # fragment of a multi-line message); no terminal colours.
                    text = f"{error.ename}: {error.evalue}" if error.ename else str(error).strip().splitlines()[-1]
                    summary = re.sub(r"\x1b\[[0-9;]*m", "", text).strip()
                    raise NotebookFailed(
                        f"{path.name} failed in cell {index} ({first_line!r}): {summary}\n"
                        f"The executed copy with the full traceback is {out_dir / path.name}"
                    ) from None
    finally:
        nbformat.write(nb, out_dir / path.name)
    return time.time() - started


def _write_status(build: Path, status: dict) -> None:
    """Record how far the run got (`<build>/runs/<run id>.json`), whole or not at all."""
    with atomic_path(artifact_path(build, "runs", f"{status['run_id']}.json")) as temporary:
        temporary.write_text(json.dumps(status, indent=1))


def run_course(profile: str | None = None, notebooks_dir: Path = Path("notebooks"),
               only: list[str] | None = None, build: Path | None = None) -> Path:
    """Make the data available, execute the notebooks in order and write the report.

    Every run gets a run id (`COURSE_RUN_ID`, passed to the notebooks, which
    put it in every record); the report shows this run's records as this
    run's, and any older ones apart, with their date and run id. Returns the
    report's path. Used by the README's first command.
    """
    from .data import DATASETS, ensure_dataset

    profile = resolve_profile(profile)
    seed_setting()  # a bad COURSE_SEED stops the run here, not in every notebook
    os.environ["COURSE_PROFILE"] = profile  # the kernels inherit it
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the log
    build = Path(build or build_dir()).resolve()
    os.environ["COURSE_BUILD_DIR"] = str(build)
    paths = course_notebooks(notebooks_dir)
    if only:
        paths = [p for p in paths if p.stem in only or p.name in only]
    if not paths:
        raise CourseError(f"no course notebooks to run in {notebooks_dir} (only={only}): "
                          "run from the course folder, or pass --notebooks PATH")
    for name in DATASETS:
        ensure_dataset(name)
    run_id = os.environ["COURSE_RUN_ID"] = new_run_id()
    # Temporary files of saves that an earlier, killed run never finished.
    for kind in ("models", "features"):
        root = artifact_path(profile, kind)  # COURSE_BUILD_DIR is `build` now
        for folder in (root, *root.rglob("*")):
            if folder.is_dir():
                remove_abandoned_staging(folder)
    status = {"run_id": run_id, "profile": profile, "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "notebooks": {p.stem: "not run yet" for p in paths}}
    timings = {}
    for path in paths:
        # This notebook's earlier records and figures go: what it records now replaces them.
        artifact_path(build, "results", f"{path.stem}.jsonl").unlink(missing_ok=True)
        for figure in artifact_path(build, "figures").glob(f"{path.stem}__*.png"):
            figure.unlink()
        status["notebooks"][path.stem] = "interrupted"  # until it finishes
        _write_status(build, status)
        print(f"[{profile}] executing {path.name} ...", flush=True)
        try:
            timings[path.stem] = execute_notebook(path, artifact_path(build, "notebooks"))
        except NotebookFailed:
            status["notebooks"][path.stem] = "failed"
            _write_status(build, status)
            raise
        status["notebooks"][path.stem] = "done"
        _write_status(build, status)
        print(f"[{profile}] {path.name} done in {timings[path.stem]:.0f} s", flush=True)
    report = write_report(build, profile, timings, run_id)
    print(f"Report: {report}")
    return report
