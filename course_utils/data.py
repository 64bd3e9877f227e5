"""Datasets as `tf.data` pipelines: the loaders every notebook uses.

`load_dataset(name, session)` makes a course dataset available (see `install`)
and returns batched, prefetched `tf.data` pipelines of (float32 image in
[0, 255], int label) for the train, validation and test splits, sized by the
run profile, as `Splits` that say which dataset, image size and split sizes
they hold (what a result recorded on them names). `load_image_folder` does the
same for a learner's own folder of class sub-folders. `to_model_input` resizes a
split batch by batch for a model that wants larger images (notebook 06). The names
of `install` and `images` are re-exported here, so `course_utils.data` stays the
one place a notebook looks for data.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple

from .errors import ChecksumError, DataError, DataNotAvailable
from .archives import cifar10_arrays
from .config import Settings
from .images import (IMAGE_SUFFIXES, check_image, class_folders, exif_orientation, natural_key, report_skipped,
                     scan_images, shown)
from .install import (MARKER, data_dir, describe, ensure_dataset, import_dataset, installed,
                      list_datasets, reinstall_hint, verify_dataset)
from .registry import CIFAR10_CLASSES, DATASETS, IMAGE_FOLDER, ByFileNumber, HalvedFolder, TrainingTail, dataset_spec

__all__ = ["CIFAR10_CLASSES", "DATASETS", "MARKER", "IMAGE_SUFFIXES", "ChecksumError", "DataError",
           "DataNotAvailable", "Sizes", "Splits", "check_image", "class_folders", "data_dir", "describe",
           "ensure_dataset", "import_dataset", "installed", "list_datasets", "load_dataset",
           "load_image_folder", "array_splits", "model_input", "natural_key", "report_skipped", "scan_images", "to_model_input",
           "upright", "verify_dataset"]


class Sizes(NamedTuple):
    """How many images (or examples) each split holds."""

    train: int
    validation: int
    test: int


class Splits(NamedTuple):
    """What `load_dataset` returns: three `tf.data` pipelines, the class names, and what they
    hold: the course dataset's name (None for data of another source), the image size and
    each split's size. A result recorded on them names these (`results.Session.using`)."""

    train: Any
    validation: Any
    test: Any
    class_names: list[str]
    dataset: str | None = None
    image_size: int | None = None
    sizes: Sizes | None = None


def upright(image, orientation):
    """`image` (height, width, channels) turned as its EXIF `orientation` (1 to 8) says it is
    meant to be seen, as Pillow's `ImageOps.exif_transpose` does; a graph function.

    Every orientation is a transpose (5 to 8) followed by left-right and up-down flips.
    """
    import tensorflow as tf

    image = tf.cond(orientation >= 5, lambda: tf.transpose(image, [1, 0, 2]), lambda: image)
    image = tf.cond(tf.reduce_any(tf.equal(orientation, [2, 3, 6, 7])),
                    lambda: tf.image.flip_left_right(image), lambda: image)
    return tf.cond(tf.reduce_any(tf.equal(orientation, [3, 4, 7, 8])),
                   lambda: tf.image.flip_up_down(image), lambda: image)


