"""Notebooks 01-02: the small network, augmentation, training helpers and their figures."""

import keras
import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_utils import models, plots, results, training


def test_small_cnn_structure_and_parameter_count():
    model = models.small_cnn(150)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [32, 64, 128, 128]
    assert all(c.kernel_size == (3, 3) and c.activation.__name__ == "relu" for c in convs)
    assert sum(isinstance(l, keras.layers.MaxPooling2D) for l in model.layers) == 4
    dense = [l for l in model.layers if isinstance(l, keras.layers.Dense)]
    assert [d.units for d in dense] == [512, 1] and dense[-1].activation.__name__ == "sigmoid"
    assert model.output_shape == (None, 1)
    assert model.count_params() == 3_453_121  # the classic figure for 150x150 inputs


def test_dropout_and_augmentation_sit_where_they_should():
    model = models.small_cnn(64, augment=models.augmentation(), dropout=0.5)
    names = [type(l).__name__ for l in model.layers]
    assert names[0] == "Sequential" and names[1] == "Rescaling"
    assert names.index("Dropout") == names.index("Flatten") + 1
    assert names.index("Dropout") < names.index("Dense")


def test_augmentation_changes_images_only_in_training():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (4, 48, 48, 3)).astype("float32")
    augment = models.augmentation(seed=1)
    trained = np.asarray(augment(images, training=True))
    assert trained.shape == images.shape
    assert not np.allclose(trained, images)
    assert np.allclose(np.asarray(augment(images, training=False)), images)


def test_model_rescales_raw_pixels_to_unit_range():
    model = models.small_cnn(48)
    rescale = next(l for l in model.layers if isinstance(l, keras.layers.Rescaling))
    out = np.asarray(rescale(np.array([[[[0.0, 127.5, 255.0]]]], dtype="float32")))
    assert out.min() == 0.0 and out.max() == 1.0


def test_misclassified_orders_by_confidence_binary_and_multiclass():
    labels = np.array([0, 1, 1, 0, 1])
    probabilities = np.array([[0.9], [0.2], [0.6], [0.55], [0.01]])  # wrong: 0 (0.9), 1 (0.8), 3 (0.55), 4 (0.99)
    assert plots.misclassified(labels, probabilities).tolist() == [4, 0, 1, 3]
    multi = np.array([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1], [0.2, 0.2, 0.6]])
    assert plots.misclassified(np.array([0, 0, 1]), multi).tolist() == [0, 2]


def test_no_mistakes_gives_empty_selection_and_a_figure():
    labels = np.array([0, 1])
    probabilities = np.array([0.1, 0.9])
    assert plots.misclassified(labels, probabilities).size == 0
    fig = plots.misclassified_grid(np.zeros((2, 8, 8, 3)), labels, probabilities, ["cat", "dog"])
    assert "no misclassified images" in [t.get_text() for ax in fig.axes for t in ax.texts]
    plt.close(fig)


def test_misclassified_grid_titles():
    images = np.random.default_rng(0).uniform(0, 255, (3, 8, 8, 3))
    fig = plots.misclassified_grid(images, np.array([0, 1, 0]), np.array([0.7, 0.9, 0.2]), ["cat", "dog"])
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == ["true: cat\npred: dog (0.70)"]
    plt.close(fig)


def test_learning_curves_panels_and_lines():
    h = {"accuracy": [0.5, 0.6], "val_accuracy": [0.5, 0.55], "loss": [0.7, 0.6], "val_loss": [0.7, 0.65]}
    fig = plots.learning_curves({"a": h, "b": h})
    assert [ax.get_title() for ax in fig.axes] == ["accuracy", "loss"]
    assert all(len(ax.lines) == 4 for ax in fig.axes)  # two runs x (training, validation)
    plt.close(fig)


def test_image_grid_panels():
    fig = plots.image_grid(np.zeros((5, 8, 8, 3)), list("abcde"), columns=4)
    assert sum(1 for ax in fig.axes if ax.images) == 5 and len(fig.axes) == 8
    plt.close(fig)


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
    assert results.load_results(cfg["build_dir"])[-1]["value"] == pytest.approx(accuracy)


def test_history_round_trip_is_per_profile(cfg):
    training.save_history(cfg, {"accuracy": [0.5]}, "run")
    assert training.load_history(cfg, "test", "run") == {"accuracy": [0.5]}
    assert training.load_history(dict(cfg, profile="full"), "test", "run") is None


def test_augmented_model_saves_and_loads_back(tmp_path):
    model = models.small_cnn(48, augment=models.augmentation(), dropout=0.5)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(0).uniform(0, 255, (2, 48, 48, 3)).astype("float32")
    assert np.allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
