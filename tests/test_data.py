"""The data layer: import, checksums, downloads, bad images and the loaders."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import dead_pid, make_image, new_session, run_cli, truncate
from course_utils import archives, data, files, images


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
    monkeypatch.setattr("course_utils.install.download", lambda *a: pytest.fail("downloaded despite the mirror"))
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
    archives.download(url, dest)
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


def _cifar_folder(tmp_path: Path, per_class: int) -> Path:
    """An image-folder CIFAR-10 (train/<class>, test/<class>) of `per_class` small JPEGs per class."""
    root = tmp_path / "cifar10-jpeg"
    for split in ("train", "test"):
        for c, name in enumerate(data.CIFAR10_CLASSES):
            for i in range(per_class):
                make_image(root / split / name / f"{i:04d}.jpg", size=(32, 32), seed=c * 10 + i)
    return root


def test_cifar_image_folder_import_skips_corrupt_images(data_home, tmp_path, capsys):
    root = _cifar_folder(tmp_path, 3)
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


def test_cifar_image_folder_labels_follow_the_official_order(data_home, tmp_path):
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
    splits = data.load_dataset("cifar10", new_session(tmp_path / "build", batch_size=10), image_size=32)
    assert splits.class_names == official
    images, labels = next(iter(splits.test))
    # Each image's grey level encodes its class folder: the label must be that class's official index.
    assert sorted(labels.numpy().tolist()) == list(range(10))
    for image, label in zip(images.numpy(), labels.numpy()):
        assert abs(float(image.mean()) - 20 * int(label)) < 2


def test_too_small_a_copy_gives_a_clear_error_not_a_crash(data_home, tmp_path, session):
    root = tmp_path / "cifar10-jpeg"
    for split in ("train", "test"):
        for c, name in enumerate(data.CIFAR10_CLASSES):
            make_image(root / split / name / "0000.jpg", size=(32, 32), seed=c)
    data.import_dataset("cifar10", root)  # one training image per class: nothing left to validate on
    with pytest.raises(data.DataError, match="validation split of cifar10 is empty"):
        data.load_dataset("cifar10", session, image_size=32)


# ---------------------------------------------------------------- loaders


def test_cats_splits_are_disjoint_sized_and_deterministic(data_home, fake_cats, tmp_path):
    data.import_dataset("cats_vs_dogs", fake_cats)
    session = new_session(tmp_path / "build", train_per_class=5, val_per_class=None, test_per_class=None)
    splits = data.load_dataset("cats_vs_dogs", session)
    assert splits.class_names == ["cats", "dogs"]
    # The splits say what they hold: what a result recorded on them names (and a feature cache keys on).
    assert (splits.dataset, splits.image_size, splits.sizes) == ("cats_vs_dogs", 32, data.Sizes(10, 4, 4))
    first_epoch = [y.numpy().tolist() for _, y in splits.train]
    again = data.load_dataset("cats_vs_dogs", session)
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


# ---------------------------------------------------------------- changed, damaged or cut-short files, and leftovers




def test_installed_file_changed_after_install_is_named_with_the_repair(data_home, fake_cats, session, monkeypatch,
                                                                       capsys):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(fake_cats.parent))
    target = data.ensure_dataset("cats_vs_dogs")
    truncate(target / "train" / "cats" / "cat.2.jpg")
    with pytest.raises(data.DataError) as error:
        data.load_dataset("cats_vs_dogs", session)
    message = str(error.value)
    assert "changed: train/cats/cat.2.jpg (size" in message
    assert message.endswith("python -m course_utils data fetch --reinstall cats_vs_dogs")
    code, _, err = run_cli(capsys, "data", "fetch", "cats_vs_dogs")
    assert code == 1 and "train/cats/cat.2.jpg" in err and "Traceback" not in err
    # The repair command named in the message repairs it.
    assert run_cli(capsys, "data", "fetch", "--reinstall", "cats_vs_dogs")[0] == 0
    assert data.load_dataset("cats_vs_dogs", session).class_names == ["cats", "dogs"]


def test_installed_file_altered_in_place_at_same_size_is_noticed(data_home, fake_cats, session):
    target = data.import_dataset("cats_vs_dogs", fake_cats)
    path = target / "validation" / "dogs" / "dog.3.jpg"
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF  # same size, other bytes (and a newer modification time)
    path.write_bytes(bytes(raw))
    with pytest.raises(data.DataError, match=r"changed: validation/dogs/dog\.3\.jpg \(modified after install\)"):
        data.load_dataset("cats_vs_dogs", session)


def test_a_deleted_flowers_image_moves_no_other_image_to_another_class(tmp_path):
    folder = tmp_path / "flowers17"
    (folder / "jpg").mkdir(parents=True)
    for i in range(1, 1361):
        (folder / "jpg" / f"image_{i:04d}.jpg").touch()
    (folder / "jpg" / "image_0005.jpg").unlink()
    train, validation, test = data._split_files("flowers17", folder)
    by_file = {p.name: c for split in (train, validation, test) for c, files in split.items() for p in files}
    assert by_file["image_0080.jpg"] == "daffodil" and by_file["image_0081.jpg"] == "snowdrop"
    assert by_file["image_1360.jpg"] == "pansy" and "image_0005.jpg" not in by_file
    assert folder / "jpg" / "image_0088.jpg" in test["snowdrop"]  # the split, too, follows the number


def test_image_folder_class_with_no_readable_image_is_refused(data_home, tmp_path, capsys):
    root = _cifar_folder(tmp_path, 2)
    for path in (root / "train" / "frog").iterdir():
        truncate(path)
    code, _, err = run_cli(capsys, "data", "import", "cifar10", str(root))
    assert code == 2 and "Traceback" not in err
    assert "train/frog has no usable image: all 2 file(s) are unreadable" in err
    assert data.installed("cifar10") is None and not (data_home / "cifar10").exists()


def test_check_image_uses_the_decoder_training_uses(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    one_bit = tmp_path / "one_bit.bmp"  # PIL reads it; TensorFlow's decoder cannot
    Image.fromarray(pixels).convert("1").save(one_bit)
    palette = tmp_path / "palette.bmp"  # TensorFlow reads its palette indices as grey levels
    Image.fromarray(pixels).convert("P").save(palette)
    for path in (one_bit, palette):
        Image.open(path).load()  # what the old check asked
        assert "BMP" in data.check_image(path)
    tiff = tmp_path / "scan.png"  # a TIFF under an image suffix
    Image.fromarray(pixels).save(tiff, "TIFF")
    assert "unreadable image" in data.check_image(tiff)
    good = tmp_path / "rgb.bmp"
    Image.fromarray(pixels).save(good)
    assert data.check_image(good) is None


def test_what_the_check_accepts_trains(tmp_path):
    root = tmp_path / "mine"
    pixels = np.random.default_rng(1).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    for class_name in ("a", "b"):
        make_image(root / class_name / "ok.jpg")
        Image.fromarray(pixels).convert("1").save(root / class_name / "one_bit.bmp")
        Image.fromarray(pixels).convert("P").save(root / class_name / "palette.bmp")
        Image.fromarray(pixels).save(root / class_name / "rgb.bmp")
    ds, _ = data.load_image_folder(root, image_size=16, batch_size=8)
    assert sum(int(x.shape[0]) for x, _ in ds) == 4  # the 8 odd BMPs skipped, nothing fails mid-epoch


@pytest.mark.parametrize("damage", ["bad CRC", "truncated tgz"])
def test_damaged_archive_is_a_clear_error_without_traceback(data_home, fake_cats, tmp_path, capsys, damage):
    import tarfile

    if damage == "bad CRC":
        archive = tmp_path / "cats_and_dogs_filtered.zip"
        raw = bytearray(_zip_of(fake_cats, archive))
        member = raw.find(b"\xff\xd8\xff")  # inside the first stored JPEG
        raw[member + 100] ^= 0xFF
        archive.write_bytes(bytes(raw))
    else:
        archive = tmp_path / "cats_and_dogs_filtered.tgz"
        with tarfile.open(archive, "w:gz") as tarred:
            tarred.add(fake_cats, arcname=fake_cats.name)
        truncate(archive)
    code, _, err = run_cli(capsys, "data", "import", "cats_vs_dogs", str(archive))
    assert code == 2 and "Traceback" not in err
    assert f"{archive} is damaged" in err
    assert not list(data_home.glob(".import-*"))


def test_download_without_length_ending_early_is_never_kept(data_home, fake_cats, tmp_path, server, monkeypatch,
                                                            capsys):
    handler, url = server
    monkeypatch.setitem(data.DATASETS, "cats_vs_dogs", dict(data.DATASETS["cats_vs_dogs"], url=url))
    whole = _zip_of(fake_cats, tmp_path / "whole.zip")
    handler.payload, handler.cut, handler.no_length = whole, True, True
    code, _, err = run_cli(capsys, "data", "fetch", "cats_vs_dogs")
    archive = data_home / "downloads" / "cats_and_dogs_filtered.zip"
    assert code == 1 and "Traceback" not in err
    assert "failed this check and was removed" in err
    assert not list(archive.parent.iterdir())  # neither under the archive's name nor as a part
    handler.cut = False  # the next try downloads again, rather than reusing a part
    assert run_cli(capsys, "data", "fetch", "cats_vs_dogs")[0] == 0
    assert data.verify_dataset("cats_vs_dogs") == []
    assert [p.name for p in archive.parent.iterdir()] == [archive.name]  # the verified archive, kept


def test_leftover_staging_folders_are_removed_on_the_next_run(data_home, fake_cats, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(fake_cats.parent))
    data.ensure_dataset("cats_vs_dogs")
    killed = data_home / f".import-cats_vs_dogs-{dead_pid()}-x1y2"
    (killed / "staging" / "train").mkdir(parents=True)
    (killed / "staging" / "train" / "cat.0.jpg").write_bytes(b"x" * 1000)
    running = data_home / files.staging_prefix("flowers17")  # this process's: still in use
    running.mkdir()
    data.ensure_dataset("cats_vs_dogs")
    assert not killed.exists() and running.exists()
    assert f"Removed {killed.name}" in capsys.readouterr().out


def test_damaged_install_record_means_not_installed_with_the_fix(data_home, fake_cats, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(fake_cats.parent))
    target = data.ensure_dataset("cats_vs_dogs")
    (target / data.MARKER).write_text('{"official": tr')  # cut short
    code, out, err = run_cli(capsys, "data", "list")
    assert code == 0 and "Traceback" not in err
    assert "cats_vs_dogs  not installed: its install record" in out and "is damaged" in out
    assert "data fetch --reinstall cats_vs_dogs" in out
    code, out, err = run_cli(capsys, "data", "verify")
    assert code == 1 and "damaged" in out and "Traceback" not in err
    assert run_cli(capsys, "data", "fetch", "cats_vs_dogs")[0] == 0  # reinstalled from the mirror
    assert data.installed("cats_vs_dogs")["official"] is True


def test_data_folder_that_is_a_file_or_read_only_is_a_clear_error(data_home, fake_cats, tmp_path, monkeypatch,
                                                                  capsys):
    import os

    monkeypatch.setenv("COURSE_DATA_MIRROR", str(fake_cats.parent))
    a_file = tmp_path / "data.txt"
    a_file.write_text("not a folder")
    monkeypatch.setenv("COURSE_DATA_DIR", str(a_file))
    for command in (["data", "fetch", "cats_vs_dogs"], ["data", "verify"], ["data", "import", "cats_vs_dogs",
                                                                             str(fake_cats)]):
        code, _, err = run_cli(capsys, *command)
        assert code != 0 and "Traceback" not in err, command
        assert f"the data folder {a_file} is a file, not a folder" in err and "COURSE_DATA_DIR" in err
    if os.geteuid() == 0:  # root writes through permissions: use a folder no one can write to
        read_only = Path("/sys")
    else:
        read_only = tmp_path / "read-only"
        read_only.mkdir()
        read_only.chmod(0o555)
    monkeypatch.setenv("COURSE_DATA_DIR", str(read_only))
    code, _, err = run_cli(capsys, "data", "fetch", "cats_vs_dogs")
    assert code == 1 and "Traceback" not in err
    assert f"cannot write into the data folder {read_only}" in err and "COURSE_DATA_DIR" in err
    code, out, _ = run_cli(capsys, "data", "verify")  # nothing installed there: not a silent success
    assert code == 1 and "No dataset is installed" in out and "data fetch" in out


def test_fetch_tries_every_dataset_and_fails_if_any_failed(data_home, fake_cats, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(fake_cats.parent))
    monkeypatch.setitem(data.DATASETS, "flowers17",
                        dict(data.DATASETS["flowers17"], url="http://127.0.0.1:9/17flowers.tgz"))
    code, out, err = run_cli(capsys, "data", "fetch", "flowers17", "cats_vs_dogs")
    assert code == 1 and "Traceback" not in err
    assert "flowers17: FAILED: no copy of flowers17 is available" in err
    assert "cats_vs_dogs: cats_vs_dogs: official files" in out  # tried after the failure, and installed
    assert "1 of 2 dataset(s) not available: flowers17" in err


def test_only_the_course_s_own_leftovers_of_dead_processes_are_removed(tmp_path):
    dead, alive = dead_pid(), __import__("os").getpid()
    names = {f".model.tmp-{dead}.keras": False, f".model.tmp-{alive}.keras": True, "notes.tmp-old": True,
             f".import-flowers17-{dead}-ab_c": False, ".import-flowers17-abc": False, "cats_vs_dogs": True}
    for name in names:  # staging and dataset folders; temporary and other files
        if name.startswith(".import-") or name == "cats_vs_dogs":
            (tmp_path / name).mkdir()
        else:
            (tmp_path / name).write_text("x")
    removed = files.remove_abandoned_staging(tmp_path)
    assert sorted(p.name for p in removed) == sorted(n for n, kept in names.items() if not kept)
    assert all((tmp_path / n).exists() == kept for n, kept in names.items())


def test_a_download_takes_the_archive_name_only_once_it_has_passed(data_home, fake_cats, tmp_path, server,
                                                                 monkeypatch):
    from course_utils import install

    handler, url = server
    monkeypatch.setitem(data.DATASETS, "cats_vs_dogs", dict(data.DATASETS["cats_vs_dogs"], url=url))
    handler.payload, handler.no_length = _zip_of(fake_cats, tmp_path / "whole.zip"), True
    archive = data_home / "downloads" / "cats_and_dogs_filtered.zip"
    archive.parent.mkdir(parents=True)
    archive.with_name(archive.name + ".unverified").write_bytes(b"PK\x03\x04 cut")  # a run killed mid-import
    while_checked = []
    real_import = install.import_dataset
    monkeypatch.setattr(install, "import_dataset",
                        lambda name, source: while_checked.append(archive.exists()) or real_import(name, source))
    data.ensure_dataset("cats_vs_dogs")
    assert while_checked == [False]  # not under the archive's name while it was being checked
    assert archive.read_bytes() == handler.payload and data.verify_dataset("cats_vs_dogs") == []


def test_array_splits_batches_every_split_and_shuffles_only_training(tmp_path):
    x = np.arange(10, dtype="float32")[:, None]
    arrays = {split: (x, np.arange(10)) for split in ("train", "validation", "test")}
    images = data.Splits(None, None, None, ["a", "b"], "cats_vs_dogs", 32, data.Sizes(10, 10, 10))
    splits = data.array_splits(arrays, images, new_session(tmp_path))
    # They hold the features of the images they came from: same classes, dataset, image size and sizes.
    assert splits[3:] == (["a", "b"], "cats_vs_dogs", 32, data.Sizes(10, 10, 10))
    for name in ("validation", "test"):
        labels = np.concatenate([y.numpy() for _, y in getattr(splits, name)])
        assert labels.tolist() == list(range(10))
    pairs = [(float(a[0]), int(b)) for xs, ys in splits.train for a, b in zip(xs.numpy(), ys.numpy())]
    assert sorted(pairs) == [(float(i), i) for i in range(10)]  # images keep their labels
    assert [label for _, label in pairs] != list(range(10))
    with pytest.raises(ValueError, match=r"arrays of \(10, 10, 10\) examples .*hold \(10, 10, 9\)"):
        data.array_splits(arrays, images._replace(sizes=data.Sizes(10, 10, 9)), new_session(tmp_path))


# ---------------------------------------------------------------- huge and rotated photos


def test_an_image_with_too_many_pixels_is_refused_by_its_header_and_skipped_at_install(data_home, tmp_path,
                                                                                      capsys):
    root = _cifar_folder(tmp_path, 2)
    bomb = root / "train" / "cat" / "bomb.png"
    Image.new("1", (16000, 16000)).save(bomb)  # one colour: 256 million pixels in a few dozen KB
    assert bomb.stat().st_size < 300_000
    reason = data.check_image(bomb)
    assert reason.startswith("too large to train on: 16000x16000 is 256,000,000 pixels")
    assert f"limit of {images.MAX_PIXELS:,}" in reason and "Shrink it" in reason
    data.import_dataset("cifar10", root)
    out = capsys.readouterr().out
    assert "Skipped 1 file(s)" in out and "train/cat/bomb.png: too large to train on" in out
    record = data.installed("cifar10")
    assert record["counts"]["train/cat"] == 2 and "train/cat/bomb.png" not in record["files"]


def _resize_input_types(dataset) -> set[str]:
    """The dtypes every resize op of a `tf.data` pipeline's functions reads."""
    import tensorflow as tf
    from tensorflow.core.framework import graph_pb2

    graph = graph_pb2.GraphDef.FromString(dataset._as_serialized_graph().numpy())
    return {tf.dtypes.as_dtype(node.attr["T"].type).name for function in graph.library.function
            for node in function.node_def if node.op.startswith(("Resize", "ScaleAndTranslate"))}


