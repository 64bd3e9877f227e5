"""Looking inside networks (notebook 07): activations, filter patterns, Grad-CAM.

Notebook 07 writes the activation model and one gradient-ascent step out in
full; the functions here are the batched versions it then uses, kept for
reuse and for `benchmarks/filter_visualisation.py`.
"""

from __future__ import annotations

import contextlib

import numpy as np


def interior(activations, border: int):
    """The activation maps without `border` pixels on each side (fewer when the map is too
    small to keep a pixel): the filter-pattern loss leaves out the pixels whose receptive
    field reaches into the zero padding, where ascent would grow edge artefacts."""
    size = min(activations.shape[1], activations.shape[2])
    border = max(0, min(border, (size - 1) // 2))
    return activations[:, border:activations.shape[1] - border, border:activations.shape[2] - border]


def ascent_step(feature_model, border: int = 2):
    """A compiled gradient-ascent step for `feature_model` (maps prepared images to
    one layer's activations): `step(images, select, shift, step_size)` returns the
    images moved by `step_size` along each one's RMS-normalised gradient (plus 1e-5
    in the norm), where image i climbs the mean activation, inside `border` (see
    `interior`), of the filter chosen by row i of the one-hot `select`, and `shift`
    rolls the images first (jitter)."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def step(images, select, shift, step_size):
        with tf.GradientTape() as tape:
            tape.watch(images)
            activations = interior(feature_model(tf.roll(images, shift, axis=(1, 2)), training=False), border)
            loss = tf.reduce_sum(tf.reduce_mean(activations, axis=(1, 2)) * select)
        grads = tape.gradient(loss, images)
        grads /= tf.sqrt(tf.reduce_mean(tf.square(grads), axis=(1, 2, 3), keepdims=True)) + 1e-5
        return images + step_size * grads

    return step


def filter_patterns(feature_model, filters: list[int], size: int, steps: int, step_size: float,
                    seed: int = 0, jitter: int = 0, noise: float = 20.0,
                    step=None, border: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Input images that maximise the mean activation of each filter, all filters in one batch.

    Starts from grey (zero once prepared) plus uniform noise of +-`noise` and
    takes `steps` steps of `ascent_step` (pass `step` to reuse a compiled one).
    `jitter` shifts the image by up to that many pixels before every step; `border`
    pixels on each side of the maps stay out of the loss (a `step` passed in keeps its own).
    Returns the images and each filter's final mean activation inside the border.
    """
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    step = step or ascent_step(feature_model, border)
    images = tf.constant(rng.uniform(-noise, noise, (len(filters), size, size, 3)).astype("float32"))
    select = tf.one_hot(filters, depth=feature_model.output.shape[-1])
    for _ in range(steps):
        shift = tf.constant(rng.integers(-jitter, jitter + 1, size=2), dtype=tf.int32)
        images = step(images, select, shift, tf.constant(step_size, tf.float32))
    final = tf.reduce_sum(tf.reduce_mean(interior(feature_model(images, training=False), border), axis=(1, 2))
                          * select, axis=1)
    return images.numpy(), final.numpy()


def to_displayable(image: np.ndarray) -> np.ndarray:
    """Normalise a pattern to a displayable RGB image in [0, 1] (mean 0.5, std 0.1, clipped)."""
    image = image - image.mean()
    image = image / (image.std() + 1e-5) * 0.1 + 0.5
    return np.clip(image, 0.0, 1.0)[..., ::-1]  # VGG inputs are BGR


def grad_cam(conv_model, classifier_model, images, class_index: int | None = None) -> np.ndarray:
    """Grad-CAM heatmaps, one per image, in [0, 1] at the conv map's resolution.

    The two-model pattern that works with a nested base: `conv_model` maps
    images to the last convolution's maps, `classifier_model` maps those maps
    to the predictions. For one sigmoid output, class 1 is the positive class
    and class 0 its complement; `class_index=None` explains the predicted class.
    The class score differentiated is the logit, as in the Keras Grad-CAM example
    (see `grad_cam_maps`). An image without evidence for the class gets a heatmap of zeros.
    """
    heatmap = grad_cam_maps(conv_model, classifier_model, images, class_index).numpy()
    peak = heatmap.max(axis=(1, 2), keepdims=True)
    return np.where(peak > 0, heatmap / np.where(peak > 0, peak, 1.0), 0.0)


@contextlib.contextmanager
def logits_of(classifier_model):
    """Within the block, `classifier_model` outputs its logits: its last layer (inside nested
    models too) computes without its sigmoid or softmax; restored on leaving.

    Grad-CAM needs the gradient of the class score, and a saturated probability has none: a
    sigmoid that rounds to 1.0 in float32 has a gradient of exactly 0, and its heatmap would
    come out all zero. The logit before it keeps its gradient. A last layer without activation
    (already logits) is left as it is; any other raises `ValueError`.
    """
    import keras

    last = classifier_model
    while getattr(last, "layers", None):
        last = last.layers[-1]
    activation = getattr(last, "activation", None)
    squashing = (keras.activations.sigmoid, keras.activations.softmax)
    if activation in (None, keras.activations.linear):
        yield classifier_model
        return
    if activation not in squashing:
        raise ValueError(f"Grad-CAM needs a classifier ending in a sigmoid, a softmax or no activation; "
                         f"its last layer {last.name!r} has {getattr(activation, '__name__', activation)}")
    last.activation = keras.activations.linear
    try:
        yield classifier_model
    finally:
        last.activation = activation


def grad_cam_maps(conv_model, classifier_model, images, class_index: int | None = None):
    """The TensorFlow part of `grad_cam`: the unnormalised heatmaps, as a tensor.

    The score of a class is its logit (`logits_of`); for one sigmoid unit with logit z,
    class 1 scores z and class 0 scores -z (sigmoid(-z) = 1 - sigmoid(z)).
    Tensor operations only, so that it also runs inside `tf.function`, with XLA
    too (`tests/test_xla.py` compiles it)."""
    import tensorflow as tf

    conv = tf.convert_to_tensor(conv_model(images, training=False))
    with tf.GradientTape() as tape, logits_of(classifier_model):
        tape.watch(conv)
        logits = classifier_model(conv, training=False)
        if logits.shape[-1] == 1:
            z = logits[:, 0]
            chosen = tf.cast(z >= 0.0, tf.int32) if class_index is None else tf.fill(tf.shape(z), class_index)
            score = tf.where(chosen == 1, z, -z)
        else:
            chosen = tf.argmax(logits, axis=-1, output_type=tf.int32) if class_index is None \
                else tf.fill(tf.shape(logits)[:1], class_index)
            score = tf.gather(logits, chosen, axis=1, batch_dims=1)
    grads = tape.gradient(score, conv)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    return tf.nn.relu(tf.reduce_sum(weights * conv, axis=-1))
