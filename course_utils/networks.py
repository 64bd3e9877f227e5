"""The pretrained networks the course uses, one entry each: the one table `models`, `pretrained`,
`hub`, `labkit` and the tests read.

An entry (`Network`) says how the network is built (a `keras.applications` constructor, named
and imported only when used, so that `import course_utils` does not load TensorFlow; or a TF-Hub
SavedModel), where its weights come from (Keras' no-top ImageNet file with the md5 Keras checks,
or the TF-Hub handle; the path a lab kit keeps it at), the files known to be stand-ins for it
(by the digest of their tensors, `pretrained.Tensors`, with their label), the digests that
recognise its ImageNet weights in any container and tell its layers from another network's, its
input preparation and limits, and the variables a "top only" fine-tune trains. The string naming an entry is called `network` wherever the package takes one.
An unknown name is an `UnknownNetwork` listing the valid ones.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from .errors import SettingError

# How a network is built: a Keras constructor loading a weights file, or a TF-Hub SavedModel.
KERAS_APPLICATION = "keras.applications"
TF_HUB = "TF-Hub"


@dataclass(frozen=True)
class Network:
    """One network the course uses (see the module docstring)."""

    title: str
    kind: str  # KERAS_APPLICATION or TF_HUB
    source: str  # Keras' no-top ImageNet weights URL (its WEIGHTS_PATH_NO_TOP), or the TF-Hub handle
    kit_path: str  # where a lab kit keeps the weights file or the SavedModel folder
    top_variables: str  # regex of the variables a "top only" fine-tune trains (`hub.train_top_only`)
    min_size: int  # the smallest input image side the network takes (Keras refuses smaller ones)
    constructor: str | None = None  # "module.Name" of the Keras constructor (no-top base)
    preprocess: str | None = None  # "module.name" of its input preparation; TF-Hub: images in [0, 1]
    # Of Keras' no-top ImageNet file, as Keras checks it after its download. None: Keras publishes
    # no hash for it, and a lab kit checks only that the download holds the network's layers (`shapes`).
    md5: str | None = None
    imagenet_tensors: str | None = None  # `Tensors.values` of the ImageNet no-top weights, in any file
    shapes: str | None = None  # `Tensors.shapes` of the no-top base: a file that differs holds another network
    label: str = ""  # what the TF-Hub model is, for results (a weights file is labelled by content)
    stand_ins: dict[str, str] = field(default_factory=dict)  # `Tensors.values` of weights NOT ImageNet -> label
    stand_in_base: str | None = None  # TF-Hub: the network whose base the course exports when offline


# `Tensors.values` of files checked once (`tests/test_networks.py` recomputes them from the offline copies
# where they are at hand): ImageNet VGG16 (a float32 copy whose first values equal published values of
# Keras' file), and two stand-ins.
VGG16_IMAGENET = "fadb3cca41db09605aba4cac6a9229efc7f0711dd8a7cba6661a520f2e06b9cc"
HED_STAND_IN = "4997a0df406450a6958d84d42dd440bea737283316474a488cde40b6f5fdc363"
DOGS_STAND_IN = "93adcb4d35c2f803837c5320208c05df29d9f0d625b95ee1a3cfb0c67108ab2d"
_KERAS_WEIGHTS = "https://storage.googleapis.com/tensorflow/keras-applications"

NETWORKS: dict[str, Network] = {
    "vgg16": Network(
        title="VGG16", kind=KERAS_APPLICATION,
        source=f"{_KERAS_WEIGHTS}/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        kit_path="weights/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        constructor="keras.applications.VGG16", preprocess="keras.applications.vgg16.preprocess_input",
        md5="6d6bbae143d832006294945121d1f1fc", top_variables=r"block5_", min_size=32,
        imagenet_tensors=VGG16_IMAGENET, shapes="f271313ad49438cc6ff6a5e4a670ca9efc37f67f9bf6f4b2c7fa1103faff907b",
        stand_ins={HED_STAND_IN: "STAND-IN, not ImageNet: VGG16 convolution layers of the HED edge "
                                 "detector fine-tuned on BSDS500"},
    ),
    "vgg19": Network(
        title="VGG19", kind=KERAS_APPLICATION,
        source=f"{_KERAS_WEIGHTS}/vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        kit_path="weights/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        constructor="keras.applications.VGG19", preprocess="keras.applications.vgg19.preprocess_input",
        md5="253f8cb515780f3b799900260a226db6", top_variables=r"block5_", min_size=32,
        shapes="a09169dfd79cdec7951dbe384f21af462daba1d8984fccbd8a883349bbaba762",
    ),
    # Keras' MobileNetV2 (alpha 1.0): notebook 06 fine-tunes it, and exports it as its TF-Hub stand-in offline.
    # Keras publishes no hash of its weights (md5 None): a lab kit checks their layers' shapes only.
    "mobilenet_v2_keras": Network(
        title="MobileNetV2", kind=KERAS_APPLICATION,
        source=f"{_KERAS_WEIGHTS}/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        kit_path="weights/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        constructor="keras.applications.MobileNetV2",
        preprocess="keras.applications.mobilenet_v2.preprocess_input",
        top_variables=r"block_1[4-6]_|Conv_1", min_size=32,
        shapes="17033edfd4801f0b2d0384363bd6f53064abb5f034681b155a84f6e9b9e81662",
        stand_ins={DOGS_STAND_IN: "STAND-IN, not ImageNet: MobileNetV2 base of a dog-breed classifier (ImageNet "
                                  "MobileNetV2 fine-tuned on 19 breeds at 160x160)"},
    ),
    # Variables named as `hub.HubFeatures` renames them; the top: the last three inverted
    # residual blocks and the final 1x1 convolution.
    "mobilenet_v2": Network(
        title="MobileNetV2", kind=TF_HUB,
        source="https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5",
        kit_path="tfhub/mobilenet_v2_100_224_feature_vector_5",
        label="TF-Hub MobileNetV2 feature vector (ImageNet)",
        top_variables=r"expanded_conv_1[4-6]_|Conv_1_", min_size=32, stand_in_base="mobilenet_v2_keras",
    ),
}


class UnknownNetwork(SettingError):
    """A network name the course does not know, or of the wrong kind for its use."""


def names(kind: str | None = None) -> list[str]:
    """The networks of `kind` (every network when None), in the registry's order."""
    return [name for name, entry in NETWORKS.items() if kind in (None, entry.kind)]


