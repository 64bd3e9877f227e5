"""Networks: the small CNN and its augmentation, pretrained bases and their input preparation,
freezing, surgery (cutting, new heads, weights by name), and the cache of a frozen base's features.

Which networks there are (their constructors, preprocessing, input limits) is `networks`' table;
which weights a pretrained base starts from, and how that is labelled, is `pretrained`'s job.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from . import compat
from .config import Settings
from .data import Splits
from .files import DAMAGED_FILE, atomic_path
from .install import describe
from .networks import check_input_size, constructor, preprocess_input
from .pretrained import explain_errors, weights_argument, weights_fingerprint


def augmentation(seed: int | None = None):
    """The augmentation of notebook 02 as Keras 3 preprocessing layers.

    Random rotation up to 40 degrees, shifts of 20 %, zoom of 20 %, shear of
    20 % and horizontal flips; empty corners filled with the nearest pixel,
    as the original `ImageDataGenerator` did. Active only in training.
    """
    import keras
    from keras import layers

    return keras.Sequential([
        layers.RandomRotation(40 / 360, fill_mode="nearest", seed=seed),
        layers.RandomTranslation(0.2, 0.2, fill_mode="nearest", seed=seed),
        layers.RandomZoom(0.2, fill_mode="nearest", seed=seed),
        compat.random_shear(0.2, seed),  # no shear before Keras 3.8 (the banner says so)
        layers.RandomFlip("horizontal", seed=seed),
    ], name="augmentation")


def xla_note(model) -> str:
    """One line for a notebook: does Keras compile `model` with XLA on a GPU, and if not, why.

    With a GPU, Keras compiles `fit`, `evaluate` and `predict` with XLA
    (`jit_compile="auto"`) unless a layer declares it cannot be compiled
    (`supports_jit=False`); then the whole model runs without XLA. This is the
    course's one XLA fallback, and Keras makes it: the random rotation, shift,
    zoom and shear of `augmentation()` run on TensorFlow's
    `ImageProjectiveTransformV3`, which has no XLA kernel, so a model with them
    in front (notebooks 02, 03 and 05) trains without XLA rather than failing to
    compile. `tests/test_xla.py` compiles every other notebook model with XLA.
    """
    def within(layer):
        for inner in getattr(layer, "layers", ()):
            yield inner
            yield from within(inner)

    blockers = sorted({type(layer).__name__ for layer in within(model) if not layer.supports_jit})
    if not blockers:
        return "XLA: Keras compiles this model with XLA on a GPU (not on a CPU)."
    return (f"XLA: not for this model, on a GPU either: {', '.join(blockers)} cannot be compiled with XLA "
            "(Keras' random image transformations have no XLA kernel), so Keras runs it without XLA.")


def small_cnn(image_size: int, augment=None, dropout: float = 0.0):
    """The small network notebook 01 writes out, uncompiled.

    Four Conv2D (ReLU) + MaxPooling blocks with 32, 64, 128 and 128 filters on
    RGB inputs in [0, 255] rescaled to [0, 1], Flatten, Dense 512, one sigmoid
    unit. Notebook 02 passes `augment` (a layer applied first) and `dropout`
    (before the dense layer).
    """
    import keras
    from keras import layers

    stack = [keras.Input(shape=(image_size, image_size, 3))]
    stack += [augment] if augment is not None else []
    stack.append(layers.Rescaling(1.0 / 255))
    for filters in (32, 64, 128, 128):
        stack += [layers.Conv2D(filters, 3, activation="relu"), layers.MaxPooling2D(2)]
    stack.append(layers.Flatten())
    stack += [layers.Dropout(dropout)] if dropout else []
    stack += [layers.Dense(512, activation="relu"), layers.Dense(1, activation="sigmoid")]
    return keras.Sequential(stack, name="small_cnn")


def pretrained_base(network: str, image_size: int | None):
    """A pretrained convolutional base (`include_top=False`) with the configured weights.

    `network` is a `keras.applications` network of `networks.NETWORKS` ("vgg16", "vgg19");
    the weights follow `COURSE_WEIGHTS_<NETWORK>` (see `pretrained.weights_source`).
    `image_size=None` accepts any input size. The base expects inputs prepared by
    `preprocess(network)`. Notebook 03 writes the same call out. Raises `UnknownNetwork`
    naming the valid networks, `SettingError` for images smaller than the network takes,
    and `WeightsError` for a file that does not hold this network's weights (another
    architecture; see `explain_errors`).
    """
    build = constructor(network)  # first: an unknown name is one error naming the valid ones
    check_input_size(network, image_size)
    with explain_errors(network):
        return build(include_top=False, weights=weights_argument(network), input_shape=(image_size, image_size, 3))


def preprocess(network: str):
    """The network's own input preparation (VGG: caffe-style, BGR minus the ImageNet means).

    Keras' `preprocess_input` changes a float NumPy array in place; the
    function returned here works on a copy, so the caller's images stay as they were.
    """
    prepare = preprocess_input(network)
    return lambda images: prepare(images.copy() if isinstance(images, np.ndarray) else images)


def set_trainable_from(model, layer_name: str | None) -> None:
    """Freeze every layer before `layer_name` and unfreeze it and everything after.

    `None` freezes the whole model. Notebook 05 uses it to unfreeze block 5
    (`set_trainable_from(base, "block5_conv1")`).
    """
    names = [layer.name for layer in model.layers]
    if layer_name is not None and layer_name not in names:
        raise ValueError(f"{model.name} has no layer {layer_name!r}; its layers: {', '.join(names)}")
    start = names.index(layer_name) if layer_name is not None else len(names)
    model.trainable = True
    for index, layer in enumerate(model.layers):
        layer.trainable = index >= start


def layer_table(model) -> list[dict]:
    """One row per layer: index, name, type, output shape, trainable, parameter count."""
    rows = []
    for index, layer in enumerate(model.layers):
        try:
            shape = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            shape = None
        rows.append({"index": index, "name": layer.name, "type": type(layer).__name__,
                     "output_shape": shape, "trainable": layer.trainable,
                     "params": layer.count_params()})
    return rows


def parameter_counts(model) -> dict[str, int]:
    """Trainable and frozen parameter counts of a model."""
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    frozen = sum(int(w.numpy().size) for w in model.non_trainable_weights)
    return {"trainable": trainable, "frozen": frozen}


def copy_weights_by_name(source, target) -> list[str]:
    """Copy the weights of every layer of `target` that `source` has a layer of
    the same name for; returns the names copied. Notebook 04's surgery: Keras 3
    `.weights.h5` files load by structure, so matching by name is done here."""
    source_names = {layer.name for layer in source.layers}
    copied = []
    for layer in target.layers:
        if layer.weights and layer.name in source_names:
            layer.set_weights(source.get_layer(layer.name).get_weights())
            copied.append(layer.name)
    return copied


def cut_at(model, layer_name: str):
    """A model from `model`'s input to the output of its layer `layer_name`
    (notebook 04's surgery; notebook 07's activation models)."""
    import keras

    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(f"{model.name} has no layer {layer_name!r}; its layers: {', '.join(names)}")
    return keras.Model(model.input, model.get_layer(layer_name).output, name=f"{model.name}_to_{layer_name}")


def dense_head(input_shape: tuple, classes: int, units: int = 256, dropout: float = 0.5,
               normalize: bool = False):
    """The classifier head of notebooks 03-05: Flatten, then BatchNormalization
    when `normalize` (notebook 04's head), Dense(units, ReLU), Dropout, and one
    sigmoid unit for two classes or a softmax over `classes`."""
    import keras
    from keras import layers

    output = layers.Dense(1, activation="sigmoid") if classes == 2 else layers.Dense(classes, activation="softmax")
    return keras.Sequential([keras.Input(shape=input_shape), layers.Flatten(),
                             *([layers.BatchNormalization()] if normalize else []),
                             layers.Dense(units, activation="relu"), layers.Dropout(dropout), output],
                            name="head")


def random_base(network: str, image_size: int | None):
    """The same convolutional base as `pretrained_base(network, image_size)`, with random
    weights (Keras' initialisers, seeded by `setup()`): the comparison that shows what
    the pretrained weights bring (notebooks 03 and 04)."""
    build = constructor(network)
    check_input_size(network, image_size)
    return build(include_top=False, weights=None, input_shape=(image_size, image_size, 3))


def extract_features(base, dataset, network: str) -> tuple[np.ndarray, np.ndarray]:
    """Features of `base` (a base of `network`) over a batched (image, label)
    dataset, in one batched pass, and the labels.
    `cached_features` keeps them on disk; a randomly initialised base's are not kept."""
    prepare = preprocess(network)
    features, labels = [], []
    for images, batch_labels in dataset:
        features.append(np.asarray(base(prepare(images), training=False)))
        labels.append(batch_labels.numpy())
    return np.concatenate(features), np.concatenate(labels)


def cached_features(base, splits: Splits, split: str, settings: Settings, *,
                    network: str) -> tuple[np.ndarray, np.ndarray]:
    """Features of a frozen `base` (the pretrained network named `network`, "vgg16") over the
    split `split` ("train", "validation" or "test") of `splits`, and the labels, computed once.

    One batched pass over the `tf.data` split (never one `predict` per image).
    The result is cached in `<build>/features/<profile>/`, keyed by what it is made of:
    the network, its weights (the file's sha256 for a local file), the base's last layer
    and output shape (two cuts of one network can share a shape: block4_pool and
    block5_conv3 of VGG16), and the data the splits hold (the dataset and its copy, their image size and
    split sizes) with the split: a second call with the same key loads it from disk, a
    change to any part recomputes. The cache file is written whole or not at all; a
    damaged one is recomputed with a one-line notice.
    """
    if splits.dataset is None or splits.sizes is None:
        raise ValueError("cached_features keeps the features of a course dataset: "
                         "pass the splits load_dataset returned")
    key = {"network": network, "weights": weights_fingerprint(network),
           "layer": base.layers[-1].name, "output": [int(d) if d else None for d in base.output_shape[1:]],
           "data": describe(splits.dataset), "image_size": splits.image_size, "sizes": list(splits.sizes),
           "split": split}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = settings.artifact_path("features", f"{network}_{splits.dataset}_{split}_{digest}.npz")
    if path.is_file():
        try:
            with np.load(path) as cached:
                features, labels = cached["features"], cached["labels"]
            print(f"{split}: features loaded from the cache ({path.name})")
            return features, labels
        except DAMAGED_FILE as error:  # cut short by an interrupted run: compute it again
            print(f"{split}: the cached features {path.name} are damaged ({type(error).__name__}): recomputing")
    features, labels = extract_features(base, getattr(splits, split), network)
    with atomic_path(path) as temporary:
        np.savez(temporary, features=features, labels=labels, key=json.dumps(key))
    print(f"{split}: computed features {features.shape}, cached as {path.name}")
    return features, labels
