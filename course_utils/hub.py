"""TensorFlow Hub models as Keras 3 layers (notebook 06).

`hub.KerasLayer` is a tf-keras (Keras 2) layer: a Keras 3 model refuses it
("Only instances of keras.Layer can be added to a Sequential model").
`feature_layer()` loads the same SavedModel into `keras.layers.TFSMLayer`, a
real Keras 3 layer whose variables Keras tracks, so that `trainable=True`
really fine-tunes them. (With one fix, see `HubFeatures`.)

The model (`HUB_NETWORK`, an entry of `networks.NETWORKS`; `hub_source()` is the one
lookup) is, in this order: `COURSE_HUB_HANDLE` (a TF-Hub address or a
local SavedModel folder), the lab kit's copy in the mirror
(`$COURSE_DATA_MIRROR`), or MobileNetV2 from TF-Hub (downloaded once and
cached by `tensorflow_hub` in `$TFHUB_CACHE_DIR`, by default a `tfhub_modules`
folder in the system's temporary directory). When none of them can be had (no
network, no kit), `feature_layer()` exports the course's stand-in (Keras' MobileNetV2 base, the
same architecture, with global average pooling, in the same format, from the weights
`COURSE_WEIGHTS_MOBILENET_V2_KERAS` or the mirror provides) once into the data folder, says so,
and uses it; its label says STAND-IN and which weights wherever a result is recorded.
`python -m course_utils hub export-stand-in PATH` exports it elsewhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import keras

from . import mirror as kit
from . import models, pretrained
from .compat import import_tensorflow_hub
from .config import artifact_path, build_dir, data_dir
from .errors import DataNotAvailable, first_line
from .files import cannot_write, remove_abandoned_staging, staging_prefix
from .networks import TF_HUB, Network, network_spec
from .registry import DOWNLOAD_CACHE, MIRROR, NOT_YET, SETTING, Source

HUB_NETWORK = "mobilenet_v2"  # notebook 06's network; also the lab kit's name for it
STAND_IN_MARKER = "course_stand_in.json"


def _network() -> Network:
    return network_spec(HUB_NETWORK, TF_HUB)


def _stand_in_prefix() -> str:
    """How the folders of the course's exported stand-ins begin ("mobilenet_v2_keras-stand-in-")."""
    return f"{_network().stand_in_base}-stand-in-"


def hub_source() -> Source:
    """Where notebook 06's feature-vector model comes from in this run, and its label: the one
    lookup `hub_handle`, `hub_label` and `lab-kit --status` use. `$COURSE_HUB_HANDLE` (a TF-Hub
    address or a local SavedModel folder; `address` is the value as set), else the lab kit's copy
    in the mirror when it verifies, else the network's TF-Hub address (downloaded once into the
    TF-Hub cache)."""
    chosen = os.environ.get("COURSE_HUB_HANDLE")
    if chosen:
        return Source(SETTING, hub_label(chosen), path=None if "://" in chosen else Path(chosen), address=chosen,
                      note="COURSE_HUB_HANDLE")
    listed = kit.kit_item(HUB_NETWORK)
    if listed:
        return Source(MIRROR, hub_label(str(listed)), path=listed)
    address = _network().source
    if tfhub_cache(address).is_dir():
        return Source(DOWNLOAD_CACHE, hub_label(address), address=address, note="TF-Hub's cache")
    earlier = any((data_dir() / "hub").glob(f"{_stand_in_prefix()}*"))
    return Source(NOT_YET, hub_label(address), address=address,
                  note="a stand-in exported earlier is in the data folder, for when TF-Hub is out of reach"
                  if earlier else "downloaded on first use")


def hub_handle() -> str:
    """The feature-vector model to use (see `hub_source`): a TF-Hub address or a folder."""
    source = hub_source()
    return source.address or str(source.path)


