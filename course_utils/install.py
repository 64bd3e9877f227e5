"""Installing datasets: where each comes from, import, install records and verification.

A dataset is made available by `ensure_dataset(name)`, which looks, in order,
in the data folder (`$COURSE_DATA_DIR`), in a local mirror
(`$COURSE_DATA_MIRROR`) and finally online. Whatever the source, the files are
checked before they are installed: the official datasets file by file
against the sha256 list shipped in `course_utils/manifests/`, image folders
by decoding every image. Nothing is installed until every check has passed,
and an earlier installation is only replaced once the new one is complete.
The install record keeps each file's size and modification time, so that a
file changed after install is noticed at every load (`data verify` compares
the full sha256).

From the command line (a teacher's lab without internet):

    python -m course_utils data import cats_vs_dogs /path/to/cats_and_dogs_filtered
    python -m course_utils data list
    python -m course_utils data verify
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from . import mirror as kit
from .archives import cifar10_arrays, download, extract, find_root, unpacked_sizes
from .config import data_dir, mirror_dir
from .errors import ChecksumError, DataError, DataNotAvailable
from .files import (OUT_OF_SPACE, SPACE_FIX, NoSpace, changed_files, checked_data_dir, file_hash, file_stats,
                    full_disk, remove_leftovers, require_space, staging_prefix, writable_data_dir)
from .images import MAX_FILE_BYTES, class_folders, report_skipped, scan_images, shown
from .registry import (ARCHIVE, DATA_FOLDER, DATASETS, DOWNLOAD_CACHE, IMAGE_FOLDER, KERAS, MIRROR, NOT_YET, Source,
                       checksums, dataset_spec, fix_hint, keras_cache)

MARKER = ".course_dataset.json"
# What the install record (`MARKER`) keeps of each file, about: its name, sha256, size and time.
RECORD_BYTES_PER_FILE = 200


def copy_checked(root: Path, expected: dict[str, str], staging: Path, name: str) -> None:
    """Copy every expected file from `root` to `staging`, checking its sha256."""
    missing, mismatched = [], []
    for relative, digest in expected.items():
        source = root / relative
        if not source.is_file():
            missing.append(relative)
            continue
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        if file_hash(target, cached=False) != digest:  # the copy is checked: what is installed is what matched
            target.unlink()
            mismatched.append(relative)
    if missing or mismatched:
        listed = (mismatched + missing)[:10]
        raise ChecksumError(
            f"{root} is not a complete, intact copy of {name}: "
            f"{len(mismatched)} file(s) differ from the official checksums and "
            f"{len(missing)} are missing (first: {', '.join(listed)}). "
            "Nothing was installed and the data folder is unchanged; "
            "get a fresh copy of the dataset."
        )


def _copy_image_folder(root: Path, staging: Path, name: str) -> dict[str, Any]:
    """Copy an image-folder dataset (train/<class>, test/<class>), skipping bad images.

    Raises `DataError` for a class folder none of whose images can be read:
    the course would then train on fewer classes than it tests on.
    """
    spec = dataset_spec(name)
    classes = spec["class_names"]
    files, skipped, counts = {}, [], {}
    for split in IMAGE_FOLDER:
        by_class = class_folders(root / split)
        if sorted(by_class) != sorted(classes):
            raise DataError(
                f"{root / split} has class folders {sorted(by_class)}; "
                f"{name} needs exactly {classes}"
            )
        for class_name, paths in by_class.items():
            good, bad = scan_images(paths)
            if not good:
                path, reason = bad[0]
                raise DataError(
                    f"class folder {shown(root / split / class_name)} has no usable image: all {len(bad)} file(s) "
                    f"are unreadable (first: {shown(path.name)}: {reason}). Nothing was installed; replace them "
                    f"with readable images, then run: python -m course_utils data import {name} {shown(root)}"
                )
            skipped += bad
            counts[f"{split}/{class_name}"] = len(good)
            for path in good:
                relative = f"{split}/{class_name}/{path.name}"
                (staging / split / class_name).mkdir(parents=True, exist_ok=True)
                (staging / relative).write_bytes(path.read_bytes())
                files[relative] = file_hash(staging / relative, cached=False)
    report_skipped(skipped, root)
    for split, expected in spec["images_per_class"].items():
        found = sorted({n for key, n in counts.items() if key.startswith(f"{split}/")})
        if found != [expected]:
            print(f"Note: {split} has {', '.join(map(str, found))} images per class; "
                  f"the official {name} has {expected}.")
    return {"files": files, "counts": counts, "skipped": [f"{shown(p)}: {r}" for p, r in skipped]}


def on_disk(sizes: list[int], folder: Path, folders: int = 0) -> int:
    """The space files of `sizes` bytes, in `folders` folders, take on the disk holding `folder`:
    each file takes whole blocks of its file system (4 KB on most), so 3,000 photos of 22 KB, 68 MB
    of bytes, take 74 MB there, and a folder takes a block. Counted as the disk counts it, the check
    before an install and the message of a disk that filled up anyway name the same need."""
    block = os.statvfs(folder).f_frsize or 4096
    return sum(-(-size // block) * block for size in sizes) + folders * block


def _room_to_copy(folder: Path, name: str, root: Path, paths: list[Path], unpacked: int) -> int:
    """Check that the files at `paths` (under `root`) fit into `folder` (`NoSpace` if not), with
    their folders and install record; returns the space the whole import needs at its peak: the
    copy, and the `unpacked` bytes already on disk (an archive's files, unpacked there first and
    removed only once the copy is installed)."""
    paths = [path for path in paths if path.is_file()]
    folders = {parent for path in paths for parent in path.relative_to(root).parents}
    sizes = [path.stat().st_size for path in paths]
    copy = on_disk([*sizes, RECORD_BYTES_PER_FILE * len(sizes)], folder, len(folders))
    require_space(folder, unpacked + copy, f"installing {name}", SPACE_FIX, already=unpacked)
    return unpacked + copy


def import_dataset(name: str, source: Path | str) -> Path:
    """Check a local copy of dataset `name` and install it into the data folder.

    `source` is a folder in the official layout or the official archive. The
    official datasets are checked file by file against their sha256 list; an
    image-folder CIFAR-10 has every image decoded. Only when every check passes
    is the copy installed, replacing any earlier installation. Returns the
    installed folder. Used by `ensure_dataset` and `python -m course_utils data import`.
    """
    spec = dataset_spec(name)
    source = Path(source).expanduser().resolve()
    if not source.exists():
        raise DataError(f"nothing at {source}")
    folder = writable_data_dir()
    target, needed, unpacked = folder / name, None, 0
    try:
        # The staging folder's name carries this process's id: a later run removes it if this one is killed.
        with tempfile.TemporaryDirectory(dir=folder, prefix=staging_prefix(name)) as work:
            work = Path(work)
            if source.is_file():
                listed = unpacked_sizes(source)  # a zip's file sizes; a tar's are known only once unpacked
                if listed:  # unpacked, then each checked file copied: twice its files, for a while
                    needed = 2 * on_disk(listed, folder)
                    require_space(folder, needed, f"installing {name}", SPACE_FIX)
                extract(source, work / "extracted")
                source_root = work / "extracted"
                unpacked = on_disk([p.stat().st_size for p in source_root.rglob("*") if p.is_file()], folder)
            else:
                source_root = source
            staging = work / "staging"
            staging.mkdir()
            if spec["kind"] == ARCHIVE:
                expected = checksums(name)
                root = find_root(source_root, next(iter(expected)))
                if root is None:
                    raise DataError(
                        f"{source} does not have the layout of {name}: expected to find "
                        f"{next(iter(expected))} in it, as in the official {spec['archive']}"
                    )
                needed = _room_to_copy(folder, name, root, [root / r for r in expected], unpacked)
                copy_checked(root, expected, staging, name)
                record = {"official": True, "files": len(expected),
                          "description": f"{name}: official files, sha256-verified"}
            else:
                root = find_root(source_root, IMAGE_FOLDER[-1])
                if root is None or not all((root / split).is_dir() for split in IMAGE_FOLDER):
                    raise DataError(
                        f"{source} does not have the layout of an image-folder {name}: "
                        "expected train/<class>/ and test/<class>/ folders"
                    )
                # (a file over MAX_FILE_BYTES is skipped unread: it takes no room)
                copied = [p for split in IMAGE_FOLDER for p in (root / split).rglob("*")
                          if p.is_file() and p.stat().st_size <= MAX_FILE_BYTES]
                needed = _room_to_copy(folder, name, root, copied, unpacked)
                record = _copy_image_folder(root, staging, name)
                record.update(official=False,
                              description=f"{name}: image-folder copy, NOT the official arrays")
            # Sizes and times as installed: a rename keeps them, so any later change shows.
            record.update(name=name, source=str(source),
                          stats=file_stats(staging, list(expected if spec["kind"] == ARCHIVE else record["files"])))
            (staging / MARKER).write_text(json.dumps(record, indent=1))
            # Swap in the new copy; the old one is removed only once the new one is in place.
            old = work / "previous"
            if target.exists():
                target.rename(old)
            staging.rename(target)
    except OSError as error:  # the staging folder is gone by now, with whatever it half-held
        if error.errno not in OUT_OF_SPACE:
            raise
        raise NoSpace(full_disk(folder, f"installing {name}", needed, SPACE_FIX)) from error
    print(f"Installed {name} from {source} into {target}")
    return target


def reinstall_hint(name: str) -> str:
    """The repair of an installed dataset whose files changed, what a load and `data verify` name:
    installing it afresh; a copy imported by hand (not the official files) from where it came."""
    record = installed(name)
    if record and not record["official"]:
        return f"import it again with: python -m course_utils data import {name} {shown(record.get('source', 'PATH'))}"
    return f"reinstall it with: python -m course_utils data fetch --reinstall {name}"


def _read_record(name: str) -> tuple[dict[str, Any] | None, str | None]:
    """The install record of `name` and, when it exists but cannot be read, why."""
    dataset_spec(name)
    marker = data_dir() / name / MARKER
    try:
        record = json.loads(marker.read_text())
    except (FileNotFoundError, NotADirectoryError):
        return None, None
    except (OSError, ValueError) as error:  # JSONDecodeError is a ValueError
        return None, f"its install record {marker} is damaged ({error})"
    if not isinstance(record, dict) or not {"official", "description", "files"} <= record.keys():
        return None, f"its install record {marker} is damaged (fields missing)"
    # Valid JSON of other types (edited by hand, written by another tool) is as damaged as a cut one.
    kinds = {"official": bool, "description": str, "files": int if record["official"] is True else dict,
             "stats": dict}
    wrong = [key for key, kind in kinds.items() if not isinstance(record.get(key, {}), kind)]
    stats = record.get("stats", {})
    if isinstance(stats, dict) and not all(isinstance(v, list) and len(v) == 2 and all(type(n) is int for n in v)
                                           for v in stats.values()):
        wrong.append("stats")
    if wrong:
        return None, f"its install record {marker} is damaged (wrong type: {', '.join(wrong)})"
    return record, None


def installed(name: str) -> dict[str, Any] | None:
    """The install record of dataset `name` in the data folder, or None.

    A damaged record counts as not installed: `ensure_dataset` then installs afresh.
    """
    record, _ = _read_record(name)
    return record


def dataset_source(name: str, reinstall: bool = False) -> Source:
    """Where dataset `name` comes from in this run: the one lookup `ensure_dataset` acts on and
    `lab-kit --status` prints. In order: the data folder (unless `reinstall`), a copy in the
    mirror, an archive downloaded earlier (the data folder's `downloads/`), for a Keras dataset
    Keras' own cache; else it is downloaded on first use."""
    spec = dataset_spec(name)
    record = None if reinstall else installed(name)
    if record:
        return Source(DATA_FOLDER, record["description"], path=data_dir() / name)
    for candidate in spec["mirror_names"] if mirror_dir() else []:
        found = kit.find(candidate)  # None also for a lab-kit item that no longer verifies
        if found:
            what = "official files" if spec["kind"] == ARCHIVE else "image-folder copy, NOT the official arrays"
            return Source(MIRROR, f"{found.name}: {what}, checked when installed from it", path=found, install=True)
    if spec["kind"] == KERAS:  # the arrays are read where they are, never installed
        archive = kit.arrays_archive(name)
        if archive:
            return Source(MIRROR, kit.arrays_label(name, archive), path=archive)
        cached = any((keras_cache() / "datasets").glob(spec["keras_cache"]))
        return Source(DOWNLOAD_CACHE if cached else NOT_YET, f"{name}: official keras.datasets arrays",
                      address=spec["url"], note="Keras' cache" if cached else "Keras downloads them on first use")
    archive = data_dir() / "downloads" / spec["archive"]
    if archive.is_file():
        return Source(DOWNLOAD_CACHE, f"{archive.name}: checked when installed from it", path=archive, install=True)
    return Source(NOT_YET, f"{name}: downloaded on first use, checked when installed", address=spec["url"],
                  install=True)


def ensure_dataset(name: str, reinstall: bool = False) -> Path | None:
    """Make dataset `name` available and return its folder.

    Takes it from where `dataset_source` says: the data folder, the mirror
    (`$COURSE_DATA_MIRROR`), or a download; `reinstall` skips the data folder.
    For a Keras dataset without a local image-folder copy it returns None: the
    official arrays are then loaded (and cached) by `keras.datasets`. An
    installed copy whose files changed since install (size or modification
    time) is a `DataError` naming the file. Raises `DataNotAvailable` naming
    the command that fixes it.
    """
    spec = dataset_spec(name)
    target = checked_data_dir() / name
    if target.parent.is_dir():
        remove_leftovers(target.parent)
    source = dataset_source(name, reinstall)
    if source.where == DATA_FOLDER:
        changed = changed_files(target, installed(name).get("stats", {}))
        if changed:
            more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
            raise DataError(f"the installed {name} is not as it was installed: {'; '.join(changed[:3])}{more}. "
                            f"The course does not use altered files; {reinstall_hint(name)}")
        return target
    mirror = mirror_dir()
    refused = next(filter(None, map(kit.refusal, spec["mirror_names"] if mirror else [])), None)
    if mirror and source.where != MIRROR and not refused:  # a refused copy was named when it was refused
        print(kit.problem() or f"The mirror {mirror} has no copy of {name} "
                               f"(looked for {', '.join(spec['mirror_names'])}).")
    if not source.install:  # a Keras dataset's arrays
        cifar10_arrays(name)  # downloads once into Keras' cache
        return None
    if source.where == MIRROR:
        return import_dataset(name, source.path)
    # A fresh download takes the archive's name only once its import has passed: a server that
    # sends no length cannot tell a download that ended early from a whole one.
    archive = writable_data_dir() / "downloads" / spec["archive"]
    candidate = source.path or archive.with_name(archive.name + ".unverified")
    try:
        if candidate != archive:
            download(source.address, candidate, SPACE_FIX, installed=True)
        target = import_dataset(name, candidate)
    except NoSpace:
        if candidate != archive:  # downloaded again by the next try anyway: its space is better free
            candidate.unlink(missing_ok=True)
        raise
    except DataNotAvailable as error:
        refused_note = f"; the mirror's copy was refused ({refused})" if refused else ""
        raise DataNotAvailable(f"no copy of {name} is available: {error}{kit.problem_note()}{refused_note}\n"
                               f"{fix_hint(name)}") from error
    except DataError as error:
        # Damaged, incomplete or not the dataset: never kept for a retry.
        candidate.unlink(missing_ok=True)
        raise type(error)(f"{error}\nThe downloaded archive {candidate} failed this check and was removed; "
                          f"download it again with: python -m course_utils data fetch {name}") from error
    candidate.replace(archive)  # kept for a later --reinstall
    return target


def verify_dataset(name: str, relatives: list[str] | None = None) -> list[str]:
    """Re-check an installed dataset's files (full sha256): those at `relatives` (paths
    relative to its folder), else every one, and then also every file added to its folder since
    (the loaders would read one in a class folder). Returns the problems (empty: intact), each
    naming its file (`shown`: a name that is not UTF-8 with its bytes written out)."""
    record, damaged = _read_record(name)
    if record is None:
        return [f"{name} is not installed in {data_dir()}" + (f": {damaged}; {reinstall_hint(name)}" if damaged else "")]
    folder = data_dir() / name
    expected = checksums(name) if record["official"] else record["files"]
    problems = []
    for relative in expected if relatives is None else relatives:
        path = folder / relative
        if relative not in expected:
            problems.append(f"added after install: {shown(relative)}")
        elif not path.is_file():
            problems.append(f"missing: {relative}")
        elif file_hash(path, cached=False) != expected.get(relative):  # damage in place keeps size and date
            problems.append(f"changed: {relative}")
    if relatives is None:  # (hidden files, like the record and a .DS_Store, are never read: not listed)
        added = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*")
                       if path.is_file() and not path.name.startswith("."))
        problems += [f"added after install: {shown(r)}" for r in added if r not in expected]
    return problems


def describe(name: str) -> str:
    """A one-line label of the copy of `name` in use, for banners and results: `dataset_source`'s,
    or "not installed" for a copy still to be installed."""
    source = dataset_source(name)
    return f"{name}: not installed" if source.install else source.label


def list_datasets() -> list[dict[str, str]]:
    """One row per registered dataset: name, title, state."""
    rows = []
    for name, spec in DATASETS.items():
        record, damaged = _read_record(name)
        state = (f"installed ({record['description']})" if record
                 else f"not installed: {damaged}; {reinstall_hint(name)}" if damaged else "not installed")
        rows.append({"name": name, "title": spec["title"], "state": state})
    return rows
