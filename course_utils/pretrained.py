"""Pretrained weights: which file each network's weights come from in this run, and the label
every result made with them carries.

Each `keras.applications` network of `networks.NETWORKS` takes its weights from
`COURSE_WEIGHTS_<NETWORK>`: `imagenet` (the default: Keras downloads and caches
them), `none` (random initialisation, a dry run), or the path of a local weights
file. Without that setting, a file in the mirror (`$COURSE_DATA_MIRROR`, a lab
kit) is used when there is one for the network, else Keras' download
(`weights_source` is that one lookup). A local file is identified by
its tensors (`file_tensors`), whatever its container or name, so a result is never
labelled "ImageNet" unless the file really holds the ImageNet weights, and a file that
holds another network's weights is refused before a notebook tries to load it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from . import mirror as kit
from .config import mirror_dir
from .errors import SettingError, first_line
from .files import file_hash
from .networks import KERAS_APPLICATION, NETWORKS, names, network_spec
from .registry import DOWNLOAD_CACHE, MIRROR, NOT_YET, SETTING, Source, keras_cache

# The networks that start from a weights file, by the name used in settings (COURSE_WEIGHTS_<NETWORK>).
PRETRAINED = tuple(names(KERAS_APPLICATION))

# How `weights_label` begins for a setting that cannot be used (the banner shows it as a warning).
UNUSABLE = "NOT USABLE:"
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


class WeightsError(SettingError):
    """A weights setting that cannot be used."""


@dataclass(frozen=True)
class Tensors:
    """What a weights file holds, whatever its container (Keras' own `.h5`, a Keras 3
    `.weights.h5`, a lab kit's copy): two sha256 digests, each over the sorted digests of
    the single arrays, so that neither the file's layout nor its layer names (a `.weights.h5`
    keeps none: it numbers layers by class, `conv2d_1`) change them.

    `values`: over each array's dtype, shape and bytes (which weights); `shapes`: over the
    shapes alone (which network's layers the file fits, whatever the values).
    """

    values: str
    shapes: str


def tensors_of(arrays: Iterable) -> Tensors:
    """The `Tensors` of weight arrays (NumPy arrays, or a model's `weights`)."""
    values, shapes = [], []
    for array in arrays:
        array = np.asarray(array)
        array = array.astype(array.dtype.newbyteorder("<"), copy=False)  # the same digest on any machine
        values.append(hashlib.sha256(f"{array.dtype.str}{array.shape}".encode() + array.tobytes()).hexdigest())
        shapes.append(str(array.shape))
    return Tensors(*(hashlib.sha256("\n".join(sorted(found)).encode()).hexdigest() for found in (values, shapes)))


_TENSORS: dict[str, Tensors] = {}


def file_tensors(path: Path) -> Tensors:
    """The `Tensors` of the weights file at `path`, read once per file content (cached by its
    sha256). Every dataset of the file is a weight (of its `model_weights` group, in a whole
    model saved as `.h5`). Raises OSError for a file that h5py cannot read."""
    key = file_hash(path)
    if key not in _TENSORS:
        arrays = []
        with h5py.File(path, "r") as file:
            group = file["model_weights"] if "model_weights" in file else file
            group.visititems(lambda name, item: arrays.append(item[()]) if isinstance(item, h5py.Dataset) else None)
        _TENSORS[key] = tensors_of(arrays)
    return _TENSORS[key]


def _variable(network: str) -> str:
    return f"COURSE_WEIGHTS_{network.upper()}"


def _expected(network: str) -> str:
    title = network_spec(network).title
    return (f"'imagenet', 'none' or the path of a {title} no-top weights file "
            f"(.h5 or .weights.h5, as keras.applications.{title}(include_top=False) saves them)")


def _checked_file(network: str, value: str) -> Path:
    """The weights file `value` names; raises `WeightsError` when there is none or it is no HDF5 file."""
    variable, path = _variable(network), Path(value).expanduser()
    if not path.is_file():
        raise WeightsError(f"{variable}={value!r}: no such file. Set it to {_expected(network)}.")
    with path.open("rb") as file:
        if file.read(len(HDF5_SIGNATURE)) != HDF5_SIGNATURE:
            raise WeightsError(f"{variable}={value!r}: {path.name} is not an HDF5 weights file "
                               f"(damaged, or another format). Set it to {_expected(network)}.")
    return path


def weights_source(network: str) -> Source:
    """Where `network`'s weights come from in this run, and their label: the one lookup that
    `weights_setting`, `weights_label` and `lab-kit --status` use.

    `COURSE_WEIGHTS_<NETWORK>` decides when set ("imagenet", "none" or a file); otherwise a
    file for `network` in the mirror (see `mirror_weights`), else Keras' download of the
    ImageNet weights (`address`). Raises `WeightsError` naming the variable, the file and what
    was expected for a set file that does not exist or is not an HDF5 file, and
    `UnknownNetwork` for a name that is no `keras.applications` network of the course.
    """
    entry = network_spec(network, KERAS_APPLICATION)
    variable = _variable(network)
    value = os.environ.get(variable, "").strip()
    if value.lower() == "none":
        return Source(SETTING, "none (random initialisation)", note=f"{variable}=none")
    if value and value.lower() != "imagenet":
        path = _checked_file(network, value)
        return Source(SETTING, _describe_file(path.resolve(), network), path=path, note=variable)
    found = None if value else mirror_weights(network)  # a setting of "imagenet" wins over the mirror
    if found:
        return Source(MIRROR, _describe_file(found.resolve(), network), path=found)
    cached = (keras_cache() / "models" / entry.source.rsplit("/", 1)[1]).is_file()
    return Source(DOWNLOAD_CACHE if cached else NOT_YET, "imagenet (Keras download)", address=entry.source,
                  note="Keras' cache" if cached else "Keras downloads it on first use")


def weights_setting(network: str) -> str | Path | None:
    """What the run uses (see `weights_source`): "imagenet" (Keras' download), None (no
    weights) or a file. Raises what `weights_source` raises."""
    source = weights_source(network)
    return source.path or ("imagenet" if source.address else None)


def mirror_weights(network: str) -> Path | None:
    """The weights file for `network` in the mirror, or None.

    A lab kit's own `network` item when it verifies against the kit's manifest;
    otherwise a `.h5` file in the mirror (or its `weights/` folder) that is,
    by its tensors (`identify`), `network`'s ImageNet weights or a known stand-in for
    `network`, whatever it is called. ImageNet wins over a stand-in.
    """
    folder = mirror_dir()
    if folder is None:
        return None
    listed = kit.kit_item(network)
    if listed:
        return listed
    found = {}
    for path in sorted([*folder.glob("*.h5"), *folder.glob("weights/*.h5")]):
        if kit.find(str(path.relative_to(folder))) is None:
            continue  # a lab-kit file that no longer matches its manifest (already named)
        kind = identify(path, network)[0]
        if kind in (KERAS_FILE, IMAGENET_COPY, STAND_IN):
            found.setdefault(kind == STAND_IN, path)
    return found.get(False) or found.get(True)


# What `identify` finds a file to hold, for `network`.
KERAS_FILE, IMAGENET_COPY, STAND_IN, UNRECOGNISED, OTHER_NETWORK, UNREADABLE = (
    "Keras' ImageNet file", "ImageNet, converted copy", "stand-in", "unrecognised", "another network", "unreadable")


def identify(path: Path, network: str) -> tuple[str, str]:
    """What the weights file at `path` holds, for `network`: (kind, what), kind one of
    `KERAS_FILE` (Keras' own ImageNet file, by the md5 Keras checks), `IMAGENET_COPY` (the
    same tensors as Keras' file, in another file), `STAND_IN` (a registered stand-in: `what`
    is its label), `UNRECOGNISED` (`network`'s layers, weights not known), `OTHER_NETWORK` (layers that are
    not `network`'s: `what` names what they fit) or `UNREADABLE` (no weights file h5py can
    read: `what` says why)."""
    entry = network_spec(network)
    if entry.md5 and file_hash(path, "md5") == entry.md5:
        return KERAS_FILE, "imagenet"
    try:
        tensors = file_tensors(path)
    except (OSError, KeyError, ValueError, TypeError) as error:  # damaged, cut short, or not Keras' layout
        return UNREADABLE, f"h5py cannot read it as a weights file ({first_line(error)})"
    if tensors.values == entry.imagenet_tensors:
        return IMAGENET_COPY, "imagenet, converted copy"
    if entry.shapes and tensors.shapes != entry.shapes:
        fits = [other.title for other in NETWORKS.values() if other.shapes == tensors.shapes]
        return OTHER_NETWORK, (f"it holds {fits[0]}'s layers, not {entry.title}'s" if fits else
                               f"its tensors fit no network the course knows, not {entry.title}'s layers")
    if tensors.values in entry.stand_ins:
        return STAND_IN, entry.stand_ins[tensors.values]
    return UNRECOGNISED, f"{entry.title}'s layers, weights not known to be ImageNet"


def _describe_file(path: Path, network: str) -> str:
    """The label of the weights file at `path` for `network`; raises `WeightsError` for a file
    that cannot be `network`'s weights (another network's, or unreadable)."""
    where = f"{'mirror file' if kit.is_kit_path(path) else 'local file'} {path.name}"
    kind, what = identify(path, network)
    if kind == KERAS_FILE:
        return f"imagenet ({where})"
    if kind == IMAGENET_COPY:
        return f"imagenet (converted copy, the same tensors as Keras' file: {where})"
    if kind == STAND_IN:
        return f"{what} ({where})"
    if kind == UNRECOGNISED:
        return f"{where} (unrecognised: {what})"
    raise WeightsError(f"{_variable(network)}: {where} cannot be used: {what}. Set it to {_expected(network)}.")


def weights_fingerprint(network: str) -> str:
    """What identifies the weights in use, for cache keys: a name or the file's sha256."""
    setting = weights_setting(network)
    if isinstance(setting, Path):
        return file_hash(setting)
    return str(setting)


def weights_label(network: str) -> str:
    """A one-line label of the weights `network` will use (`weights_source`'s), for banners and results.

    A setting that cannot be used gives a label starting with `UNUSABLE` and
    the reason, rather than an error: only the notebooks that load these
    weights (through `pretrained_base`) fail, the others run.
    """
    try:
        return weights_source(network).label
    except WeightsError as error:
        return f"{UNUSABLE} {error}"


def weights_argument(network: str) -> str | None:
    """The configured weights as `keras.applications` takes them: "imagenet", None or a path."""
    setting = weights_setting(network)
    return str(setting) if isinstance(setting, Path) else setting


@contextlib.contextmanager
def explain_errors(network: str):
    """Within the block, Keras' error for a weights file that does not hold `network`'s weights
    (another architecture) becomes a `WeightsError` naming `COURSE_WEIGHTS_<NETWORK>` and what it
    should be. Keras' own download ("imagenet") and a base without weights are left as they are:
    their errors are not a setting the user can fix."""
    weights = weights_argument(network)
    try:
        yield
    except (ValueError, KeyError, OSError, TypeError) as error:
        if weights in ("imagenet", None):
            raise
        raise WeightsError(f"{_variable(network)}={weights!r}: the file does not hold "
                           f"{network_spec(network).title}'s weights ({first_line(error)}). "
                           f"Set it to {_expected(network)}.") from error
