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


# ---------------------------------------------------------------- what a run writes: the build folder and the report
# A run in these tests executes tiny notebooks of its own, each kernel importing no TensorFlow.

_NOTEBOOK = {"kernelspec": {"name": "python3", "display_name": "Python 3"}}
_RECORDS = ("import os\nfrom course_utils import results\n"
            "session = results.Session({}, notebook='01_a', profile='smoke', seed=1, device='CPU',\n"
            "                          build_dir=os.environ['COURSE_BUILD_DIR'], run_id=os.environ['COURSE_RUN_ID'])\n"
            "results.KEYS['m'] = ('01_a', 'test_accuracy')  # this test's own notebook: its key\n"
            "session.using(None, network='small_cnn')\nsession.record('m', 0.5, method='m')")


def _notebook(folder, name: str, *sources: str):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources], metadata=_NOTEBOOK), folder / name)
    return folder


@pytest.fixture
def run_env(monkeypatch):
    """No dataset to fetch, and the settings a run sets for its kernels restored afterwards."""
    monkeypatch.setattr(data, "DATASETS", {})
    for name in ("COURSE_PROFILE", "COURSE_BUILD_DIR", "COURSE_RUN_ID"):
        monkeypatch.setenv(name, os.environ.get(name, ""))


def _status(build) -> dict:
    import json

    return json.loads(max((build / "runs").glob("*.json")).read_text())


@pytest.mark.parametrize("fault", ["read-only mount", "a file on its path"])
def test_a_build_folder_that_cannot_be_written_is_named_before_anything_runs(tmp_path, read_only, run_env,
                                                                              monkeypatch, capsys, fault):
    """Case 1 of issue 35. As root, a read-only bind mount (EROFS), as a course copied to a read-only lab
    share meets it; or a file where a folder of the path should be (ENOTDIR)."""
    if fault == "read-only mount":
        share = tmp_path / "share"
        (share / "build").mkdir(parents=True)
        build, why = read_only(share) / "build", "Read-only file system"
        assert files.cannot_write(build)  # the fault is real
    else:
        (tmp_path / "course.zip").write_text("a file, not a folder")
        build, why = tmp_path / "course.zip" / "build", "Not a directory"
    monkeypatch.setenv("COURSE_BUILD_DIR", str(build))
    code, out, err = run_cli(capsys, "run", "--profile", "smoke", "--only", "01_scratch_cnn_baseline")
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1
    assert err.startswith(f"error: cannot write into the build folder {build} ({why}): a run keeps its results, "
                          "report and executed notebooks there. Nothing was run; set COURSE_BUILD_DIR (or --build-dir) "
                          "to a folder you can write to, e.g. COURSE_BUILD_DIR=$HOME/course-build python -m "
                          "course_utils run")
    assert not out  # before anything ran


def test_a_disk_that_fills_during_a_run_is_one_message_and_the_run_failed(tmp_path, small_disk, run_env, capsys):
    """Case 2 of issue 35: the build folder on a 1 MB tmpfs; a cell fills it (as a learner's big file, or
    another program, would), so the executed copy and the status file cannot be written anew either."""
    folder = small_disk(300_000)
    if small_disk.simulated:
        pytest.skip("a full disk cannot be simulated for a kernel's process: this needs a tmpfs mount (root)")
    build = folder / "build"
    notebooks = _notebook(tmp_path / "notebooks", "01_a.ipynb", "x = 1",
                          "import os\nwith open(os.environ['COURSE_BUILD_DIR'] + '/big.bin', 'wb') as out:\n"
                          "    out.write(bytes(2_000_000))")
    _notebook(build / "notebooks", "01_a.ipynb", "an earlier run's executed copy")
    code, out, err = run_cli(capsys, "run", "--profile", "smoke", "--notebooks", str(notebooks),
                             "--build-dir", str(build))
    assert code == 2 and "Traceback" not in err and "During handling" not in err
    first, *rest = err.splitlines()
    assert first.startswith(f"error: the disk holding the build folder {build} filled up while 01_a ran (")
    assert first.endswith(" free): free some space there, or set COURSE_BUILD_DIR (or --build-dir) to a folder on a "
                          "disk with more room, e.g. COURSE_BUILD_DIR=$HOME/course-build python -m course_utils run")
    assert rest[0].startswith("01_a.ipynb failed in cell 2/2 (") and "No space left on device" in rest[0]
    assert rest[1:] == ["Its executed copy could not be saved (No space left on device)."]
    assert [p.name for p in (build / "notebooks").iterdir()] == []  # no half-written copy, and no stale one
    status = _status(build)
    assert (status["state"], status["notebooks"]) == ("failed", {"01_a": "failed"})
    assert status["report"] == "not written yet"


