"""What the course takes from a mirror folder (`$COURSE_DATA_MIRROR`), and how it checks it.

A mirror is either a folder a teacher filled by hand (a dataset folder or
archive, a weights file) or a *lab kit* built by `python -m course_utils
lab-kit PATH` (see `labkit.py`). A lab kit has a manifest, `MANIFEST.json`,
listing every file of every item with its size and sha256. `find()` hands out
a kit file only when it still matches that manifest: a damaged or incomplete
item is named, with the command that repairs it, and not used, so nothing
damaged is ever copied into the data folder. Files the manifest does not list
are returned as they are; their users check them by content (the datasets
against the course's sha256 lists, the weights against Keras' hashes).

Nothing here writes into the mirror: a read-only kit (a USB stick, a shared
drive) works as well as a writable one.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import tarfile
import zlib
from pathlib import Path
from typing import Any

from .config import mirror_dir
from .errors import DataError
from .files import file_hash
from .registry import dataset_spec

MANIFEST = "MANIFEST.json"
REPAIR = "python -m course_utils lab-kit"

_reported: set[str] = set()
_refused: dict[str, str] = {}  # the kit's items found damaged in this process, by path: why


def read_manifest(kit: Path) -> dict[str, Any]:
    """The lab-kit manifest of folder `kit` ({"items": {}} when it has none, or a damaged one:
    its files are then checked by content only, as in a folder filled by hand, and it is named)."""
    path = Path(kit) / MANIFEST
    if not path.is_file():
        return {"items": {}}
    try:
        manifest = json.loads(path.read_text())
        if isinstance(manifest.get("items"), dict):
            return manifest
    except (ValueError, AttributeError, OSError):
        pass
    _notice(f"{path}:damaged", f"Lab kit {kit}: its {MANIFEST} is damaged, so its files are checked by content "
                               f"only; rebuild it with `{REPAIR} PATH` where it was built, then copy it again.")
    return {"items": {}}


def item_problems(kit: Path, entry: dict[str, Any]) -> list[str]:
    """What is wrong with one manifest item of `kit`: missing files, sizes or sha256 that
    differ from the manifest. Returns an empty list when every file is intact."""
    problems = []
    for record in entry["files"]:
        path = Path(kit) / record["file"]
        if not path.is_file():
            problems.append(f"missing: {record['file']}")
        elif path.stat().st_size != record["size"] or file_hash(path) != record["sha256"]:
            problems.append(f"damaged: {record['file']} (differs from the kit's manifest)")
    return problems


def _item_of(manifest: dict[str, Any], relative: str) -> tuple[str, dict[str, Any]] | None:
    """The (name, entry) of the manifest item stored at `relative`, or None when none is."""
    return next(((name, entry) for name, entry in manifest["items"].items() if entry["path"] == relative), None)


def _notice(key: str, text: str) -> None:
    """Print `text` once per process: a notebook asks for the same item several times."""
    if key not in _reported:
        _reported.add(key)
        print(text)


def find(relative: str) -> Path | None:
    """The file or folder `relative` in the mirror, when it can be used.

    Returns None when no mirror is set, nothing is there, or the lab kit's
    manifest lists it and it no longer matches (the item is then named,
    with the command that repairs it). Never writes into the mirror.
    """
    mirror = mirror_dir()
    if mirror is None:
        return None
    listed = _item_of(read_manifest(mirror), relative)
    if listed is None:
        return mirror / relative if (mirror / relative).exists() else None
    name, entry = listed
    problems = item_problems(mirror, entry)
    if problems:
        _refused[f"{mirror}:{relative}"] = f"lab kit item {name}: {'; '.join(problems[:3])}"
        _notice(f"{mirror}:{name}",
                f"Lab kit {mirror}: item {name} is not used, {'; '.join(problems[:3])}. "
                f"Repair the kit with `{REPAIR} PATH` where it was built, then copy it again.")
        return None
    return mirror / relative


def refusal(relative: str) -> str | None:
    """Why the lab kit's file or folder `relative` was refused by `find` in this process (damaged
    or missing files, with the item's name), or None when it was not: a caller that then finds no
    copy says it was refused, never that the mirror has none."""
    mirror = mirror_dir()
    return _refused.get(f"{mirror}:{relative}") if mirror else None


def kit_item(name: str) -> Path | None:
    """The path of the lab kit's item `name` (a weights model or the hub model) when it
    verifies; None when the mirror is no lab kit or lacks it (named, with the repair)."""
    mirror = mirror_dir()
    if mirror is None or not (mirror / MANIFEST).is_file():
        return None
    entry = read_manifest(mirror)["items"].get(name)
    if entry is None:
        _notice(f"{mirror}:{name}:missing",
                f"Lab kit {mirror}: no {name} in it (incomplete kit): complete it with `{REPAIR} PATH`.")
        return None
    return find(entry["path"])


def problem() -> str | None:
    """What is wrong with the `COURSE_DATA_MIRROR` setting, in one line (for the banner,
    `lab-kit --status` and a dataset that cannot be had); None when it is unset or a folder."""
    mirror = mirror_dir()
    if mirror is None or mirror.is_dir():
        return None
    return (f"COURSE_DATA_MIRROR is set to {mirror}, {_not_a_folder(mirror)}: no mirror is used "
            "(mount the drive that holds it, or correct or unset the setting)")


def _not_a_folder(path: Path) -> str:
    """What `path`, which is no folder one can open, is: a file, a symbolic link loop (links that
    lead back to themselves), a link to something missing, a folder this user may not open, or nothing."""
    try:
        path.stat()
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "a loop of symbolic links (each leads to the next, and the last back to the first)"
        if error.errno == errno.EACCES:
            return "a folder this user may not open (permission denied)"
        if path.is_symlink():
            return f"a symbolic link to {os.path.realpath(path)}, which does not exist"
        return "a folder that does not exist"
    return "a file, not a folder"


def problem_note() -> str:
    """`problem()` as a clause to add to a message ("; COURSE_DATA_MIRROR is set to ..."), or ""."""
    text = problem()
    return f"; {text}" if text else ""


def is_kit_path(path: Path) -> bool:
    """Whether `path` lies inside the mirror folder (for labels: "mirror file ...")."""
    mirror = mirror_dir()
    return mirror is not None and Path(path).resolve().is_relative_to(mirror.resolve())


def arrays_archive(name: str) -> Path | None:
    """The archive Keras downloads for the Keras dataset `name` (CIFAR-10's
    `cifar-10-python.tar.gz`), in the mirror, when it can be used."""
    return find(dataset_spec(name)["archive"])


def arrays_label(name: str, archive: Path) -> str:
    """The label of the mirror's archive of the Keras dataset `name`, by content: the official
    arrays (the sha256 Keras publishes), or not."""
    if file_hash(archive) == dataset_spec(name)["sha256"]:
        return f"{name}: official arrays (from the mirror's {archive.name})"
    return f"{name}: arrays from the mirror's {archive.name}, NOT the official archive (sha256 differs)"


class _ArraysOnly(pickle.Unpickler):
    """Unpickles plain containers and NumPy arrays, and nothing else: a pickle can name any
    function to call, and an archive in a mirror that is not the official one is not trusted."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it would call {module}.{name}, which is not allowed in a CIFAR-10 "
                                         "batch (refused, never run)")
        return super().find_class(module, name)


