"""Downloads and archives: bytes from the network, and what is inside an archive.

Both fail with a `DataError` subclass that names the file, never with the raw
`BadZipFile`, `EOFError` or `URLError` underneath: a damaged archive is a
problem the user fixes by getting a fresh copy.
"""

from __future__ import annotations

import gzip
import http.client
import os
import tarfile
import time
import urllib.request
import zipfile
import zlib
from pathlib import Path

from . import mirror as kit
from .errors import DataError, DataNotAvailable, SettingError, first_line
from .files import OUT_OF_SPACE, NoSpace, full_disk, require_space
from .registry import dataset_spec, fix_hint

# How long one download may take, in seconds, unless the setting `COURSE_DOWNLOAD_TIMEOUT` says
# otherwise: 30 minutes, enough for the largest (CIFAR-10's 170 MB) at 100 KB/s. A download still
# running then is stopped, with what to do without the network (a mirror, `data import`).
TIMEOUT_SETTING = "COURSE_DOWNLOAD_TIMEOUT"
DOWNLOAD_TIMEOUT = 1800.0

# What a damaged zip or tar file raises while it is read.
DAMAGED_ARCHIVE = (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, gzip.BadGzipFile,
                   EOFError, zlib.error)


def download_timeout() -> float:
    """How many seconds one download may take: `COURSE_DOWNLOAD_TIMEOUT`, else `DOWNLOAD_TIMEOUT`.
    Raises `SettingError` naming the variable for a value that is not a positive number."""
    value = os.environ.get(TIMEOUT_SETTING, "").strip()
    if not value:
        return DOWNLOAD_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0 or seconds == float("inf"):
        raise SettingError(f"{TIMEOUT_SETTING}={value!r} is not a number of seconds: use e.g. "
                           f"{TIMEOUT_SETTING}=3600, or unset it for {DOWNLOAD_TIMEOUT:.0f}")
    return seconds


def download(url: str, dest: Path, space_fix: str = "free some space there", installed: bool = False) -> Path:
    """Download `url` to `dest` with a progress bar; returns `dest`.

    The bytes go to `dest.part` and are renamed to `dest` only once the whole
    file has arrived, so an interrupted download is never taken for a whole
    one; a leftover `.part` is discarded, never resumed. A server that sends
    no Content-Length cannot say when a download ended early: the caller
    must check the file (the course imports it against its checksums) and
    remove it when the check fails. A download still unfinished after
    `download_timeout()` seconds is stopped (a trickle of a byte now and then
    never trips the network's own timeout, which only notices silence).
    Raises `DataNotAvailable` when the download fails or is stopped, `NoSpace` (ending with
    `space_fix`) when the disk is too full for it: before it starts when the server says its size,
    counting, for an archive that is then `installed`, its unpacked files and their installed copy
    too (checked exactly once they are known: see `install.import_dataset`).
    """
    import keras

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    part.unlink(missing_ok=True)
    complete, total, received, progress = False, 0, 0, None
    timeout = download_timeout()
    deadline = time.monotonic() + timeout
    try:
        # `timeout` here bounds each wait for bytes; the loop below bounds the whole download.
        with urllib.request.urlopen(url, timeout=min(60.0, timeout)) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            if total and installed:  # images barely compress: unpacked, each copy is about as large again
                require_space(dest.parent, 3 * total, f"downloading {url} and installing it (the archive, its "
                              "files unpacked, and their installed copy: about 3 times the archive)", space_fix)
            elif total:
                require_space(dest.parent, total, f"downloading {url}", space_fix)
            print(f"Downloading {url}" + ("" if total else " (the server does not say its size)"))
            progress = keras.utils.Progbar(total or None, unit_name="bytes", interval=0.5)
            # read1: whatever has arrived (up to 1 MB), so that a slow download shows its progress
            # and meets its deadline; read(n) would wait for all n bytes.
            while chunk := response.read1(1 << 20):
                out.write(chunk)
                received += len(chunk)
                progress.update(received)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"stopped after {timeout:g} s ({TIMEOUT_SETTING}), with only "
                                       f"{received:,}{f' of {total:,}' if total else ''} bytes received: the "
                                       "connection is too slow or stalled")
        if total and received != total:
            raise DataError(f"interrupted: {received} of {total} bytes arrived")
        complete = True
    except NoSpace:
        raise
    except (OSError, http.client.HTTPException, DataError) as error:  # TimeoutError is an OSError
        if progress is not None and received != total:
            print()  # ends the progress bar's line (a finished bar ends its own), so the message starts on its own
        if getattr(error, "errno", None) in OUT_OF_SPACE:
            part.unlink(missing_ok=True)  # before the free space is measured for the message
            raise NoSpace(full_disk(dest.parent, f"downloading {url}", total or None, space_fix)) from error
        slow = (f". Nothing of it was kept. Allow more time with {TIMEOUT_SETTING}=SECONDS, or work offline: a "
                "lab kit or a copy in COURSE_DATA_MIRROR, or `python -m course_utils data import`"
                if isinstance(error, TimeoutError) else "")
        raise DataNotAvailable(f"could not download {url}: {first_line(error)}{slow}") from error
    finally:
        if not complete:
            part.unlink(missing_ok=True)
    part.replace(dest)
    return dest


def unpacked_sizes(archive: Path) -> list[int] | None:
    """The size of each file of a zip archive once unpacked (its directory lists them); None
    for a tar archive, whose sizes are known only once it has been read through, or a damaged zip."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            return [info.file_size for info in zipped.infolist() if not info.is_dir()]
    except (*DAMAGED_ARCHIVE, OSError):
        return None


def extract(archive: Path, into: Path) -> None:
    """Extract a zip or tar archive into `into`.

    Raises `DataError` naming the archive when it is not an archive or is
    damaged (a member with a bad CRC, a truncated `.tgz`).
    """
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(into)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tarred:
                tarred.extractall(into, filter="data")
        else:
            raise DataError(f"{archive} is not a zip or tar archive (damaged, or not the dataset)")
    except DAMAGED_ARCHIVE as error:
        raise DataError(f"{archive} is damaged ({type(error).__name__}: {error})") from error


def find_root(source: Path, marker: str) -> Path | None:
    """The folder at or just below `source` that holds `marker` (a relative path)."""
    candidates = [source, source.parent]
    if source.is_dir():
        children = [p for p in sorted(source.iterdir()) if p.is_dir()]
        candidates += children + [g for c in children for g in sorted(c.iterdir()) if g.is_dir()]
    return next((c for c in candidates if (c / marker).exists()), None)


def cifar10_arrays(name: str = "cifar10"):
    """The official arrays of the Keras dataset `name` (CIFAR-10's format),
    `((x_train, y_train), (x_test, y_test))`: from a lab kit's copy of the archive Keras
    downloads, else from `keras.datasets` (downloaded once into its cache)."""
    import keras

    archive = kit.arrays_archive(name)  # a lab kit's copy of the archive Keras would download
    if archive:
        return kit.read_cifar10(archive, name)
    try:
        return getattr(keras.datasets, dataset_spec(name)["keras"]).load_data()
    except Exception as error:  # Keras raises a bare Exception on a failed download
        raise DataNotAvailable(
            f"no copy of {name} is available: the official arrays could not be "
            f"downloaded ({error}){kit.problem_note()}\n{fix_hint(name)}"
        ) from error