def tfhub_cache(handle: str | None = None) -> Path:
    """Where `tensorflow_hub` caches the model of `handle` (by default the course's network): `$TFHUB_CACHE_DIR`,
    else `tfhub_modules` in the system's temporary folder (tensorflow_hub's own rule,
    `resolver.tfhub_cache_dir(use_temp=True)`, computed here so that the banner need not import it), in a
    folder named by the handle's sha1."""
    root = os.environ.get("TFHUB_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "tfhub_modules")
    return Path(root) / hashlib.sha1((handle or _network().source).encode("utf8")).hexdigest()


def hub_label(handle: str | None = None) -> str:
    """A one-line label of the model behind `handle` (by default the one `hub_source` finds), for
    banners and results."""
    if handle is None:
        return hub_source().label
    network = _network()
    marker = Path(handle) / STAND_IN_MARKER
    if "://" not in handle and marker.is_file():
        return json.loads(marker.read_text())["description"]
    if handle == network.source:
        base = network_spec(network.stand_in_base).title
        where = ("in the TF-Hub cache" if tfhub_cache(handle).is_dir() else
                 f"downloaded on first use; without network, the course's labelled {base} stand-in, weights: "
                 f"{pretrained.weights_label(network.stand_in_base)}")
        return f"{network.label}, {where}"
    if kit.is_kit_path(Path(handle)):
        return f"{network.label}, from the lab kit ({handle})"
    return f"SavedModel at {handle} (not the course's {network.title})"


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


FIX = ("offline, set COURSE_DATA_MIRROR to a lab kit (`python -m course_utils lab-kit PATH`), or unset "
       "COURSE_HUB_HANDLE for the course's stand-in, or export it yourself: `python -m course_utils hub "
       "export-stand-in build/hub/stand-in` then `export COURSE_HUB_HANDLE=$PWD/build/hub/stand-in`")


def saved_model(handle: str | None = None) -> tuple[str, str]:
    """The local SavedModel folder of the feature-vector model to use, and its label.

    `handle`, else `hub_handle()`: a folder is taken as it is, a TF-Hub address is
    downloaded once into the TF-Hub cache. Without `handle` or `COURSE_HUB_HANDLE`,
    a TF-Hub model that cannot be had is replaced by the course's stand-in (see
    `offline_stand_in`), with a line saying so. Raises `DataNotAvailable`, naming
    the setting and the fix, for a model that cannot be had or a folder that is
    not a SavedModel.
    """
    chosen = handle or os.environ.get("COURSE_HUB_HANDLE")
    handle = handle or hub_handle()
    if Path(handle).is_dir():
        if not any((Path(handle) / file).is_file() for file in ("saved_model.pb", "saved_model.pbtxt")):
            raise DataNotAvailable(f"{handle} (COURSE_HUB_HANDLE) is a folder but not a SavedModel "
                                   f"(it has no saved_model.pb); {FIX}")
        return handle, hub_label(handle)
    if "://" not in handle:
        raise DataNotAvailable(f"no SavedModel folder at {handle} (COURSE_HUB_HANDLE); {FIX}")
    hub = import_tensorflow_hub()
    try:
        return hub.resolve(handle), hub_label(handle)  # downloads into the TF-Hub cache once
    except Exception as error:  # URLError offline; tensorflow_hub wraps others
        if chosen:
            raise DataNotAvailable(f"the TF-Hub model {handle} could not be downloaded ({error}); {FIX}") from error
        path = str(offline_stand_in())
        print(f"hub: the TF-Hub model could not be downloaded ({error}) and no lab kit holds it: using "
              f"the course's stand-in from {path}. Every result says STAND-IN.")
        return path, hub_label(path)


@contextlib.contextmanager
def explain_errors(path: str, chosen: str | None = None):
    """Within the block, TensorFlow's error for a SavedModel at `path` that it cannot load
    (damaged, half-copied) becomes a `DataNotAvailable` naming the folder and the fix:
    the setting, for the folder the user chose (`chosen`, else `COURSE_HUB_HANDLE`); else
    (the TF-Hub cache's copy, the course's stand-in, both fetched or exported afresh once
    removed) deleting it."""
    import tensorflow as tf

    try:
        yield
    except (OSError, ValueError, LookupError, tf.errors.OpError) as error:
        damaged = (f"is a SavedModel folder that TensorFlow cannot load, damaged or incomplete "
                   f"({first_line(error)})")
        if path == (chosen or os.environ.get("COURSE_HUB_HANDLE")):
            raise DataNotAvailable(f"{path} (COURSE_HUB_HANDLE) {damaged}; {FIX}") from error
        raise DataNotAvailable(f"{path} {damaged}; delete that folder and run again") from error


def feature_layer(handle: str | None = None, trainable: bool = False, name: str = "hub_features"):
    """A Keras 3 layer running a TF-Hub (TF2 SavedModel) feature-vector model: notebook 06
    writes it out, `HubFeatures` on the folder `saved_model` gives.

    Frozen by default; `trainable=True` lets training update its variables.
    Inputs: float images in [0, 1], the TF-Hub image-model convention. The
    layer's `label` says which model it runs, for results. Raises
    `DataNotAvailable`, naming the setting and the fix, for a model that cannot
    be had (see `saved_model`) or that TensorFlow cannot load (see `explain_errors`).
    """
    path, label = saved_model(handle)
    with explain_errors(path, chosen=handle):
        layer = HubFeatures(path, call_endpoint="__call__", trainable=trainable, name=name)
    layer.label = label
    return layer


def offline_stand_in() -> Path:
    """The course's stand-in exported once into the data folder; returns its folder.

    Keyed by the TensorFlow version (a SavedModel from a newer TensorFlow may not load in an
    older one, and two environments can share a data folder) and by the weights of the base it is
    built from. Exported under a temporary name and renamed when complete, so a half-written
    export is never taken for whole. A data folder that cannot be written (a read-only shared
    drive) is still used when it holds the stand-in; else it is exported into the build folder's
    `hub/`, and a line says where.
    """
    import tensorflow as tf

    base = _network().stand_in_base
    key = f"{_stand_in_prefix()}tf{tf.__version__}-{pretrained.weights_fingerprint(base)[:12].lower()}"
    places = [data_dir() / "hub", artifact_path(build_dir(), "hub")]
    done = [folder / key for folder in places if (folder / key / STAND_IN_MARKER).is_file()]
    if done:
        return done[0]
    folder, why = places[0], cannot_write(places[0])
    if why:
        folder = places[1]
        print(f"hub: the data folder {data_dir()} cannot be written ({why}): the stand-in goes to {folder}")
    target = folder / key
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_staging(target.parent)  # what an export killed midway left, as for imports
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=staging_prefix("hub")))
    try:
        try:
            export_stand_in(staging / "model")
        except Exception as error:  # no weights for its base either: Keras' download failed
            variable = f"COURSE_WEIGHTS_{base.upper()}"
            raise DataNotAvailable(
                f"no TF-Hub model, and no {network_spec(base).title} weights to build the course's stand-in "
                f"from ({first_line(error)}): set "
                f"COURSE_DATA_MIRROR to a lab kit (`python -m course_utils lab-kit PATH`), {variable} to a "
                f"weights file, or {variable}=none for a dry run") from error
        shutil.rmtree(target, ignore_errors=True)  # without its marker: an unfinished export
        try:
            (staging / "model").rename(target)
        except OSError:
            if not (target / STAND_IN_MARKER).is_file():  # not another process finishing first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def export_stand_in(path: Path | str, network: str | None = None) -> Path:
    """Export a stand-in feature-vector SavedModel in the TF-Hub format; returns its folder.

    The configured base of `network` (by default the hub network's `stand_in_base`, Keras'
    MobileNetV2; its weights as `pretrained.weights_label` says) with global average pooling,
    taking images in [0, 1] of any size and returning its features (1,280 for MobileNetV2, as
    TF-Hub's feature vector). Used offline, where no TF-Hub model can be downloaded. Its marker
    file records the label and the base network (`train_top_only` reads it).
    """
    import tensorflow as tf

    network = network or _network().stand_in_base
    base = models.pretrained_base(network, None)  # any input size
    prepare = models.preprocess(network)

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
    description = (f"STAND-IN for {_network().title}: {network_spec(network).title} base + global average "
                   f"pooling, weights: {pretrained.weights_label(network)}")
    (path / STAND_IN_MARKER).write_text(json.dumps({"description": description, "network": network}))
    return path



