"""The data layer: import, checksums, downloads, bad images and the loaders."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import make_image, truncate
from course_utils import data


def _zip_of(folder: Path, archive: Path) -> bytes:
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(folder.rglob("*")):
            zipped.write(path, Path(folder.name) / path.relative_to(folder))
    return archive.read_bytes()


# ---------------------------------------------------------------- import and verify


def test_import_folder_installs_verified_copy(data_home, fake_cats):
    target = data.import_dataset("cats_vs_dogs", fake_cats)
    assert target == data_home / "cats_vs_dogs"
    assert len(list(target.rglob("*.jpg"))) == 20
    assert not (target / "vectorize.py").exists()  # only the dataset's own files
    assert data.installed("cats_vs_dogs")["official"] is True
    assert data.verify_dataset("cats_vs_dogs") == []


def test_import_accepts_the_archive(data_home, fake_cats, tmp_path):
    archive = tmp_path / "cats_and_dogs_filtered.zip"
    _zip_of(fake_cats, archive)
    data.import_dataset("cats_vs_dogs", archive)
    assert data.verify_dataset("cats_vs_dogs") == []


def test_checksum_mismatch_installs_nothing_and_keeps_old_copy(data_home, fake_cats, tmp_path):
    data.import_dataset("cats_vs_dogs", fake_cats)
    before = sorted(p.read_bytes() for p in (data_home / "cats_vs_dogs").rglob("*.jpg"))
    bad_copy = tmp_path / "bad" / "cats_and_dogs_filtered"
    shutil.copytree(fake_cats, bad_copy)
    make_image(bad_copy / "train" / "cats" / "cat.3.jpg", seed=99)  # different pixels
    with pytest.raises(data.ChecksumError, match=r"train/cats/cat\.3\.jpg"):
        data.import_dataset("cats_vs_dogs", bad_copy)
    after = sorted(p.read_bytes() for p in (data_home / "cats_vs_dogs").rglob("*.jpg"))
    assert after == before  # the earlier installation is untouched
    assert not list(data_home.glob(".import-*"))  # no staging left behind


def test_checksum_mismatch_on_first_import_leaves_nothing(data_home, fake_cats):
    truncate(fake_cats / "validation" / "dogs" / "dog.1.jpg")
    with pytest.raises(data.ChecksumError, match="1 file"):
        data.import_dataset("cats_vs_dogs", fake_cats)
    assert data.installed("cats_vs_dogs") is None
    assert not (data_home / "cats_vs_dogs").exists()


def test_verify_notices_a_changed_file(data_home, fake_cats):
    target = data.import_dataset("cats_vs_dogs", fake_cats)
    truncate(target / "train" / "dogs" / "dog.0.jpg")
    assert data.verify_dataset("cats_vs_dogs") == ["changed: train/dogs/dog.0.jpg"]


def test_wrong_layout_is_a_clear_error(data_home, fake_cats, tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in fake_cats.rglob("*.jpg"):
        shutil.copy(path, flat / path.name)
    with pytest.raises(data.DataError, match="does not have the layout of cats_vs_dogs"):
        data.import_dataset("cats_vs_dogs", flat)


def test_unknown_dataset_name(data_home):
    with pytest.raises(data.DataError, match="cats_vs_dogs, flowers17, cifar10"):
        data.ensure_dataset("mnist")


# ---------------------------------------------------------------- mirror and download


def test_mirror_is_tried_before_any_download(data_home, fake_cats, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(fake_cats.parent))
    monkeypatch.setattr(data, "download", lambda *a: pytest.fail("downloaded despite the mirror"))
    assert data.ensure_dataset("cats_vs_dogs") == data_home / "cats_vs_dogs"
    assert data.ensure_dataset("cats_vs_dogs") == data_home / "cats_vs_dogs"  # installed: no re-import


def test_no_data_and_no_network_names_the_fix(data_home, fake_cats):
    # The registered URL points at a closed port on this machine: the download fails.
    with pytest.raises(data.DataNotAvailable) as error:
        data.ensure_dataset("cats_vs_dogs")
    assert "python -m course_utils data import cats_vs_dogs PATH" in str(error.value)
    assert "COURSE_DATA_MIRROR" in str(error.value)


def test_download_verifies_and_installs(data_home, fake_cats, tmp_path, server, monkeypatch):
    handler, url = server
    handler.payload = _zip_of(fake_cats, tmp_path / "a.zip")
    monkeypatch.setitem(data.DATASETS["cats_vs_dogs"], "url", url)
    data.ensure_dataset("cats_vs_dogs")
    assert data.verify_dataset("cats_vs_dogs") == []


def test_interrupted_download_leaves_no_file_taken_for_whole(data_home, fake_cats, tmp_path, server, monkeypatch):
    handler, url = server
    handler.payload = _zip_of(fake_cats, tmp_path / "a.zip")
    handler.cut = True
    monkeypatch.setitem(data.DATASETS["cats_vs_dogs"], "url", url)
    with pytest.raises(data.DataNotAvailable, match="could not download"):
        data.ensure_dataset("cats_vs_dogs")
    downloads = data_home / "downloads"
    assert not (downloads / "cats_and_dogs_filtered.zip").exists()
    assert not list(downloads.glob("*.part"))
    handler.cut = False  # the connection is back: the next try starts afresh and succeeds
    data.ensure_dataset("cats_vs_dogs")
    assert data.verify_dataset("cats_vs_dogs") == []


def test_leftover_part_file_is_never_used(data_home, tmp_path, server):
    handler, url = server
    handler.payload = b"0123456789" * 100
    dest = tmp_path / "file.bin"
    dest.with_name("file.bin.part").write_bytes(b"01234")  # from a killed process
    data.download(url, dest)
    assert dest.read_bytes() == handler.payload
    assert not dest.with_name("file.bin.part").exists()


def test_downloaded_archive_with_wrong_checksum_is_not_kept(data_home, fake_cats, tmp_path, server, monkeypatch):
    handler, url = server
    make_image(fake_cats / "train" / "cats" / "cat.0.jpg", seed=123)  # no longer the official file
    handler.payload = _zip_of(fake_cats, tmp_path / "a.zip")
    monkeypatch.setitem(data.DATASETS["cats_vs_dogs"], "url", url)
    with pytest.raises(data.ChecksumError):
        data.ensure_dataset("cats_vs_dogs")
    assert not (data_home / "downloads" / "cats_and_dogs_filtered.zip").exists()
    assert data.installed("cats_vs_dogs") is None


# ---------------------------------------------------------------- odd and bad images


@pytest.fixture
def own_folder(tmp_path):
    """A learner's folder with good, odd and bad files in its class folders."""
    root = tmp_path / "mine"
    for i in range(3):
        make_image(root / "apples" / f"a{i}.jpg", seed=i)
        make_image(root / "pears" / f"p{i}.jpg", seed=10 + i)
    make_image(root / "apples" / "gray.jpg", mode="L")
    make_image(root / "apples" / "cmyk.jpg", mode="CMYK")
    make_image(root / "pears" / "photo.png", fmt="PNG")
    truncate(make_image(root / "pears" / "broken.jpg", seed=5))
    (root / "pears" / "fake.jpg").write_text("not really a JPEG")
    (root / "apples" / "notes.txt").write_text("shopping list")
    return root


