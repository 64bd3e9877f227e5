"""Shared fixtures: temporary data folders and small images the tests make themselves."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

# This process runs TensorFlow before the nbval kernels start: on a GPU it must not
# reserve all of the GPU's memory (see session.enable_memory_growth).
from course_utils.session import enable_memory_growth  # noqa: E402

enable_memory_growth()


# ---------------------------------------------------------------- where each test runs in CI

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

# The test files whose outcome the environment can change beyond what the notebooks show: they exercise the
# parts of TensorFlow, Keras and the Jupyter stack that differ between the supported versions. They are
# marked `environment`. .ci/run runs every test once, in the course's own environment (`make test`); the
# environment stages (.ci/preinstalled: Colab's runtime, the oldest TensorFlow on Python 3.10) run the
# install cell and its check, these files, and every notebook of the teacher's edition under nbval (which
# runs the notebooks' Keras code and every exercise's check on its solution, in that environment).
ENVIRONMENT_TESTS = {
    "test_compat.py": "the supported TensorFlow and Keras range, and the shims for what differs across it",
    "test_imports.py": "every module of the package imports, also those only the other tests exercise",
    "test_session_gpu.py": "setup()'s memory-growth and determinism calls, on TensorFlow's own config API",
    "test_xla.py": "which notebook models XLA compiles, and that every op has an XLA kernel, per TensorFlow",
    "test_hub.py": "the TF-Hub model as a TFSMLayer: SavedModel export and loading, training its variables",
}
# Not listed: test_runner.py. The runner is `make course`, the course's own environment's; Colab's learners
# run the notebooks in Colab. On Colab's jupyter_client 7.4.9, under a load average of 10-13, two of its Ctrl-C
# tests timed out (the run waited out the kernel's 60-second start instead of stopping; 2026-12-07): open.


def pytest_collection_modifyitems(config, items):
    missing = sorted(name for name in ENVIRONMENT_TESTS if not (TESTS / name).is_file())
    if missing:
        raise pytest.UsageError(f"conftest.ENVIRONMENT_TESTS names test files that do not exist: {missing}")
    for item in items:
        if item.path.parent == TESTS and item.path.name in ENVIRONMENT_TESTS:
            item.add_marker(pytest.mark.environment)


def documentation() -> dict[str, str]:
    """The README and every page of docs/, by path from the repository's top: the text whose commands and
    numbers the tests check, wherever in it they live."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return {page.relative_to(ROOT).as_posix(): page.read_text(encoding="utf-8") for page in pages}


@pytest.fixture(autouse=True)
def no_rehearsal(monkeypatch):
    """Unit tests run as written, also in `make test REHEARSAL=1` (which rehearses the notebooks)."""
    monkeypatch.delenv("COURSE_REHEARSAL", raising=False)


def make_image(path: Path, mode: str = "RGB", size=(40, 30), fmt: str = "JPEG", seed: int = 0) -> Path:
    """Write a small random image in `mode` and `fmt` at `path`."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).convert(mode).save(path, fmt)
    return path


def run_cli(capsys, *argv):
    """Run the command line; returns (exit code, stdout, stderr)."""
    from course_utils import cli

    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def dead_pid() -> int:
    """The id of a process that has finished (a staging folder's owner killed earlier)."""
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def truncate(path: Path) -> Path:
    """Cut a file to half its length, as an interrupted copy would."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """An empty data folder, no mirror, no build folder shared with other tests."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    return tmp_path / "data"


@pytest.fixture
def fake_cats(tmp_path, monkeypatch):
    """A tiny stand-in for cats_and_dogs_filtered (official layout), registered with
    its own sha256 list in place of the real one. Returns the copy's folder."""
    from course_utils import data

    root = tmp_path / "source" / "cats_and_dogs_filtered"
    lines = []
    for split, count in (("train", 6), ("validation", 4)):
        for label, class_name in enumerate(("cats", "dogs")):
            for i in range(count):
                path = make_image(root / split / class_name / f"{class_name[:-1]}.{i}.jpg", seed=i + 10 * label)
                lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  ./{split}/{class_name}/{path.name}")
    (root / "vectorize.py").write_text("# an extra file the official archive has\n")
    manifest = tmp_path / "cats.sha256"
    manifest.write_text("\n".join(lines) + "\n")
    spec = dict(data.DATASETS["cats_vs_dogs"], manifest=manifest, url="http://127.0.0.1:9/none.zip")
    monkeypatch.setitem(data.DATASETS, "cats_vs_dogs", spec)
    return root


SMALL = {"image_size": 32, "batch_size": 4, "epochs": 1, "train_per_class": None, "val_per_class": None,
         "test_per_class": None}


def new_session(build: Path, notebook: str = "test", profile: str = "smoke", run_id: str = "run-1",
                weights: dict | None = None, **settings):
    """A session as `setup()` returns one, small (`SMALL`, then `settings`), without a banner."""
    from course_utils.results import Session

    return Session({**SMALL, **settings}, notebook=notebook, profile=profile, seed=1, run_id=run_id, device="CPU",
                   build_dir=build, weights=weights or {"vgg16": "STAND-IN, not ImageNet", "mobilenet_v2": "TF-Hub"})


@pytest.fixture
def session(data_home, tmp_path):
    """A small session in this test's build folder (`new_session`)."""
    return new_session(tmp_path / "build")


@pytest.fixture
def own_weights(tmp_path, monkeypatch):
    """A VGG16 no-top weights file made here (random, seeded), set as the configured weights."""
    keras.utils.set_random_seed(7)
    path = tmp_path / "mine.weights.h5"
    keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(path)
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(path))
    return path


