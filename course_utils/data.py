"""Datasets: the registry, download, offline import, verification and loaders.

A dataset is made available by `ensure_dataset(name)`, which looks, in order,
in the data folder (`$COURSE_DATA_DIR`), in a local mirror
(`$COURSE_DATA_MIRROR`) and finally online. Whatever the source, the files are
checked before they are installed: the official datasets file by file
against the sha256 list shipped in `course_utils/manifests/`, image folders
by opening every image. Nothing is installed until every check has passed,
and an earlier installation is only replaced once the new one is complete.

From the command line (a teacher's lab without internet):

    python -m course_utils data import cats_vs_dogs /path/to/cats_and_dogs_filtered
    python -m course_utils data list
    python -m course_utils data verify

`load_dataset(name, cfg)` returns batched, prefetched `tf.data` pipelines of
(float32 image in [0, 255], int label) for the train, validation and test
splits, sized by the run profile. `load_image_folder` does the same for a
learner's own folder of class sub-folders.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

from PIL import Image

from . import mirror as kit
from .config import data_dir, mirror_dir

MANIFESTS = Path(__file__).with_name("manifests")
MARKER = ".course_dataset.json"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif"}
DECODABLE_FORMATS = {"JPEG", "PNG", "BMP", "GIF"}  # what tf.io.decode_image reads

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]

DATASETS: dict[str, dict[str, Any]] = {
    "cats_vs_dogs": {
        "title": "Cats vs dogs: cats_and_dogs_filtered, 2,000 train and 1,000 validation JPEGs",
        "url": "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",
        "archive": "cats_and_dogs_filtered.zip",
        "mirror_names": ["cats_and_dogs_filtered", "cats_and_dogs_filtered.zip"],
        "manifest": MANIFESTS / "cats_vs_dogs.sha256",
        "class_names": ["cats", "dogs"],
    },
    "flowers17": {
        "title": "Oxford 17 Category Flower Dataset: 1,360 JPEGs, 80 per class",
        "url": "https://www.robots.ox.ac.uk/~vgg/data/flowers/17/17flowers.tgz",
        "archive": "17flowers.tgz",
        "mirror_names": ["17flowers", "17flowers.tgz"],
        "manifest": MANIFESTS / "flowers17.sha256",
        # Class = position in the numbered file list: images 1-80 are class 0, ...
        "class_names": ["daffodil", "snowdrop", "lily valley", "bluebell", "crocus",
                        "iris", "tigerlily", "tulip", "fritillary", "sunflower",
                        "daisy", "colts foot", "dandelion", "cowslip", "buttercup",
                        "windflower", "pansy"],
    },
    "cifar10": {
        "title": "CIFAR-10: 32x32 colour images in 10 classes (keras.datasets.cifar10)",
        "url": None,  # the official arrays come from keras.datasets.cifar10
        "mirror_names": ["cifar10-jpeg", "cifar10"],
        "manifest": None,  # a local copy is an image folder: train/<class>, test/<class>
        "class_names": CIFAR10_CLASSES,
    },
}


class DataError(Exception):
    """Data that cannot be used as it is: the message says why and what to do."""


class DataNotAvailable(DataError):
    """No copy of a dataset in the data folder, the mirror or online."""


class ChecksumError(DataError):
    """Files whose sha256 differs from the official list: they are not used."""


class Splits(NamedTuple):
    """What `load_dataset` returns: three `tf.data` pipelines and the class names."""

    train: Any
    validation: Any
    test: Any
    class_names: list[str]


def _spec(name: str) -> dict[str, Any]:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}: the course has {', '.join(DATASETS)}")
    return DATASETS[name]


def _natural_key(path: Path) -> list:
    """Sort cat.2.jpg before cat.10.jpg."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _fix_hint(name: str) -> str:
    names = " or ".join(_spec(name)["mirror_names"])
    return (
        f"To use a local copy (a lab without internet), run\n"
        f"    python -m course_utils data import {name} PATH\n"
        f"with PATH the copy ({names}), or set COURSE_DATA_MIRROR to a folder that holds it."
    )


# --------------------------------------------------------------------------
# Images: which files can be read


