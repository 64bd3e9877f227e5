"""Downloads and archives: bytes from the network, and what is inside an archive.

Both fail with a `DataError` subclass that names the file, never with the raw
`BadZipFile`, `EOFError` or `URLError` underneath: a damaged archive is a
problem the user fixes by getting a fresh copy.
"""

from __future__ import annotations

import gzip
import http.client
import tarfile
import urllib.request
import zipfile
import zlib
from pathlib import Path

from . import mirror as kit
from .errors import DataError, DataNotAvailable
from .files import OUT_OF_SPACE, NoSpace, full_disk, require_space
from .registry import dataset_spec, fix_hint

# What a damaged zip or tar file raises while it is read.
DAMAGED_ARCHIVE = (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, gzip.BadGzipFile,
                   EOFError, zlib.error)


def download(url: str, dest: Path, space_fix: str = "free some space there") -> Path:
    """Download `url` to `dest` with a progress bar; returns `dest`.

    The bytes go to `dest.part` and are renamed to `dest` only once the whole
    file has arrived, so an interrupted download is never taken for a whole
    one; a leftover `.part` is discarded, never resumed. A server that sends
    no Content-Length cannot say when a download ended early: the caller
    must check the file (the course imports it against its checksums) and
    remove it when the check fails.
    Raises `DataNotAvailable` when the download fails, `NoSpace` (ending with `space_fix`)
    when the disk is too full for it: before it starts when the server says its size.
    """
    import keras

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    part.unlink(missing_ok=True)
    complete, total = False, 0
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            if total:
                require_space(dest.parent, total, f"downloading {url}", space_fix)
            print(f"Downloading {url}" + ("" if total else " (the server does not say its size)"))
            progress = keras.utils.Progbar(total or None, unit_name="bytes")
            received = 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                received += len(chunk)
                progress.update(received)
        if total and received != total:
            raise DataError(f"interrupted: {received} of {total} bytes arrived")
        complete = True
    except NoSpace:
        raise
    except (OSError, http.client.HTTPException, DataError) as error:
        if getattr(error, "errno", None) in OUT_OF_SPACE:
            part.unlink(missing_ok=True)  # before the free space is measured for the message
            raise NoSpace(full_disk(dest.parent, f"downloading {url}", total or None, space_fix)) from error
        raise DataNotAvailable(f"could not download {url}: {error}") from error
    finally:
        if not complete:
            part.unlink(missing_ok=True)
    part.replace(dest)
    return dest


def unpacked_size(archive: Path) -> int | None:
    """The total size of a zip archive's files once unpacked (its directory lists them); None
    for a tar archive, whose size is known only once it has been read through, or a damaged zip."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            return sum(info.file_size for info in zipped.infolist())
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
