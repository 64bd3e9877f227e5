"""The course runner: execute every notebook in order and write the report.

    python -m course_utils run [--profile quick] [--only 00_start_here ...]

Each notebook is executed in the chosen profile (`execute.py`); the executed
copy goes to `<build>/notebooks/`. A failing cell stops the run with the
notebook, the cell number and the error; Ctrl-C stops the notebook's kernel and
ends with one line. Afterwards every result the notebooks recorded is collected
into the report (see `report.py`). A run holds its build folder's lock from
start to end: a second run on that folder stops at once, naming the first.

`run_course` is two steps: `prepared_run` (settings checked, build folder
writable, notebooks picked, run id, lock, data, status file) and, for each
notebook, `run_notebook` (execute it, time it, record its state); then the
report, whose files are replaced as one unit. `rebuild_report` writes the
report again from the recorded results without running a notebook. A disk
that fills up stops the run with one message naming the build folder; SIGTERM
stops it as Ctrl-C does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import data
from .config import artifact_path, build_dir, flag_setting, new_run_id, resolve_profile, seed_setting
from .errors import BuildFolderError, CourseError
from .execute import NotebookFailed, RunInterrupted, execute_notebook
from .files import (OUT_OF_SPACE, Locked, cannot_write, exclusive_lock, remove_abandoned_staging, size_label,
                    write_json)
from .report import report_files, write_report
from .results import load_results


BUILD_DIR_FIX = ("set COURSE_BUILD_DIR (or --build-dir) to a folder you can write to, e.g. "
                 "COURSE_BUILD_DIR=$HOME/course-build python -m course_utils run")
BUILD_SPACE_FIX = ("free some space there, or set COURSE_BUILD_DIR (or --build-dir) to a folder on a disk with more "
                   "room, e.g. COURSE_BUILD_DIR=$HOME/course-build python -m course_utils run")


def course_notebooks(folder: Path) -> list[Path]:
    """The course's notebooks, `NN_name.ipynb`, in order."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))


@contextmanager
def _build_lock(build: Path, who: str) -> Iterator[None]:
    """Make this run (`who`: "run <run id>") the only one using `build` for the block
    (`<build>/runs/.lock`); raises CourseError naming the other one, and what to do, if another
    run holds the folder."""
    holder = f"{who} (process {os.getpid()}), started {time.strftime('%Y-%m-%d %H:%M:%S')}"
    try:
        with exclusive_lock(artifact_path(build, "runs", ".lock"), holder):
            yield
    except Locked as taken:  # raised on entering, before this run touched anything
        raise CourseError(f"another course run is using the build folder {build}: "
                          f"{taken.holder or 'it is starting'}. Wait for it to finish, or run in another "
                          f"build folder: COURSE_BUILD_DIR={build}-2 python -m course_utils run") from None


@dataclass
class Run:
    """A prepared course run: its id, profile, build folder, the notebooks to execute in order
    (from `notebooks_dir`) and its status, kept in `<build>/runs/<run id>.json`: the run's state
    ("running", "writing the report", "done" once the report is whole, "failed", "interrupted"),
    each notebook's ("not run yet", "interrupted" while it runs or once stopped, "failed", "done"),
    the wall time of those done, and the report's files once written ("not written yet" before).
    The report reads it to mark an unfinished notebook's results partial."""
    run_id: str
    profile: str
    build: Path
    notebooks_dir: Path
    notebooks: list[Path]
    status: dict[str, Any]

    def mark(self, notebook: str, state: str, seconds: float | None = None) -> None:
        """Set a notebook's state (and, once done, its wall time) and write the status file."""
        self.status["notebooks"][notebook] = state
        if seconds is not None:
            self.status.setdefault("seconds", {})[notebook] = round(seconds, 1)
        self.save()

    def set(self, **fields: Any) -> None:
        """Set the run's own fields (`state`, `report`) and write the status file."""
        self.status.update(fields)
        self.save()

    def save(self) -> None:
        """Write the status file, whole; on a full disk, over the old one in place (`write_json`)."""
        write_json(artifact_path(self.build, "runs", f"{self.run_id}.json"), self.status)


def _interrupted_message(where: str, run: Run) -> str:
    """The one line a run stopped by Ctrl-C (or SIGTERM) ends with: where it stopped, what was
    kept and the command that runs the notebooks it did not finish."""
    done = [name for name, state in run.status["notebooks"].items() if state == "done"]
    rest = [name for name, state in run.status["notebooks"].items() if state != "done"]
    folder = "" if run.notebooks_dir == Path("notebooks") else f" --notebooks {run.notebooks_dir}"
    return (f"{where}; its kernel was stopped and nothing half-written was kept. Results so far: "
            f"{', '.join(done) or 'none'} (in {artifact_path(run.build, 'results')}); to run the rest: "
            f"python -m course_utils run --profile {run.profile}{folder} --only {' '.join(rest)}")


