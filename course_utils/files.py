"""Writing files so that an interrupted run never leaves a half-written one in use.

Everything the course keeps between runs (installed datasets, feature
caches, saved models) is written under a temporary name and renamed into
place once complete: a rename is atomic on one file system, so a reader sees
the old file or the new one, never a part of one. A run killed before the
rename leaves only a temporary file or folder, which the next run removes.
Files that several processes share (a notebook's results, a build folder's
lock) are appended to or locked, never rewritten.
A disk that fills up is named with the space needed (`NoSpace`), before
writing when the size is known, else once the half-written files are gone.
The data folder's own checks (a folder, writable) live here too, and `file_hash`, the one
way the package hashes a file.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from .config import data_dir
from .errors import DataError

# What a cache or model file cut short by an interrupted run raises when it is read.
DAMAGED_FILE = (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError)


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target` to write to; rename it to `target` on success.

    The temporary name keeps `target`'s suffix (Keras refuses to save a model
    to a name that does not end in `.keras`). On an exception the temporary
    file is removed and `target` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.stem}.tmp-{os.getpid()}{target.suffix}")
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def write_json(path: Path, value: Any) -> None:
    """Write `value` as JSON to `path`, whole or not at all (`atomic_path`).

    On a full disk, where not even a small new file fits, a file that exists is overwritten in
    place instead, in one write padded with spaces to its old length (JSON ignores them): the
    block it holds takes a text no longer than a block (a run's status file), so the file says
    what happened, not what was true before the disk filled. Raises OSError when neither works.
    """
    text = json.dumps(value, indent=1)
    try:
        with atomic_path(path) as temporary:
            temporary.write_text(text)
    except OSError as error:
        if error.errno not in OUT_OF_SPACE or not Path(path).is_file():
            raise
        descriptor = os.open(path, os.O_WRONLY)
        try:
            os.pwrite(descriptor, text.ljust(os.fstat(descriptor).st_size).encode(), 0)
        finally:
            os.close(descriptor)


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yield an empty folder beside `target` to fill; once the block ends without an exception,
    put it in `target`'s place, the old folder aside and the new one in, two renames, then remove
    the old one. On an exception the staged folder goes and `target` is left as it was.

    A reader sees the old folder whole or the new one whole, never a mix of the two; a process
    killed between the renames (microseconds) leaves the old one aside, `.<name>.old-<pid>`, which
    `restore_folder` puts back; one killed before leaves a staged folder, `.<name>.tmp-<pid>`,
    which it removes.
    """
    target = Path(target)
    staged = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    try:
        yield staged
        if target.exists():
            os.rename(target, old)
        try:
            os.rename(staged, target)
        except OSError:
            if old.exists():
                os.rename(old, target)
            raise
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)


def restore_folder(target: Path) -> None:
    """Clear what `staged_folder` swaps into `target` left when killed: put back the folder one
    left aside between its two renames when `target` is missing (or holds only empty folders,
    made since); remove staged folders and any older folders left aside."""
    target = Path(target)
    left = [path for path in target.parent.glob(f".{target.name}.*-[0-9]*")
            if path.name.rsplit("-", 1)[1].isdigit() and not _alive(int(path.name.rsplit("-", 1)[1]))]
    aside = sorted((path for path in left if ".old-" in path.name), key=lambda path: path.stat().st_mtime)
    if aside and not (target.exists() and any(path.is_file() for path in target.rglob("*"))):
        shutil.rmtree(target, ignore_errors=True)
        os.rename(aside[-1], target)
    for path in left:
        shutil.rmtree(path, ignore_errors=True)  # (the one put back is no longer there)


def append_line(path: Path, line: str) -> None:
    """Append `line` and a newline to `path` (created if need be) in one `write` on a
    descriptor opened with O_APPEND: the kernel then puts each line whole at the end of
    the file, so lines appended by two processes at once never interleave."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, (line.rstrip("\n") + "\n").encode())
    finally:
        os.close(descriptor)


class Locked(Exception):
    """Another process holds the lock; `holder` is what it wrote into the lock file."""

    def __init__(self, holder: str):
        super().__init__(holder)
        self.holder = holder


@contextmanager
def exclusive_lock(path: Path, holder: str) -> Iterator[None]:
    """Hold an exclusive lock on `path` for the block, with `holder` (who holds it) written
    into the file for whoever finds it taken; raises `Locked` with the other holder's text
    at once rather than waiting.

    It is the operating system's lock (`flock`): it goes with the process, however that
    process ends, so a killed run never leaves a stale lock behind. The file itself stays.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as lock:  # "a+": never truncates what the holder wrote before we know we hold it
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise Locked(lock.read().strip()) from None
        lock.truncate(0)
        lock.write(holder)
        lock.flush()
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def staging_prefix(name: str) -> str:
    """The name prefix of this process's staging folders for dataset `name`:
    the process id in it tells a later run whether its owner is still running."""
    return f".import-{name}-{os.getpid()}-"


def remove_abandoned_staging(folder: Path) -> list[Path]:
    """Remove staging folders and temporary files in `folder` left by processes that
    no longer run (an import or a save that was killed); returns what was removed."""
    removed = []
    if not Path(folder).is_dir():
        return removed
    for path in Path(folder).iterdir():
        if path.name.startswith(".import-"):  # .import-<name>-<pid>-<random>; before pids, .import-<name>-<random>
            pid = path.name.split("-")[-2] if path.name.count("-") >= 3 else ""
        elif path.name.startswith(".") and ".tmp-" in path.name:  # .<stem>.tmp-<pid><suffix> (atomic_path)
            pid = path.name.split(".tmp-")[1].split(".")[0]
            if not pid.isdigit():
                continue  # not one of ours
        else:
            continue
        if pid.isdigit() and _alive(int(pid)):
            continue
        try:
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        except OSError:  # a read-only shared drive: the leftover is never read, so it can stay
            continue
        removed.append(path)
    return removed