def test_the_pipeline_resizes_the_8_bit_pixels_never_a_full_size_float_copy(tmp_path):
    path = make_image(tmp_path / "photo.jpg", size=(64, 48))
    from_files = data._pipeline([str(path)], [0], image_size=16, batch_size=1, shuffle=False, seed=0)
    pixels = np.zeros((1, 48, 64, 3), dtype=np.uint8)
    from_arrays = data._pipeline(pixels, [0], image_size=16, batch_size=1, shuffle=False, seed=0)
    # The decoded image goes to the resize as uint8 (1 byte a pixel): only the small result is float.
    assert _resize_input_types(from_files) == _resize_input_types(from_arrays) == {"uint8"}
    [(batch, _)] = from_files
    assert batch.dtype == "float32" and batch.shape == (1, 16, 16, 3)


def _sideways_photo(path: Path, orientation: int, fmt: str = "JPEG") -> np.ndarray:
    """Save, with EXIF `orientation`, the pixels that show the returned upright image (red above
    blue, green in the top left corner) once turned as that orientation says."""
    from PIL import ImageOps

    upright = np.zeros((48, 24, 3), dtype=np.uint8)
    upright[:24, :, 0] = upright[24:, :, 2] = 255
    upright[:8, :8] = (0, 255, 0)
    exif = Image.Exif()
    exif[0x0112] = orientation
    # Stored as the camera would: turned the other way, so that EXIF's turn undoes it.
    inverse = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270, 5: Image.Transpose.TRANSPOSE,
               7: Image.Transpose.TRANSVERSE, 2: Image.Transpose.FLIP_LEFT_RIGHT,
               3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM}
    stored = Image.fromarray(upright)
    stored = stored.transpose(inverse[orientation]) if orientation in inverse else stored
    stored.save(path, fmt, exif=exif)
    if fmt == "PNG":  # lossless: Pillow's own turn gives back exactly the upright image
        assert np.array_equal(np.asarray(ImageOps.exif_transpose(Image.open(path))), upright)
    return upright