def _checked_profile(profile: str | None) -> str:
    """The run's profile (`profile`, else as `resolve_profile` picks it), once every setting the
    notebooks read is checked: a bad COURSE_SEED or COURSE_DETERMINISTIC stops the run here, by
    name, not in every notebook."""
    # Picking the profile by device imports TensorFlow here: silence its C++ start-up messages
    # (a `cuInit` error on a machine without a GPU) in this process; the kernels log theirs.
    kernels_level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    profile = resolve_profile(profile)
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = kernels_level
    seed_setting()
    flag_setting("COURSE_DETERMINISTIC")
    return profile


def select_notebooks(folder: Path, only: list[str] | None = None) -> list[Path]:
    """The course notebooks of `folder` to run, in order: every one, or those `only` names
    (with or without `.ipynb`). Raises CourseError when that leaves none."""
    paths = [p for p in course_notebooks(folder) if not only or p.stem in only or p.name in only]
    if not paths:
        raise CourseError(f"no course notebooks to run in {folder} (only={only}): "
                          "run from the course folder, or pass --notebooks PATH")
    return paths


def _ready_build_folder(profile: str) -> None:
    """Make every dataset available, and remove the temporary files of saves to the profile's
    models and feature caches that an earlier, killed run never finished."""
    for name in data.DATASETS:
        data.ensure_dataset(name)
    for kind in ("models", "features"):
        root = artifact_path(profile, kind)  # in the run's build folder: COURSE_BUILD_DIR is set
        for folder in (root, *root.rglob("*")):
            if folder.is_dir():
                remove_abandoned_staging(folder)


def writable_build(build: Path) -> Path:
    """`build`, created if need be, once files can be written into it; raises
    `BuildFolderError` naming the folder, why (a read-only file system, no permission, a file on
    its path) and the setting that moves it."""
    why = cannot_write(build)
    if why:
        raise BuildFolderError(f"cannot write into the build folder {build} ({why}): a run keeps its results, "
                               f"report and executed notebooks there. Nothing was run; {BUILD_DIR_FIX}")
    return build


def out_of_space(error: BaseException, build: Path) -> bool:
    """Whether `error` is the disk holding `build` filling up (or a quota): an OSError of this
    process, or a notebook that failed with one (its kernel's message says so), for a file in
    `build` or naming none. Another folder's full disk is left to the error's own message."""
    if isinstance(error, OSError):
        full, path = error.errno in OUT_OF_SPACE, error.filename
    else:
        found = re.search(r"(No space left on device|Disk quota exceeded)(: '([^']+)')?", str(error))
        full, path = found is not None, found and found[3]
    return full and (not path or Path(str(path)).resolve().is_relative_to(build))


def _disk_full(build: Path, error: OSError | NotebookFailed, what: str) -> BuildFolderError:
    """One message for a run stopped by a full disk while `what` ("01_a ran"): the build
    folder, the space left and the fix, then what stopped (a notebook's own failure message,
    which says whether its executed copy was saved, or the file this process could not write)."""
    stopped = error if isinstance(error, NotebookFailed) else (f"It could not write {error.filename or 'a file there'}"
                                                               "; nothing half-written was kept.")
    return BuildFolderError(f"the disk holding the build folder {build} filled up while {what} "
                            f"({size_label(shutil.disk_usage(build).free)} free): {BUILD_SPACE_FIX}\n{stopped}")


@contextmanager
def prepared_run(profile: str | None = None, notebooks_dir: Path = Path("notebooks"), only: list[str] | None = None,
                 build: Path | None = None) -> Iterator[Run]:
    """Prepare a course run and yield it, holding its build folder's lock until the block ends.

    Checks the settings, that the build folder can be written, and picks the notebooks before
    anything is written; gives the run its id; then takes the lock (a second run on the folder
    stops at once, naming this one), makes the data available, clears what a killed run left and
    writes the run's status file. A disk that fills up meanwhile is one `BuildFolderError`.
    """
    profile = _checked_profile(profile)
    build = writable_build(Path(build or build_dir()).resolve())
    notebooks = select_notebooks(notebooks_dir, only)
    run_id = new_run_id()
    try:
        with _build_lock(build, f"run {run_id}"):
            # The notebooks' kernels inherit these, and every record carries the run id: set only by
            # the run that holds the folder, never by one that found it taken.
            os.environ.update(COURSE_PROFILE=profile, COURSE_BUILD_DIR=str(build), COURSE_RUN_ID=run_id)
            _ready_build_folder(profile)
            run = Run(run_id, profile, build, Path(notebooks_dir), notebooks,
                      {"run_id": run_id, "profile": profile, "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                       "state": "running", "notebooks": {p.stem: "not run yet" for p in notebooks},
                       "report": "not written yet"})
            run.save()
            print(f"Running {len(notebooks)} notebook(s) in the {profile} profile (run {run_id}); the kernels' own "
                  f"messages are in {artifact_path(build, 'logs')}", flush=True)
            yield run
    except OSError as error:  # the lock's or the status file's text (a notebook's or the report's are named)
        if not out_of_space(error, build):
            raise
        raise _disk_full(build, error, f"run {run_id} was under way") from None