def test_a_build_folder_on_a_full_disk_is_one_message_before_any_notebook(tmp_path, small_disk, run_env, capsys):
    """Case 2 of issue 35, at the start: not a byte free for the run's lock and status files."""
    folder = small_disk(0)
    if small_disk.simulated:
        pytest.skip("needs a tmpfs mount (root)")
    notebooks = _notebook(tmp_path / "notebooks", "01_a.ipynb", "x = 1")
    code, out, err = run_cli(capsys, "run", "--profile", "smoke", "--notebooks", str(notebooks),
                             "--build-dir", str(folder / "build"))
    assert code == 2 and "Traceback" not in err and not out
    first, stopped = err.splitlines()
    assert first.startswith(f"error: the disk holding the build folder {folder / 'build'} filled up while run ")
    assert first.endswith(" was under way (0 bytes free): free some space there, or set COURSE_BUILD_DIR (or "
                          "--build-dir) to a folder on a disk with more room, e.g. COURSE_BUILD_DIR=$HOME/course-build "
                          "python -m course_utils run")
    assert stopped in (f"It could not write {folder / 'build' / 'runs' / '.lock'}; nothing half-written was kept.",
                       "It could not write a file there; nothing half-written was kept.")  # (Python names no file)


@pytest.mark.parametrize("stray, why", [
    ({"notebook": "01_a", "metric": "test_accuracy", "value": "high", "profile": "smoke"},
     "it lacks method, data, weights"),
    ([1, 2, 3], "a JSON array, not an object"),
    ({"notebook": "01_a", "method": "m", "metric": "test_accuracy", "value": True, "profile": "smoke", "data": "d",
      "weights": "w"}, "its value is True, not a number")])
def test_a_stray_record_is_skipped_by_file_and_line_and_the_run_s_report_is_written(tmp_path, run_env, capsys,
                                                                                     stray, why):
    """Case 3 of issue 35: valid JSON of another shape in a results file, appended as a notebook run by hand
    (another version of the course) appends; then a run records its own result and writes its report."""
    import json

    build = tmp_path / "build"
    stray_file = build / "results" / "01_a.jsonl"
    files.append_line(stray_file, json.dumps(stray))
    notebooks = _notebook(tmp_path / "notebooks", "01_a.ipynb", _RECORDS)
    code, out, err = run_cli(capsys, "run", "--profile", "smoke", "--notebooks", str(notebooks),
                             "--build-dir", str(build))
    assert (code, err) == (0, "")
    assert f"Skipped line 1 of {stray_file}: not a result record of this course ({why})" in out
    records = json.loads((build / "report" / "results.json").read_text())
    assert [(r["notebook"], r["value"]) for r in records] == [("01_a", 0.5)]
    assert "| 01_a | m | test_accuracy | 0.5000 |" in (build / "report" / "report.md").read_text()
    assert _status(build)["state"] == "done"


_KILLED = """import os, signal, sys
from pathlib import Path
from course_utils import cli, data
data.DATASETS.clear()
write_text, rename = Path.write_text, os.rename
def write_then_die(self, *args, **kwargs):
    written = write_text(self, *args, **kwargs)
    if self.name == "results.json" and sys.argv[1] == "results.json":
        os.kill(os.getpid(), signal.SIGKILL)  # kill -9 right after results.json changed
    return written
def rename_then_die(source, target):
    rename(source, target)
    if Path(target).name.startswith(".report.old-") and sys.argv[1] == "swap":
        os.kill(os.getpid(), signal.SIGKILL)  # kill -9 between the report's two renames
Path.write_text, os.rename = write_then_die, rename_then_die
sys.exit(cli.main(sys.argv[2:]))
"""


