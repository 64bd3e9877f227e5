"""The course runner: execute every notebook in order and write the report.

    python -m course_utils run [--profile quick] [--only 00_start_here ...]

Each notebook is executed with nbclient in the chosen profile; the executed
copy goes to `<build>/notebooks/`. A failing cell stops the run with the
notebook, the cell number and the error; Ctrl-C stops the notebook's kernel and
ends with one line. Afterwards every result the notebooks recorded is collected
into the report (see `report.py`). A run holds its build folder's lock from
start to end: a second run on that folder stops at once, naming the first.

`run_course` is two steps: `prepared_run` (settings checked, notebooks picked,
run id, lock, data, status file) and, for each notebook, `run_notebook`
(execute it, time it, record its state).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import data
from .config import artifact_path, build_dir, flag_setting, new_run_id, resolve_profile, seed_setting
from .errors import CourseError
from .files import Locked, atomic_path, exclusive_lock, remove_abandoned_staging
from .report import write_report


# ipykernel imports debugpy, which on Python 3.11+ warns on stderr about frozen modules (four lines
# that read like a failure) in this process, where jupyter_client looks up the kernel, and in every
# kernel it starts; the setting only turns that check off.
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


class NotebookFailed(CourseError):
    """A notebook cell raised: the message names the notebook, the cell and the error."""


class RunInterrupted(CourseError):
    """Ctrl-C during a notebook: its kernel is stopped; the message names the notebook and cell."""


def course_notebooks(folder: Path) -> list[Path]:
    """The course's notebooks, `NN_name.ipynb`, in order."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))


class Progress:
    """One line on the terminal for the notebook being executed: its position in the course,
    the cell being run, the elapsed time and the current training epoch (Keras' "Epoch k/n"),
    with the time the training's remaining epochs will take at the pace of those done."""

    EPOCH = re.compile(r"Epoch (\d+/\d+)")
    EVERY = 30  # seconds between lines when the output is a log, not a terminal

    def __init__(self, name: str, position: str, cells: int, stream=None):
        self.name, self.position, self.cells = name, position, cells
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()  # rewrite one line in place; a log gets a line every EVERY s
        self.started = self.shown = time.time()
        self.cell, self.epoch, self.first = 0, "", None

    def update(self, cell: int | None = None, text: str = "") -> None:
        """Note the cell now running, or read an epoch number from the kernel's `text` output."""
        if cell is not None:
            self.cell, self.epoch, self.first = cell, "", None
        epochs = self.EPOCH.findall(text)
        if epochs:
            done, total = (int(n) for n in epochs[-1].split("/"))
            if self.first is None or done < self.first[0]:  # a new training in the same cell
                self.first = (done, time.time())
            pace = (time.time() - self.first[1]) / (done - self.first[0]) if done > self.first[0] else None
            self.epoch = epochs[-1] + (f", about {_clock(pace * (total - done + 1))} left" if pace else "")
        if self.live or time.time() - self.shown >= self.EVERY:
            self.shown = time.time()
            line = (f"[{self.position}] {self.name}  cell {self.cell + 1}/{self.cells}  "
                    f"{_clock(time.time() - self.started)}" + (f"  epoch {self.epoch}" if self.epoch else ""))
            self.stream.write(f"\r\x1b[K{line}" if self.live else line + "\n")
            self.stream.flush()

    def done(self, seconds: float, outcome: str = "done in") -> None:
        """End the notebook's line: `outcome` is "done in", "failed after" or "interrupted after"."""
        end = "\r\x1b[K" if self.live else ""
        self.stream.write(f"{end}[{self.position}] {self.name} {outcome} {_clock(seconds)} ({seconds:.0f} s)\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def execute_notebook(path: Path, out_dir: Path, log_dir: Path, timeout: int = 3600,
                     position: str = "1/1") -> float:
    """Execute one notebook (its folder as working directory), save the executed
    copy into `out_dir`, and return the wall time in seconds.

    Shows a `Progress` line; the kernel's own output on the terminal (TensorFlow's
    start-up notices, warnings) goes to `log_dir/<notebook>.log` instead. Raises
    `NotebookFailed` naming the cell that failed, and `RunInterrupted` on Ctrl-C
    (after stopping the kernel); the executed copy, with the traceback or as far
    as it got, is saved all the same.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    class ProgressClient(NotebookClient):
        def output(self, outs, msg, display_id, cell_index):
            if msg["msg_type"] == "stream":
                progress.update(text=msg["content"].get("text", ""))
            return super().output(outs, msg, display_id, cell_index)

    nb = nbformat.read(path, as_version=4)
    client = ProgressClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    progress = Progress(path.stem, position, len(nb.cells))
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    index = -1  # no cell yet: the kernel is starting
    try:
        with open(log_dir / f"{path.stem}.log", "w") as log, client.setup_kernel(stdout=log, stderr=log):
            for index, cell in enumerate(nb.cells):
                progress.update(cell=index)
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as error:
                    # Ctrl-C that reached the kernel too (jupyter_client 7 starts it in the terminal's process
                    # group): this process was interrupted while waiting, and the cell failed with it.
                    if isinstance(error.__context__, KeyboardInterrupt):
                        raise KeyboardInterrupt from None
                    first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                    # The exception's type and whole message (the traceback's last line may be a
                    # fragment of a multi-line message); no terminal colours.
                    text = f"{error.ename}: {error.evalue}" if error.ename else str(error).strip().splitlines()[-1]
                    summary = re.sub(r"\x1b\[[0-9;]*m", "", text).strip()
                    progress.done(time.time() - started, "failed after")
                    raise NotebookFailed(
                        f"{path.name} failed in cell {index} ({first_line!r}): {summary}\n"
                        f"The executed copy with the full traceback is {out_dir / path.name}"
                    ) from None
    except KeyboardInterrupt:
        _stop_kernel(client)
        # The run ends here: the abandoned cell's task would otherwise be logged at exit, with its traceback.
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        progress.done(time.time() - started, "interrupted after")
        where = f"cell {index + 1}/{len(nb.cells)}" if index >= 0 else "while its kernel was starting"
        raise RunInterrupted(f"Interrupted in {path.stem}, {where}") from None
    finally:
        with atomic_path(out_dir / path.name) as temporary:  # Ctrl-C here leaves the old copy, not half a new one
            nbformat.write(nb, temporary)
    seconds = time.time() - started
    progress.done(seconds)
    return seconds


def _stop_kernel(client) -> None:
    """Kill the kernel of an nbclient `client` at once, if it runs. After Ctrl-C the
    cell's work is abandoned: nothing is gained by waiting for a graceful shutdown, and
    Ctrl-C while the kernel starts comes before nbclient would clean up at all."""
    client.shutdown_kernel = "immediate"
    if client.km is not None:
        client._cleanup_kernel()  # nbclient's own clean-up: kill, then close the channels and files


@contextmanager
def _build_lock(build: Path, run_id: str) -> Iterator[None]:
    """Make this run the only one using `build` for the block (`<build>/runs/.lock`); raises
    CourseError naming the other run, and what to do, if another run holds the folder."""
    holder = f"run {run_id} (process {os.getpid()}), started {time.strftime('%Y-%m-%d %H:%M:%S')}"
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
    (from `notebooks_dir`) and its status, kept in `<build>/runs/<run id>.json`: each notebook's
    state ("not run yet", "interrupted" while it runs or once stopped, "failed", "done") and the
    wall time of those done. The report reads it to mark an unfinished notebook's results partial."""
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

    def save(self) -> None:
        """Write the status file, whole or not at all."""
        with atomic_path(artifact_path(self.build, "runs", f"{self.run_id}.json")) as temporary:
            temporary.write_text(json.dumps(self.status, indent=1))