def check_image(path: Path) -> str | None:
    """Why `path` cannot be used as a training image, or None when it can.

    Opens and decodes the file, so a truncated or corrupt image is caught here
    rather than mid-epoch. Grayscale, CMYK and palette images are fine:
    the loaders convert every image to RGB.
    """
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return "not an image file"
    try:
        with Image.open(path) as image:
            image_format = image.format
            if image_format == "JPEG":
                image.draft("RGB", (64, 64))  # decode at reduced size: same checks, faster
            image.load()
    except Exception as error:  # PIL raises many types for bad files
        return f"unreadable image ({error})"
    if image_format not in DECODABLE_FORMATS:
        return f"{image_format} images are not supported (use JPEG or PNG)"
    return None


def scan_images(paths: list[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Split `paths` into the usable images and (path, reason) for the others."""
    good, bad = [], []
    for path in paths:
        reason = check_image(path)
        if reason:
            bad.append((path, reason))
        else:
            good.append(path)
    return good, bad


def report_skipped(bad: list[tuple[Path, str]], where: Path | str, limit: int = 10) -> None:
    """Print the skipped files by name and count (used by imports and loaders)."""
    if not bad:
        return
    print(f"Skipped {len(bad)} file(s) in {where} that are not usable images:")
    for path, reason in bad[:limit]:
        print(f"  {path}: {reason}")
    if len(bad) > limit:
        print(f"  ... and {len(bad) - limit} more")


def class_folders(folder: Path) -> dict[str, list[Path]]:
    """The files of each class sub-folder of `folder`, in natural order.

    Raises `DataError` for a missing folder, a folder without class
    sub-folders (a wrong layout) or an empty class folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"no folder at {folder}")
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        loose = sum(1 for p in folder.iterdir() if p.is_file())
        raise DataError(
            f"wrong layout in {folder}: expected one sub-folder per class "
            f"(for example {folder}/cats/, {folder}/dogs/), found none "
            f"({loose} files directly inside)"
        )
    files = {}
    for class_dir in classes:
        files[class_dir.name] = sorted(
            (p for p in class_dir.iterdir() if p.is_file() and not p.name.startswith(".")),
            key=_natural_key,
        )
        if not files[class_dir.name]:
            raise DataError(f"class folder {class_dir} is empty: add images or remove it")
    return files


# --------------------------------------------------------------------------
# Getting the data: download, import, verify


def download(url: str, dest: Path) -> Path:
    """Download `url` to `dest` with a progress bar.

    The bytes go to `dest.part` and are renamed to `dest` only once the whole
    file has arrived, so an interrupted download is never taken for a whole
    one; a leftover `.part` is discarded, never resumed.
    Raises `DataNotAvailable` when the download fails.
    """
    import keras

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    part.unlink(missing_ok=True)
    complete = False
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            print(f"Downloading {url}")
            progress = keras.utils.Progbar(total or None, unit_name="bytes")
            received = 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                received += len(chunk)
                progress.update(received)
        if total and received != total:
            raise DataError(f"interrupted: {received} of {total} bytes arrived")
        complete = True
    except (OSError, http.client.HTTPException, DataError) as error:
        raise DataNotAvailable(f"could not download {url}: {error}") from error
    finally:
        if not complete:
            part.unlink(missing_ok=True)
    part.replace(dest)
    return dest


def _extract(archive: Path, into: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(into)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tarred:
            tarred.extractall(into, filter="data")
    else:
        raise DataError(f"{archive} is not a zip or tar archive (damaged, or not the dataset)")


def _find_root(source: Path, marker: str) -> Path | None:
    """The folder at or just below `source` that holds `marker` (a relative path)."""
    candidates = [source, source.parent]
    if source.is_dir():
        children = [p for p in sorted(source.iterdir()) if p.is_dir()]
        candidates += children + [g for c in children for g in sorted(c.iterdir()) if g.is_dir()]
    return next((c for c in candidates if (c / marker).exists()), None)


def _read_manifest(path: Path) -> dict[str, str]:
    entries = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, relative = line.split(maxsplit=1)
            entries[relative.strip().removeprefix("./")] = digest
    return entries


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _copy_checked(root: Path, expected: dict[str, str], staging: Path, name: str) -> None:
    """Copy every expected file from `root` to `staging`, checking its sha256."""
    missing, mismatched = [], []
    for relative, digest in expected.items():
        source = root / relative
        if not source.is_file():
            missing.append(relative)
            continue
        data = source.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            mismatched.append(relative)
            continue
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
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
    """Copy an image-folder dataset (train/<class>, test/<class>), skipping bad images."""
    classes = _spec(name)["class_names"]
    files, skipped, counts = {}, [], {}
    for split in ("train", "test"):
        by_class = class_folders(root / split)
        if sorted(by_class) != sorted(classes):
            raise DataError(
                f"{root / split} has class folders {sorted(by_class)}; "
                f"{name} needs exactly {classes}"
            )
        for class_name, paths in by_class.items():
            good, bad = scan_images(paths)
            skipped += bad
            counts[f"{split}/{class_name}"] = len(good)
            for path in good:
                relative = f"{split}/{class_name}/{path.name}"
                data = path.read_bytes()
                files[relative] = hashlib.sha256(data).hexdigest()
                (staging / split / class_name).mkdir(parents=True, exist_ok=True)
                (staging / relative).write_bytes(data)
    report_skipped(skipped, root)
    official = {"train": 5000, "test": 1000}
    for split, expected in official.items():
        found = sorted({n for key, n in counts.items() if key.startswith(f"{split}/")})
        if found != [expected]:
            print(f"Note: {split} has {', '.join(map(str, found))} images per class; "
                  f"the official {name} has {expected}.")
    return {"files": files, "counts": counts, "skipped": [f"{p}: {r}" for p, r in skipped]}


def import_dataset(name: str, source: Path | str) -> Path:
    """Check a local copy of dataset `name` and install it into the data folder.

    `source` is a folder in the official layout or the official archive. The
    official datasets are checked file by file against their sha256 list; an
    image-folder CIFAR-10 has every image opened. Only when every check passes
    is the copy installed, replacing any earlier installation. Returns the
    installed folder. Used by `ensure_dataset` and `python -m course_utils data import`.
    """
    spec = _spec(name)
    source = Path(source).expanduser().resolve()
    if not source.exists():
        raise DataError(f"nothing at {source}")
    target = data_dir() / name
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".import-{name}-") as work:
        work = Path(work)
        if source.is_file():
            _extract(source, work / "extracted")
            source_root = work / "extracted"
        else:
            source_root = source
        staging = work / "staging"
        staging.mkdir()
        if spec["manifest"]:
            expected = _read_manifest(spec["manifest"])
            root = _find_root(source_root, next(iter(expected)))
            if root is None:
                raise DataError(
                    f"{source} does not have the layout of {name}: expected to find "
                    f"{next(iter(expected))} in it, as in the official {spec['archive']}"
                )
            _copy_checked(root, expected, staging, name)
            record = {"official": True, "files": len(expected),
                      "description": f"{name}: official files, sha256-verified"}
        else:
            root = _find_root(source_root, "test")
            if root is None or not (root / "train").is_dir():
                raise DataError(
                    f"{source} does not have the layout of an image-folder {name}: "
                    "expected train/<class>/ and test/<class>/ folders"
                )
            record = _copy_image_folder(root, staging, name)
            record.update(official=False,
                          description=f"{name}: image-folder copy, NOT the official arrays")
        record.update(name=name, source=str(source))
        (staging / MARKER).write_text(json.dumps(record, indent=1))
        # Swap in the new copy; the old one is removed only once the new one is in place.
        old = work / "previous"
        if target.exists():
            target.rename(old)
        staging.rename(target)
    print(f"Installed {name} from {source} into {target}")
    return target


def installed(name: str) -> dict[str, Any] | None:
    """The install record of dataset `name` in the data folder, or None."""
    _spec(name)
    marker = data_dir() / name / MARKER
    return json.loads(marker.read_text()) if marker.is_file() else None


def ensure_dataset(name: str) -> Path | None:
    """Make dataset `name` available and return its folder.

    Looks in the data folder, then the mirror (`$COURSE_DATA_MIRROR`), then
    downloads. For CIFAR-10 without a local image-folder copy it returns None:
    the official arrays are then loaded (and cached) by `keras.datasets`.
    Raises `DataNotAvailable` naming the command that fixes it.
    """
    spec = _spec(name)
    target = data_dir() / name
    if installed(name):
        return target
    mirror = mirror_dir()
    if mirror:
        for candidate in spec["mirror_names"]:
            found = kit.find(candidate)  # None also for a lab-kit item that no longer verifies
            if found:
                return import_dataset(name, found)
        if not (spec["url"] is None and kit.cifar10_archive()):
            print(f"The mirror {mirror} has no copy of {name} (looked for {', '.join(spec['mirror_names'])}).")
    if spec["url"] is None:
        _load_cifar10_arrays(name)  # downloads once into Keras' cache
        return None
    archive = data_dir() / "downloads" / spec["archive"]
    try:
        if not archive.is_file():
            download(spec["url"], archive)
        return import_dataset(name, archive)
    except ChecksumError:
        archive.unlink(missing_ok=True)  # a bad download is not kept
        raise
    except DataNotAvailable as error:
        raise DataNotAvailable(f"no copy of {name} is available: {error}\n{_fix_hint(name)}") from error


def verify_dataset(name: str) -> list[str]:
    """Re-check an installed dataset's files; returns the problems (empty: intact)."""
    spec = _spec(name)
    record = installed(name)
    if record is None:
        return [f"{name} is not installed in {data_dir()}"]
    folder = data_dir() / name
    expected = _read_manifest(spec["manifest"]) if record["official"] else record["files"]
    problems = []
    for relative, digest in expected.items():
        path = folder / relative
        if not path.is_file():
            problems.append(f"missing: {relative}")
        elif _sha256(path) != digest:
            problems.append(f"changed: {relative}")
    return problems


def describe(name: str) -> str:
    """A one-line label of the copy of `name` in use, for banners and results."""
    record = installed(name)
    if record:
        return record["description"]
    if _spec(name)["url"] is None:
        archive = kit.cifar10_archive()
        return kit.cifar10_label(archive) if archive else f"{name}: official keras.datasets arrays"
    return f"{name}: not installed"


def list_datasets() -> list[dict[str, str]]:
    """One row per registered dataset: name, title, state."""
    rows = []
    for name, spec in DATASETS.items():
        record = installed(name)
        state = f"installed ({record['description']})" if record else "not installed"
        rows.append({"name": name, "title": spec["title"], "state": state})
    return rows


# --------------------------------------------------------------------------
# Loaders: tf.data pipelines


def _pipeline(images, labels, image_size: int, batch_size: int, shuffle: bool, seed: int):
    """Batched, prefetched (image, label) pipeline; images are paths or arrays."""
    import tensorflow as tf

    def from_path(path, label):
        raw = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return resize(raw, label)

    def resize(image, label):
        # Cached as 8-bit pixels (a quarter of float32's memory), made float per batch.
        image = tf.image.resize(tf.cast(image, tf.float32), (image_size, image_size))
        return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8), tf.cast(label, tf.int32)

    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    ds = ds.map(from_path if isinstance(images[0], str) else resize,
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y))
    return ds.prefetch(tf.data.AUTOTUNE)