def _pipeline(images, labels, image_size: int, batch_size: int, shuffle: bool, seed: int):
    """Batched, prefetched (image, label) pipeline; images are paths or arrays.

    Image files are turned upright as their EXIF orientation says (a phone photo taken
    upright is stored sideways, and TensorFlow's decoders ignore EXIF).
    """
    import tensorflow as tf

    def from_path(path, orientation, label):
        raw = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        image, label = resize(raw, label)
        # Turned after resizing to a square: the same pixels as turning first, on a small image.
        return upright(image, orientation), label

    def resize(image, label):
        # Resized from the decoded 8-bit pixels: `tf.image.resize` reads uint8 and returns float32
        # at the small size, so no full-size float copy (4 bytes a pixel) of a large photo is made.
        image = tf.image.resize(image, (image_size, image_size))
        # Cached as 8-bit pixels (a quarter of float32's memory), made float per batch.
        return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8), tf.cast(label, tf.int32)

    if isinstance(images[0], str):
        orientations = [exif_orientation(Path(path)) for path in images]
        ds = tf.data.Dataset.from_tensor_slices((images, orientations, labels))
        ds = ds.map(from_path, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
        ds = ds.map(resize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
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


def _tail_split(rule: TrainingTail, train_all: dict, test: dict) -> tuple[dict, dict, dict]:
    """Per-class train, validation and test lists (of files or array indices) by a `TrainingTail`
    rule: the last `1 / rule.parts` of each training class validates."""
    train = {c: items[: len(items) - len(items) // rule.parts] for c, items in train_all.items()}
    validation = {c: items[len(items) - len(items) // rule.parts:] for c, items in train_all.items()}
    return train, validation, test


def _split_files(name: str, folder: Path) -> tuple[dict, dict, dict]:
    """Per-class file lists of the train, validation and test splits, by the dataset's split rule."""
    spec = dataset_spec(name)
    rule = spec["split"]
    if isinstance(rule, HalvedFolder):
        held_out = class_folders(folder / rule.held_out)
        return (class_folders(folder / rule.train), {c: files[: len(files) // 2] for c, files in held_out.items()},
                {c: files[len(files) // 2:] for c, files in held_out.items()})
    if isinstance(rule, ByFileNumber):
        splits = ({}, {}, {})
        for path in sorted((folder / rule.folder).glob(rule.glob), key=natural_key):
            # The class and split come from the file's number, never from its place in the
            # list: a missing file must not move every later image into the previous class.
            index = int(re.fullmatch(rule.number, path.stem).group(1)) - 1
            place = index % rule.per_class % rule.cycle
            which = 0 if place < rule.train else 1 if place < rule.train + rule.validation else 2
            splits[which].setdefault(spec["class_names"][index // rule.per_class], []).append(path)
        return splits
    train, test = IMAGE_FOLDER  # a Keras dataset's image-folder copy
    return _tail_split(rule, class_folders(folder / train), class_folders(folder / test))


def _check_contents(name: str, folder: Path, paths: list[str]) -> None:
    """Raise `DataError` naming the files among `paths` whose content differs from the checked
    copy's (or that it never held: added since), with the repair. The load-time check of sizes
    and dates misses a file damaged where it lies (bit rot on a USB stick keeps both); the
    pipeline would then fail mid-training with a decoder error naming no file. The files hashed are the ones the pipeline is about to read:
    about a second for all of cats_vs_dogs, and they are then in the disk cache for training."""
    problems = verify_dataset(name, [Path(p).relative_to(folder).as_posix() for p in paths])
    if problems:
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise DataError(f"the installed {name} has damaged files: {'; '.join(problems[:3])}{more} (not the "
                        "checked copy's content, though size and date may be: a failing disk, or files added by "
                        f"hand?). The course does not use damaged files; {reinstall_hint(name)}")


def load_dataset(name: str, settings: Settings, image_size: int | None = None) -> Splits:
    """Train, validation and test pipelines of a course dataset, sized by the profile, as
    `Splits` naming the dataset, the image size and each split's size.

    Uses the session's (`setup()`'s) `train_per_class`, `val_per_class`,
    `test_per_class`, `batch_size`, `seed` and, unless `image_size` is given,
    `image_size`. Subsets take the first images of each class in file order,
    so every run of a profile sees the same images.
    """
    import numpy as np

    spec = dataset_spec(name)
    size = image_size or settings.image_size
    counts = (settings.train_per_class, settings.val_per_class, settings.test_per_class)
    folder = ensure_dataset(name)
    splits = []
    if folder is None:  # a Keras dataset's official arrays
        (x_train, y_train), (x_test, y_test) = cifar10_arrays(name)
        y_train, y_test = y_train.ravel(), y_test.ravel()
        classes = range(len(spec["class_names"]))
        parts = _tail_split(spec["split"], {c: list(np.flatnonzero(y_train == c)) for c in classes},
                            {c: list(np.flatnonzero(y_test == c)) for c in classes})
        for x, per_class, count in zip((x_train, x_train, x_test), parts, counts):
            indices, labels = _take(per_class, count)
            splits.append((x[indices], labels))
    else:
        index = {c: i for i, c in enumerate(spec["class_names"])}
        for per_class, count in zip(_split_files(name, folder), counts):
            paths, labels = _take({index[c]: f for c, f in per_class.items()}, count)
            splits.append(([str(p) for p in paths], labels))
        _check_contents(name, folder, [p for paths, _ in splits for p in paths])
    for part, (_, labels) in zip(("train", "validation", "test"), splits):
        if not labels:
            raise DataError(f"the {part} split of {name} is empty ({describe(name)}): "
                            "the copy has too few images per class for the course's splits")
    train, validation, test = (
        _pipeline(images, labels, size, settings.batch_size, shuffle=(i == 0), seed=settings.seed)
        for i, (images, labels) in enumerate(splits)
    )
    sizes = Sizes(*(len(labels) for _, labels in splits))
    print(f"{describe(name)}: " + ", ".join(f"{part} {n}" for part, n in sizes._asdict().items())
          + f" images at {size}x{size}, batch {settings.batch_size}")
    return Splits(train, validation, test, list(spec["class_names"]), name, size, sizes)


def array_splits(arrays: dict[str, tuple], splits: Splits, settings: Settings) -> Splits:
    """Splits of arrays held in memory (the cached features and labels of each split, as
    `models.cached_features` returns them, keyed "train", "validation", "test") as batched
    `tf.data` pipelines, the training one shuffled by the session's seed: what
    `training.fit_and_evaluate` takes, for a head trained on cached features. `splits` are
    those the arrays were computed from: the new splits keep their class names, dataset, image
    size and split sizes. Raises ValueError for arrays of another size than those splits'."""
    import tensorflow as tf

    found = Sizes(*(len(arrays[split][0]) for split in Sizes._fields))
    if splits.sizes is not None and found != splits.sizes:
        raise ValueError(f"arrays of {tuple(found)} examples (train, validation, test), but the splits they come "
                         f"from hold {tuple(splits.sizes)}: pass the splits these arrays were computed from")

    def batches(split: str):
        x, y = arrays[split]
        pipeline = tf.data.Dataset.from_tensor_slices((x, y))
        if split == "train":
            pipeline = pipeline.shuffle(len(x), seed=settings.seed, reshuffle_each_iteration=True)
        return pipeline.batch(settings.batch_size).prefetch(tf.data.AUTOTUNE)

    return splits._replace(train=batches("train"), validation=batches("validation"), test=batches("test"))


def load_image_folder(folder: Path | str, image_size: int, batch_size: int,
                      shuffle: bool = True, seed: int = 42) -> tuple[Any, list[str]]:
    """A pipeline over a learner's own folder of class sub-folders, and the class names.

    Every file is checked first: unreadable, truncated, non-image and too large
    files are skipped and reported by name and count, never a crash mid-epoch.
    Grayscale, CMYK and PNG images are converted to RGB, photos turned upright.
    """
    folder = Path(folder)
    by_class = class_folders(folder)
    paths, labels, skipped = [], [], []
    for label, (class_name, files) in enumerate(by_class.items()):
        good, bad = scan_images(files)
        if not good:
            raise DataError(f"class folder {shown(folder / class_name)} has no usable image: "
                            f"{len(bad)} file(s), none readable (first: {shown(bad[0][0].name)}: {bad[0][1]})")
        paths += [str(p) for p in good]
        labels += [label] * len(good)
        skipped += bad
    report_skipped(skipped, folder)
    print(f"{shown(folder)}: {len(paths)} images in {len(by_class)} classes, {len(skipped)} skipped")
    return _pipeline(paths, labels, image_size, batch_size, shuffle, seed), list(by_class)


def model_input(images, size: int):
    """One batch of images in [0, 255] resized to `size` and scaled to [0, 1]: the
    TF-Hub image models' input contract (notebook 06, through `to_model_input`)."""
    import tensorflow as tf

    return tf.image.resize(images, (size, size)) / 255.0


def to_model_input(dataset, size: int):
    """Resize a batched (image in [0, 255], label) dataset to `size` and scale to [0, 1],
    batch by batch inside the pipeline: the resized dataset never exists in memory."""
    import tensorflow as tf

    return dataset.map(lambda images, labels: (model_input(images, size), labels),
                       num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
