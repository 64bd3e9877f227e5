"""The teacher's lab kit: built from a loopback server serving small stand-in files under the
real file names, with a fake TF-Hub resolver; then used through COURSE_DATA_MIRROR alone."""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
import pickle
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import h5py
import numpy as np
import pytest

from conftest import make_image, new_session, patch_dataset, patch_network
from course_utils import archives, cli, compat, data, files, hub, labkit, mirror, networks, pretrained, registry

MOBILENET = networks.NETWORKS[hub.HUB_NETWORK]
# The networks whose weights a lab kit checks by the hash Keras publishes; the others (MobileNetV2)
# by their layers' shapes (see `labkit._check`).
KIT_WEIGHTS = [name for name in pretrained.PRETRAINED if networks.NETWORKS[name].md5]
UNHASHED = [name for name in pretrained.PRETRAINED if not networks.NETWORKS[name].md5]

SHARED = Path(__file__).resolve().parents[2] / "shared" / "course-data"
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _cifar_archive(per_class: int = 50, test_per_class: int = 10, seed: int = 0) -> bytes:
    """A CIFAR-10 archive in the official format (pickled batches), with few images."""
    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        sizes = [("data_batch_%d" % i, per_class // 5) for i in range(1, 6)] + [("test_batch", test_per_class)]
        for name, count in sizes:
            labels = [c for c in range(10) for _ in range(count)]
            content = {b"data": rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8), b"labels": labels}
            raw = pickle.dumps(content)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return out.getvalue()


def _tiny_saved_model(path: Path) -> str:
    import tensorflow as tf

    class Features(tf.Module):
        def __init__(self):
            super().__init__()
            self.scale = tf.Variable(1.0)

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def __call__(self, images):
            return tf.reduce_mean(images, axis=[1, 2]) * self.scale

    tf.saved_model.save(Features(), str(path))
    return str(path)


def _serve(handler, base_url: str, url: str, body: bytes) -> str:
    """Serve `body` at the real file's path on the loopback server; returns the local URL."""
    handler.files[urlsplit(url).path] = body
    return f"{base_url}{urlsplit(url).path}"


@pytest.fixture
def sources(data_home, fake_cats, tmp_path, server, monkeypatch):
    """Every item the kit fetches, served under its real file name from 127.0.0.1, and the
    published hashes pointed at these stand-ins; the TF-Hub resolver returns a tiny SavedModel."""
    tensorflow_hub = compat.import_tensorflow_hub()  # as the course imports it: with or without pkg_resources

    handler, url = server
    base = url.rsplit("/", 1)[0]
    cats = tmp_path / "cats.zip"
    with zipfile.ZipFile(cats, "w") as zipped:
        for path in sorted(fake_cats.rglob("*")):
            zipped.write(path, Path(fake_cats.name) / path.relative_to(fake_cats))
    monkeypatch.setitem(data.DATASETS["cats_vs_dogs"], "url",
                        _serve(handler, base, "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",
                               cats.read_bytes()))
    for name, spec in data.DATASETS.items():  # every other archive: three small images and their sha256 list
        if spec["kind"] != registry.ARCHIVE or name == "cats_vs_dogs":
            continue
        images = tmp_path / name / "jpg"
        lines = [f"{hashlib.sha256(make_image(images / f'image_{i:04d}.jpg', seed=i).read_bytes()).hexdigest()}"
                 f"  jpg/image_{i:04d}.jpg" for i in range(1, 4)]
        (tmp_path / f"{name}.sha256").write_text("\n".join(lines) + "\n")
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            tar.add(images, arcname="jpg")
        patch_dataset(monkeypatch, name, manifest=tmp_path / f"{name}.sha256",
                      url=_serve(handler, base, spec["url"], archive.getvalue()))
    cifar = _cifar_archive()
    patch_dataset(monkeypatch, "cifar10", url=_serve(handler, base, data.DATASETS["cifar10"]["url"], cifar),
                  sha256=hashlib.sha256(cifar).hexdigest())
    for network in KIT_WEIGHTS:
        body = f"{network} no-top weights, stand-in bytes".encode() * 1000
        patch_network(monkeypatch, network, source=_serve(handler, base, networks.NETWORKS[network].source, body),
                      md5=hashlib.md5(body).hexdigest())
    for network in UNHASHED:  # a small HDF5 file of two arrays, and the network's shapes pointed at it
        weights = tmp_path / f"{network}.h5"
        with h5py.File(weights, "w") as file:
            file["layer/kernel"], file["layer/bias"] = np.ones((3, 3, 3, 4), "float32"), np.zeros(4, "float32")
        patch_network(monkeypatch, network, shapes=pretrained.file_tensors(weights).shapes,
                      source=_serve(handler, base, networks.NETWORKS[network].source, weights.read_bytes()))
    saved = _tiny_saved_model(tmp_path / "tfhub-cache" / "model")
    resolved = []
    monkeypatch.setattr(tensorflow_hub, "resolve", lambda handle: resolved.append(handle) or saved)
    monkeypatch.delenv("COURSE_HUB_HANDLE", raising=False)
    for network in pretrained.PRETRAINED:
        monkeypatch.delenv(f"COURSE_WEIGHTS_{network.upper()}", raising=False)
    return handler, resolved


@pytest.fixture
def kit(sources, tmp_path):
    """A complete kit, built by the command line."""
    folder = tmp_path / "kit"
    assert cli.main(["lab-kit", str(folder)]) == 0
    return folder


def _use(monkeypatch, folder: Path) -> None:
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(folder))


