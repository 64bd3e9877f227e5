"""The course runner: execute every notebook in order and write the report.

    python -m course_utils run [--profile quick] [--only 00_start_here ...]

Each notebook is executed with nbclient in the chosen profile; the executed
copy goes to `<build>/notebooks/`. A failing cell stops the run with the
notebook, the cell number and the error; Ctrl-C stops the notebook's kernel and
ends with one line. Afterwards every result the notebooks recorded is collected
into the report (see `report.py`). A run holds its build folder's lock from
start to end: a second run on that folder stops at once, naming the first.
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
from pathlib import Path

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


def _interrupted_message(where: str, status: dict, build: Path, notebooks_dir: Path) -> str:
    """The one line a run stopped by Ctrl-C ends with: where it stopped, what was kept and
    the command that runs the notebooks it did not finish."""
    done = [name for name, state in status["notebooks"].items() if state == "done"]
    rest = [name for name, state in status["notebooks"].items() if state != "done"]
    folder = "" if Path(notebooks_dir) == Path("notebooks") else f" --notebooks {notebooks_dir}"
    return (f"{where}; its kernel was stopped and nothing half-written was kept. Results so far: "
            f"{', '.join(done) or 'none'} (in {artifact_path(build, 'results')}); to run the rest: "
            f"python -m course_utils run --profile {status['profile']}{folder} --only {' '.join(rest)}")


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
    # Picking the profile by device imports TensorFlow here: silence its C++ start-up messages
    # (a `cuInit` error on a machine without a GPU) in this process; the kernels log theirs.
    kernels_level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    profile = resolve_profile(profile)
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = kernels_level
    seed_setting()  # a bad COURSE_SEED stops the run here, not in every notebook
    flag_setting("COURSE_DETERMINISTIC")  # and so does one that is neither yes nor no
    os.environ["COURSE_PROFILE"] = profile  # the kernels inherit it
    build = Path(build or build_dir()).resolve()
    os.environ["COURSE_BUILD_DIR"] = str(build)
    paths = course_notebooks(notebooks_dir)
    if only:
        paths = [p for p in paths if p.stem in only or p.name in only]
    if not paths:
        raise CourseError(f"no course notebooks to run in {notebooks_dir} (only={only}): "
                          "run from the course folder, or pass --notebooks PATH")
    run_id = os.environ["COURSE_RUN_ID"] = new_run_id()
    with _build_lock(build, run_id):  # to the end of the run: a second run on this folder stops at once
        for name in data.DATASETS:
            data.ensure_dataset(name)
        # Temporary files of saves that an earlier, killed run never finished.
        for kind in ("models", "features"):
            root = artifact_path(profile, kind)  # COURSE_BUILD_DIR is `build` now
            for folder in (root, *root.rglob("*")):
                if folder.is_dir():
                    remove_abandoned_staging(folder)
        status = {"run_id": run_id, "profile": profile, "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                  "notebooks": {p.stem: "not run yet" for p in paths}}
        timings = {}
        print(f"Running {len(paths)} notebook(s) in the {profile} profile (run {run_id}); the kernels' own "
              f"messages are in {artifact_path(build, 'logs')}", flush=True)
        for number, path in enumerate(paths, start=1):
            # This notebook's earlier figures go: what it saves now replaces them. Its earlier records
            # stay (the report tells runs apart by run id): a notebook open in JupyterLab appends there too.
            for figure in artifact_path(build, "figures").glob(f"{path.stem}__*"):  # images and captions
                figure.unlink()
            status["notebooks"][path.stem] = "interrupted"  # until it finishes
            _write_status(build, status)
            try:
                timings[path.stem] = execute_notebook(path, artifact_path(build, "notebooks"),
                                                      artifact_path(build, "logs"), position=f"{number}/{len(paths)}")
            except NotebookFailed:
                status["notebooks"][path.stem] = "failed"
                _write_status(build, status)
                raise
            except RunInterrupted as interrupted:  # the status already says "interrupted"
                raise RunInterrupted(_interrupted_message(str(interrupted), status, build, notebooks_dir)) from None
            status["notebooks"][path.stem] = "done"
            status.setdefault("seconds", {})[path.stem] = round(timings[path.stem], 1)
            _write_status(build, status)
        report = write_report(build, profile, timings, run_id)
    print(f"Report: {report}")
    return report