def run_notebook(run: Run, path: Path, position: str = "1/1") -> float:
    """Execute one notebook of a prepared run, its state in the run's status file "interrupted"
    until it ends "done" or "failed"; return its wall time in seconds.

    Its earlier figures go first: what it saves now replaces them. Its earlier records stay
    (the report tells runs apart by run id; a notebook open in JupyterLab appends there too).
    Raises `NotebookFailed`; `RunInterrupted` naming the command that runs the rest; and, for
    a full disk, `BuildFolderError` naming the build folder and the fix (the run then "failed").
    """
    for figure in artifact_path(run.build, "figures").glob(f"{path.stem}__*"):  # images and captions
        figure.unlink()
    try:
        run.mark(path.stem, "interrupted")  # until it finishes
        seconds = execute_notebook(path, artifact_path(run.build, "notebooks"), artifact_path(run.build, "logs"),
                                   position=position)
    except RunInterrupted as interrupted:  # the notebook's state already says "interrupted"
        run.set(state="interrupted")
        raise RunInterrupted(_interrupted_message(str(interrupted), run), interrupted.terminated) from None
    except (NotebookFailed, OSError) as error:
        run.mark(path.stem, "failed")
        run.set(state="failed")
        if not out_of_space(error, run.build):
            raise
        raise _disk_full(run.build, error, f"{path.stem} ran") from None
    run.mark(path.stem, "done", seconds)
    return seconds


def _report(build: Path, profile: str, timings: dict[str, float], run_id: str | None = None,
            records: list[dict[str, Any]] | None = None) -> Path:
    """`write_report`, with a full disk as one message: the build folder, the fix, that the
    previous report is kept whole and the command that writes this one once there is room."""
    try:
        return write_report(build, profile, timings, run_id, records)
    except OSError as error:
        if not out_of_space(error, build):
            raise
        raise BuildFolderError(f"{_disk_full(build, error, 'the report was written')}\nThe previous report is kept "
                               f"whole; once there is room, write the report again: python -m course_utils report "
                               f"--profile {profile} --build-dir {build}") from None


def _run_report(run: Run, timings: dict[str, float]) -> Path:
    """Write the report of a run whose notebooks are done; its status says "done", with the
    report's files, only once they are all in place. Returns report.md."""
    run.set(state="writing the report")
    try:
        report = _report(run.build, run.profile, timings, run.run_id)
    except Exception:
        run.set(state="failed")
        raise
    run.set(state="done", report=report_files(run.build))
    return report


def run_course(profile: str | None = None, notebooks_dir: Path = Path("notebooks"),
               only: list[str] | None = None, build: Path | None = None) -> Path:
    """Make the data available, execute the notebooks in order and write the report; return
    the report's path. Used by the README's first command.

    Every run gets a run id, which the notebooks put in every record; the report shows this
    run's records as this run's, and any older ones apart, with their date and run id.
    """
    with prepared_run(profile, notebooks_dir, only, build) as run:  # the build folder is this run's to the end
        timings = {path.stem: run_notebook(run, path, f"{number}/{len(run.notebooks)}")
                   for number, path in enumerate(run.notebooks, start=1)}
        report = _run_report(run, timings)
    print(f"Report: {report}")
    return report


def recorded_timings(build: Path, profile: str) -> dict[str, float]:
    """Each notebook's wall time in the newest run of `profile` that finished it, from the
    status files in `<build>/runs/` (named by run id, which starts with the date)."""
    timings: dict[str, float] = {}
    for path in sorted(artifact_path(build, "runs").glob("*.json")):
        try:
            status = json.loads(path.read_text())
            if status["profile"] == profile:
                timings.update({name: float(seconds) for name, seconds in status.get("seconds", {}).items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # a status file of another version, or damaged: no wall times from it
    return timings


def rebuild_report(profile: str | None = None, build: Path | None = None) -> Path:
    """Write the report of `build` (default: the one `run` uses) again from the results recorded
    there, running no notebook: every usable record of `profile`, each notebook's wall time from
    its newest run. Holds the build folder's lock meanwhile (a run in progress is named, not
    disturbed). Returns report.md; raises CourseError when nothing of `profile` is recorded."""
    profile = _checked_profile(profile)
    build = writable_build(Path(build or build_dir()).resolve())
    with _build_lock(build, "`python -m course_utils report`"):
        records = load_results(build)
        if not any(r["profile"] == profile for r in records):
            found = sorted({r["profile"] for r in records})
            raise CourseError(f"no result of the {profile} profile is recorded in {artifact_path(build, 'results')}"
                              + (f" (it holds the {', '.join(found)} profile's): pass --profile {found[0]}" if found
                                 else ": run the notebooks first, python -m course_utils run"))
        report = _report(build, profile, recorded_timings(build, profile), records=records)
    print(f"Report: {report}")
    return report