def test_keras_published_urls_and_hashes_are_the_ones_used():
    import keras
    from keras.src.applications import vgg16, vgg19
    from keras.src.datasets import cifar10

    assert {name: networks.NETWORKS[name].source for name in ("vgg16", "vgg19")} == {
        "vgg16": vgg16.WEIGHTS_PATH_NO_TOP, "vgg19": vgg19.WEIGHTS_PATH_NO_TOP}
    for network in pretrained.PRETRAINED:  # every entry against the Keras module of its own constructor
        module = inspect.getmodule(networks.constructor(network))
        addresses = " ".join(value for value in vars(module).values() if isinstance(value, str))
        entry, source = networks.NETWORKS[network], inspect.getsource(module)
        assert entry.source.rsplit("/", 1)[0] in addresses, network
        # Keras checks a hash of VGG's downloads; MobileNetV2's has none (`get_file` without `file_hash`).
        assert (f'"{entry.md5}"' in source) if entry.md5 else ("file_hash" not in source), network
    assert networks.NETWORKS["mobilenet_v2_keras"].source.rsplit("/", 1)[1] == (
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5")  # as Keras names it for alpha 1.0
    cifar = data.DATASETS["cifar10"]
    assert cifar["url"] in inspect.getsource(cifar10) and cifar["sha256"] in inspect.getsource(cifar10)
    assert networks.constructor("vgg16") is keras.applications.VGG16  # the registry names Keras' own
    assert networks.preprocess_input("vgg19") is keras.applications.vgg19.preprocess_input


def test_kit_is_built_verified_and_used_through_the_mirror_alone(kit, sources, monkeypatch, capsys):
    manifest = json.loads((kit / "MANIFEST.json").read_text())
    assert list(manifest["items"]) == list(labkit.items())
    for name, entry in manifest["items"].items():
        for record in entry["files"]:
            path = kit / record["file"]
            assert record["size"] == path.stat().st_size and record["sha256"] == files.file_hash(path)
            assert record["url"].startswith("http://127.0.0.1") or name == hub.HUB_NETWORK
    assert (kit / "weights" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5").is_file()
    assert (kit / MOBILENET.kit_path / "saved_model.pb").is_file()
    assert "COURSE_DATA_MIRROR" in (kit / "README.md").read_text()
    assert not (kit / labkit.INCOMING).exists()
    assert labkit.verify_kit(kit) == {name: [] for name in labkit.items()}
    assert cli.main(["lab-kit", "--verify", str(kit)]) == 0

    _use(monkeypatch, kit)
    sources[0].files.clear()  # the network is gone: everything comes from the kit
    assert data.ensure_dataset("cats_vs_dogs") == data.data_dir() / "cats_vs_dogs"
    assert data.installed("cats_vs_dogs")["source"] == str(kit / "cats_and_dogs_filtered.zip")
    (x_train, y_train), (x_test, _) = archives.cifar10_arrays()
    assert x_train.shape == (500, 32, 32, 3) and x_test.shape == (100, 32, 32, 3)
    assert data.describe("cifar10").startswith("cifar10: official arrays")  # the (patched) published sha256
    assert pretrained.weights_setting("vgg16") == kit / "weights" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert pretrained.weights_label("vgg19") == "imagenet (mirror file vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5)"
    layer = hub.feature_layer()
    assert layer.filepath == str(kit / MOBILENET.kit_path) and "from the lab kit" in layer.label
    rows = {row["item"]: row for row in labkit.status()}
    assert rows["cats_vs_dogs"]["where"] == "data folder"
    assert {rows[n]["where"] for n in ("flowers17", "cifar10", "vgg16", "vgg19", "mobilenet_v2")} == {"mirror"}


def test_status_shows_where_each_item_comes_from_as_the_loaders_then_take_it(kit, sources, monkeypatch, capsys):
    _use(monkeypatch, kit)
    sources[0].files.clear()  # no network: what the status names is all there is
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    monkeypatch.setenv("COURSE_HUB_HANDLE", str(kit / MOBILENET.kit_path))
    data.ensure_dataset("cats_vs_dogs")
    rows = {row["item"]: row for row in labkit.status()}
    assert {name: row["where"] for name, row in rows.items() if name in ("cats_vs_dogs", "flowers17", "cifar10")} == {
        "cats_vs_dogs": "data folder", "flowers17": "mirror", "cifar10": "mirror"}
    assert [rows[n]["where"] for n in ("vgg16", "vgg19", "mobilenet_v2")] == ["setting", "mirror", "setting"]
    assert rows["vgg16"]["note"] == "COURSE_WEIGHTS_VGG16=none" and rows["mobilenet_v2"]["note"] == "COURSE_HUB_HANDLE"
    assert rows["flowers17"]["label"] == "17flowers.tgz: official files, checked when installed from it"
    # What the loaders then take, and the labels their results carry, are the ones shown:
    assert data.ensure_dataset("flowers17") == data.data_dir() / "flowers17"
    assert data.installed("flowers17")["source"] == str(kit / "17flowers.tgz")
    assert [rows[n]["label"] for n in ("cats_vs_dogs", "cifar10")] == [data.describe(n)
                                                                       for n in ("cats_vs_dogs", "cifar10")]
    assert rows["cifar10"]["label"] == "cifar10: official arrays (from the mirror's cifar-10-python.tar.gz)"
    assert [rows[n]["label"] for n in ("vgg16", "vgg19")] == [pretrained.weights_label(n) for n in ("vgg16", "vgg19")]
    assert pretrained.weights_setting("vgg16") is None and pretrained.weights_setting("vgg19").is_relative_to(kit)
    layer = hub.feature_layer()
    assert layer.filepath == str(kit / MOBILENET.kit_path) and rows["mobilenet_v2"]["label"] == layer.label


def test_status_shows_a_weights_setting_that_cannot_be_used_as_the_banner_does(data_home, tmp_path, monkeypatch,
                                                                              capsys):
    """The banner labels it NOT USABLE and the other notebooks run; the status view, which looked the
    weights up on its own, stopped at it with an error instead of showing the other items."""
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(tmp_path / "missing.h5"))
    assert cli.main(["lab-kit", "--status"]) == 0
    out = capsys.readouterr().out
    assert pretrained.weights_label("vgg16").startswith(pretrained.UNUSABLE)
    assert f"setting (COURSE_WEIGHTS_VGG16)\n{'':<25}{pretrained.weights_label('vgg16')}" in out
    assert all(f"  {name:<13}" in out for name in labkit.items())


def test_explicit_settings_win_over_the_kit(kit, monkeypatch):
    _use(monkeypatch, kit)
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    monkeypatch.setenv("COURSE_HUB_HANDLE", "/somewhere/else")
    assert pretrained.weights_setting("vgg16") is None
    assert hub.hub_handle() == "/somewhere/else"


def test_weights_without_a_published_hash_are_refused_unless_they_hold_the_networks_layers(sources, tmp_path, capsys):
    handler, _ = sources
    for network in UNHASHED:  # no md5 to check: another network's file or a web page must not enter the kit
        handler.files[urlsplit(networks.NETWORKS[network].source).path] = b"<html>not the weights</html>"
    failed = labkit.build_kit(tmp_path / "kit")
    assert [line.split(":")[0] for line in failed] == UNHASHED
    assert all(f"does not hold {networks.NETWORKS[name].title}'s no-top layers" in line
               for name, line in zip(UNHASHED, failed))
    assert not any((tmp_path / "kit" / networks.NETWORKS[name].kit_path).exists() for name in UNHASHED)


def test_a_rerun_skips_complete_items(kit, monkeypatch, capsys):
    capsys.readouterr()
    monkeypatch.setattr(labkit, "_fetch", lambda *a: pytest.fail("fetched an item that was complete"))
    assert labkit.build_kit(kit) == []
    assert capsys.readouterr().out.count("complete and verified, skipped") == len(labkit.items())


def test_an_interrupted_download_is_never_taken_for_whole(sources, tmp_path, monkeypatch, capsys):
    handler, _ = sources
    weights = urlsplit(networks.NETWORKS["vgg16"].source).path
    handler.cut = weights  # the connection drops halfway through the VGG16 file
    folder = tmp_path / "kit"
    failed = labkit.build_kit(folder)
    assert [f.split(":")[0] for f in failed] == ["vgg16"] and "interrupted" in failed[0]
    assert not (folder / "weights" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5").exists()
    assert "vgg16" not in mirror.read_manifest(folder)["items"] and not (folder / labkit.INCOMING).exists()
    assert labkit.verify_kit(folder)["vgg16"] == ["not in the kit"]
    assert "| vgg16 | `weights/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5` | MISSING" in (folder / "README.md").read_text()
    _use(monkeypatch, folder)
    assert pretrained.weights_setting("vgg16") == "imagenet"  # not the kit's: it has none
    assert "no vgg16 in it (incomplete kit)" in capsys.readouterr().out

    # A run killed after the hub folder was renamed into place, before its manifest entry:
    entry = mirror.read_manifest(folder)["items"]["mobilenet_v2"]
    labkit._set_entry(folder, "mobilenet_v2", None)
    assert hub.hub_handle() == MOBILENET.source  # an unlisted folder is not taken for whole
    (folder / labkit.INCOMING / "vgg16").mkdir(parents=True)
    (folder / labkit.INCOMING / "vgg16" / "vgg16.h5.part").write_bytes(b"half")  # a killed download's bytes

    handler.cut = False  # the connection is back: the next run fetches only what is missing
    capsys.readouterr()
    assert labkit.build_kit(folder) == []
    out = capsys.readouterr().out
    place = f"[{list(labkit.items()).index('vgg16') + 1}/{len(labkit.items())}]"  # [4/6], from the registries
    assert out.count("skipped") == len(labkit.items()) - 2 and f"{place} vgg16: added" in out
    assert labkit.verify_kit(folder) == {name: [] for name in labkit.items()}
    assert mirror.read_manifest(folder)["items"]["mobilenet_v2"]["files"] == entry["files"]


def test_a_damaged_item_is_reported_and_not_used(kit, monkeypatch, capsys):
    zipped = kit / "cats_and_dogs_filtered.zip"
    zipped.write_bytes(zipped.read_bytes()[:-10] + b"0123456789")  # same size, other bytes
    (kit / "weights" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5").unlink()
    problems = labkit.verify_kit(kit)
    assert problems["cats_vs_dogs"] == ["damaged: cats_and_dogs_filtered.zip (differs from the kit's manifest)"]
    assert problems["vgg16"] == ["missing: weights/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"]
    assert [name for name, found in problems.items() if found] == ["cats_vs_dogs", "vgg16"]
    capsys.readouterr()
    assert cli.main(["lab-kit", "--verify", str(kit)]) == 1
    assert f"repair with `python -m course_utils lab-kit {kit}`" in capsys.readouterr().out

    _use(monkeypatch, kit)
    monkeypatch.setitem(data.DATASETS["cats_vs_dogs"], "url", "http://127.0.0.1:9/none.zip")  # offline
    with pytest.raises(data.DataNotAvailable):
        data.ensure_dataset("cats_vs_dogs")
    out = capsys.readouterr().out
    assert "item cats_vs_dogs is not used, damaged: cats_and_dogs_filtered.zip" in out
    assert "python -m course_utils lab-kit PATH" in out
    assert not (data.data_dir() / "cats_vs_dogs").exists()  # nothing from the damaged archive was installed
    assert pretrained.weights_setting("vgg16") == "imagenet"
    assert "item vgg16 is not used, missing" in capsys.readouterr().out
    assert data.ensure_dataset("flowers17") == data.data_dir() / "flowers17"  # what verifies is still used


def test_a_read_only_kit_is_used_and_never_written(kit, tmp_path, monkeypatch):
    def snapshot():
        return sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in kit.rglob("*"))

    before = snapshot()
    for path in [kit, *kit.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        _use(monkeypatch, kit)
        data.ensure_dataset("cats_vs_dogs")
        data.ensure_dataset("flowers17")
        data.load_dataset("cifar10", new_session(tmp_path / "build", image_size=32, batch_size=8, train_per_class=4,
                                                 val_per_class=1, test_per_class=2))
        assert isinstance(pretrained.weights_setting("vgg16"), Path) and hub.hub_handle() != MOBILENET.source
        assert labkit.verify_kit(kit) == {name: [] for name in labkit.items()}
        assert snapshot() == before
    finally:
        for path in [kit, *kit.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)


def _legacy_h5(network: str, weights: Path, path: Path) -> bytes:
    """`network`'s weights in `weights` re-saved in the legacy HDF5 layout of Keras' published
    no-top files: Keras picks the loader by the file name, and `.h5` means that layout."""
    from keras.src.legacy.saving import legacy_h5_format

    base = networks.constructor(network)(include_top=False, weights=str(weights))
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, base)
    return path.read_bytes()


@pytest.mark.skipif(not (SHARED / "cats_and_dogs_filtered").is_dir(), reason="needs ../shared/course-data")
@pytest.mark.end_to_end
def test_a_lab_machine_with_only_the_mirror_set_runs_notebooks_03_04_and_06(data_home, tmp_path, server, monkeypatch):
    """The official cats and flowers files (from the offline copies), a CIFAR-10 archive in the
    official format and the VGG16 and MobileNetV2 stand-ins under Keras' file names, all served from 127.0.0.1;
    then notebooks 03, 04 and 06 in a fresh process whose only course setting is COURSE_DATA_MIRROR: each
    reads a different part of the kit (cats and VGG16; flowers; CIFAR-10, the TF-Hub model and Keras'
    MobileNetV2, here the dogs stand-in under Keras' file name). Notebook 05
    reads nothing 03 does not, and would add a minute."""
    tensorflow_hub = compat.import_tensorflow_hub()  # as the course imports it: with or without pkg_resources

    handler, url = server
    base = url.rsplit("/", 1)[0]
    cats = io.BytesIO()
    with zipfile.ZipFile(cats, "w", zipfile.ZIP_STORED) as zipped:
        for path in sorted((SHARED / "cats_and_dogs_filtered").rglob("*.jpg")):
            zipped.write(path, path.relative_to(SHARED))
    flowers = io.BytesIO()
    with tarfile.open(fileobj=flowers, mode="w") as tar:  # uncompressed: quicker, still a tar
        tar.add(SHARED / "17flowers" / "jpg", arcname="jpg")
    monkeypatch.setitem(data.DATASETS["cats_vs_dogs"], "url", _serve(handler, base, data.DATASETS["cats_vs_dogs"]["url"], cats.getvalue()))
    monkeypatch.setitem(data.DATASETS["flowers17"], "url", _serve(handler, base, data.DATASETS["flowers17"]["url"], flowers.getvalue()))
    cifar = _cifar_archive(per_class=50, test_per_class=10)
    # The builder checks the stand-ins against these "published" hashes; the lab machine labels
    # them by content (against the real ones): NOT the official archive, a VGG16 STAND-IN.
    patch_dataset(monkeypatch, "cifar10", url=_serve(handler, base, data.DATASETS["cifar10"]["url"], cifar),
                  sha256=hashlib.sha256(cifar).hexdigest())
    stand_in = _legacy_h5("vgg16", SHARED / "weights" / "vgg16_notop_hed_bsds500.weights.h5", tmp_path / "vgg16.h5")
    for network in KIT_WEIGHTS:
        patch_network(monkeypatch, network, source=_serve(handler, base, networks.NETWORKS[network].source, stand_in),
                      md5=hashlib.md5(stand_in).hexdigest())
    dogs = _legacy_h5("mobilenet_v2_keras", SHARED / "weights" / "mobilenet_v2_notop_dogs160.weights.h5",
                      tmp_path / "mobilenet_v2.h5")  # under Keras' name: the kit checks its layers (no published hash)
    patch_network(monkeypatch, "mobilenet_v2_keras",
                  source=_serve(handler, base, networks.NETWORKS["mobilenet_v2_keras"].source, dogs))
    monkeypatch.setenv("COURSE_WEIGHTS_MOBILENET_V2_KERAS", "none")  # the fake TF-Hub model: a random-weights stand-in
    saved = str(hub.export_stand_in(tmp_path / "tfhub-cache" / "model"))
    monkeypatch.setattr(tensorflow_hub, "resolve", lambda handle: saved)
    folder = tmp_path / "kit"
    assert labkit.build_kit(folder) == []

    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "TFHUB_"))}
    env.update(COURSE_DATA_MIRROR=str(folder), COURSE_PROFILE="smoke", COURSE_DATA_DIR=str(tmp_path / "lab-data"),
               TFHUB_CACHE_DIR=str(tmp_path / "empty-tfhub-cache"))  # so nothing cached elsewhere is used
    only = ["03_vgg_feature_extraction", "04_head_swap", "06_tfhub_mobilenet_cifar10"]
    run = subprocess.run([sys.executable, "-m", "course_utils", "run", "--notebooks", str(NOTEBOOKS),
                          "--build-dir", str(tmp_path / "build"), "--only", *only],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    records = [json.loads(line) for name in only
               for line in (tmp_path / "build" / "results" / f"{name}.jsonl").read_text().splitlines()]
    assert {r["notebook"] for r in records} == set(only)
    weights = {name: {r["weights"] for r in records if r["notebook"] == name and not r["weights"].startswith("none")} for name in only}
    # Keras' md5 differs (the lab machine checks the real one), and so do the tensors: the HED stand-in's values
    # loaded into a float32 model and re-saved are not its registered float16 file's (a digest counts the dtype).
    assert weights["03_vgg_feature_extraction"] == {"mirror file vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 "
                                                    "(unrecognised: VGG16's layers, weights not known to be ImageNet)"}
    hub_model, keras_mobilenet = sorted(weights["06_tfhub_mobilenet_cifar10"])  # the TF-Hub part, then the Keras one
    assert hub_model.startswith("STAND-IN for MobileNetV2")
    assert keras_mobilenet.startswith("STAND-IN, not ImageNet: MobileNetV2 base of a dog-breed classifier") and \
        keras_mobilenet.endswith("(mirror file mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5)")
    assert any("NOT the official archive" in r["data"] for r in records if r["notebook"] == only[-1])
    installed = json.loads((tmp_path / "lab-data" / "cats_vs_dogs" / data.MARKER).read_text())
    assert installed["source"] == str(folder / "cats_and_dogs_filtered.zip")
    assert not (tmp_path / "empty-tfhub-cache").exists() or not any((tmp_path / "empty-tfhub-cache").iterdir())


@pytest.mark.skipif(not (SHARED / "weights").is_dir(), reason="needs ../shared/course-data")
def test_the_shared_offline_copies_work_as_a_mirror_and_are_labelled(data_home, monkeypatch):
    for network in pretrained.PRETRAINED:
        monkeypatch.delenv(f"COURSE_WEIGHTS_{network.upper()}", raising=False)
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(SHARED))
    # ImageNet (a converted copy, found by its tensors) wins over the HED stand-in beside it.
    assert pretrained.weights_setting("vgg16") == SHARED / "weights" / "vgg16_notop_imagenet.weights.h5"
    assert pretrained.weights_label("vgg16") == ("imagenet (converted copy, the same tensors as Keras' file: mirror "
                                                 "file vgg16_notop_imagenet.weights.h5)")
    assert pretrained.weights_label("vgg19") == "imagenet (Keras download)"  # the folder has none for VGG19
    assert pretrained.weights_label("mobilenet_v2_keras").startswith("STAND-IN, not ImageNet: MobileNetV2 base of a dog")
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(SHARED / "weights" / "vgg16_notop_hed_bsds500.weights.h5"))
    assert pretrained.weights_label("vgg16").startswith("STAND-IN, not ImageNet: VGG16 convolution layers of the HED")