def _report_files(build) -> dict:
    """The report as a reader sees it: every file of `report/`, with its bytes."""
    report = build / "report"
    return {str(p.relative_to(report)): p.read_bytes() for p in sorted(report.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("moment", ["results.json", "swap"])
def test_a_run_killed_while_writing_its_report_leaves_the_previous_report_whole_and_says_so(tmp_path, moment):
    """Case 8 of issue 35: kill -9 (a real SIGKILL, by the run itself at that moment) right after
    results.json is written, or between the report's two renames. A reader then sees the previous report
    whole (or, between the renames, none), never a mix; the run's status does not say "done"; and the
    next `report` (or run) puts it right."""
    import json
    import subprocess
    import sys

    build = tmp_path / "build"
    notebooks = _notebook(tmp_path / "notebooks", "01_a.ipynb", _RECORDS)
    command = [sys.executable, "-c", _KILLED, moment, "run", "--profile", "smoke", "--notebooks", str(notebooks),
               "--build-dir", str(build)]
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_RUN_ID", "COURSE_BUILD_DIR")}
    first = subprocess.run([*command[:3], "never", *command[4:]], env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    status = _status(build)
    assert status["state"] == "done" and status["report"] == [
        "report/report.md", "report/report.html", "report/results.json"]  # no cats-vs-dogs result: no summary
    (build / "report" / "figures" / "course__summary_cats_vs_dogs.png").write_bytes(b"an earlier summary")
    (build / "report" / "figures" / "course__summary_cats_vs_dogs.txt").write_text("its caption\n")
    before = _report_files(build)

    killed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    status = _status(build)
    assert (status["state"], status["report"]) == ("writing the report", "not written yet")  # not "done"
    if moment == "results.json":
        assert _report_files(build) == before  # the previous report, whole: summary and caption included
    else:
        assert not (build / "report").exists()  # between the renames: no report, not a mix
        files.restore_folder(build / "report")
        assert _report_files(build) == before  # put back whole

    assert run_report(build) == 0
    after = _report_files(build)
    assert json.loads(after["results.json"]) and after["report.md"] != before["report.md"]
    assert not [p.name for p in build.iterdir() if p.name.startswith(".report")]  # nothing left of the killed run


def run_report(build) -> int:
    """`python -m course_utils report` on `build`, as its own process."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "course_utils", "report", "--profile", "smoke", "--build-dir",
                           str(build)], capture_output=True, timeout=120).returncode


def test_a_disk_that_fills_while_the_report_is_written_keeps_the_previous_report_whole(tmp_path, small_disk, capsys):
    """Case 2 of issue 35, at the report: the build folder on a 1 MB tmpfs that another program fills
    after a first report was written; `report` (as a run's last step) then cannot write the new one."""
    import json

    folder = small_disk(500_000)
    if small_disk.simulated:
        pytest.skip("needs a tmpfs mount (root)")
    build = folder / "build"
    record = {"notebook": "01_a", "method": "m", "metric": "test_accuracy", "value": 0.5, "profile": "smoke",
              "data": "none", "weights": "none", "run_id": "run-a"}
    files.append_line(build / "results" / "01_a.jsonl", json.dumps(record))
    assert run_cli(capsys, "report", "--profile", "smoke", "--build-dir", str(build))[0] == 0
    before = _report_files(build)
    with open(folder / "another-program", "wb", buffering=0) as out:  # takes every byte left
        try:
            while out.write(bytes(4096)):
                pass
        except OSError:
            pass
    code, out, err = run_cli(capsys, "report", "--profile", "smoke", "--build-dir", str(build))
    assert code == 2 and "Traceback" not in err
    first, stopped, kept = err.splitlines()
    assert first.startswith(f"error: the disk holding the build folder {build} filled up while the report was "
                            "written (") and "set COURSE_BUILD_DIR" in first
    assert stopped.startswith("It could not write ") and stopped.endswith("; nothing half-written was kept.")
    assert kept == ("The previous report is kept whole; once there is room, write the report again: python -m "
                    f"course_utils report --profile smoke --build-dir {build}")
    assert _report_files(build) == before
    assert not [p.name for p in build.iterdir() if p.name.startswith(".report")]


def test_an_error_quoted_in_one_line_is_its_first_line_or_its_type():
    from course_utils.errors import first_line

    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no message")

    assert first_line(OSError("\n  disk full \nsecond line")) == "disk full"
    assert first_line(OSError()) == "OSError" and first_line(ValueError(" \n ")) == "ValueError"
    assert first_line(Unprintable()) == "Unprintable"