def test_check_image_tells_why(own_folder):
    assert data.check_image(own_folder / "apples" / "a0.jpg") is None
    assert data.check_image(own_folder / "apples" / "gray.jpg") is None
    assert data.check_image(own_folder / "apples" / "cmyk.jpg") is None
    assert data.check_image(own_folder / "pears" / "photo.png") is None
    assert "unreadable" in data.check_image(own_folder / "pears" / "broken.jpg")
    assert "unreadable" in data.check_image(own_folder / "pears" / "fake.jpg")
    assert data.check_image(own_folder / "apples" / "notes.txt") == "not an image file"


def test_own_folder_skips_bad_files_by_name_and_trains_without_crash(own_folder, capsys):
    ds, classes = data.load_image_folder(own_folder, image_size=24, batch_size=4)
    out = capsys.readouterr().out
    assert classes == ["apples", "pears"]
    assert "Skipped 3 file(s)" in out
    for name in ("broken.jpg", "fake.jpg", "notes.txt"):
        assert name in out
    for _ in range(2):  # two full epochs: nothing blows up mid-epoch
        images = np.concatenate([x.numpy() for x, _ in ds])
    assert images.shape == (9, 24, 24, 3)  # 5 apples + 4 pears, all RGB
    assert 0.0 <= images.min() and images.max() <= 255.0


def test_empty_class_folder_is_a_clear_error(tmp_path):
    make_image(tmp_path / "mine" / "apples" / "a.jpg")
    (tmp_path / "mine" / "pears").mkdir()
    with pytest.raises(data.DataError, match="class folder .*pears is empty"):
        data.load_image_folder(tmp_path / "mine", image_size=24, batch_size=4)


def test_folder_without_class_folders_is_a_clear_error(tmp_path):
    make_image(tmp_path / "mine" / "a.jpg")
    with pytest.raises(data.DataError, match="wrong layout .*one sub-folder per class"):
        data.load_image_folder(tmp_path / "mine", image_size=24, batch_size=4)


