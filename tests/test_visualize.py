"""course_utils.visualize (notebook 07): gradient ascent and Grad-CAM."""

import keras
import numpy as np
import pytest

from course_utils import models, visualize


def test_gradient_ascent_increases_the_filters_activation(monkeypatch):
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    keras.utils.set_random_seed(0)
    feature_model = models.cut_at(models.pretrained_base("vgg16", 32), "block2_conv1")
    filters = [0, 5, 9]
    _, before = visualize.filter_patterns(feature_model, filters, size=32, steps=0, step_size=10.0)
    images, after = visualize.filter_patterns(feature_model, filters, size=32, steps=5, step_size=10.0)
    assert images.shape == (3, 32, 32, 3)
    live = before > 0
    assert live.any() and np.all(after[live] > before[live])
    shown = visualize.to_displayable(images[0])
    assert shown.min() >= 0.0 and shown.max() <= 1.0


def test_grad_cam_shape_range_and_class_response():
    # Channel c of the conv maps carries the evidence for class c: class 0 on the left, class 1 on the right.
    conv_model = keras.Sequential([keras.Input((8, 8, 2)), keras.layers.Identity()])
    classifier = keras.Sequential([keras.Input((8, 8, 2)), keras.layers.GlobalAveragePooling2D(),
                                   keras.layers.Dense(2, activation="softmax")])
    classifier.layers[-1].set_weights([np.eye(2, dtype="float32"), np.zeros(2, "float32")])
    maps = np.zeros((1, 8, 8, 2), "float32")
    maps[0, :, :4, 0] = 1.0
    maps[0, :, 4:, 1] = 1.0
    left = visualize.grad_cam(conv_model, classifier, maps, class_index=0)
    right = visualize.grad_cam(conv_model, classifier, maps, class_index=1)
    assert left.shape == right.shape == (1, 8, 8)
    for heatmap in (left, right):
        assert heatmap.min() >= 0.0 and heatmap.max() == pytest.approx(1.0)
    assert left[0, :, :4].mean() > left[0, :, 4:].mean()
    assert right[0, :, 4:].mean() > right[0, :, :4].mean()


def test_grad_cam_for_one_sigmoid_unit():
    conv_model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Identity()])
    classifier = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.GlobalAveragePooling2D(),
                                   keras.layers.Dense(1, activation="sigmoid")])
    classifier.layers[-1].set_weights([np.ones((1, 1), "float32"), np.zeros(1, "float32")])
    maps = np.zeros((1, 4, 4, 1), "float32")
    maps[0, :2, :2, 0] = 1.0
    dog = visualize.grad_cam(conv_model, classifier, maps, class_index=1)
    assert dog[0, :2, :2].min() == pytest.approx(1.0) and dog[0, 2:, 2:].max() == 0.0
    assert visualize.grad_cam(conv_model, classifier, maps, class_index=0).max() == 0.0  # no evidence for class 0


def test_grad_cam_of_a_saturated_sigmoid_is_not_all_zero():
    # A sure prediction: the logit is 25, and sigmoid(25) rounds to exactly 1.0 in float32, whose
    # gradient (p * (1 - p)) is exactly 0. Grad-CAM on the probability drew an all-zero heatmap.
    conv_model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Identity()])
    head = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(1, activation="sigmoid")], name="head")
    head.layers[-1].set_weights([np.full((1, 1), 100.0, "float32"), np.zeros(1, "float32")])
    maps_in = keras.Input((4, 4, 1))
    classifier = keras.Model(maps_in, head(maps_in))  # nested, as notebook 07's classifier is
    maps = np.zeros((1, 4, 4, 1), "float32")
    maps[0, :2, :2, 0] = 1.0
    assert float(classifier(maps)[0, 0]) == 1.0  # saturated
    dog = visualize.grad_cam(conv_model, classifier, maps)  # the predicted class: dog
    assert dog[0, :2, :2].min() == pytest.approx(1.0) and dog[0, 2:, 2:].max() == 0.0
    assert head.layers[-1].activation is keras.activations.sigmoid  # the classifier is left as it was
    assert float(classifier(maps)[0, 0]) == 1.0


def test_grad_cam_refuses_a_classifier_whose_last_activation_is_not_a_probability():
    classifier = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.GlobalAveragePooling2D(),
                                   keras.layers.Dense(1, activation="relu")])
    conv_model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Identity()])
    with pytest.raises(ValueError, match="sigmoid, a softmax or no activation"):
        visualize.grad_cam(conv_model, classifier, np.ones((1, 4, 4, 1), "float32"))
