"""The course's datasets as data: where each comes from, how it is checked, its classes, its splits.

One entry per dataset in `DATASETS`; `dataset_spec(name)` returns it or raises a
`DataError` listing the valid names. Each entry says its `kind`:

- `ARCHIVE`: the official archive of image files (`url`, saved as `archive`), every file
  checked against the course's sha256 list (`manifest`);
- `KERAS`: a Keras dataset (`keras.datasets.<keras>`), arrays Keras downloads from `url`
  (the archive `archive`, whose sha256 Keras publishes as `sha256`); a local copy is an
  image folder (`train/<class>/`, `test/<class>/`), every image decoded when installed.

and its `split`, the rule that divides it into train, validation and test (one of the rule
types below; `data` applies it, with no branch on a dataset's name). `Source` is the one answer
to "where does this come from in this run" that the loaders act on and `lab-kit --status` prints,
for a dataset (`install.dataset_source`), a network's weights (`pretrained.weights_source`) and
the hub model (`hub.hub_source`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import DataError

MANIFESTS = Path(__file__).with_name("manifests")

# The kinds of dataset (see the module docstring).
ARCHIVE = "archive of image files"
KERAS = "Keras dataset"
# The folders of a Keras dataset's image-folder copy: train/<class>/ and test/<class>/.
IMAGE_FOLDER = ("train", "test")


@dataclass(frozen=True)
class HalvedFolder:
    """Train on the `train` folder; halve each class of the `held_out` folder: its first half
    (in file order) validates, its second half is the held-out test set."""

    train: str
    held_out: str


@dataclass(frozen=True)
class ByFileNumber:
    """One `folder` of numbered files (`glob`; the number is `number`'s group in the file's stem).
    Class and split come from the number, never from a file's place in the list, so a missing
    file moves no other: `per_class` consecutive numbers make a class, and of every `cycle` of
    them the first `train` train, the next `validation` validate, the rest test."""

    folder: str
    glob: str
    number: str
    per_class: int
    cycle: int
    train: int
    validation: int


@dataclass(frozen=True)
class TrainingTail:
    """Train and test as the dataset gives them (its `train` and `test` folders, or the Keras
    arrays); the last `1 / parts` of each training class validates instead of training."""

    parts: int


DATASETS: dict[str, dict[str, Any]] = {
    "cats_vs_dogs": {
        "title": "Cats vs dogs: cats_and_dogs_filtered, 2,000 train and 1,000 validation JPEGs",
        "kind": ARCHIVE,
        "url": "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",
        "archive": "cats_and_dogs_filtered.zip",
        "mirror_names": ["cats_and_dogs_filtered", "cats_and_dogs_filtered.zip"],
        "manifest": MANIFESTS / "cats_vs_dogs.sha256",
        "class_names": ["cats", "dogs"],
        "split": HalvedFolder(train="train", held_out="validation"),
    },
    "flowers17": {
        "title": "Oxford 17 Category Flower Dataset: 1,360 JPEGs, 80 per class",
        "kind": ARCHIVE,
        "url": "https://www.robots.ox.ac.uk/~vgg/data/flowers/17/17flowers.tgz",
        "archive": "17flowers.tgz",
        "mirror_names": ["17flowers", "17flowers.tgz"],
        "manifest": MANIFESTS / "flowers17.sha256",
        # Class = file number: image_0001-0080.jpg are class 0, image_0081-0160.jpg class 1, ...
        "class_names": ["daffodil", "snowdrop", "lily valley", "bluebell", "crocus",
                        "iris", "tigerlily", "tulip", "fritillary", "sunflower",
                        "daisy", "colts foot", "dandelion", "cowslip", "buttercup",
                        "windflower", "pansy"],
        # Stratified and fixed: 60 train, 10 validation, 10 test per class.
        "split": ByFileNumber(folder="jpg", glob="image_[0-9]*.jpg", number=r"image_(\d+)", per_class=80,
                              cycle=8, train=6, validation=1),
    },
    "cifar10": {
        "title": "CIFAR-10: 32x32 colour images in 10 classes (keras.datasets.cifar10)",
        "kind": KERAS,
        "keras": "cifar10",
        # The archive keras.datasets.cifar10 downloads, and the sha256 Keras publishes for it
        # (keras/src/datasets/cifar10.py; tests/test_labkit.py checks both).
        "url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "archive": "cifar-10-python.tar.gz",
        "sha256": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        # What Keras leaves in its cache (`~/.keras/datasets`) once it has the arrays.
        "keras_cache": "cifar-10-batches-py*",
        "mirror_names": ["cifar10-jpeg", "cifar10"],
        "manifest": None,  # a local copy is an image folder: train/<class>, test/<class>
        "images_per_class": {"train": 5000, "test": 1000},  # the official arrays'
        "class_names": ["airplane", "automobile", "bird", "cat", "deer",
                        "dog", "frog", "horse", "ship", "truck"],
        "split": TrainingTail(parts=10),
    },
}
CIFAR10_CLASSES = DATASETS["cifar10"]["class_names"]


def dataset_spec(name: str) -> dict[str, Any]:
    """The registry entry of dataset `name`; raises `DataError` naming the valid ones."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}: the course has {', '.join(DATASETS)}")
    return DATASETS[name]


def checksums(name: str) -> dict[str, str]:
    """The course's sha256 list of dataset `name` (its `manifest`): {path in the dataset: sha256}."""
    entries = {}
    for line in Path(dataset_spec(name)["manifest"]).read_text().splitlines():
        if line.strip():
            digest, relative = line.split(maxsplit=1)
            entries[relative.strip().removeprefix("./")] = digest
    return entries


def fix_hint(name: str) -> str:
    """How to give the course a local copy of `name`: the lines that end a `DataNotAvailable`."""
    names = " or ".join(dataset_spec(name)["mirror_names"])
    return (
        f"To use a local copy (a lab without internet), run\n"
        f"    python -m course_utils data import {name} PATH\n"
        f"with PATH the copy ({names}), or set COURSE_DATA_MIRROR to a folder that holds it."
    )


# Where a `Source` is, in the words `lab-kit --status` shows.
DATA_FOLDER = "data folder"
MIRROR = "mirror"
SETTING = "setting"
DOWNLOAD_CACHE = "download cache"
NOT_YET = "nowhere yet"


@dataclass(frozen=True)
class Source:
    """Where one thing the course uses comes from in this run, as its loader takes it.

    `where` is one of `DATA_FOLDER`, `MIRROR`, `SETTING` (an environment variable), `DOWNLOAD_CACHE`
    or `NOT_YET` (downloaded on first use); `label` is what every result made with it carries;
    `path` is the local file or folder the loader uses, `address` what it downloads (a URL or a
    TF-Hub handle) when it has no local copy; neither: nothing is loaded (weights set to `none`).
    `install`: the loader first checks this copy and installs it into the data folder (a
    dataset from the mirror or a download). `note` says more for the status view (which setting,
    which cache).
    """

    where: str
    label: str
    path: Path | None = None
    address: str | None = None
    install: bool = False
    note: str = ""


def keras_cache() -> Path:
    """Keras' download cache (`$KERAS_HOME`, else ~/.keras): `datasets/` and `models/` in it."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()