def test_lab_kit_without_a_folder_is_a_clear_error(capsys):
    assert cli.main(["lab-kit"]) == 2
    assert "lab-kit PATH" in capsys.readouterr().err


def test_a_cifar10_archive_that_would_run_code_is_not_unpickled(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, mode="w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            raw = pickle.dumps({b"data": Payload(), b"labels": [0]})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(data.DataError, match=rf"{archive} cannot be used: its data_batch_1: it would call .*not allowed"):
        mirror.read_cifar10(archive)
    assert not (tmp_path / "pwned").exists()
    archive.write_bytes(_cifar_archive(per_class=5, test_per_class=1))
    (x_train, y_train), (x_test, _) = mirror.read_cifar10(archive)  # the official format still reads
    assert x_train.shape == (50, 32, 32, 3) and x_test.shape == (10, 32, 32, 3) and y_train.shape == (50, 1)


def test_a_damaged_kit_manifest_is_named_and_not_trusted(tmp_path, monkeypatch, capsys):
    (tmp_path / mirror.MANIFEST).write_text('{"items": {"cats_vs_dogs": {"path": "cats_and_dog')  # cut short
    (tmp_path / "cats_and_dogs_filtered.zip").write_bytes(b"a file checked by content when installed")
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(tmp_path))
    assert mirror.read_manifest(tmp_path) == {"items": {}}
    assert mirror.find("cats_and_dogs_filtered.zip") == tmp_path / "cats_and_dogs_filtered.zip"
    assert "MANIFEST.json is damaged" in capsys.readouterr().out