def train_top_only(layer, handle: str | None = None) -> list[str]:
    """Make only the top block's trainable variables of a hub layer trainable (the network's
    `top_variables` in `networks.NETWORKS`); return their names.

    The rest stay frozen, and so do the top's batch-norm moving statistics
    (MobileNetV2 has them): the optimizer has no gradient for them. Raises
    ValueError when no variable matches, rather than silently training nothing.
    """
    import re

    handle = handle or str(layer.filepath)  # the model this layer runs, wherever it came from
    marker = Path(handle) / STAND_IN_MARKER
    # The top of the network the layer runs: the hub network's, or the base its stand-in was exported from.
    # Keras' MobileNetV2 and TF-Hub's name the same blocks differently (`block_16_project` against
    # `expanded_conv_16/project`, both `Conv_1` for the last 1x1 convolution), hence two patterns.
    # (A stand-in exported before its marker named the base was VGG16's.)
    network = json.loads(marker.read_text()).get("network", "vgg16") if marker.is_file() else HUB_NETWORK
    pattern = network_spec(network).top_variables
    layer.trainable = True  # every variable the SavedModel trains; not its batch-norm statistics
    names = []
    for variable in layer.trainable_weights:
        variable.trainable = bool(re.search(pattern, variable.name))
        if variable.trainable:
            names.append(variable.name)
    if not names:
        raise ValueError(f"no variable of {handle} matches {pattern!r}: nothing would train")
    return names
