"""The data layer in a real lab: a full disk, a read-only data folder, a damaged or
hostile CIFAR-10 archive, a file damaged where it lies, a mirror setting naming no folder, and
install records or data folders that are not what they should be. Each test builds its fault."""

from __future__ import annotations

import io
import os
import pickle
import tarfile

import pytest

from conftest import dead_pid, run_cli, truncate
from course_utils import data, files, labkit, mirror

CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]




def _tar(path, members: dict[str, bytes]):
    """A .tar.gz at `path` holding `members` (name: bytes) under cifar-10-batches-py/."""
    with tarfile.open(path, mode="w:gz") as tar:
        for name, raw in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


def _batch(count: int = 2) -> bytes:
    import numpy as np

    return pickle.dumps({b"data": np.zeros((count, 3072), np.uint8), b"labels": [0] * count})


# ---------------------------------------------------------------- a full disk


def test_a_disk_too_small_is_refused_before_anything_is_written(data_home, fake_cats, small_disk, monkeypatch,
                                                                  capsys):
    folder = small_disk(8_000)
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder / "data"))
    code, _, err = run_cli(capsys, "data", "import", "cats_vs_dogs", str(fake_cats))
    assert code == 2 and "Traceback" not in err
    assert f"not enough space in {folder / 'data'} for installing cats_vs_dogs: it needs " in err
    assert "KB is free. Nothing was written" in err and err.strip().endswith("export COURSE_DATA_DIR=$HOME/course-data")
    assert not list((folder / "data").iterdir())


def test_a_disk_that_fills_up_midway_is_named_and_nothing_half_written_stays(data_home, fake_cats, small_disk,
                                                                              monkeypatch, capsys):
    import shutil

    folder = small_disk(8_000)
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder / "data"))
    real_usage = shutil.disk_usage  # another program takes the space after the check said there was room
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real_usage(path)._replace(free=10**9))
    code, _, err = run_cli(capsys, "data", "import", "cats_vs_dogs", str(fake_cats))
    assert code == 2 and "Traceback" not in err
    assert f"the disk holding {folder / 'data'} filled up while installing cats_vs_dogs (it needs " in err
    assert "what was half-written has been removed" in err
    assert not list((folder / "data").iterdir())  # no staging folder, no partial dataset


def test_archives_on_a_full_disk_zip_refused_before_tar_named_when_it_fills(data_home, fake_cats, small_disk,
                                                                             tmp_path, monkeypatch, capsys):
    from test_data import _zip_of

    zipped = tmp_path / "cats_and_dogs_filtered.zip"
    _zip_of(fake_cats, zipped)
    tarred = tmp_path / "cats_and_dogs_filtered.tgz"
    with tarfile.open(tarred, "w:gz") as tar:
        tar.add(fake_cats, arcname=fake_cats.name)
    folder = small_disk(8_000)
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder / "data"))
    code, _, err = run_cli(capsys, "data", "import", "cats_vs_dogs", str(zipped))  # its listing gives the size
    assert code == 2 and f"not enough space in {folder / 'data'} for installing cats_vs_dogs: it needs " in err
    code, _, err = run_cli(capsys, "data", "import", "cats_vs_dogs", str(tarred))  # known only once unpacked
    assert code == 2 and "Traceback" not in err
    if not small_disk.simulated:  # (a simulated disk does not fill up while tarfile unpacks)
        assert f"the disk holding {folder / 'data'} filled up while installing cats_vs_dogs (it needs more " in err
    assert not list((folder / "data").iterdir())