def _take(per_class: dict[int, list], count: int | None) -> tuple[list, list[int]]:
    """The first `count` items of each class (all when None), with their labels."""
    items, labels = [], []
    for label, members in sorted(per_class.items()):
        chosen = members if count is None else members[:count]
        items += chosen
        labels += [label] * len(chosen)
    return items, labels


def _split_files(name: str, folder: Path) -> tuple[dict, dict, dict]:
    """Per-class file lists of the train, validation and test splits."""
    if name == "cats_vs_dogs":
        train = class_folders(folder / "train")
        held_out = class_folders(folder / "validation")
        # The held-out test split is the second half of each validation class.
        validation = {c: files[: len(files) // 2] for c, files in held_out.items()}
        test = {c: files[len(files) // 2:] for c, files in held_out.items()}
        return train, validation, test
    if name == "flowers17":
        files = sorted((folder / "jpg").glob("image_*.jpg"), key=_natural_key)
        splits = ({}, {}, {})
        for index, path in enumerate(files):
            class_name = DATASETS[name]["class_names"][index // 80]
            # Stratified and fixed: in every run of 8 images, 6 train, 1 val, 1 test.
            which = {6: 1, 7: 2}.get(index % 80 % 8, 0)
            splits[which].setdefault(class_name, []).append(path)
        return splits
    train_all, test = class_folders(folder / "train"), class_folders(folder / "test")
    # Validation: the last tenth of each training class.
    train = {c: f[: len(f) - len(f) // 10] for c, f in train_all.items()}
    validation = {c: f[len(f) - len(f) // 10:] for c, f in train_all.items()}
    return train, validation, test


def _load_cifar10_arrays(name: str = "cifar10"):
    import keras

    archive = kit.cifar10_archive()  # a lab kit's copy of the archive Keras would download
    if archive:
        return kit.read_cifar10(archive)
    try:
        return keras.datasets.cifar10.load_data()
    except Exception as error:  # Keras raises a bare Exception on a failed download
        raise DataNotAvailable(
            f"no copy of {name} is available: the official arrays could not be "
            f"downloaded ({error})\n{_fix_hint(name)}"
        ) from error


def load_dataset(name: str, cfg: dict[str, Any], image_size: int | None = None) -> Splits:
    """Train, validation and test pipelines of a course dataset, sized by the profile.

    Uses `cfg` (from `setup()`) for `train_per_class`, `val_per_class`,
    `test_per_class`, `batch_size`, `seed` and, unless `image_size` is given,
    `image_size`. Subsets take the first images of each class in file order,
    so every run of a profile sees the same images. Used by every notebook.
    """
    import numpy as np

    spec = _spec(name)
    size = image_size or cfg["image_size"]
    counts = (cfg["train_per_class"], cfg["val_per_class"], cfg["test_per_class"])
    folder = ensure_dataset(name)
    splits = []
    if folder is None:  # CIFAR-10 from the official arrays
        (x_train, y_train), (x_test, y_test) = _load_cifar10_arrays(name)
        y_train, y_test = y_train.ravel(), y_test.ravel()
        train_idx = {c: list(np.flatnonzero(y_train == c)) for c in range(10)}
        parts = (
            {c: i[: len(i) - len(i) // 10] for c, i in train_idx.items()},
            {c: i[len(i) - len(i) // 10:] for c, i in train_idx.items()},
            {c: list(np.flatnonzero(y_test == c)) for c in range(10)},
        )
        for x, per_class, count in zip((x_train, x_train, x_test), parts, counts):
            indices, labels = _take(per_class, count)
            splits.append((x[indices], labels))
    else:
        index = {c: i for i, c in enumerate(spec["class_names"])}
        for per_class, count in zip(_split_files(name, folder), counts):
            paths, labels = _take({index[c]: f for c, f in per_class.items()}, count)
            splits.append(([str(p) for p in paths], labels))
    for part, (_, labels) in zip(("train", "validation", "test"), splits):
        if not labels:
            raise DataError(f"the {part} split of {name} is empty ({describe(name)}): "
                            "the copy has too few images per class for the course's splits")
    seed = cfg["seed"]
    train, validation, test = (
        _pipeline(images, labels, size, cfg["batch_size"], shuffle=(i == 0), seed=seed)
        for i, (images, labels) in enumerate(splits)
    )
    sizes = ", ".join(f"{part} {len(labels)}" for part, (_, labels) in zip(("train", "validation", "test"), splits))
    print(f"{describe(name)}: {sizes} images at {size}x{size}, batch {cfg['batch_size']}")
    return Splits(train, validation, test, list(spec["class_names"]))


def load_image_folder(folder: Path | str, image_size: int, batch_size: int,
                      shuffle: bool = True, seed: int = 42) -> tuple[Any, list[str]]:
    """A pipeline over a learner's own folder of class sub-folders, and the class names.

    Every file is checked first: unreadable, truncated and non-image files are
    skipped and reported by name and count, never a crash mid-epoch.
    Grayscale, CMYK and PNG images are converted to RGB.
    """
    folder = Path(folder)
    by_class = class_folders(folder)
    paths, labels, skipped = [], [], []
    for label, (class_name, files) in enumerate(by_class.items()):
        good, bad = scan_images(files)
        if not good:
            raise DataError(f"class folder {folder / class_name} has no usable image")
        paths += [str(p) for p in good]
        labels += [label] * len(good)
        skipped += bad
    report_skipped(skipped, folder)
    print(f"{folder}: {len(paths)} images in {len(by_class)} classes, {len(skipped)} skipped")
    return _pipeline(paths, labels, image_size, batch_size, shuffle, seed), list(by_class)
