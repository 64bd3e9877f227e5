"""course_utils.training: fit and evaluate, histories, the feature cache and saved models."""

import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils import models, results, training


def test_fit_and_evaluate_records_the_test_accuracy(cfg):
    import tensorflow as tf
    from course_utils.data import Splits

    x = np.random.default_rng(0).uniform(0, 255, (8, 48, 48, 3)).astype("float32")
    y = np.array([0, 1] * 4)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    model = models.small_cnn(48)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    results.using(cfg, dataset="cats_vs_dogs", model=None)
    history, accuracy = training.fit_and_evaluate(model, Splits(ds, ds, ds, ["a", "b"]), cfg, epochs=2, method="m")
    assert len(history["val_accuracy"]) == 2
    record = results.load_results(cfg["build_dir"])[-1]
    assert record["value"] == pytest.approx(accuracy)
    # With whether each test image came out right, in the test split's order: the lessons pair on them.
    right = results.read_outcomes(record)
    assert len(right) == 8 and sum(right) / 8 == accuracy
    assert right == training.right_per_image(model, ds).tolist()


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_right_per_image_counts_what_keras_evaluate_counts(output):
    """The accuracy `fit_and_evaluate` records, from per-image predictions, is Keras' own."""
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(203, 6)).astype("float32")  # 203: a last batch shorter than the others
    classes = 1 if output == "sigmoid" else 5
    y = rng.integers(0, 2 if output == "sigmoid" else classes, 203)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(classes, activation=output)])
    model.compile(loss="binary_crossentropy" if output == "sigmoid" else "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    right = training.right_per_image(model, ds)
    assert right.shape == (203,) and 0.1 < right.mean() < 0.9  # a mix of right and wrong: a real check
    assert right.mean() == pytest.approx(model.evaluate(ds, return_dict=True, verbose=0)["accuracy"], abs=1e-6)
    probabilities = model.predict(ds, verbose=0)
    expected = (probabilities[:, 0] > 0.5) == y if output == "sigmoid" else probabilities.argmax(1) == y
    assert right.tolist() == expected.tolist()


def test_history_round_trip_is_per_profile(cfg):
    training.save_history(cfg, {"accuracy": [0.5]}, "run")
    assert training.load_history(cfg, "test", "run") == {"accuracy": [0.5]}
    assert training.load_history(dict(cfg, profile="full"), "test", "run") is None


def test_feature_cache_hit_and_invalidation(cfg, own_weights, monkeypatch, capsys):
    cfg.update(image_size=32, train_per_class=2)
    ds = tf.data.Dataset.from_tensor_slices((np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32"), [0, 1, 0, 1])).batch(2)
    base = models.pretrained_base("vgg16", 32)
    calls = []
    counting = lambda x, training=False: calls.append(1) or base(x, training=training)  # noqa: E731
    counting.output_shape = base.output_shape

    def features(split="train", model="vgg16", **changes):
        return models.cached_features(counting, ds, dict(cfg, **changes), model=model, data="cats_vs_dogs", split=split)

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


def test_damaged_feature_cache_is_recomputed_with_a_notice(cfg, own_weights, capsys):
    cfg.update(image_size=32, train_per_class=2)
    ds = tf.data.Dataset.from_tensor_slices(
        (np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32"), [0, 1, 0, 1])).batch(2)
    base = models.pretrained_base("vgg16", 32)
    first, _ = models.cached_features(base, ds, cfg, model="vgg16", data="cats_vs_dogs", split="train")
    (cached,) = list((cfg["build_dir"] / "features").rglob("*.npz"))
    assert cfg["profile"] in cached.parts  # kept per profile
    cached.write_bytes(cached.read_bytes()[:100])  # cut short by an interrupted run
    capsys.readouterr()
    again, labels = models.cached_features(base, ds, cfg, model="vgg16", data="cats_vs_dogs", split="train")
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
        models.cached_features(base, ds, cfg, model="vgg16", data="cats_vs_dogs", split="train")
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


def test_keep_best_puts_back_the_best_validation_epoch_and_says_which(cfg):
    import keras

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 8)).astype("float32"), rng.integers(0, 2, 64)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy", metrics=["accuracy"])
    seen = []  # the weights after every epoch
    remember = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(model.get_weights()))
    history = model.fit(x, y, validation_data=(x[::-1], y[::-1]), epochs=6, batch_size=8, verbose=0,
                        callbacks=[remember, training.keep_best(6)]).history
    details = training.best_epoch(history)
    assert len(history["val_accuracy"]) == 6  # it never stops early
    assert details["best_epoch"] == int(np.argmax(history["val_accuracy"])) + 1
    for kept, best in zip(model.get_weights(), seen[details["best_epoch"] - 1]):
        assert np.array_equal(kept, best)
    assert training.describe_best(details).startswith(f"kept epoch {details['best_epoch']} of 6")


def test_fit_and_evaluate_records_the_kept_epoch_and_the_split_sizes(cfg):
    import keras
    from course_utils.data import array_splits

    rng = np.random.default_rng(1)
    part = lambda n: (rng.normal(size=(n, 2, 2, 4)).astype("float32"), rng.integers(0, 2, n))  # noqa: E731
    head = models.dense_head((2, 2, 4), classes=2)
    head.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    results.using(cfg, dataset="cats_vs_dogs", model=None)
    cfg["split_sizes"] = {"cats_vs_dogs": "16 / 8 / 8"}
    features = {"train": part(16), "validation": part(8), "test": part(8)}
    history, _ = training.fit_and_evaluate(head, array_splits(features, ["a", "b"], cfg), cfg, epochs=3, method="m")
    record = results.load_results(cfg["build_dir"])[-1]
    assert record["details"] == training.best_epoch(history) and record["split"] == "16 / 8 / 8"



def test_optimizer_follows_the_profile():
    import keras

    adam = training.optimizer({"optimizer": "adam", "learning_rate": 1e-3})
    rmsprop = training.optimizer({"optimizer": "rmsprop", "learning_rate": 1e-4})
    rate = lambda optimizer: float(keras.ops.convert_to_numpy(optimizer.learning_rate))  # noqa: E731 (a Variable on Keras 3.4)
    assert isinstance(adam, keras.optimizers.Adam) and rate(adam) == pytest.approx(1e-3)
    assert isinstance(rmsprop, keras.optimizers.RMSprop) and rate(rmsprop) == pytest.approx(1e-4)


def test_time_left_estimates_after_the_first_epoch_and_inside_a_long_one(capsys):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.zeros((64, 4)), np.zeros((64, 1))
    model.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[training.time_left(longer_than=0, after=1e9)])
    assert re.fullmatch(r"epoch 1 took \d+ s; about \d+ s for the remaining 4\n", capsys.readouterr().out)
    model.fit(x, y, epochs=8, initial_epoch=5, batch_size=16, verbose=0,
              callbacks=[training.time_left(longer_than=0, after=1e9)])  # a second phase: epochs 6-8
    assert capsys.readouterr().out.startswith("epoch 6 took ")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[training.time_left(longer_than=0, after=0)])
    # The first batch (building the graph) is left out of the pace: the estimate comes after the second.
    assert re.match(r"epoch 1: 2 of 4 batches in \d+ s; about \d+ s for the rest of this training \(1 epoch",
                    capsys.readouterr().out)
    model.fit(x, y, epochs=3, verbose=0, callbacks=[training.time_left()])  # short: says nothing
    assert capsys.readouterr().out == ""