def test_fetch_on_a_full_disk_names_the_space_and_goes_on_with_the_others(data_home, fake_cats, small_disk, server,
                                                                        tmp_path, monkeypatch, capsys):
    from test_data import _zip_of
    from test_labkit import _cifar_archive

    handler, url = server
    handler.payload = _zip_of(fake_cats, tmp_path / "whole.zip")  # sent with its length
    monkeypatch.setitem(data.DATASETS, "cats_vs_dogs", dict(data.DATASETS["cats_vs_dogs"], url=url))
    kit = tmp_path / "kit"
    kit.mkdir()
    (kit / data.DATASETS["cifar10"]["archive"]).write_bytes(_cifar_archive(per_class=5, test_per_class=1))
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(kit))
    folder = small_disk(8_000)
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder / "data"))
    code, out, err = run_cli(capsys, "data", "fetch", "cats_vs_dogs", "cifar10")
    assert code == 1 and "Traceback" not in err
    assert f"cats_vs_dogs: FAILED: not enough space in {folder / 'data' / 'downloads'} for downloading {url}" in err
    assert "cifar10: cifar10: arrays from the mirror's" in out  # tried after the failure
    assert not list((folder / "data" / "downloads").iterdir())  # no partial download


# ---------------------------------------------------------------- a read-only data folder


def test_a_read_only_data_folder_with_a_leftover_staging_folder_is_used_as_it_is(data_home, fake_cats, session,
                                                                                read_only, monkeypatch, capsys):
    data.import_dataset("cats_vs_dogs", fake_cats)
    leftover = data_home / f".import-cats_vs_dogs-{dead_pid()}-x1y2"
    (leftover / "staging" / "train").mkdir(parents=True)  # an import killed midway, before the teacher shared it
    (leftover / "staging" / "train" / "cat.0.jpg").write_bytes(b"x" * 100)
    shared = read_only(data_home)
    assert files.cannot_write(shared)  # the fault is real: nothing can be written there
    monkeypatch.setenv("COURSE_DATA_DIR", str(shared))
    assert data.load_dataset("cats_vs_dogs", session).class_names == ["cats", "dogs"]
    code, out, err = run_cli(capsys, "data", "fetch", "cats_vs_dogs")
    assert code == 0 and "Traceback" not in err and "cats_vs_dogs: cats_vs_dogs: official files" in out
    assert (shared / leftover.name).exists()  # left where it could not be removed; never read


# ---------------------------------------------------------------- a damaged or hostile CIFAR-10 archive


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"echo ran > {self.marker}",))


@pytest.mark.parametrize("fault", ["code", "missing batch", "wrong type", "truncated"])
def test_a_bad_cifar10_archive_in_the_mirror_is_one_clear_error(data_home, tmp_path, monkeypatch, capsys, fault):
    kit = tmp_path / "kit"
    kit.mkdir()
    archive = kit / data.DATASETS["cifar10"]["archive"]
    members = {name: _batch() for name in CIFAR_BATCHES}
    if fault == "code":
        members["data_batch_1"] = pickle.dumps({b"data": _Payload(tmp_path / "ran"), b"labels": [0]})
    elif fault == "missing batch":
        del members["data_batch_3"]
    elif fault == "wrong type":
        members["data_batch_1"] = pickle.dumps([1, 2, 3])
    _tar(archive, members)
    if fault == "truncated":
        truncate(archive)
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(kit))
    code, _, err = run_cli(capsys, "data", "fetch", "cifar10")
    assert code == 1 and "Traceback" not in err
    assert f"cifar10: FAILED: the CIFAR-10 archive {archive} cannot be used: " in err
    expected = {"code": r"its data_batch_1: it would call \w+\.system, which is not allowed .*never run",
                "missing batch": "it has no data_batch_3 \\(an incomplete copy",
                "wrong type": "its data_batch_1 holds a list, not a CIFAR-10 batch",
                "truncated": "it is damaged \\((EOFError|ReadError)"}[fault]
    import re

    assert re.search(expected, err), err
    assert "lab-kit PATH" in err and not (tmp_path / "ran").exists()


# ---------------------------------------------------------------- a file damaged where it lies


