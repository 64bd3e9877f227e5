"""Pretrained models: which weights a run uses, and how that is labelled.

Each pretrained model takes its weights from `COURSE_WEIGHTS_<MODEL>`:
`imagenet` (the default: Keras downloads and caches them), `none` (random
initialisation, a dry run), or the path of a local weights file. A local file
is identified by its content, so a result is never labelled "ImageNet" unless
the file really holds the ImageNet weights.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

# The pretrained models the course uses, by the name used in settings.
PRETRAINED = ("vgg16", "vgg19")

# Local weight files the course recognises, by content hash.
# Keras' own no-top ImageNet files (the md5 Keras checks after its download):
IMAGENET_MD5 = {
    "vgg16": "6d6bbae143d832006294945121d1f1fc",
    "vgg19": "253f8cb515780f3b799900260a226db6",
}
# Files that are *not* ImageNet weights, with what they are (sha256):
KNOWN_STAND_INS = {
    "f8cad5e1f9fdf531af3e3c503b19804da924c8d73ff2c6188f7d6185a521d665": (
        "STAND-IN, not ImageNet: VGG16 convolution layers of the HED edge "
        "detector fine-tuned on BSDS500"
    ),
}


class WeightsError(ValueError):
    """A weights setting that cannot be used."""


def weights_setting(model: str) -> str | Path | None:
    """What `COURSE_WEIGHTS_<MODEL>` asks for: "imagenet", None (no weights) or a file.

    Raises `WeightsError` for a file that does not exist.
    """
    variable = f"COURSE_WEIGHTS_{model.upper()}"
    value = (os.environ.get(variable) or "imagenet").strip()
    if value.lower() == "imagenet":
        return "imagenet"
    if value.lower() == "none":
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise WeightsError(
            f"{variable}={value!r}: no such file. Set it to 'imagenet', 'none' "
            "or the path of a .weights.h5 file."
        )
    return path


@lru_cache(maxsize=None)
def _describe_file(path: Path, model: str) -> str:
    data = path.read_bytes()
    if hashlib.md5(data).hexdigest() == IMAGENET_MD5.get(model):
        return f"imagenet (local file {path.name})"
    stand_in = KNOWN_STAND_INS.get(hashlib.sha256(data).hexdigest())
    if stand_in:
        return f"{stand_in} (local file {path.name})"
    return f"local file {path.name} (unrecognised: not known to be ImageNet)"


def weights_label(model: str) -> str:
    """A one-line label of the weights `model` will use, for banners and results."""
    setting = weights_setting(model)
    if setting == "imagenet":
        return "imagenet (Keras download)"
    if setting is None:
        return "none (random initialisation)"
    return _describe_file(setting.resolve(), model)
