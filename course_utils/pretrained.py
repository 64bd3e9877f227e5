"""Pretrained weights: which file each network's weights come from in this run, and the label
every result made with them carries.

Each pretrained model takes its weights from `COURSE_WEIGHTS_<MODEL>`:
`imagenet` (the default: Keras downloads and caches them), `none` (random
initialisation, a dry run), or the path of a local weights file. Without that
setting, a file in the mirror (`$COURSE_DATA_MIRROR`, a lab kit) is used when
there is one for the model, else Keras' download. A local file is identified by
its content, so a result is never labelled "ImageNet" unless the file really
holds the ImageNet weights.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

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


def weights_argument(model: str) -> str | None:
    """The configured weights as `keras.applications` takes them: "imagenet", None or a path."""
    setting = weights_setting(model)
    return str(setting) if isinstance(setting, Path) else setting


@contextlib.contextmanager
def explain_errors(model: str):
    """Within the block, Keras' error for a weights file that does not hold `model`'s weights
    (another architecture) becomes a `WeightsError` naming `COURSE_WEIGHTS_<MODEL>` and what it
    should be. Keras' own download ("imagenet") and a base without weights are left as they are:
    their errors are not a setting the user can fix."""
    weights = weights_argument(model)
    try:
        yield
    except (ValueError, KeyError, OSError, TypeError) as error:
        if weights in ("imagenet", None):
            raise
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise WeightsError(f"COURSE_WEIGHTS_{model.upper()}={weights!r}: the file does not hold "
                           f"{model.upper()}'s weights ({first_line}). Set it to {_expected(model)}.") from error