def test_a_file_damaged_in_place_keeping_size_and_date_is_named_before_training(data_home, fake_cats, session,
                                                                                monkeypatch, capsys):
    import tensorflow as tf

    monkeypatch.setenv("COURSE_DATA_MIRROR", str(fake_cats.parent))
    target = data.ensure_dataset("cats_vs_dogs")
    path = target / "train" / "cats" / "cat.3.jpg"
    status, raw = path.stat(), bytearray(path.read_bytes())
    middle = len(raw) // 2  # 16 bytes gone to 0xFF, as erased flash reads; same size, and the date put back
    raw[middle:middle + 16] = b"\xff" * 16
    path.write_bytes(bytes(raw))
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    with pytest.raises(tf.errors.InvalidArgumentError, match="jpeg::Uncompress failed"):
        tf.io.decode_image(tf.io.read_file(str(path)))  # what training would die of, naming no file
    with pytest.raises(data.DataError) as error:
        data.load_dataset("cats_vs_dogs", session)
    message = str(error.value)
    assert "the installed cats_vs_dogs has damaged files: changed: train/cats/cat.3.jpg" in message
    assert message.endswith("python -m course_utils data fetch --reinstall cats_vs_dogs")
    assert run_cli(capsys, "data", "fetch", "--reinstall", "cats_vs_dogs")[0] == 0  # the repair named
    train = data.load_dataset("cats_vs_dogs", session).train
    assert sum(int(x.shape[0]) for x, _ in train) == 12


# ---------------------------------------------------------------- a mirror setting naming no folder


def test_a_mirror_setting_naming_no_folder_is_reported(data_home, fake_cats, tmp_path, monkeypatch, capsys):
    gone = tmp_path / "usb-stick-not-mounted"
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(gone))
    line = f"COURSE_DATA_MIRROR is set to {gone}, a folder that does not exist: no mirror is used"
    assert mirror.problem().startswith(line)
    assert labkit.command(None, False, True) == 0
    assert f"warning: {line}" in capsys.readouterr().out
    code, out, err = run_cli(capsys, "data", "fetch", "cats_vs_dogs")  # and no network
    assert code == 1 and f"no copy of cats_vs_dogs is available: " in err and line in err
    assert "has no copy of cats_vs_dogs" not in out
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(fake_cats.parent))
    assert mirror.problem() is None


def test_the_banner_warns_of_a_mirror_setting_naming_no_folder(data_home, tmp_path, monkeypatch, capsys):
    from course_utils import session

    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(tmp_path / "gone"))
    session.setup("00_start_here")
    assert f"  warning     COURSE_DATA_MIRROR is set to {tmp_path / 'gone'}, a folder that does not exist" in \
        capsys.readouterr().out


# ---------------------------------------------------------------- install records and the data folder


@pytest.mark.parametrize("change", [{"stats": {"train/cats/cat.0.jpg": 5}}, {"stats": ["a"]}, {"official": False},
                                    {"description": None}])
def test_an_install_record_of_wrong_types_is_damaged_not_a_crash(data_home, fake_cats, monkeypatch, capsys, change):
    import json

    monkeypatch.setenv("COURSE_DATA_MIRROR", str(fake_cats.parent))
    target = data.ensure_dataset("cats_vs_dogs")
    record = json.loads((target / data.MARKER).read_text())
    (target / data.MARKER).write_text(json.dumps({**record, **change}))  # valid JSON, other types
    code, out, err = run_cli(capsys, "data", "list")
    assert code == 0 and "Traceback" not in err
    assert f"cats_vs_dogs  not installed: its install record {target / data.MARKER} is damaged (wrong type: " in out
    code, out, err = run_cli(capsys, "data", "verify", "cats_vs_dogs")
    assert code == 1 and "is damaged (wrong type" in out and "Traceback" not in err
    assert run_cli(capsys, "data", "fetch", "cats_vs_dogs")[0] == 0  # reinstalled from the mirror
    assert data.installed("cats_vs_dogs")["official"] is True


def test_data_list_with_a_data_folder_that_is_a_file_is_an_error(data_home, tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "data.txt"
    a_file.write_text("not a folder")
    monkeypatch.setenv("COURSE_DATA_DIR", str(a_file))
    code, out, err = run_cli(capsys, "data", "list")
    assert code == 2 and "not installed" not in out and "Traceback" not in err
    assert f"error: the data folder {a_file} is a file, not a folder: set COURSE_DATA_DIR" in err
