"""Pretrained models: which weights a run uses, and how that is labelled.

Each pretrained model takes its weights from `COURSE_WEIGHTS_<MODEL>`:
`imagenet` (the default: Keras downloads and caches them), `none` (random
initialisation, a dry run), or the path of a local weights file. Without that
setting, a file in the mirror (`$COURSE_DATA_MIRROR`, a lab kit) is used when
there is one for the model, else Keras' download. A local file is identified by
its content, so a result is never labelled "ImageNet" unless the file really
holds the ImageNet weights.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import compat
from . import mirror as kit
from .config import mirror_dir
from .errors import SettingError

# The pretrained models the course uses, by the name used in settings.
PRETRAINED = ("vgg16", "vgg19")

# Local weight files the course recognises, by content hash.
# Keras' own no-top ImageNet files (the md5 Keras checks after its download):
IMAGENET_MD5 = {
    "vgg16": "6d6bbae143d832006294945121d1f1fc",
    "vgg19": "253f8cb515780f3b799900260a226db6",
}
# Files that are *not* ImageNet weights, with what they are (sha256):
HED_STAND_IN = "f8cad5e1f9fdf531af3e3c503b19804da924c8d73ff2c6188f7d6185a521d665"
KNOWN_STAND_INS = {
    HED_STAND_IN: (
        "STAND-IN, not ImageNet: VGG16 convolution layers of the HED edge "
        "detector fine-tuned on BSDS500"
    ),
}
# Which network each stand-in fits: a mirror's weights files are matched to a model by content.
STAND_IN_MODELS = {HED_STAND_IN: "vgg16"}


# How `weights_label` begins for a setting that cannot be used (the banner shows it as a warning).
UNUSABLE = "NOT USABLE:"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


class WeightsError(SettingError):
    """A weights setting that cannot be used."""


def _expected(model: str) -> str:
    return (f"'imagenet', 'none' or the path of a {model.upper()} no-top weights file "
            f"(.h5 or .weights.h5, as keras.applications.{model.upper()}(include_top=False) saves them)")


def weights_setting(model: str) -> str | Path | None:
    """What the run uses: "imagenet" (Keras' download), None (no weights) or a file.

    `COURSE_WEIGHTS_<MODEL>` decides when set; otherwise a file for `model` in
    the mirror (see `mirror_weights`), else "imagenet". Raises `WeightsError`
    naming the variable, the file and what was expected for a set file that
    does not exist or is not an HDF5 file.
    """
    variable = f"COURSE_WEIGHTS_{model.upper()}"
    if not os.environ.get(variable):
        return mirror_weights(model) or "imagenet"
    value = os.environ[variable].strip()
    if value.lower() == "imagenet":
        return "imagenet"
    if value.lower() == "none":
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise WeightsError(f"{variable}={value!r}: no such file. Set it to {_expected(model)}.")
    with path.open("rb") as file:
        if file.read(len(HDF5_SIGNATURE)) != HDF5_SIGNATURE:
            raise WeightsError(f"{variable}={value!r}: {path.name} is not an HDF5 weights file "
                               f"(damaged, or another format). Set it to {_expected(model)}.")
    return path


def mirror_weights(model: str) -> Path | None:
    """The weights file for `model` in the mirror, or None.

    A lab kit's own `model` item when it verifies against the kit's manifest;
    otherwise a `.h5` file in the mirror (or its `weights/` folder) that is,
    by content, `model`'s ImageNet file or a known stand-in for `model`,
    whatever it is called. ImageNet wins over a stand-in.
    """
    folder = mirror_dir()
    if folder is None:
        return None
    listed = kit.kit_item(model)
    if listed:
        return listed
    found = {}
    for path in sorted([*folder.glob("*.h5"), *folder.glob("weights/*.h5")]):
        if kit.find(str(path.relative_to(folder))) is None:
            continue  # a lab-kit file that no longer matches its manifest (already named)
        if kit.file_hash(path, "md5") == IMAGENET_MD5.get(model):
            found.setdefault("imagenet", path)
        elif STAND_IN_MODELS.get(kit.file_hash(path)) == model:
            found.setdefault("stand-in", path)
    return found.get("imagenet") or found.get("stand-in")


def _describe_file(path: Path, model: str) -> str:
    where = "mirror file" if kit.is_kit_path(path) else "local file"
    if kit.file_hash(path, "md5") == IMAGENET_MD5.get(model):
        return f"imagenet ({where} {path.name})"
    stand_in = KNOWN_STAND_INS.get(kit.file_hash(path))
    if stand_in:
        return f"{stand_in} ({where} {path.name})"
    return f"{where} {path.name} (unrecognised: not known to be ImageNet)"


def weights_fingerprint(model: str) -> str:
    """What identifies the weights in use, for cache keys: a name or the file's sha256."""
    setting = weights_setting(model)
    if isinstance(setting, Path):
        return kit.file_hash(setting)
    return str(setting)


def weights_label(model: str) -> str:
    """A one-line label of the weights `model` will use, for banners and results.

    A setting that cannot be used gives a label starting with `UNUSABLE` and
    the reason, rather than an error: only the notebooks that load these
    weights (through `pretrained_base`) fail, the others run.
    """
    try:
        setting = weights_setting(model)
    except WeightsError as error:
        return f"{UNUSABLE} {error}"
    if setting == "imagenet":
        return "imagenet (Keras download)"
    if setting is None:
        return "none (random initialisation)"
    return _describe_file(setting.resolve(), model)


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


def pretrained_base(model: str, image_size: int | None):
    """A pretrained convolutional base (`include_top=False`) with the configured weights.

    `model` is "vgg16" or "vgg19"; the weights follow `COURSE_WEIGHTS_<MODEL>`
    (see `weights_setting`). `image_size=None` accepts any input size. The
    base expects inputs prepared by `preprocess(model)`.
    Raises `WeightsError` for a file that does not hold this model's weights
    (another architecture).
    """
    import keras

    constructor = {"vgg16": keras.applications.VGG16, "vgg19": keras.applications.VGG19}[model]
    weights = weights_argument(model)
    try:
        return constructor(include_top=False, weights=weights, input_shape=(image_size, image_size, 3))
    except (ValueError, KeyError, OSError, TypeError) as error:
        if weights in ("imagenet", None):
            raise  # Keras' own download or a bug: not a setting the user can fix
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise WeightsError(f"COURSE_WEIGHTS_{model.upper()}={weights!r}: the file does not hold "
                           f"{model.upper()}'s weights ({first_line}). Set it to {_expected(model)}.") from error


def weights_argument(model: str) -> str | None:
    """The configured weights as `keras.applications` takes them: "imagenet", None or a path."""
    setting = weights_setting(model)
    return str(setting) if isinstance(setting, Path) else setting


def preprocess(model: str):
    """The model's own input preparation (VGG: caffe-style, BGR minus the ImageNet means).

    Keras' `preprocess_input` changes a float NumPy array in place; the
    function returned here works on a copy, so the caller's images stay as they were.
    """
    import keras
    import numpy as np

    prepare = {"vgg16": keras.applications.vgg16.preprocess_input,
               "vgg19": keras.applications.vgg19.preprocess_input}[model]
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
