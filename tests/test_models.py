"""Which weights a run uses, and the label every result carries."""

import hashlib

import pytest

from course_utils import models


def test_default_is_imagenet(monkeypatch):
    monkeypatch.delenv("COURSE_WEIGHTS_VGG16", raising=False)
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    assert models.weights_setting("vgg16") == "imagenet"
    assert models.weights_label("vgg16").startswith("imagenet")


def test_none_means_random_initialisation(monkeypatch):
    monkeypatch.setenv("COURSE_WEIGHTS_VGG19", "None")
    assert models.weights_setting("vgg19") is None
    assert "random" in models.weights_label("vgg19")


def test_missing_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(tmp_path / "nope.weights.h5"))
    with pytest.raises(models.WeightsError, match="COURSE_WEIGHTS_VGG16=.*no such file"):
        models.weights_label("vgg16")


def test_local_files_are_labelled_by_content(monkeypatch, tmp_path):
    stand_in = tmp_path / "a.weights.h5"
    stand_in.write_bytes(b"stand-in weights")
    monkeypatch.setitem(models.KNOWN_STAND_INS, hashlib.sha256(b"stand-in weights").hexdigest(), "STAND-IN, not ImageNet")
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(stand_in))
    assert models.weights_label("vgg16") == "STAND-IN, not ImageNet (local file a.weights.h5)"

    imagenet = tmp_path / "renamed.h5"
    imagenet.write_bytes(b"imagenet weights")
    monkeypatch.setitem(models.IMAGENET_MD5, "vgg16", hashlib.md5(b"imagenet weights").hexdigest())
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(imagenet))
    assert models.weights_label("vgg16") == "imagenet (local file renamed.h5)"

    other = tmp_path / "imagenet.weights.h5"  # the name alone proves nothing
    other.write_bytes(b"something else")
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(other))
    assert "not known to be ImageNet" in models.weights_label("vgg16")