def test_cifar_image_folder_import_skips_corrupt_images(data_home, tmp_path, capsys):
    root = tmp_path / "cifar10-jpeg"
    for split in ("train", "test"):
        for c, name in enumerate(data.CIFAR10_CLASSES):
            for i in range(3):
                make_image(root / split / name / f"{i:04d}.jpg", size=(32, 32), seed=c * 10 + i)
    truncate(root / "train" / "cat" / "0001.jpg")
    data.import_dataset("cifar10", root)
    out = capsys.readouterr().out
    assert "train/cat/0001.jpg" in out
    assert "train has 2, 3 images per class; the official cifar10 has 5000" in out
    record = data.installed("cifar10")
    assert record["official"] is False and "NOT the official" in record["description"]
    assert record["counts"]["train/cat"] == 2 and len(record["skipped"]) == 1
    assert data.verify_dataset("cifar10") == []


def test_cifar_image_folder_with_wrong_classes_is_refused(data_home, tmp_path):
    root = tmp_path / "cifar"
    for split in ("train", "test"):
        make_image(root / split / "kittens" / "0.jpg")
    with pytest.raises(data.DataError, match="needs exactly"):
        data.import_dataset("cifar10", root)


def test_cifar_image_folder_labels_follow_the_official_order(data_home, tmp_path, cfg):
    # keras.datasets.cifar10 labels 0-9 in the order of the dataset's batches.meta.
    official = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    root = tmp_path / "cifar10-jpeg"
    for split, count in (("train", 10), ("test", 1)):  # 10: the last tenth validates
        for name in reversed(official):  # folders created in another order
            colour = np.full((32, 32, 3), 20 * official.index(name), dtype=np.uint8)
            for i in range(count):
                path = root / split / name / f"{i:04d}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(colour).save(path, quality=100)
    data.import_dataset("cifar10", root)
    cfg.update(batch_size=10)
    splits = data.load_dataset("cifar10", cfg, image_size=32)
    assert splits.class_names == official
    images, labels = next(iter(splits.test))
    # Each image's grey level encodes its class folder: the label must be that class's official index.
    assert sorted(labels.numpy().tolist()) == list(range(10))
    for image, label in zip(images.numpy(), labels.numpy()):
        assert abs(float(image.mean()) - 20 * int(label)) < 2


def test_too_small_a_copy_gives_a_clear_error_not_a_crash(data_home, tmp_path, cfg):
    root = tmp_path / "cifar10-jpeg"
    for split in ("train", "test"):
        for c, name in enumerate(data.CIFAR10_CLASSES):
            make_image(root / split / name / "0000.jpg", size=(32, 32), seed=c)
    data.import_dataset("cifar10", root)  # one training image per class: nothing left to validate on
    with pytest.raises(data.DataError, match="validation split of cifar10 is empty"):
        data.load_dataset("cifar10", cfg, image_size=32)


# ---------------------------------------------------------------- loaders


def test_cats_splits_are_disjoint_sized_and_deterministic(data_home, fake_cats, cfg):
    data.import_dataset("cats_vs_dogs", fake_cats)
    cfg.update(train_per_class=5, val_per_class=None, test_per_class=None)
    splits = data.load_dataset("cats_vs_dogs", cfg)
    assert splits.class_names == ["cats", "dogs"]
    first_epoch = [y.numpy().tolist() for _, y in splits.train]
    again = data.load_dataset("cats_vs_dogs", cfg)
    assert [y.numpy().tolist() for _, y in again.train] == first_epoch  # same seed, same order
    counts = [sum(int(x.shape[0]) for x, _ in ds) for ds in splits[:3]]
    assert counts == [10, 4, 4]  # 5+5 train; the 4+4 validation images split in half
    x, y = next(iter(splits.train))
    assert x.shape[1:] == (32, 32, 3) and x.dtype.name == "float32"
    assert set(np.unique(y.numpy())) <= {0, 1}


def test_test_split_never_overlaps_validation(data_home, fake_cats):
    data.import_dataset("cats_vs_dogs", fake_cats)
    _, validation, test = data._split_files("cats_vs_dogs", data_home / "cats_vs_dogs")
    for class_name in ("cats", "dogs"):
        assert not set(validation[class_name]) & set(test[class_name])
        assert len(validation[class_name]) == len(test[class_name]) == 2


def test_flowers_split_is_stratified(tmp_path):
    folder = tmp_path / "flowers17"
    for i in range(1, 1361):
        (folder / "jpg").mkdir(parents=True, exist_ok=True)
        (folder / "jpg" / f"image_{i:04d}.jpg").touch()
    train, validation, test = data._split_files("flowers17", folder)
    assert len(train) == len(validation) == len(test) == 17
    assert {len(v) for v in train.values()} == {60}
    assert {len(v) for v in validation.values()} == {10} == {len(v) for v in test.values()}
    assert folder / "jpg" / "image_0081.jpg" in train["snowdrop"]  # class = position in the list
