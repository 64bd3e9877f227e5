"""course_utils.training: fit and evaluate, histories, the feature cache and saved models."""

import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import new_session
from course_utils import models, results, training
from course_utils.data import Sizes, Splits


def test_fit_and_evaluate_records_the_test_accuracy(data_home, tmp_path):
    session = new_session(tmp_path / "build", notebook="01_scratch_cnn_baseline")
    x = np.random.default_rng(0).uniform(0, 255, (8, 48, 48, 3)).astype("float32")
    y = np.array([0, 1] * 4)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    model = models.small_cnn(48)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    splits = Splits(ds, ds, ds, ["a", "b"], "cats_vs_dogs", 48, Sizes(8, 8, 8))
    session.using(splits, network="small_cnn")
    history, accuracy = training.fit_and_evaluate(model, splits, session, epochs=2, key=results.SCRATCH_CNN,
                                                  method="m")
    assert len(history["val_accuracy"]) == 2
    record = results.load_results(session.build_dir)[-1]
    assert record["value"] == pytest.approx(accuracy) and record["key"] == results.SCRATCH_CNN
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


def test_history_round_trip_is_per_profile(session, tmp_path):
    training.save_history(session, {"accuracy": [0.5]}, "run")
    assert training.load_history(session, "test", "run") == {"accuracy": [0.5]}
    assert training.load_history(new_session(session.build_dir, profile="full"), "test", "run") is None


def _splits(ds, size=32, count=4):
    """The splits of `ds` (every split the same), as load_dataset would describe them."""
    return Splits(ds, ds, ds, ["a", "b"], "cats_vs_dogs", size, Sizes(count, count, count))


def test_feature_cache_keys_on_what_it_caches(session, own_weights, monkeypatch, capsys):
    ds = tf.data.Dataset.from_tensor_slices((np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32"), [0, 1, 0, 1])).batch(2)
    base = models.pretrained_base("vgg16", 32)
    calls = []
    counting = lambda x, training=False: calls.append(1) or base(x, training=training)  # noqa: E731
    counting.output_shape, counting.layers = base.output_shape, base.layers

    def features(split="train", network="vgg16", settings=session, **changes):
        return models.cached_features(counting, _splits(ds)._replace(**changes), split, settings, network=network)

    first, labels = features()
    assert first.shape == (4, 1, 1, 512) and labels.tolist() == [0, 1, 0, 1] and len(calls) == 2
    again, _ = features()
    assert len(calls) == 2 and np.array_equal(first, again)  # hit: no recomputation
    # The session's own image size is not what the splits hold: notebook 07 needs no dict(cfg, image_size=...).
    features(settings=new_session(session.build_dir, image_size=99))
    assert len(calls) == 2
    for change in ({"sizes": Sizes(6, 4, 4)}, {"image_size": 48}, {"network": "vgg19"}, {"split": "test"},
                   {"dataset": "flowers17"}):
        n = len(calls)
        features(**change)
        assert len(calls) > n, change
    n = len(calls)
    counting.layers = base.layers[:-1]  # another cut of the same shape (here: the same function, renamed)
    features()
    assert len(calls) > n
    counting.layers = base.layers
    n = len(calls)
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")  # other weights: other features
    features()
    assert len(calls) > n


def test_damaged_feature_cache_is_recomputed_with_a_notice(session, own_weights, capsys):
    ds = tf.data.Dataset.from_tensor_slices(
        (np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32"), [0, 1, 0, 1])).batch(2)
    base = models.pretrained_base("vgg16", 32)
    first, _ = models.cached_features(base, _splits(ds), "train", session, network="vgg16")
    (cached,) = list((session.build_dir / "features").rglob("*.npz"))
    assert session.profile in cached.parts  # kept per profile
    cached.write_bytes(cached.read_bytes()[:100])  # cut short by an interrupted run
    capsys.readouterr()
    again, labels = models.cached_features(base, _splits(ds), "train", session, network="vgg16")
    out = capsys.readouterr().out
    assert "damaged" in out and "recomputing" in out
    assert np.allclose(again, first) and labels.tolist() == [0, 1, 0, 1]
    with np.load(cached) as repaired:  # and the cache is whole again
        assert np.allclose(repaired["features"], first)


def test_interrupted_cache_write_leaves_no_cache_entry(session, own_weights, monkeypatch):
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((2, 32, 32, 3), "float32"), [0, 1])).batch(2)
    base = models.pretrained_base("vgg16", 32)

    def killed(file, **arrays):  # writes part of the file, then the run is interrupted
        Path(file).write_bytes(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", killed)
    with pytest.raises(KeyboardInterrupt):
        models.cached_features(base, _splits(ds, count=2), "train", session, network="vgg16")
    assert not list((session.build_dir / "features").rglob("*.npz"))


def test_saved_models_are_kept_per_profile_and_weights(session, own_weights, monkeypatch, capsys):
    model = models.small_cnn(64)
    path = training.save_model(model, session, "fine_tuned", network="vgg16")
    assert training.load_saved_model(session, "fine_tuned", network="vgg16") is not None
    # Another profile, or other weights: notebook 07 must not find this model.
    assert training.load_saved_model(new_session(session.build_dir, profile="quick"), "fine_tuned",
                                     network="vgg16") is None
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    assert training.load_saved_model(session, "fine_tuned", network="vgg16") is None
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(own_weights))
    # A model file cut short: ignored with a line saying why, never a crash.
    path.write_bytes(path.read_bytes()[:200])
    capsys.readouterr()
    assert training.load_saved_model(session, "fine_tuned", network="vgg16") is None
    assert "cannot be opened" in capsys.readouterr().out


def test_an_interrupted_model_save_leaves_the_earlier_model(session, monkeypatch):
    model = models.small_cnn(64)
    path = training.save_model(model, session, "scratch_cnn")
    before = path.read_bytes()

    def killed(self, filepath, *args, **kwargs):
        Path(filepath).write_bytes(b"PK partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        training.save_model(model, session, "scratch_cnn")
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_keep_best_puts_back_the_best_validation_epoch_and_says_which():
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


def test_fit_and_evaluate_records_the_kept_epoch_and_the_split_sizes(data_home, tmp_path):
    import keras
    from course_utils.data import array_splits

    session = new_session(tmp_path / "build", notebook="03_vgg_feature_extraction")

    rng = np.random.default_rng(1)
    part = lambda n: (rng.normal(size=(n, 2, 2, 4)).astype("float32"), rng.integers(0, 2, n))  # noqa: E731
    head = models.dense_head((2, 2, 4), classes=2)
    head.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    images = Splits(None, None, None, ["a", "b"], "cats_vs_dogs", 32, Sizes(16, 8, 8))  # what the features came from
    session.using(images, network="vgg16")
    features = {"train": part(16), "validation": part(8), "test": part(8)}
    history, _ = training.fit_and_evaluate(head, array_splits(features, images, session), session, epochs=3,
                                           key=results.FEATURES_DENSE_HEAD, method="m")
    record = results.load_results(session.build_dir)[-1]
    assert record["details"] == training.best_epoch(history)
    assert record["split"] == {"train": 16, "validation": 8, "test": 8}  # numbers, not text to parse back
    assert (record["network"], record["pretrained"], record["image_size"]) == ("vgg16", True, 32)



def test_optimizer_follows_the_profile(tmp_path):
    import keras

    adam = training.optimizer(new_session(tmp_path, optimizer="adam", learning_rate=1e-3))
    rmsprop = training.optimizer(new_session(tmp_path, optimizer="rmsprop", learning_rate=1e-4))
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