def network_spec(network: str, kind: str | None = None) -> Network:
    """The entry of `network`; raises `UnknownNetwork`, naming the valid ones (of `kind` when
    given), for a name the course does not know or a network of another kind."""
    entry = NETWORKS.get(network)
    if entry is None or kind not in (None, entry.kind):
        valid = names(kind)
        what = f"a {kind} network" if kind else "a network"
        raise UnknownNetwork(f"{network!r} is not {what} the course knows: use one of {', '.join(valid)}")
    return entry


def _keras_object(dotted: str):
    """The object `dotted` ("package.module.Name") names, imported now (Keras loads TensorFlow)."""
    module, name = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def constructor(network: str):
    """Keras' constructor of `network` (a `keras.applications` network)."""
    return _keras_object(network_spec(network, KERAS_APPLICATION).constructor)


def preprocess_input(network: str):
    """Keras' input preparation of `network` (a `keras.applications` network): it changes a float
    NumPy array in place."""
    return _keras_object(network_spec(network, KERAS_APPLICATION).preprocess)


def check_input_size(network: str, image_size: int | None) -> None:
    """Raise a `SettingError` when `network` cannot take images of side `image_size` (None: any
    size, checked when the network is called)."""
    entry = network_spec(network)
    if image_size is not None and image_size < entry.min_size:
        raise SettingError(f"{entry.title} takes images of at least {entry.min_size}x{entry.min_size}, "
                           f"not {image_size}x{image_size}: set image_size to {entry.min_size} or more")