def file_hash(path: Path, algorithm: str = "sha256", *, cached: bool = True) -> str:
    """The hex digest (`algorithm`: "sha256" or "md5") of the file at `path`, read in 1 MB
    chunks (weights and archives are large). `cached`: computed once per process for a file
    whose size and modification time are unchanged (a weights file is labelled many times);
    a check that must see a file damaged in place, size and date kept, passes `cached=False`."""
    if not cached:
        return _digest(Path(path), algorithm)
    status = Path(path).stat()
    return _hash_cached(Path(path).resolve(), status.st_size, status.st_mtime_ns, algorithm)


@lru_cache(maxsize=None)
def _hash_cached(path: Path, size: int, mtime_ns: int, algorithm: str) -> str:
    return _digest(path, algorithm)  # size and time are part of the key: a file replaced since is hashed again


def _digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_stats(folder: Path, relatives: list[str]) -> dict[str, list[int]]:
    """Size and modification time (ns) of each file: what an install record keeps
    so that a later load notices, cheaply, a file changed since."""
    stats = {}
    for relative in relatives:
        info = (Path(folder) / relative).stat()
        stats[relative] = [info.st_size, info.st_mtime_ns]
    return stats


def changed_files(folder: Path, stats: dict[str, list[int]]) -> list[str]:
    """The files whose size or modification time differ from `stats`, or that are
    gone, each with what changed ("missing: x", "changed: x (size 10 -> 5 bytes)")."""
    problems = []
    for relative, (size, mtime_ns) in stats.items():
        try:
            info = (Path(folder) / relative).stat()
        except FileNotFoundError:
            problems.append(f"missing: {relative}")
            continue
        if info.st_size != size:
            problems.append(f"changed: {relative} (size {size} -> {info.st_size} bytes)")
        elif info.st_mtime_ns != mtime_ns:
            problems.append(f"changed: {relative} (modified after install)")
    return problems


def cannot_write(folder: Path) -> str | None:
    """Why files cannot be written into `folder` (created if needed), e.g. "Read-only file
    system"; None when they can."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return error.strerror or str(error)
    return None


class NoSpace(DataError):
    """A disk too full for what the course writes: the message names the folder and the space needed."""


# What a write to a full disk (or past a user's quota) raises.
OUT_OF_SPACE = (errno.ENOSPC, errno.EDQUOT)


def size_label(size: int) -> str:
    """`size` bytes for a message: "68.6 MB"."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def require_space(folder: Path, needed: int, what: str, fix: str, already: int = 0) -> None:
    """Check, before writing, that the disk holding `folder` has `needed` bytes free.

    `already`: bytes of `needed` that are written there by now (an archive's files, unpacked
    before they are copied) and removed on failure, so counted as free too.
    Raises `NoSpace` naming `folder`, what it needs (`what`: "installing cats_vs_dogs")
    and what is free, ending with `fix`; returns None when there is room.
    """
    free = shutil.disk_usage(folder).free + already
    if needed > free:
        raise NoSpace(f"not enough space in {folder} for {what}: it needs {size_label(needed)} and "
                      f"{size_label(free)} is free. Nothing was written; {fix}")


def full_disk(folder: Path, what: str, needed: int | None, fix: str) -> str:
    """The message for a disk that filled up while `what` was written into `folder` (its size
    unknown beforehand, or another program writing too), once the half-written files are gone."""
    free = size_label(shutil.disk_usage(folder).free)
    need = f"it needs {size_label(needed)} and {free} is free" if needed else f"it needs more than the {free} free"
    return (f"the disk holding {folder} filled up while {what} ({need}): what was half-written "
            f"has been removed; {fix}")


DATA_DIR_FIX = "set COURSE_DATA_DIR to a folder you can write to, e.g. export COURSE_DATA_DIR=$HOME/course-data"
SPACE_FIX = ("free some space there, or set COURSE_DATA_DIR to a folder on a disk with more room, "
             "e.g. export COURSE_DATA_DIR=$HOME/course-data")


def checked_data_dir() -> Path:
    """The data folder; raises `DataError` when that path is a file, not a folder."""
    folder = data_dir()
    if folder.exists() and not folder.is_dir():
        raise DataError(f"the data folder {folder} is a file, not a folder: {DATA_DIR_FIX}")
    return folder


def writable_data_dir() -> Path:
    """The data folder, created if needed, after checking that files can be written into it.

    Removes what an interrupted import left there (see `remove_abandoned_staging`).
    Raises `DataError` when it is a file or cannot be written to, naming the setting that fixes it.
    """
    folder = checked_data_dir()
    why = cannot_write(folder)
    if why:
        raise DataError(f"cannot write into the data folder {folder} ({why}): {DATA_DIR_FIX}")
    remove_leftovers(folder)
    return folder


def remove_leftovers(folder: Path) -> None:
    """Remove the staging folders that imports killed midway left in `folder`, saying so."""
    for path in remove_abandoned_staging(folder):
        print(f"Removed {path.name}, left in {folder} by an interrupted import")