# ---------------------------------------------------------------- a local web server


class _Handler(http.server.BaseHTTPRequestHandler):
    payload = b""  # served for any path not in `files`
    files: dict[str, bytes] = {}  # by URL path, e.g. "/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    cut: bool | str = False  # True, or one URL path: declare the whole length, send half, hang up
    no_length = False  # send no Content-Length: the end of the connection is the end of the file

    def do_GET(self):
        body = self.files.get(self.path, self.payload)
        self.send_response(200)
        if not self.no_length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if self.cut in (True, self.path) else body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """Serve `_Handler.payload` (or `files` by path) on 127.0.0.1; yields (handler class, url)."""
    handler = type("Handler", (_Handler,), {"files": {}})
    httpd = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{httpd.server_port}/cats_and_dogs_filtered.zip"
    httpd.shutdown()


# ---------------------------------------------------------------- a lab's file systems


def _mount(*args: str) -> bool:
    """Run `mount` with `args`; whether it worked (root only, and refused in many containers)."""
    import shutil
    import subprocess

    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def _umount(folder: Path) -> None:
    import subprocess

    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """`fill(free)` returns a folder on a small file system with only `free` bytes left.
    `fill.simulated` then says whether the file system is simulated.

    A real 1 MB tmpfs where this process may mount one (as root). Elsewhere the same limits are
    simulated: `shutil.disk_usage` reports `free`, and `Path.write_bytes` (how the imports copy
    files) fails with ENOSPC once `free` bytes have been written under the folder.
    """
    import errno
    import shutil

    folder, mounted = tmp_path / "small-disk", []
    folder.mkdir()

    def fill(free: int) -> Path:
        fill.simulated = not _mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder))
        if not fill.simulated:
            mounted.append(folder)
            with open(folder / "filler", "wb", buffering=0) as out:  # all the space there is, then give back `free`
                try:
                    while out.write(b"\0" * 4096):
                        pass
                except OSError as error:
                    assert error.errno == errno.ENOSPC
            os.truncate(folder / "filler", max(0, (folder / "filler").stat().st_size - free))
            return folder
        real_usage, real_write = shutil.disk_usage, Path.write_bytes
        written = [0]

        def usage(path):
            inside = Path(path).resolve().is_relative_to(folder.resolve())
            return real_usage(path)._replace(free=free - written[0]) if inside else real_usage(path)

        def write_bytes(self, data):
            if Path(self).resolve().is_relative_to(folder.resolve()):
                written[0] += len(data)
                if written[0] > free:
                    raise OSError(errno.ENOSPC, "No space left on device", str(self))
            return real_write(self, data)

        monkeypatch.setattr(shutil, "disk_usage", usage)
        monkeypatch.setattr(Path, "write_bytes", write_bytes)
        return folder

    yield fill
    for path in mounted:
        _umount(path)


@pytest.fixture
def read_only(monkeypatch):
    """`freeze(folder)` returns a read-only view of `folder`, as a shared drive a teacher filled.

    As root (who writes through permissions), a read-only bind mount: writes fail with EROFS.
    Otherwise the folders' permissions: writes fail with EACCES. As root where mounting is
    refused, simulated: removing, and creating files in, anything under it fails with EROFS.
    """
    import errno
    import shutil
    import stat
    import tempfile

    mounted, frozen = [], []

    def freeze(folder: Path) -> Path:
        if os.geteuid() != 0:
            for path in [folder, *folder.rglob("*")]:
                if path.is_dir():
                    path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
                    frozen.append(path)
            return folder
        view = folder.with_name(folder.name + "-read-only")
        view.mkdir()
        if _mount("--bind", str(folder), str(view)):
            mounted.append(view)
            if _mount("-o", "remount,bind,ro", str(view)):
                return view
        real_rmtree, real_temporary = shutil.rmtree, tempfile.TemporaryFile

        def inside(path) -> bool:
            return Path(path).resolve().is_relative_to(folder.resolve())

        def refuse(path):
            raise OSError(errno.EROFS, "Read-only file system", str(path))

        monkeypatch.setattr(shutil, "rmtree", lambda path, *a, **k: refuse(path) if inside(path) else
                            real_rmtree(path, *a, **k))
        monkeypatch.setattr(tempfile, "TemporaryFile", lambda *a, dir=None, **k: refuse(dir) if dir and inside(dir)
                            else real_temporary(*a, dir=dir, **k))
        return folder

    yield freeze
    for view in mounted:
        _umount(view)
    for path in frozen:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


# ---------------------------------------------------------------- the registries


def patch_network(monkeypatch, network: str, **changes) -> None:
    """Change fields of `network`'s entry in `networks.NETWORKS` for one test (its published
    URL and md5, its known stand-ins): every module reads the entry from there."""
    import dataclasses

    from course_utils import networks

    monkeypatch.setitem(networks.NETWORKS, network, dataclasses.replace(networks.NETWORKS[network], **changes))


def patch_dataset(monkeypatch, name: str, **changes) -> None:
    """Change fields of dataset `name`'s entry in `registry.DATASETS` for one test."""
    from course_utils import registry

    monkeypatch.setitem(registry.DATASETS, name, dict(registry.DATASETS[name], **changes))
