"""course_utils.plots: the figures the notebooks share."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_utils import plots


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
    assert len(fig.axes[1].lines) == 4  # two runs x (training, validation)
    # Accuracy also marks each run's kept epoch: the best validation accuracy (epoch 2 here).
    assert len(fig.axes[0].lines) == 6 and list(fig.axes[0].lines[2].get_xdata()) == [2]
    plt.close(fig)


def test_image_grid_panels():
    fig = plots.image_grid(np.zeros((5, 8, 8, 3)), list("abcde"), columns=4)
    assert sum(1 for ax in fig.axes if ax.images) == 5 and len(fig.axes) == 8
    plt.close(fig)


def test_feature_maps_shows_the_channels_picked_titled_by_index():
    maps = np.random.default_rng(0).random((8, 8, 32))
    fig = plots.feature_maps(maps, "conv", channels=[15, 25, 30], columns=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in shown] == ["15", "25", "30"]
    assert np.array_equal(shown[1].images[0].get_array(), maps[..., 25])
    assert "3 of 32 channels" in fig._suptitle.get_text()


def test_transfer_workflow_freezes_the_base_then_unfreezes_its_top():
    fig = plots.transfer_workflow(blocks=("b1", "b2", "b3"), unfrozen=2)
    phase_one, phase_two = fig.axes
    assert phase_one.get_title().startswith("Phase 1") and phase_two.get_title().startswith("Phase 2")
    states = [[patch.get_gid() for patch in ax.patches] for ax in fig.axes]
    assert states[0] == ["frozen", "frozen", "frozen", "trained"]  # the base's three blocks, then the head
    assert states[1] == ["frozen", "trained", "trained", "trained"]
    plt.close(fig)
    with pytest.raises(ValueError, match="between 1 and 3"):
        plots.transfer_workflow(blocks=("b1", "b2", "b3"), unfrozen=4)
