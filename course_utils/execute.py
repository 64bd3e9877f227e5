"""Executing one notebook: its cells in order in a kernel of its own, with a progress line.

`execute_notebook` runs a notebook with nbclient and saves the executed copy, whole or not at
all. A failing cell raises `NotebookFailed` naming the notebook, the cell (counted from 1, as
the progress line counts) and the error; Ctrl-C, or SIGTERM once `stop_on_sigterm` is called,
stops the kernel and raises `RunInterrupted`. The course runner (`runner.py`) calls it for each
notebook of a run.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

from .errors import CourseError
from .files import atomic_path


# ipykernel imports debugpy, which on Python 3.11+ warns on stderr about frozen modules (four lines
# that read like a failure) in this process, where jupyter_client looks up the kernel, and in every
# kernel it starts; the setting only turns that check off.
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


class NotebookFailed(CourseError):
    """A notebook cell raised: the message names the notebook, the cell and the error."""


class RunInterrupted(CourseError):
    """Ctrl-C (or SIGTERM: `terminated`) during a notebook: its kernel is stopped; the message
    names the notebook and cell."""

    def __init__(self, message: str, terminated: bool = False):
        super().__init__(message)
        self.terminated = terminated


class Terminated(KeyboardInterrupt):
    """SIGTERM, once `stop_on_sigterm` is called: a run stops as Ctrl-C stops it."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated


def stop_on_sigterm() -> None:
    """Make SIGTERM (`kill`, a job's time limit) stop this process as Ctrl-C does: the kernel
    stopped, nothing half-written kept, the same one line. Call it from the main thread."""
    signal.signal(signal.SIGTERM, _terminate)


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
    as it got, is saved all the same. An executed copy that cannot be saved (a full
    disk) is said so in `NotebookFailed`, and otherwise raised as the OSError.
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
    started, copy, failure = time.time(), out_dir / path.name, None
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
                        raise type(error.__context__)() from None
                    first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                    # The exception's type and whole message (the traceback's last line may be a
                    # fragment of a multi-line message); no terminal colours.
                    text = f"{error.ename}: {error.evalue}" if error.ename else str(error).strip().splitlines()[-1]
                    summary = re.sub(r"\x1b\[[0-9;]*m", "", text).strip()
                    # Cells counted from 1, as a learner counts them and as the progress line shows them.
                    failure = f"{path.name} failed in cell {index + 1}/{len(nb.cells)} ({first_line!r}): {summary}"
                    break
    except KeyboardInterrupt as stop:
        # The run ends here: the abandoned cell's task would otherwise be logged at exit, with its traceback.
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        _stop_kernel(client)
        progress.done(time.time() - started, "interrupted after")
        _save_copy(nb, copy)
        where = f"cell {index + 1}/{len(nb.cells)}" if index >= 0 else "while its kernel was starting"
        raise RunInterrupted(f"Interrupted in {path.stem}, {where}", isinstance(stop, Terminated)) from None
    unsaved, seconds = _save_copy(nb, copy), time.time() - started
    if failure:
        progress.done(seconds, "failed after")
        raise NotebookFailed(f"{failure}\n" + (f"The executed copy with the full traceback is {copy}" if unsaved is None
                                               else f"Its executed copy could not be saved ({unsaved.strerror})."))
    if unsaved is not None:
        raise unsaved
    progress.done(seconds)
    return seconds


def _save_copy(nb: Any, copy: Path) -> OSError | None:
    """Write the executed notebook `nb` to `copy`, whole or not at all (Ctrl-C leaves the old
    copy, not half a new one); return the OSError that stopped it (a full disk), or None. A copy
    that cannot be saved takes the earlier run's with it: that one is not this run's."""
    import nbformat

    try:
        with atomic_path(copy) as temporary:
            nbformat.write(nb, temporary)
    except OSError as error:
        copy.unlink(missing_ok=True)
        return error
    return None


def _stop_kernel(client) -> None:
    """Kill the kernel of an nbclient `client` at once, if it runs. After Ctrl-C the
    cell's work is abandoned: nothing is gained by waiting for a graceful shutdown, and
    Ctrl-C while the kernel starts comes before nbclient would clean up at all."""
    client.shutdown_kernel = "immediate"
    if client.km is None:
        return
    try:
        client._cleanup_kernel()  # nbclient's own clean-up: kill, then close the channels and files
    except AttributeError:
        # Ctrl-C during the start left nbclient's start task pending; this clean-up's event loop resumes it,
        # its own clean-up (the same kill) can finish first and set `km` to None under this one's feet.
        if client.km is not None:
            raise