# What a damaged or foreign archive raises while its batches are read (a truncated .tar.gz: EOFError
# or ReadError; a batch that is no pickle, or another one: UnpicklingError, ValueError, TypeError).
_UNREADABLE = (pickle.UnpicklingError, tarfile.TarError, EOFError, zlib.error, OSError, ValueError, TypeError)


def read_cifar10(archive: Path, dataset: str = "cifar10"):
    """The CIFAR-10 arrays in an official-format archive, as keras.datasets.cifar10 returns them:
    ((x_train, y_train), (x_test, y_test)), uint8 images (N, 32, 32, 3) and (N, 1) labels.

    Read straight from the archive: nothing is extracted into the mirror or the data folder.
    Raises `DataError` naming the archive and what is wrong with it (damaged, incomplete, not
    CIFAR-10, or a batch that would run code).
    """
    import numpy as np

    def batch(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str):
        if name not in members:
            raise DataError(f"it has no {name} (an incomplete copy, or not the CIFAR-10 archive)")
        # The official batches are Python pickles of {b"data": (N, 3072) uint8, b"labels": [...]}.
        try:
            content = _ArraysOnly(tar.extractfile(members[name]), encoding="bytes").load()
        except pickle.UnpicklingError as error:
            raise DataError(f"its {name}: {error}") from error
        if not isinstance(content, dict) or not {b"data", b"labels"} <= content.keys():
            raise DataError(f"its {name} holds a {type(content).__name__}, not a CIFAR-10 batch "
                            "(a dict of b'data' and b'labels')")
        images = np.asarray(content[b"data"], dtype="uint8").reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        labels = np.asarray(content[b"labels"], dtype="uint8").reshape(-1, 1)
        if len(images) != len(labels):
            raise DataError(f"its {name} has {len(images)} images and {len(labels)} labels")
        return images, labels

    try:
        with tarfile.open(archive) as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            train = [batch(tar, members, f"data_batch_{i}") for i in range(1, 6)]
            test = batch(tar, members, "test_batch")
    except (DataError, *_UNREADABLE) as error:
        why = error if isinstance(error, DataError) else f"it is damaged ({type(error).__name__}: {error})"
        spec = dataset_spec(dataset)
        raise DataError(f"the CIFAR-10 archive {archive} cannot be used: {why}. Replace it with the official "
                        f"{spec['archive']} ({spec['url']}), or remove it: the course then downloads the "
                        f"official arrays. In a lab kit: `{REPAIR} PATH` where it was built") from error
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train])), test
