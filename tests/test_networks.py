"""course_utils.networks and course_utils.registry: the one table of networks and of datasets that
models, pretrained weights, the hub, the lab kit and the loaders read, with nothing kept beside it."""

import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import pytest

from conftest import new_session, patch_network
from course_utils import CourseError, SettingError, data, files, hub, labkit, models, networks, pretrained, registry


def test_import_course_utils_and_its_registries_loads_no_tensorflow():
    code = "import sys, course_utils, course_utils.networks, course_utils.pretrained"
    done = subprocess.run([sys.executable, "-c", code + "; print('tensorflow' in sys.modules)"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"


def test_the_lab_kit_the_hub_and_the_weights_take_every_name_and_hash_from_the_registry(monkeypatch):
    for variable in ("COURSE_DATA_MIRROR", "COURSE_HUB_HANDLE", "COURSE_WEIGHTS_VGG19"):
        monkeypatch.delenv(variable, raising=False)
    patch_network(monkeypatch, "vgg19", source="http://127.0.0.1:9/elsewhere/vgg19.h5", kit_path="weights/v19.h5")
    patch_network(monkeypatch, "mobilenet_v2", source="https://tfhub.dev/somebody/other/5", kit_path="tfhub/other",
                  label="Another feature vector")
    items = labkit.items()
    assert list(items) == [*registry.DATASETS, *networks.NETWORKS]  # every network, MobileNetV2's weights too
    assert networks.NETWORKS["mobilenet_v2_keras"].md5 is None  # Keras publishes no hash: checked by its layers
    assert items["mobilenet_v2_keras"] == {"kind": "weights", "path": networks.NETWORKS["mobilenet_v2_keras"].kit_path,
                                           "url": networks.NETWORKS["mobilenet_v2_keras"].source}
    assert items["vgg19"] == {"kind": "weights", "path": "weights/v19.h5", "url": "http://127.0.0.1:9/elsewhere/vgg19.h5"}
    assert items["mobilenet_v2"] == {"kind": "hub", "path": "tfhub/other", "url": "https://tfhub.dev/somebody/other/5"}
    assert items["cifar10"] == {"kind": "dataset", "path": "cifar-10-python.tar.gz",
                                "url": registry.DATASETS["cifar10"]["url"]}  # an entry like the others
    assert hub.hub_handle() == "https://tfhub.dev/somebody/other/5"
    assert hub.hub_label().startswith("Another feature vector, ")
    assert pretrained.weights_source("vgg19").address == "http://127.0.0.1:9/elsewhere/vgg19.h5"
    assert pretrained.PRETRAINED == tuple(networks.names(networks.KERAS_APPLICATION))
    assert {"vgg16", "vgg19"} <= set(pretrained.PRETRAINED) and "mobilenet_v2" not in pretrained.PRETRAINED


def test_a_network_added_to_the_registry_is_known_everywhere(monkeypatch, tmp_path):
    monkeypatch.setitem(networks.NETWORKS, "vgg16_copy", dataclasses.replace(networks.NETWORKS["vgg16"], title="VGG16C"))
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16_COPY", str(tmp_path / "missing.h5"))
    assert labkit.items()["vgg16_copy"]["kind"] == "weights"
    with pytest.raises(pretrained.WeightsError, match="COURSE_WEIGHTS_VGG16_COPY=.*VGG16C no-top weights file"):
        pretrained.weights_setting("vgg16_copy")
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16_COPY", "none")
    assert models.random_base("vgg16_copy", 32).output_shape == (None, 1, 1, 512)


@pytest.mark.parametrize("call", [lambda: models.pretrained_base("vgg17", 32), lambda: models.preprocess("alexnet"),
                                  lambda: models.random_base("mobilenet_v2", 32),
                                  lambda: pretrained.weights_label("vgg17")])
def test_an_unknown_network_is_one_error_naming_the_valid_ones(call):
    with pytest.raises(networks.UnknownNetwork) as error:
        call()
    message = str(error.value)
    assert isinstance(error.value, CourseError) and isinstance(error.value, SettingError)
    assert "\n" not in message and message.endswith(f"use one of {', '.join(pretrained.PRETRAINED)}")
    assert "is not a keras.applications network the course knows" in message


def test_an_image_smaller_than_the_network_takes_is_a_setting_error_naming_the_limit():
    with pytest.raises(SettingError, match=r"^VGG16 takes images of at least 32x32, not 16x16: set image_size"):
        models.random_base("vgg16", 16)
    with pytest.raises(SettingError, match="VGG19 takes images of at least 32x32"):
        models.pretrained_base("vgg19", 31)


def test_a_dataset_added_to_the_registry_installs_splits_and_joins_the_kit(data_home, fake_cats, tmp_path, monkeypatch):
    monkeypatch.setitem(data.DATASETS, "pets", dict(data.DATASETS["cats_vs_dogs"]))  # its manifest is the fixture's
    data.import_dataset("pets", fake_cats)
    session = new_session(tmp_path / "build", train_per_class=None, val_per_class=None, test_per_class=None)
    splits = data.load_dataset("pets", session)
    held_out = len(list((fake_cats / "validation").rglob("*.jpg")))  # halved into validation and test
    assert [sum(int(x.shape[0]) for x, _ in split) for split in splits[:3]] == [
        len(list((fake_cats / "train").rglob("*.jpg"))), held_out // 2, held_out // 2]
    assert "pets" in labkit.items() and data.describe("pets") == "pets: official files, sha256-verified"


def test_the_split_rules_are_data(tmp_path, monkeypatch):
    folder = tmp_path / "flowers17"
    (folder / "jpg").mkdir(parents=True)
    for i in range(1, 1361):
        (folder / "jpg" / f"image_{i:04d}.jpg").touch()
    rule = dataclasses.replace(data.DATASETS["flowers17"]["split"], cycle=10, train=8, validation=1)
    monkeypatch.setitem(data.DATASETS, "flowers17", dict(data.DATASETS["flowers17"], split=rule))
    train, validation, test = data._split_files("flowers17", folder)
    assert {len(v) for v in train.values()} == {64} and {len(v) for v in validation.values()} == {8}
    assert {len(v) for v in test.values()} == {8} and len(train) == 17

    train, validation, test = data._tail_split(registry.TrainingTail(parts=4), {0: list(range(8))}, {0: [9]})
    assert (train, validation, test) == ({0: [0, 1, 2, 3, 4, 5]}, {0: [6, 7]}, {0: [9]})


def test_one_function_hashes_files(tmp_path):
    path = tmp_path / "file"
    path.write_bytes(b"x" * (3 << 20))  # several chunks
    assert files.file_hash(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert files.file_hash(path, "md5") == hashlib.md5(path.read_bytes()).hexdigest()
    status = path.stat()
    path.write_bytes(b"y" * (3 << 20))  # damaged in place: same size,
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))  # same date
    assert files.file_hash(path, cached=False) == hashlib.sha256(path.read_bytes()).hexdigest()  # still seen


# ---------------------------------------------------------------- weights recognised by their tensors

SHARED_WEIGHTS = Path(__file__).resolve().parents[1].parent / "shared" / "course-data" / "weights"


def _tiny_model():
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="block1_conv1")(inputs)
    x = keras.layers.BatchNormalization(name="block1_bn")(x)
    return keras.Model(inputs, keras.layers.Conv2D(2, 1, name="block2_conv1")(x))


def _legacy_h5(model, path: Path) -> Path:
    """`model`'s weights in Keras 2's `.h5` layout (as Keras' own ImageNet files are written)."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as file:
        legacy_h5_format.save_weights_to_hdf5_group(file, model)
    return path


def test_the_same_weights_in_two_containers_get_one_label_and_a_changed_value_none(monkeypatch, tmp_path):
    model = _tiny_model()
    model.save_weights(tmp_path / "keras3.weights.h5")
    _legacy_h5(model, tmp_path / "keras2.h5")
    tensors = pretrained.tensors_of(model.weights)
    assert pretrained.file_tensors(tmp_path / "keras3.weights.h5") == tensors == \
        pretrained.file_tensors(tmp_path / "keras2.h5")
    patch_network(monkeypatch, "vgg16", imagenet_tensors=tensors.values, shapes=tensors.shapes, md5="0" * 32)
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    labels = set()
    for name in ("keras3.weights.h5", "keras2.h5"):
        monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(tmp_path / name))
        labels.add(pretrained.weights_label("vgg16").replace(name, "FILE"))
    assert labels == {"imagenet (converted copy, the same tensors as Keras' file: local file FILE)"}

    kernel = model.get_layer("block2_conv1").kernel
    kernel.assign(kernel.numpy() + np.eye(1, kernel.numpy().size).reshape(kernel.shape).astype("float32") * 1e-6)
    model.save_weights(tmp_path / "changed.weights.h5")  # one value changed, by one millionth
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(tmp_path / "changed.weights.h5"))
    assert pretrained.weights_label("vgg16") == ("local file changed.weights.h5 (unrecognised: VGG16's layers, "
                                                 "weights not known to be ImageNet)")


def test_another_network_s_weights_are_not_usable_and_the_banner_says_so(data_home, monkeypatch, tmp_path, capsys):
    import keras

    from course_utils import session

    keras.applications.VGG19(include_top=False, weights=None).save_weights(tmp_path / "vgg19.weights.h5")
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(tmp_path / "vgg19.weights.h5"))
    label = pretrained.weights_label("vgg16")
    assert label.startswith(pretrained.UNUSABLE)
    assert "vgg19.weights.h5 cannot be used: it holds VGG19's layers, not VGG16's" in label
    assert label.endswith("Set it to 'imagenet', 'none' or the path of a VGG16 no-top weights file (.h5 or "
                          ".weights.h5, as keras.applications.VGG16(include_top=False) saves them).")
    session.setup("00_start_here", seed=3)
    shown = capsys.readouterr().out
    assert f"weights     vgg16: {label}" in shown and "warning     vgg16's weights cannot be used" in shown
    rows = {row["item"]: row for row in labkit.status()}  # `lab-kit --status` shows the same label
    assert rows["vgg16"]["label"] == label
    with pytest.raises(pretrained.WeightsError, match="holds VGG19's layers"):
        models.pretrained_base("vgg16", 32)  # before Keras tries (and lists 13 objects it could not load)


@pytest.mark.parametrize("network", networks.names(networks.KERAS_APPLICATION))
def test_each_network_s_registered_shapes_are_those_of_its_keras_base(network):
    base = networks.constructor(network)(include_top=False, weights=None)
    assert pretrained.tensors_of(base.weights).shapes == networks.NETWORKS[network].shapes


@pytest.mark.skipif(not SHARED_WEIGHTS.is_dir(), reason="the offline copies are not beside this checkout")
def test_the_registered_tensors_are_those_of_the_offline_copies():
    imagenet, hed, dogs = (pretrained.file_tensors(SHARED_WEIGHTS / name) for name in (
        "vgg16_notop_imagenet.weights.h5", "vgg16_notop_hed_bsds500.weights.h5", "mobilenet_v2_notop_dogs160.weights.h5"))
    assert imagenet.values == networks.NETWORKS["vgg16"].imagenet_tensors
    assert list(networks.NETWORKS["vgg16"].stand_ins) == [hed.values]
    assert list(networks.NETWORKS["mobilenet_v2_keras"].stand_ins) == [dogs.values]
