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


def test_mirror_weights_are_found_by_content_whatever_their_name(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_WEIGHTS_VGG16", raising=False)
    monkeypatch.delenv("COURSE_WEIGHTS_VGG19", raising=False)
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(tmp_path))
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "edges.h5").write_bytes(b"a vgg16 stand-in")
    (tmp_path / "weights" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5").write_bytes(b"not vgg19")
    sha = hashlib.sha256(b"a vgg16 stand-in").hexdigest()
    monkeypatch.setitem(models.KNOWN_STAND_INS, sha, "STAND-IN, not ImageNet")
    monkeypatch.setitem(models.STAND_IN_MODELS, sha, "vgg16")
    assert models.weights_setting("vgg16") == tmp_path / "weights" / "edges.h5"
    assert models.weights_label("vgg16") == "STAND-IN, not ImageNet (mirror file edges.h5)"
    assert models.weights_setting("vgg19") == "imagenet"  # an unrecognised file is not taken, whatever its name

    (tmp_path / "renamed.h5").write_bytes(b"imagenet vgg16")  # ImageNet wins over a stand-in
    monkeypatch.setitem(models.IMAGENET_MD5, "vgg16", hashlib.md5(b"imagenet vgg16").hexdigest())
    assert models.weights_label("vgg16") == "imagenet (mirror file renamed.h5)"
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")  # an explicit setting wins over the mirror
    assert models.weights_setting("vgg16") is None
