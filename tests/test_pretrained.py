"""Notebooks 03-05: pretrained bases, freezing, surgery and the feature cache."""

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils import models, training

STAND_IN = Path(__file__).resolve().parents[2] / "shared" / "course-data" / "weights" / "vgg16_notop_hed_bsds500.weights.h5"


@pytest.fixture
def own_weights(tmp_path, monkeypatch):
    """A VGG16 no-top weights file made here (random, seeded), set as the configured weights."""
    keras.utils.set_random_seed(7)
    path = tmp_path / "mine.weights.h5"
    keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(path)
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(path))
    return path


def _first_kernel(model):
    return model.get_layer("block1_conv1").get_weights()[0]


def test_configured_weights_file_is_really_loaded(own_weights, monkeypatch):
    reference = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    reference.load_weights(own_weights)
    base = models.pretrained_base("vgg16", 32)
    assert np.array_equal(_first_kernel(base), _first_kernel(reference))
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    assert not np.array_equal(_first_kernel(models.pretrained_base("vgg16", 32)), _first_kernel(reference))


@pytest.mark.skipif(not STAND_IN.is_file(), reason="the offline stand-in weights are not beside this checkout")
def test_stand_in_weights_file_is_loaded_and_labelled(monkeypatch):
    import h5py

    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(STAND_IN))
    base = models.pretrained_base("vgg16", 32)
    with h5py.File(STAND_IN) as f:
        kernels = []
        f.visititems(lambda name, obj: kernels.append(obj[()]) if isinstance(obj, h5py.Dataset) and obj.shape == (3, 3, 3, 64) else None)
    assert len(kernels) == 1
    assert np.allclose(_first_kernel(base), kernels[0].astype("float32"))
    assert models.weights_label("vgg16").startswith("STAND-IN, not ImageNet")


def _step(model, x, y):
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    model.train_on_batch(x, y)


def _with_head(base):
    x = keras.layers.Flatten()(base.output)
    return keras.Model(base.input, keras.layers.Dense(1, activation="sigmoid")(x))


def test_frozen_base_stays_put_and_head_learns(monkeypatch):
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    base = models.pretrained_base("vgg16", 32)
    models.set_trainable_from(base, None)
    model = _with_head(base)
    before = [w.copy() for w in base.get_weights()]
    head_before = model.layers[-1].get_weights()[0].copy()
    x, y = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)), np.array([0, 1, 0, 1])
    _step(model, x, y)
    assert all(np.array_equal(a, b) for a, b in zip(before, base.get_weights()))
    assert not np.array_equal(head_before, model.layers[-1].get_weights()[0])


def test_unfreezing_block5_changes_block5_and_nothing_below(monkeypatch):
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    base = models.pretrained_base("vgg16", 32)
    models.set_trainable_from(base, "block5_conv1")
    assert [l.name for l in base.layers if l.trainable and l.weights] == ["block5_conv1", "block5_conv2", "block5_conv3"]
    model = _with_head(base)
    before = {l.name: [w.copy() for w in l.get_weights()] for l in base.layers if l.weights}
    _step(model, np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)), np.array([0, 1, 0, 1]))
    for layer in base.layers:
        if layer.weights:
            changed = not all(np.array_equal(a, b) for a, b in zip(before[layer.name], layer.get_weights()))
            assert changed == layer.name.startswith("block5"), layer.name


def test_unknown_layer_name_lists_the_layers(monkeypatch):
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    with pytest.raises(ValueError, match="no layer 'block6_conv1'.*block5_conv1"):
        models.set_trainable_from(models.pretrained_base("vgg16", 32), "block6_conv1")


def test_layer_table_and_parameter_counts(monkeypatch):
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    base = models.pretrained_base("vgg16", 32)
    rows = models.layer_table(base)
    assert rows[1]["name"] == "block1_conv1" and rows[1]["type"] == "Conv2D" and rows[1]["output_shape"] == (None, 32, 32, 64)
    models.set_trainable_from(base, "block5_conv1")
    counts = models.parameter_counts(base)
    assert counts["trainable"] == 3 * (3 * 3 * 512 * 512 + 512)
    assert counts["trainable"] + counts["frozen"] == base.count_params() == 14_714_688