def _interrupted_message(where: str, run: Run) -> str:
    """The one line a run stopped by Ctrl-C ends with: where it stopped, what was kept and
    the command that runs the notebooks it did not finish."""
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


@contextmanager
def prepared_run(profile: str | None = None, notebooks_dir: Path = Path("notebooks"), only: list[str] | None = None,
                 build: Path | None = None) -> Iterator[Run]:
    """Prepare a course run and yield it, holding its build folder's lock until the block ends.

    Checks the settings and picks the notebooks before anything is written; gives the run its
    id; then takes the lock (a second run on the folder stops at once, naming this one), makes
    the data available, clears what a killed run left and writes the run's status file.
    """
    profile = _checked_profile(profile)
    build = Path(build or build_dir()).resolve()
    notebooks = select_notebooks(notebooks_dir, only)
    run_id = new_run_id()
    with _build_lock(build, run_id):
        # The notebooks' kernels inherit these, and every record carries the run id: set only by
        # the run that holds the folder, never by one that found it taken.
        os.environ.update(COURSE_PROFILE=profile, COURSE_BUILD_DIR=str(build), COURSE_RUN_ID=run_id)
        _ready_build_folder(profile)
        run = Run(run_id, profile, build, Path(notebooks_dir), notebooks,
                  {"run_id": run_id, "profile": profile, "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                   "notebooks": {p.stem: "not run yet" for p in notebooks}})
        run.save()
        print(f"Running {len(notebooks)} notebook(s) in the {profile} profile (run {run_id}); the kernels' own "
              f"messages are in {artifact_path(build, 'logs')}", flush=True)
        yield run


def run_notebook(run: Run, path: Path, position: str = "1/1") -> float:
    """Execute one notebook of a prepared run, its state in the run's status file "interrupted"
    until it ends "done" or "failed"; return its wall time in seconds.

    Its earlier figures go first: what it saves now replaces them. Its earlier records stay
    (the report tells runs apart by run id; a notebook open in JupyterLab appends there too).
    Raises `NotebookFailed`, or `RunInterrupted` naming the command that runs the rest.
    """
    for figure in artifact_path(run.build, "figures").glob(f"{path.stem}__*"):  # images and captions
        figure.unlink()
    run.mark(path.stem, "interrupted")  # until it finishes
    try:
        seconds = execute_notebook(path, artifact_path(run.build, "notebooks"), artifact_path(run.build, "logs"),
                                   position=position)
    except NotebookFailed:
        run.mark(path.stem, "failed")
        raise
    except RunInterrupted as interrupted:  # the status already says "interrupted"
        raise RunInterrupted(_interrupted_message(str(interrupted), run)) from None
    run.mark(path.stem, "done", seconds)
    return seconds


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
        report = write_report(run.build, run.profile, timings, run.run_id)
    print(f"Report: {report}")
    return report
