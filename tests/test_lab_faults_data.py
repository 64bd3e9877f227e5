"""What a hostile lab does to the data, the downloads and the exercise checks, built for real: a
disk whose blocks fill before its bytes do, huge sparse files named .jpg, file names that are not
UTF-8, a download that trickles, answers that loop forever or throw what an `except Exception`
misses, a mirror setting that is a symbolic link loop, a lab kit item refused for its hash."""

from __future__ import annotations

import http.server
import os
import re
import resource
import shutil
import threading
import time
from pathlib import Path

import pytest

from conftest import make_image, new_session, run_cli
from course_utils import data, exercise_checks, exercises, images, mirror
from test_data import _cifar_folder, _zip_of

GIB2 = 2 * 1024**3


def _sizes(message: str) -> tuple[float, float]:
    """The bytes a space message says are needed and free ("it needs 172.0 KB and 100.0 KB is free")."""
    scale = {"bytes": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9}
    needed, free = re.search(r"it needs ([\d.]+ \w+) and ([\d.]+ \w+) is free", message).groups()
    return tuple(float(text.split()[0]) * scale[text.split()[1]] for text in (needed, free))


# ---------------------------------------------------------------- case 2: a disk whose blocks run out first


def _many_small_files(fake_cats, monkeypatch, tmp_path, count: int = 60):
    """The fake cats_vs_dogs with `count` more 1,000-byte files listed in its sha256 list: 60 KB of
    bytes that take 240 KB of a disk of 4 KB blocks."""
    import hashlib

    manifest = data.DATASETS["cats_vs_dogs"]["manifest"]
    lines = manifest.read_text().splitlines()
    for i in range(count):
        path = fake_cats / "train" / "cats" / f"cat.{100 + i}.jpg"
        path.write_bytes(bytes([i]) * 1000)
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  ./train/cats/{path.name}")
    manifest.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("source", ["folder", "zip"])
def test_the_space_an_install_needs_is_counted_in_blocks_as_the_disk_counts_it(data_home, fake_cats, small_disk,
                                                                             tmp_path, monkeypatch, capsys, source):
    _many_small_files(fake_cats, monkeypatch, tmp_path)
    copy = sum(p.stat().st_size for p in fake_cats.rglob("*") if p.is_file())
    given = str(fake_cats) if source == "folder" else str(tmp_path / "cats.zip")
    if source == "zip":
        _zip_of(fake_cats, tmp_path / "cats.zip")
    folder = small_disk(200_000 if source == "folder" else 400_000)  # more than the bytes, fewer than the blocks
    assert copy < 150_000
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder / "data"))
    code, _, err = run_cli(capsys, "data", "import", "cats_vs_dogs", given)
    assert code == 2 and "Traceback" not in err
    assert f"not enough space in {folder / 'data'} for installing cats_vs_dogs: it needs " in err
    needed, free = _sizes(err)
    assert needed > free  # the message never contradicts itself
    assert "Nothing was written" in err and not list((folder / "data").iterdir())
    if not small_disk.simulated:  # a real file system: what it says it needs is what the install takes
        monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "roomy"))
        data.import_dataset("cats_vs_dogs", given)
        taken = sum(p.stat().st_blocks * 512 for p in (tmp_path / "roomy" / "cats_vs_dogs").rglob("*"))
        assert taken <= needed


def test_a_fetch_counts_the_archive_its_unpacked_files_and_the_copy_before_downloading(data_home, fake_cats,
                                                                                        small_disk, server, tmp_path,
                                                                                        monkeypatch, capsys):
    handler, url = server
    handler.payload = _zip_of(fake_cats, tmp_path / "whole.zip")  # sent with its length
    monkeypatch.setitem(data.DATASETS, "cats_vs_dogs", dict(data.DATASETS["cats_vs_dogs"], url=url))
    folder = small_disk(2 * len(handler.payload))  # room for the archive, not for installing it as well
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder / "data"))
    code, _, err = run_cli(capsys, "data", "fetch", "cats_vs_dogs")
    assert code == 1 and "Traceback" not in err
    assert (f"not enough space in {folder / 'data' / 'downloads'} for downloading {url} and installing it (the "
            "archive, its files unpacked, and their installed copy: about 3 times the archive): it needs ") in err
    needed, free = _sizes(err)
    assert needed > free and not list((folder / "data" / "downloads").iterdir())  # refused before downloading


