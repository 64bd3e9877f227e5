"""Notebook 06: TF-Hub feature vectors as Keras 3 layers, and the streaming pipeline."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

import keras
from conftest import patch_network
from course_utils import compat, data, hub, networks, training

MOBILENET_V2 = networks.NETWORKS[hub.HUB_NETWORK].source  # the TF-Hub address notebook 06 loads


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    """A TF-Hub-format SavedModel exported here (Keras' MobileNetV2, random weights)."""
    import os

    old = os.environ.get("COURSE_WEIGHTS_MOBILENET_V2_KERAS")
    os.environ["COURSE_WEIGHTS_MOBILENET_V2_KERAS"] = "none"
    try:
        keras.utils.set_random_seed(0)
        return str(hub.export_stand_in(tmp_path_factory.mktemp("hub") / "features"))
    finally:
        os.environ.pop("COURSE_WEIGHTS_MOBILENET_V2_KERAS") if old is None else os.environ.update(COURSE_WEIGHTS_MOBILENET_V2_KERAS=old)


TOP = ("block_14_", "block_15_", "block_16_", "Conv_1_")  # Keras' MobileNetV2's last three blocks and 1x1 convolution


def _train_step(model):
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.train_on_batch(np.random.default_rng(0).random((4, 32, 32, 3), dtype="float32"), np.array([0, 1, 2, 3]))


def _snapshot(layer):
    return [np.array(w.numpy()) for w in layer.weights]


def _changed(layer, before):
    return [w.name for w, b in zip(layer.weights, before) if not np.array_equal(w.numpy(), b)]


def test_loads_from_a_local_folder_and_is_labelled(stand_in):
    layer = hub.feature_layer(stand_in)
    assert isinstance(layer, keras.layers.Layer)
    assert layer(np.zeros((2, 32, 32, 3), "float32")).shape == (2, 1280)  # as TF-Hub's feature vector
    assert hub.hub_label(stand_in).startswith("STAND-IN for MobileNetV2")
    assert hub.hub_label(MOBILENET_V2).startswith("TF-Hub MobileNetV2")


def test_top_only_training_trains_the_variables_the_registry_names(stand_in, monkeypatch):
    patch_network(monkeypatch, "mobilenet_v2_keras", top_variables=r"block_15_project_")  # the stand-in's base
    names = hub.train_top_only(hub.feature_layer(stand_in), stand_in)
    assert names and all(n.startswith("block_15_project_") for n in names)


def test_works_in_sequential_and_functional_models(stand_in):
    sequential = keras.Sequential([keras.Input((32, 32, 3)), hub.feature_layer(stand_in), keras.layers.Dense(10)])
    inputs = keras.Input((32, 32, 3))
    functional = keras.Model(inputs, keras.layers.Dense(10)(hub.feature_layer(stand_in)(inputs)))
    assert sequential.output_shape == functional.output_shape == (None, 10)


def test_frozen_layer_does_not_change(stand_in):
    layer = hub.feature_layer(stand_in)
    model = keras.Sequential([keras.Input((32, 32, 3)), layer, keras.layers.Dense(4, activation="softmax")])
    before = _snapshot(layer)
    _train_step(model)
    assert layer.trainable_weights == [] and _changed(layer, before) == []


def test_trainable_layer_is_updated_by_adam(stand_in):
    layer = hub.feature_layer(stand_in, trainable=True)
    model = keras.Sequential([keras.Input((32, 32, 3)), layer, keras.layers.Dense(4, activation="softmax")])
    before = _snapshot(layer)
    _train_step(model)  # a stock TFSMLayer fails here: 'kernel:0_momentum' is not a valid scope name
    trained = {w.name for w in layer.trainable_weights}  # not the batch-norm statistics
    changed = set(_changed(layer, before))
    # With random weights many units sit behind a saturated ReLU6 and get an exact zero gradient, so not
    # every variable moves; the last convolution, right under the pooling, does.
    assert len(trained) == 156 and changed <= trained and len(changed) > 50 and "Conv_1_kernel" in changed


def test_top_only_training_changes_only_the_top(stand_in):
    layer = hub.feature_layer(stand_in)
    names = hub.train_top_only(layer, stand_in)
    assert names and all(n.startswith(TOP) for n in names)
    model = keras.Sequential([keras.Input((32, 32, 3)), layer, keras.layers.Dense(4, activation="softmax")])
    before = _snapshot(layer)
    _train_step(model)
    changed = set(_changed(layer, before))
    assert changed <= set(names) and "Conv_1_kernel" in changed  # nothing below the top moved


def test_pipeline_resizes_batch_by_batch_into_unit_range():
    images = np.random.default_rng(0).integers(0, 256, (10, 32, 32, 3)).astype("float32")
    source = tf.data.Dataset.from_tensor_slices((images, np.arange(10))).batch(4)
    ds = data.to_model_input(source, 96)
    spec = ds.element_spec[0]
    assert spec.shape.as_list() == [None, 96, 96, 3] and spec.dtype == tf.float32
    batches = [x.numpy() for x, _ in ds]
    assert [len(b) for b in batches] == [4, 4, 2]
    assert min(b.min() for b in batches) >= 0.0 and max(b.max() for b in batches) <= 1.0
    # Nothing holds the resized set: the serialized pipeline carries the 32x32 source
    # (10 x 12 KB) and the resize op, far less than the resized images would weigh.
    serialized = len(ds._as_serialized_graph().numpy())
    assert serialized < images.nbytes * 2 < 10 * 96 * 96 * 3 * 4
    upfront = tf.data.Dataset.from_tensor_slices((tf.image.resize(images, (96, 96)) / 255.0, np.arange(10))).batch(4)
    assert len(upfront._as_serialized_graph().numpy()) > 10 * 96 * 96 * 3 * 4  # what the check catches


def test_predictions_on_resized_batches_keep_only_the_small_originals():
    images = np.random.default_rng(1).integers(0, 256, (10, 32, 32, 3)).astype("float32")
    source = tf.data.Dataset.from_tensor_slices((images, np.arange(10))).batch(4)
    model = keras.Sequential([keras.Input((96, 96, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3, activation="softmax")])
    kept, labels, probabilities = training.predict_all(model, source, prepare=lambda x: data.model_input(x, 96))
    assert kept.shape == (10, 32, 32, 3) and np.array_equal(kept, images)
    assert labels.tolist() == list(range(10))
    expected = model.predict(data.model_input(images, 96), verbose=0)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-6)


def test_a_model_that_cannot_be_had_is_a_clear_error(monkeypatch, tmp_path):
    import urllib.error

    tensorflow_hub = compat.import_tensorflow_hub()  # as the course imports it: with or without pkg_resources

    from course_utils.data import DataNotAvailable

    def offline(handle):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(tensorflow_hub, "resolve", offline)
    with pytest.raises(DataNotAvailable, match="could not be downloaded.*export-stand-in"):
        hub.feature_layer(MOBILENET_V2)
    with pytest.raises(DataNotAvailable, match="no SavedModel folder at .*missing.*export-stand-in"):
        hub.feature_layer(str(tmp_path / "missing"))


def test_a_folder_that_is_not_a_saved_model_is_a_clear_error(monkeypatch, tmp_path):
    from course_utils import CourseError

    folder = tmp_path / "mobilenet"  # downloaded by hand, unpacked one level too high, or empty
    (folder / "variables").mkdir(parents=True)
    (folder / "README.txt").write_text("MobileNetV2")
    monkeypatch.setenv("COURSE_HUB_HANDLE", str(folder))
    with pytest.raises(CourseError, match=r"mobilenet \(COURSE_HUB_HANDLE\) is a folder but not a SavedModel.*"
                                          r"export-stand-in"):
        hub.feature_layer()


@pytest.fixture(scope="module")
def small_saved_model(tmp_path_factory):
    """A tiny feature-vector SavedModel (images to 4 features), exported here."""

    class Features(tf.Module):
        def __init__(self):
            super().__init__()
            self.kernel = tf.Variable(tf.ones([3, 4]))

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def __call__(self, images):
            return tf.reduce_mean(images, axis=[1, 2]) @ self.kernel

    path = tmp_path_factory.mktemp("hub") / "small"
    tf.saved_model.save(Features(), str(path))
    return path


def _garbage(folder):
    (folder / "saved_model.pb").write_bytes(os.urandom(300))


def _half(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGES = {"garbage saved_model.pb": _garbage,
           "truncated saved_model.pb": lambda folder: _half(folder / "saved_model.pb"),
           "empty saved_model.pb": lambda folder: (folder / "saved_model.pb").write_bytes(b""),
           "no variables": lambda folder: shutil.rmtree(folder / "variables"),
           "truncated variables": lambda folder: _half(next((folder / "variables").glob("*.data-*")))}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_saved_model_names_the_setting_and_the_fix(small_saved_model, monkeypatch, tmp_path, damage):
    folder = tmp_path / "mobilenet"
    shutil.copytree(small_saved_model, folder)
    assert hub.feature_layer(str(folder))(np.ones((1, 8, 8, 3), "float32")).shape == (1, 4)  # whole, it loads
    DAMAGES[damage](folder)
    monkeypatch.setenv("COURSE_HUB_HANDLE", str(folder))
    with pytest.raises(data.DataNotAvailable) as refused:
        hub.feature_layer()
    message = str(refused.value)
    assert message.startswith(f"{folder} (COURSE_HUB_HANDLE) is a SavedModel folder that TensorFlow cannot load, "
                              "damaged or incomplete (")
    assert message.endswith("export COURSE_HUB_HANDLE=$PWD/build/hub/stand-in`") and "\n" not in message


def test_a_damaged_copy_in_the_tf_hub_cache_names_the_folder_to_delete(monkeypatch, tmp_path):
    tensorflow_hub = compat.import_tensorflow_hub()  # as the course imports it: with or without pkg_resources

    cached = tmp_path / "tfhub_modules" / "0123abcd"  # as a download cut short could leave it
    cached.mkdir(parents=True)
    _garbage(cached)
    monkeypatch.delenv("COURSE_HUB_HANDLE", raising=False)
    monkeypatch.setattr(tensorflow_hub, "resolve", lambda handle: str(cached))
    with pytest.raises(data.DataNotAvailable, match=rf"^{cached} is a SavedModel folder that TensorFlow cannot "
                                                     r"load, damaged or incomplete \(Cannot parse file .*\); delete "
                                                     r"that folder and run again$"):
        hub.feature_layer(MOBILENET_V2)


def test_no_hub_model_anywhere_exports_the_labelled_stand_in_once(data_home, monkeypatch, capsys):
    import urllib.error

    tensorflow_hub = compat.import_tensorflow_hub()  # as the course imports it: with or without pkg_resources

    def offline(handle):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(tensorflow_hub, "resolve", offline)
    monkeypatch.delenv("COURSE_HUB_HANDLE", raising=False)
    monkeypatch.setenv("COURSE_WEIGHTS_MOBILENET_V2_KERAS", "none")
    layer = hub.feature_layer()
    folder = data_home / "hub" / f"mobilenet_v2_keras-stand-in-tf{tf.__version__}-none"
    assert layer.filepath == str(folder)  # in the data folder, one per TensorFlow version and weights
    assert layer.label.startswith("STAND-IN for MobileNetV2") and "random initialisation" in layer.label
    assert "could not be downloaded" in capsys.readouterr().out
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no temporary export left
    assert hub.train_top_only(layer) and all(v.name.startswith(TOP) for v in layer.trainable_weights)
    monkeypatch.setattr(hub, "export_stand_in", lambda *a: pytest.fail("exported a second time"))
    assert hub.feature_layer().filepath == str(folder)


def test_an_export_killed_midway_is_cleaned_up_by_the_next(data_home, monkeypatch):
    tensorflow_hub = compat.import_tensorflow_hub()  # as the course imports it: with or without pkg_resources

    from course_utils import files

    monkeypatch.setattr(tensorflow_hub, "resolve", lambda handle: (_ for _ in ()).throw(OSError("offline")))
    monkeypatch.delenv("COURSE_HUB_HANDLE", raising=False)
    monkeypatch.setenv("COURSE_WEIGHTS_MOBILENET_V2_KERAS", "none")
    leftover = data_home / "hub" / (files.staging_prefix("hub").replace(str(os.getpid()), "999999999") + "x1")
    (leftover / "model").mkdir(parents=True)  # a dead process's half-written export
    hub.feature_layer()
    assert not leftover.exists()


def test_a_read_only_data_folder_gets_the_stand_in_exported_into_the_build_folder(data_home, read_only, tmp_path,
                                                                                 monkeypatch, capsys):
    tensorflow_hub = compat.import_tensorflow_hub()  # as the course imports it: with or without pkg_resources

    from course_utils import files

    monkeypatch.setattr(tensorflow_hub, "resolve", lambda handle: (_ for _ in ()).throw(OSError("offline")))
    monkeypatch.delenv("COURSE_HUB_HANDLE", raising=False)
    monkeypatch.setenv("COURSE_WEIGHTS_MOBILENET_V2_KERAS", "none")
    leftover = data_home / "hub" / (files.staging_prefix("hub").replace(str(os.getpid()), "999999999") + "x1")
    (leftover / "model").mkdir(parents=True)  # a teacher's machine was interrupted exporting it
    shared = read_only(data_home)
    assert files.cannot_write(shared / "hub")  # the fault is real
    monkeypatch.setenv("COURSE_DATA_DIR", str(shared))
    layer = hub.feature_layer()
    folder = tmp_path / "build" / "hub" / f"mobilenet_v2_keras-stand-in-tf{tf.__version__}-none"
    assert layer.filepath == str(folder) and layer.label.startswith("STAND-IN for MobileNetV2")
    out = capsys.readouterr().out
    assert f"hub: the data folder {shared} cannot be written (" in out and f"the stand-in goes to {folder.parent}\n" in out
    monkeypatch.setattr(hub, "export_stand_in", lambda *a: pytest.fail("exported a second time"))
    assert hub.feature_layer().filepath == str(folder)  # found there next time