def test_a_phone_photo_with_exif_orientation_6_trains_the_right_way_up(tmp_path):
    path = tmp_path / "mine" / "fruit" / "phone.jpg"
    path.parent.mkdir(parents=True)
    _sideways_photo(path, 6)
    assert Image.open(path).size == (48, 24)  # stored sideways, as a phone does
    assert data.check_image(path) is None and data.exif_orientation(path) == 6
    ds, _ = data.load_image_folder(tmp_path / "mine", image_size=16, batch_size=1)
    [(batch, _)] = ds
    image = batch.numpy()[0]
    top, bottom = image[4:6, 10:12].mean(axis=(0, 1)), image[-3:, :].mean(axis=(0, 1))
    assert top[0] > 200 and top[2] < 50  # red at the top
    assert bottom[2] > 200 and bottom[0] < 50  # blue at the bottom
    assert image[1, 1, 1] > 200 and image[1, -2, 1] < 50  # green in the top left corner, not the right


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_comes_out_as_pillow_turns_it(tmp_path, orientation):
    import tensorflow as tf

    path = tmp_path / f"o{orientation}.png"  # lossless, so the pixels compare exactly
    upright = _sideways_photo(path, orientation, fmt="PNG")
    [(batch, _)] = data._pipeline([str(path)], [0], image_size=12, batch_size=1, shuffle=False, seed=0)
    expected = tf.round(tf.image.resize(upright, (12, 12))).numpy()
    assert np.abs(batch.numpy()[0] - expected).max() <= 1