# ---------------------------------------------------------------- case 4: a huge file named .jpg


def _peak_memory() -> int:
    """This process's largest resident size so far, in bytes (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@pytest.mark.parametrize("start", ["zeros", "a real JPEG's first 2,000 bytes"])
def test_a_huge_sparse_file_named_jpg_is_refused_by_its_size_without_reading_it(data_home, tmp_path, capsys, start):
    root = _cifar_folder(tmp_path, 2)
    huge = root / "train" / "cat" / "huge.jpg"
    photo = make_image(tmp_path / "photo.jpg", size=(400, 300))
    huge.write_bytes(photo.read_bytes()[:2000] if start != "zeros" else b"")
    os.truncate(huge, GIB2)  # 2 GiB that take no disk space: a hole
    assert huge.stat().st_size == GIB2 and huge.stat().st_blocks * 512 < 1_000_000
    peak, began = _peak_memory(), time.monotonic()
    reason = data.check_image(huge)
    assert time.monotonic() - began < 2 and _peak_memory() - peak < 100_000_000  # nothing of it was read
    assert reason == ("too large for an image file: 2.1 GB, over the course's limit of 200.0 MB (far above any "
                      "real photo); not read. Is it an image at all?")
    data.import_dataset("cifar10", root)
    out = capsys.readouterr().out
    assert "Skipped 1 file(s)" in out and f"{huge}: too large for an image file: 2.1 GB" in out
    assert "train/cat/huge.jpg" not in data.installed("cifar10")["files"]
    assert _peak_memory() - peak < 500_000_000  # (TensorFlow decoding the small images: far below 2 GB)


def test_a_file_whose_header_is_refused_has_its_body_never_read(tmp_path):
    from PIL import Image

    bomb = tmp_path / "mine" / "cats" / "bomb.png"
    bomb.parent.mkdir(parents=True)
    Image.new("1", (16000, 16000)).save(bomb)  # a PNG header saying 256 million pixels...
    os.truncate(bomb, images.MAX_FILE_BYTES - 1)  # ...then zeros up to just under the size limit
    peak, began = _peak_memory(), time.monotonic()
    assert data.check_image(bomb).startswith("too large to train on: 16000x16000 is 256,000,000 pixels")
    assert time.monotonic() - began < 2 and _peak_memory() - peak < 50_000_000  # the header alone was read


# ---------------------------------------------------------------- case 5: a file name that is not UTF-8


def _bad_name(folder) -> bytes:
    """A readable JPEG in `folder` whose name holds bytes that are not UTF-8; returns its path as bytes."""
    path = os.path.join(os.fsencode(folder), b"bad\xff\xfename.jpg")
    shutil.copyfile(next(folder.iterdir()), path)
    return path


def test_a_file_name_that_is_not_utf8_is_skipped_by_name_at_import_and_training_runs(data_home, tmp_path, capsys):
    root = _cifar_folder(tmp_path, 10)
    _bad_name(root / "train" / "cat")
    code, out, err = run_cli(capsys, "data", "import", "cifar10", str(root))
    assert code == 0 and "Traceback" not in err
    out.encode("utf-8")  # printable as it is: its bytes are written out, not passed on
    assert ("train/cat/bad\\xff\\xfename.jpg: its name is not UTF-8 text, which TensorFlow cannot open: rename it"
            in out)
    assert run_cli(capsys, "data", "verify", "cifar10")[:2] == (0, "cifar10: intact\n")
    splits = data.load_dataset("cifar10", new_session(tmp_path / "build", batch_size=10), image_size=32)
    assert sum(int(x.shape[0]) for x, _ in splits.train) == 90  # trains, no "Error converting unicode string"


def test_a_file_name_that_is_not_utf8_in_a_data_folder_is_named_by_verify_and_the_load(data_home, tmp_path, capsys):
    root = _cifar_folder(tmp_path, 10)
    data.import_dataset("cifar10", root)
    capsys.readouterr()
    (data_home / "cifar10" / "train" / ".DS_Store").write_bytes(b"Finder")  # hidden: never read, never listed
    assert run_cli(capsys, "data", "verify", "cifar10")[:2] == (0, "cifar10: intact\n")
    _bad_name(data_home / "cifar10" / "train" / "cat")  # put there by hand, after the install
    code, out, _ = run_cli(capsys, "data", "verify", "cifar10")
    assert code == 1 and "  added after install: train/cat/bad\\xff\\xfename.jpg\n" in out
    repair = f"import it again with: python -m course_utils data import cifar10 {root}"  # a copy made by hand
    assert f"  The course does not use altered files; {repair}\n" in out
    with pytest.raises(data.DataError) as error:
        data.load_dataset("cifar10", new_session(tmp_path / "build"), image_size=32)
    assert "added after install: train/cat/bad\\xff\\xfename.jpg" in str(error.value)
    assert str(error.value).endswith(repair)
    assert run_cli(capsys, "data", "import", "cifar10", str(root))[0] == 0  # the repair named repairs it
    assert data.load_dataset("cifar10", new_session(tmp_path / "build"), image_size=32).sizes.train == 90


def test_a_learners_folder_skips_a_name_that_is_not_utf8_and_trains(tmp_path, capsys):
    for name in ("apples", "pears"):
        for i in range(2):
            make_image(tmp_path / "mine" / name / f"{i}.jpg", seed=i)
    _bad_name(tmp_path / "mine" / "pears")
    pipeline, _ = data.load_image_folder(tmp_path / "mine", image_size=24, batch_size=4)
    assert "pears/bad\\xff\\xfename.jpg: its name is not UTF-8" in capsys.readouterr().out
    assert sum(int(x.shape[0]) for x, _ in pipeline) == 4


# ---------------------------------------------------------------- case 6: a download that trickles


class _Trickle(http.server.BaseHTTPRequestHandler):
    """Says it sends 1,000 bytes, then sends one every 0.1 s, 100 at most: a connection that never
    falls silent long enough for a network timeout, and stops by itself."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:  # the client gave up
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def trickle():
    """The URL of a loopback server whose downloads trickle (`_Trickle`)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/cats_and_dogs_filtered.zip"
    httpd.shutdown()


def test_a_trickling_download_is_stopped_at_its_deadline_named_and_leaves_nothing(data_home, fake_cats, trickle,
                                                                                  monkeypatch, capsys):
    monkeypatch.setitem(data.DATASETS, "cats_vs_dogs", dict(data.DATASETS["cats_vs_dogs"], url=trickle))
    monkeypatch.setenv("COURSE_DOWNLOAD_TIMEOUT", "1.5")
    began = time.monotonic()
    code, out, err = run_cli(capsys, "data", "fetch", "cats_vs_dogs")
    assert time.monotonic() - began < 8
    assert code == 1 and "Traceback" not in err
    assert f"cats_vs_dogs: FAILED: no copy of cats_vs_dogs is available: could not download {trickle}: stopped " \
           "after 1.5 s (COURSE_DOWNLOAD_TIMEOUT), with only " in err
    assert "of 1,000 bytes received: the connection is too slow or stalled. Nothing of it was kept." in err
    assert "COURSE_DATA_MIRROR" in err and "python -m course_utils data import cats_vs_dogs PATH" in err
    assert re.search(r"\b\d+/1000\b", out) and out.endswith("\n")  # its progress was shown, its line ended
    assert not list((data_home / "downloads").iterdir())  # no .part, nothing .unverified


def test_a_download_timeout_that_is_not_a_number_is_a_setting_error(data_home, fake_cats, trickle, monkeypatch,
                                                                    capsys):
    monkeypatch.setitem(data.DATASETS, "cats_vs_dogs", dict(data.DATASETS["cats_vs_dogs"], url=trickle))
    monkeypatch.setenv("COURSE_DOWNLOAD_TIMEOUT", "soon")
    code, _, err = run_cli(capsys, "data", "fetch", "cats_vs_dogs")
    assert code == 1 and "COURSE_DOWNLOAD_TIMEOUT='soon' is not a number of seconds" in err


# ---------------------------------------------------------------- case 9: answers that hang or throw


def test_an_answer_that_loops_forever_is_stopped_with_one_sentence(monkeypatch):
    monkeypatch.setattr(exercise_checks, "CHECK_SECONDS", 1)

    def block_output_size(n):
        while True:  # a learner's loop whose condition stays true
            try:
                # It calls a function, as a real answer's loop does: on Python 3.10 a try block of bare
                # arithmetic in a loop never looks at signals, so neither this timer nor the kernel's
                # Interrupt can stop it (exercise_checks.time_limit says so).
                n = abs(n) + 1
            except Exception:  # even one that catches what it can
                pass

    began = time.monotonic()
    outcome = exercises.get("01.block_output_size").check(block_output_size)
    assert time.monotonic() - began < 5
    assert outcome.status == exercises.WRONG
    assert outcome.message == ("checking `block_output_size` took over 1 s, so it was stopped: does it loop forever "
                               "(a `while` whose condition stays true)?")
    assert exercises.get("01.block_output_size").check(lambda n: (n - 2) // 2).passed  # the timer is gone


class _Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("and its message fails too")


def _raises(error: BaseException):
    def block_output_size(n):
        raise error
    return block_output_size


@pytest.mark.parametrize("error, expected", [
    (_Unprintable(), "`block_output_size` could not be used: _Unprintable."),
    (SystemExit(3), "`block_output_size` could not be used: SystemExit: 3."),
    (SystemExit(), "`block_output_size` could not be used: SystemExit."),
])
def test_whatever_an_answer_throws_is_one_sentence(error, expected):
    outcome = exercises.get("01.block_output_size").check(_raises(error))
    assert (outcome.status, outcome.message) == (exercises.WRONG, expected)


def test_ctrl_c_during_a_check_still_interrupts():
    with pytest.raises(KeyboardInterrupt):
        exercises.get("01.block_output_size").check(_raises(KeyboardInterrupt()))


def test_a_check_in_a_jupyter_kernel_is_stopped_and_the_next_cell_runs(tmp_path, monkeypatch):
    import nbclient
    import nbformat

    import course_utils

    # The kernel imports this checkout's course_utils, whatever the environment has installed.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(Path(course_utils.__file__).parents[1]),
                                                                   os.environ.get("PYTHONPATH")])))
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(code) for code in (
        "from course_utils import exercise_checks, exercises\nexercise_checks.CHECK_SECONDS = 1",
        "def block_output_size(n):\n    while True:\n        pass",
        "print(exercises.get('01.block_output_size').check())",
        "print('next cell ran')")]
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(output.get("text", "") for cell in notebook.cells for output in cell.outputs)
    assert "Not yet (01.block_output_size): checking `block_output_size` took over 1 s, so it was stopped" in printed
    assert "next cell ran" in printed


# ---------------------------------------------------------------- the mirror: a link loop, a refused kit item


def test_a_mirror_setting_that_is_a_symbolic_link_loop_is_called_one(data_home, tmp_path, monkeypatch):
    (tmp_path / "kit").symlink_to(tmp_path / "kit-copy")
    (tmp_path / "kit-copy").symlink_to(tmp_path / "kit")
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(tmp_path / "kit"))
    assert mirror.problem().startswith(f"COURSE_DATA_MIRROR is set to {tmp_path / 'kit'}, a loop of symbolic links "
                                       "(each leads to the next, and the last back to the first): no mirror is used")
    (tmp_path / "kit-copy").unlink()
    (tmp_path / "kit-copy").symlink_to(tmp_path / "unmounted")
    assert f"is set to {tmp_path / 'kit'}, a symbolic link to {tmp_path / 'unmounted'}, which does not exist" \
        in mirror.problem()


def test_a_kit_item_refused_for_its_hash_is_said_refused_never_missing(data_home, fake_cats, tmp_path, monkeypatch,
                                                                       capsys):
    import json

    kit = tmp_path / "kit"
    kit.mkdir()
    archive = kit / "cats_and_dogs_filtered.zip"
    _zip_of(fake_cats, archive)
    entry = {"kind": "dataset", "path": archive.name, "source": "", "label": "",
             "files": [{"file": archive.name, "size": archive.stat().st_size, "sha256": "0" * 64, "url": ""}]}
    (kit / "MANIFEST.json").write_text(json.dumps({"items": {"cats_vs_dogs": entry}}))  # not this file's hash
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(kit))
    code, out, err = run_cli(capsys, "data", "fetch", "cats_vs_dogs")  # and no network
    assert code == 1 and "Traceback" not in err
    assert "item cats_vs_dogs is not used, damaged: cats_and_dogs_filtered.zip (differs from the kit's manifest)" \
        in out
    assert "has no copy" not in out + err
    assert ("the mirror's copy was refused (lab kit item cats_vs_dogs: damaged: cats_and_dogs_filtered.zip "
            "(differs from the kit's manifest))") in err
