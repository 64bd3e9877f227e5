"""course_utils.networks and course_utils.registry: the one table of networks and of datasets that
models, pretrained weights, the hub, the lab kit and the loaders read, with nothing kept beside it."""

import dataclasses
import hashlib
import os
import subprocess
import sys

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
    assert list(items) == [*registry.DATASETS, *networks.NETWORKS]
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