def test_feature_cache_hit_and_invalidation(cfg, own_weights, monkeypatch, capsys):
    cfg.update(image_size=32, train_per_class=2)
    ds = tf.data.Dataset.from_tensor_slices((np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32"), [0, 1, 0, 1])).batch(2)
    base = models.pretrained_base("vgg16", 32)
    calls = []
    counting = lambda x, training=False: calls.append(1) or base(x, training=training)  # noqa: E731
    counting.output_shape = base.output_shape

    def features(split="train", model="vgg16", **changes):
        return training.cached_features(counting, ds, dict(cfg, **changes), model=model, data="cats_vs_dogs", split=split)

    first, labels = features()
    assert first.shape == (4, 1, 1, 512) and labels.tolist() == [0, 1, 0, 1] and len(calls) == 2
    again, _ = features()
    assert len(calls) == 2 and np.array_equal(first, again)  # hit: no recomputation
    for change in ({"train_per_class": 3}, {"image_size": 48}, {"model": "vgg19"},
                   {"split": "test", "test_per_class": 2}):
        n = len(calls)
        features(**change)
        assert len(calls) > n, change
    n = len(calls)
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")  # other weights: other features
    features()
    assert len(calls) > n


def test_dense_head_outputs():
    flowers = models.dense_head((4, 4, 512), 17)
    assert flowers.output_shape == (None, 17) and flowers.layers[-1].activation.__name__ == "softmax"
    cats = models.dense_head((4, 4, 512), 2)
    assert cats.output_shape == (None, 1) and cats.layers[-1].activation.__name__ == "sigmoid"
    assert [type(l).__name__ for l in cats.layers] == ["Flatten", "Dense", "Dropout", "Dense"]
    normalized = models.dense_head((4, 4, 512), 17, normalize=True)
    assert [type(l).__name__ for l in normalized.layers] == ["Flatten", "BatchNormalization", "Dense",
                                                             "Dropout", "Dense"]


def test_cut_at_a_named_layer(monkeypatch):
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    base = models.pretrained_base("vgg16", 64)
    assert models.cut_at(base, "block4_pool").output_shape == (None, 4, 4, 512)
    assert models.cut_at(base, "block3_conv2").output_shape == (None, 16, 16, 256)
    with pytest.raises(ValueError, match="no layer 'fc1'"):
        models.cut_at(base, "fc1")


def test_weights_copied_by_name_round_trip_exactly(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    keras.utils.set_random_seed(1)
    trained = models.pretrained_base("vgg16", 32)
    keras.utils.set_random_seed(2)
    fresh = models.cut_at(models.pretrained_base("vgg16", 48), "block3_pool")  # another input size, fewer layers
    copied = models.copy_weights_by_name(trained, fresh)
    assert copied == [f"block{b}_conv{c}" for b in (1, 2, 3) for c in (1, 2, 3) if not (b < 3 and c == 3)]
    for name in copied:
        for a, b in zip(trained.get_layer(name).get_weights(), fresh.get_layer(name).get_weights()):
            assert np.array_equal(a, b)
    path = tmp_path / "w.weights.h5"  # and through a file, into a fresh copy of the same architecture
    fresh.save_weights(path)
    clone = keras.models.clone_model(fresh)
    clone.load_weights(path)
    assert all(np.array_equal(a, b) for a, b in zip(clone.get_weights(), fresh.get_weights()))


def test_preprocess_leaves_the_callers_images_alone():
    images = np.full((1, 4, 4, 3), 100.0, dtype="float32")
    prepared = np.asarray(models.preprocess("vgg16")(images))
    assert np.all(images == 100.0)  # Keras' own preprocess_input would have changed them in place
    assert np.allclose(prepared[0, 0, 0], [100 - 103.939, 100 - 116.779, 100 - 123.68])


# ---------------------------------------------------------------- faults: weights, caches, saved models


@pytest.mark.filterwarnings("ignore:Skipping nested container")  # Keras' own, on the way to its error
def test_weights_of_another_architecture_name_the_variable_and_the_cli_prints_no_traceback(
        tmp_path, monkeypatch, capsys):
    from course_utils import cli

    other = tmp_path / "small_cnn.weights.h5"  # a valid Keras 3 weights file, of another network
    models.small_cnn(64).save_weights(other)
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(other))
    with pytest.raises(models.WeightsError, match=r"COURSE_WEIGHTS_VGG16=.*does not hold VGG16's weights"):
        models.pretrained_base("vgg16", 32)
    assert cli.main(["hub", "export-stand-in", str(tmp_path / "hub")]) == 2
    err = capsys.readouterr().err
    assert "does not hold VGG16's weights" in err and "small_cnn.weights.h5" in err
    assert "Traceback" not in err


def test_damaged_feature_cache_is_recomputed_with_a_notice(cfg, own_weights, capsys):
    cfg.update(image_size=32, train_per_class=2)
    ds = tf.data.Dataset.from_tensor_slices(
        (np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32"), [0, 1, 0, 1])).batch(2)
    base = models.pretrained_base("vgg16", 32)
    first, _ = training.cached_features(base, ds, cfg, model="vgg16", data="cats_vs_dogs", split="train")
    (cached,) = list((cfg["build_dir"] / "features").rglob("*.npz"))
    assert cfg["profile"] in cached.parts  # kept per profile
    cached.write_bytes(cached.read_bytes()[:100])  # cut short by an interrupted run
    capsys.readouterr()
    again, labels = training.cached_features(base, ds, cfg, model="vgg16", data="cats_vs_dogs", split="train")
    out = capsys.readouterr().out
    assert "damaged" in out and "recomputing" in out
    assert np.allclose(again, first) and labels.tolist() == [0, 1, 0, 1]
    with np.load(cached) as repaired:  # and the cache is whole again
        assert np.allclose(repaired["features"], first)


def test_interrupted_cache_write_leaves_no_cache_entry(cfg, own_weights, monkeypatch):
    cfg.update(image_size=32, train_per_class=2)
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((2, 32, 32, 3), "float32"), [0, 1])).batch(2)
    base = models.pretrained_base("vgg16", 32)

    def killed(file, **arrays):  # writes part of the file, then the run is interrupted
        Path(file).write_bytes(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", killed)
    with pytest.raises(KeyboardInterrupt):
        training.cached_features(base, ds, cfg, model="vgg16", data="cats_vs_dogs", split="train")
    assert not list((cfg["build_dir"] / "features").rglob("*.npz"))


def test_saved_models_are_kept_per_profile_and_weights(cfg, own_weights, monkeypatch, capsys):
    model = models.small_cnn(64)
    path = training.save_model(model, cfg, "fine_tuned", weights="vgg16")
    assert training.load_saved_model(cfg, "fine_tuned", weights="vgg16") is not None
    # Another profile, or other weights: notebook 07 must not find this model.
    assert training.load_saved_model(dict(cfg, profile="quick"), "fine_tuned", weights="vgg16") is None
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    assert training.load_saved_model(cfg, "fine_tuned", weights="vgg16") is None
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(own_weights))
    # A model file cut short: ignored with a line saying why, never a crash.
    path.write_bytes(path.read_bytes()[:200])
    capsys.readouterr()
    assert training.load_saved_model(cfg, "fine_tuned", weights="vgg16") is None
    assert "cannot be opened" in capsys.readouterr().out


def test_an_interrupted_model_save_leaves_the_earlier_model(cfg, monkeypatch):
    model = models.small_cnn(64)
    path = training.save_model(model, cfg, "scratch_cnn")
    before = path.read_bytes()

    def killed(self, filepath, *args, **kwargs):
        Path(filepath).write_bytes(b"PK partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        training.save_model(model, cfg, "scratch_cnn")
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
