"""The course's datasets: where each comes from, how it is checked, its classes.

One entry per dataset in `DATASETS`; `dataset_spec(name)` returns it or raises a
`DataError` listing the valid names. Used by `install` (getting and checking
the files) and `data` (the loaders).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import DataError

MANIFESTS = Path(__file__).with_name("manifests")

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
        # Class = file number: image_0001-0080.jpg are class 0, image_0081-0160.jpg class 1, ...
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


def dataset_spec(name: str) -> dict[str, Any]:
    """The registry entry of dataset `name`; raises `DataError` naming the valid ones."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}: the course has {', '.join(DATASETS)}")
    return DATASETS[name]


def fix_hint(name: str) -> str:
    """How to give the course a local copy of `name`: the lines that end a `DataNotAvailable`."""
    names = " or ".join(dataset_spec(name)["mirror_names"])
    return (
        f"To use a local copy (a lab without internet), run\n"
        f"    python -m course_utils data import {name} PATH\n"
        f"with PATH the copy ({names}), or set COURSE_DATA_MIRROR to a folder that holds it."
    )
