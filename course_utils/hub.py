"""TensorFlow Hub models as Keras 3 layers (notebook 06).

`hub.KerasLayer` is a tf-keras (Keras 2) layer: a Keras 3 model refuses it
("Only instances of keras.Layer can be added to a Sequential model").
`feature_layer()` loads the same SavedModel into `keras.layers.TFSMLayer`, a
real Keras 3 layer whose variables Keras tracks, so that `trainable=True`
really fine-tunes them. (With one fix, see `HubFeatures`.)

The handle is a TF-Hub address (downloaded once and cached by
`tensorflow_hub` in `$TFHUB_CACHE_DIR`, by default a `tfhub_modules` folder
in the system's temporary directory) or a local SavedModel folder, set with
`COURSE_HUB_HANDLE`. Without internet, `python -m course_utils hub export-stand-in
PATH` writes a stand-in feature extractor (the course's VGG16 with global
average pooling) in the same format; point `COURSE_HUB_HANDLE` at it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras

from . import models
from .errors import DataNotAvailable

MOBILENET_V2 = "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5"
STAND_IN_MARKER = "course_stand_in.json"


def hub_handle() -> str:
    """The feature-vector model to use: `$COURSE_HUB_HANDLE` or MobileNetV2 on TF-Hub."""
    return os.environ.get("COURSE_HUB_HANDLE") or MOBILENET_V2


def hub_label(handle: str | None = None) -> str:
    """A one-line label of the model behind `handle`, for banners and results."""
    handle = handle or hub_handle()
    if handle == MOBILENET_V2:
        return "TF-Hub MobileNetV2 feature vector (ImageNet)"
    marker = Path(handle) / STAND_IN_MARKER
    if marker.is_file():
        return json.loads(marker.read_text())["description"]
    return f"SavedModel at {handle} (not the course's MobileNetV2)"


class HubFeatures(keras.layers.TFSMLayer):
    """`TFSMLayer` whose variables are named without TensorFlow's `:0` suffix.

    Keras 3 optimizers with state (Adam, RMSprop) name their slot variables
    after the model variable, and `kernel:0_momentum` is not a valid
    TensorFlow scope name: a stock `TFSMLayer` can only be fine-tuned with
    plain SGD. `tests/test_hub.py` checks that Adam now updates the variables.
    """

    def _add_existing_weight(self, weight):
        variable = keras.Variable(initializer=weight, trainable=weight.trainable, dtype=weight.dtype,
                                  shape=weight.shape, name=weight.name.split(":")[0].replace("/", "_"))
        # Keras before 3.8 copies `weight` into a new TensorFlow variable that the SavedModel's
        # functions never read, so training would update the copy only: share the original.
        if variable._value is not weight:
            variable._value = weight
        self._track_variable(variable)


def feature_layer(handle: str | None = None, trainable: bool = False, name: str = "hub_features"):
    """A Keras 3 layer running a TF-Hub (TF2 SavedModel) feature-vector model.

    Frozen by default; `trainable=True` lets training update its variables.
    Inputs: float images in [0, 1], the TF-Hub image-model convention.
    """
    handle = handle or hub_handle()
    fix = ("offline, export the course's stand-in and point the course at it: `python -m course_utils hub "
           "export-stand-in build/hub/vgg16-stand-in` then `export COURSE_HUB_HANDLE=$PWD/build/hub/vgg16-stand-in`")
    if Path(handle).is_dir():
        path = handle
        if not any((Path(handle) / name).is_file() for name in ("saved_model.pb", "saved_model.pbtxt")):
            raise DataNotAvailable(f"{handle} (COURSE_HUB_HANDLE) is a folder but not a SavedModel "
                                   f"(it has no saved_model.pb); {fix}")
    elif "://" not in handle:
        raise DataNotAvailable(f"no SavedModel folder at {handle} (COURSE_HUB_HANDLE); {fix}")
    else:
        import tensorflow_hub as hub

        try:
            path = hub.resolve(handle)  # downloads into the TF-Hub cache once
        except Exception as error:  # URLError offline; tensorflow_hub wraps others
            raise DataNotAvailable(f"the TF-Hub model {handle} could not be downloaded ({error}); {fix}") from error
    return HubFeatures(path, call_endpoint="__call__", trainable=trainable, name=name)


def export_stand_in(path: Path | str, weights_model: str = "vgg16") -> Path:
    """Export a stand-in feature-vector SavedModel in the TF-Hub format.

    The configured VGG16 base (see `models.weights_label`) with global average
    pooling, taking images in [0, 1] of any size and returning 512 features.
    Used offline, where no TF-Hub model can be downloaded.
    """
    import tensorflow as tf

    base = models.pretrained_base(weights_model, None)  # any input size
    prepare = models.preprocess(weights_model)

    class FeatureVector(tf.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def __call__(self, images):
            features = self.model(prepare(images * 255.0), training=False)
            return tf.reduce_mean(features, axis=[1, 2])

    path = Path(path)
    tf.saved_model.save(FeatureVector(base), str(path))
    description = (f"STAND-IN for MobileNetV2: VGG16 base + global average pooling, "
                   f"weights: {models.weights_label(weights_model)}")
    (path / STAND_IN_MARKER).write_text(json.dumps({"description": description}))
    return path



# Variables of the top of each network, for the fine-tuning phase (after `HubFeatures` renaming).
TOP_VARIABLES = {MOBILENET_V2: r"expanded_conv_1[4-6]_|Conv_1_", "stand-in": r"block5_"}


def train_top_only(layer, handle: str | None = None) -> list[str]:
    """Make only the top block's trainable variables of a hub layer trainable; return their names.

    The rest stay frozen, and so do the top's batch-norm moving statistics
    (MobileNetV2 has them): the optimizer has no gradient for them. Raises
    ValueError when no variable matches, rather than silently training nothing.
    """
    import re

    handle = handle or hub_handle()
    is_stand_in = (Path(handle) / STAND_IN_MARKER).is_file()
    pattern = TOP_VARIABLES["stand-in" if is_stand_in else MOBILENET_V2]
    layer.trainable = True  # every variable the SavedModel trains; not its batch-norm statistics
    names = []
    for variable in layer.trainable_weights:
        variable.trainable = bool(re.search(pattern, variable.name))
        if variable.trainable:
            names.append(variable.name)
    if not names:
        raise ValueError(f"no variable of {handle} matches {pattern!r}: nothing would train")
    return names


def model_input(images, size: int):
    """One batch of images in [0, 255] resized to `size` and scaled to [0, 1]: the
    feature vector's input contract (notebook 06, through `to_model_input`)."""
    import tensorflow as tf

    return tf.image.resize(images, (size, size)) / 255.0


def to_model_input(dataset, size: int):
    """Resize a batched (image in [0, 255], label) dataset to `size` and scale to [0, 1],
    batch by batch inside the pipeline: the resized dataset never exists in memory."""
    import tensorflow as tf

    return dataset.map(lambda images, labels: (model_input(images, size), labels),
                       num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
