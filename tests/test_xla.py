"""XLA: every model the notebooks train or time compiles and runs under XLA, as it would on a GPU.

With a GPU, Keras compiles `fit`, `evaluate` and `predict` with XLA (`jit_compile="auto"`).
Each test here builds a notebook's model as the notebook does (small inputs, random VGG16
weights), makes Keras believe a GPU is present, compiles it with the default `"auto"`, checks
what Keras resolved (XLA, except for the models with `augmentation()` in front: see
`models.xla_note`), then runs one training step and one prediction on the CPU, under XLA.
Every op of the training step must also have an XLA kernel for GPUs: TensorFlow's wheel
registers those kernels even without a GPU, so a missing one shows up here.
"""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import kernels

from course_utils import hub, models, visualize

SIZE = 48  # the smallest size the small CNN's four blocks accept
VGG_SIZE = 32  # VGG16's smallest input
RNG = np.random.default_rng(0)
IMAGES = RNG.uniform(0, 255, (4, SIZE, SIZE, 3)).astype("float32")
VGG_IMAGES = IMAGES[:, :VGG_SIZE, :VGG_SIZE]
BINARY = np.array([0, 1, 0, 1])
# The layers `augmentation()` holds that Keras will not compile with XLA.
# Keras before 3.8 has no RandomShear (compat.random_shear gives an Identity layer there).
AUGMENTATION_BLOCKERS = sorted(["RandomRotation", "RandomTranslation", "RandomZoom"]
                               + (["RandomShear"] if hasattr(keras.layers, "RandomShear") else []))


@pytest.fixture(autouse=True)
def gpu_visible(monkeypatch):
    """Keras decides on XLA from `tf.config.list_physical_devices()`: add a GPU to it."""
    real = tf.config.list_physical_devices
    fake = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")

    def with_gpu(device_type=None):
        return real(device_type) + ([fake] if device_type in (None, "GPU") else [])

    monkeypatch.setattr(tf.config, "list_physical_devices", with_gpu)


@pytest.fixture(scope="module")
def vgg16():
    """A VGG16 base as `models.pretrained_base` gives it, with random weights."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_WEIGHTS_VGG16", "none")
        keras.utils.set_random_seed(0)
        return models.pretrained_base("vgg16", VGG_SIZE)


def _ops_without_gpu_xla_kernel(function, *args) -> list[str]:
    """Op types in `function`'s graph (and the functions it calls) with no XLA kernel for GPUs."""
    graph = tf.function(function).get_concrete_function(*args).graph.as_graph_def()
    types = {node.op for node in graph.node}
    types |= {node.op for f in graph.library.function for node in f.node_def}
    registered = {t: {k.device_type for k in kernels.get_registered_kernels_for_op(t).kernel} for t in types}
    return sorted(t for t, devices in registered.items() if "XLA_GPU_JIT" not in devices and t != "Placeholder")


def train_and_predict(model, x, y, loss="binary_crossentropy", optimizer=None, xla=True):
    """Compile `model` as on a GPU, check Keras' XLA decision, run one training step and one prediction."""
    model.compile(optimizer=optimizer or keras.optimizers.RMSprop(1e-4), loss=loss, metrics=["accuracy"])
    assert model.jit_compile is xla, models.xla_note(model)
    assert models.xla_note(model).startswith("XLA: Keras compiles" if xla else "XLA: not for this model")
    model.train_on_batch(x, y)
    predictions = model.predict_on_batch(x)
    assert np.all(np.isfinite(predictions))
    if xla:
        assert _ops_without_gpu_xla_kernel(model.train_step, (tf.constant(x), tf.constant(y))) == []
    return predictions


def test_scratch_cnn_of_01_and_07():
    train_and_predict(models.small_cnn(SIZE), IMAGES, BINARY)


def test_dropout_cnn_of_02_without_its_augmentation():
    train_and_predict(models.small_cnn(SIZE, dropout=0.5), IMAGES, BINARY)


def test_augmented_cnn_of_02_trains_without_xla_and_says_why():
    model = models.small_cnn(SIZE, augment=models.augmentation(), dropout=0.5)
    train_and_predict(model, IMAGES, BINARY, xla=False)
    assert all(name in models.xla_note(model) for name in AUGMENTATION_BLOCKERS)


def test_augmentation_opts_out_of_xla_exactly_where_xla_has_no_kernel():
    """Keras' `supports_jit` flags are what keep a GPU run from crashing: check them against XLA."""
    for layer in models.augmentation(seed=0).layers:
        try:
            tf.function(lambda x: layer(x, training=True), jit_compile=True)(IMAGES)
            compiles = True
        except tf.errors.InvalidArgumentError as error:
            assert "ImageProjectiveTransformV3" in str(error)
            compiles = False
        assert layer.supports_jit is compiles, type(layer).__name__
    assert sorted(type(l).__name__ for l in models.augmentation().layers if not l.supports_jit) == AUGMENTATION_BLOCKERS


def test_vgg_base_predict_timed_in_03(vgg16):
    vgg16.trainable = False
    prepare = models.preprocess("vgg16")
    batched = vgg16.predict(prepare(VGG_IMAGES), batch_size=4, verbose=0)
    one = vgg16.predict(prepare(VGG_IMAGES[:1]), verbose=0)
    assert vgg16.jit_compile is True  # resolved by `predict` itself: the model is never compiled in 03
    np.testing.assert_allclose(one, batched[:1], rtol=1e-4, atol=1e-4 * float(np.abs(batched).max()))


@pytest.mark.parametrize("normalize, classes", [(False, 2), (True, 17)], ids=["head_03_05", "head_04"])
def test_dense_heads_of_03_to_05(vgg16, normalize, classes):
    features = np.asarray(vgg16(models.preprocess("vgg16")(VGG_IMAGES)))
    labels = np.arange(4) % classes
    loss = "binary_crossentropy" if classes == 2 else "sparse_categorical_crossentropy"
    train_and_predict(models.dense_head(features.shape[1:], classes, normalize=normalize), features, labels, loss)


def _vgg_model(base, head, augment: bool):
    """Notebook 05's model (03's end-to-end variant likewise; 04's without augmentation)."""
    inputs = keras.Input(shape=(VGG_SIZE, VGG_SIZE, 3))
    x = models.augmentation()(inputs) if augment else inputs
    return keras.Model(inputs, head(base(models.preprocess("vgg16")(x))))


def test_flowers_model_of_04_predicts(vgg16):
    models.set_trainable_from(vgg16, None)
    head = models.dense_head(vgg16.output.shape[1:], classes=17, normalize=True)
    train_and_predict(_vgg_model(vgg16, head, augment=False), VGG_IMAGES, np.arange(4),
                      loss="sparse_categorical_crossentropy")


def test_fine_tuned_vgg_of_05(vgg16):
    models.set_trainable_from(vgg16, "block5_conv1")
    head = models.dense_head(vgg16.output.shape[1:], classes=2)
    try:
        # As notebook 05 trains it, augmentation in front: Keras' fallback, no XLA.
        train_and_predict(_vgg_model(vgg16, head, augment=True), VGG_IMAGES, BINARY, xla=False)
        # Everything behind the augmentation compiles: the fallback costs XLA for nothing else.
        train_and_predict(_vgg_model(vgg16, head, augment=False), VGG_IMAGES, BINARY)
    finally:
        models.set_trainable_from(vgg16, None)


def _mobilenet_block(model: str, image_size: int | None):
    """MobileNetV2's operations, small: a strided stem, then one inverted-residual block (1x1
    expansion, depthwise 3x3, ReLU6, batch norm, 1x1 projection, residual sum) named as Keras names
    MobileNetV2's last block, `block_16_`."""
    from keras import layers

    def unit(x, layer, name=None, relu=True):
        x = layers.BatchNormalization(name=name and f"{name}_BN")(layer(x))
        return layers.ReLU(6.0)(x) if relu else x

    inputs = keras.Input((image_size, image_size, 3))
    x = unit(inputs, layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False))
    y = unit(x, layers.Conv2D(48, 1, use_bias=False, name="block_16_expand"), "block_16_expand")
    y = unit(y, layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="block_16_depthwise"), "block_16_depthwise")
    y = unit(y, layers.Conv2D(16, 1, use_bias=False, name="block_16_project"), "block_16_project", relu=False)
    return keras.Model(inputs, layers.Add()([x, y]))


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    """A TF-Hub-format SavedModel written by `hub.export_stand_in`, as tests/test_hub.py does, but
    around a small block of MobileNetV2's operations, quicker to compile than the whole network."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(models, "pretrained_base", _mobilenet_block)
        keras.utils.set_random_seed(0)
        return str(hub.export_stand_in(tmp_path_factory.mktemp("hub") / "features"))


def test_hub_model_of_06_frozen_then_top_fine_tuned(stand_in):
    features = hub.feature_layer(stand_in)
    model = keras.Sequential([keras.Input((VGG_SIZE, VGG_SIZE, 3)), features,
                              keras.layers.BatchNormalization(), keras.layers.Dense(10, activation="softmax")])
    x, y = VGG_IMAGES / 255.0, np.arange(4)
    train_and_predict(model, x, y, "sparse_categorical_crossentropy", keras.optimizers.Adam(1e-3))
    assert features.trainable_weights == []
    top = hub.train_top_only(features, stand_in)
    # The top block's kernels and batch-norm scales train; its moving statistics have no gradient.
    assert len(top) == 9 and not [name for name in top if "moving" in name]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Gradients do not exist")
        train_and_predict(model, x, y, "sparse_categorical_crossentropy", keras.optimizers.Adam(1e-5))
    assert sorted(w.name for w in features.trainable_weights) == sorted(top)


def test_filter_pattern_step_of_07(vgg16):
    feature_model = models.cut_at(vgg16, "block3_conv1")
    step = tf.function(visualize.ascent_step(feature_model).python_function, jit_compile=True)
    filters = [0, 5, 9]
    _, before = visualize.filter_patterns(feature_model, filters, size=VGG_SIZE, steps=0, step_size=10.0)
    images, after = visualize.filter_patterns(feature_model, filters, size=VGG_SIZE, steps=3, step_size=10.0,
                                              jitter=2, step=step)
    assert images.shape == (3, VGG_SIZE, VGG_SIZE, 3) and np.all(np.isfinite(images))
    live = before > 0
    assert live.any() and np.all(after[live] > before[live])
    select = tf.one_hot(filters, depth=feature_model.output.shape[-1])
    args = (tf.constant(images), select, tf.constant([1, 1]), tf.constant(10.0))
    assert _ops_without_gpu_xla_kernel(step.python_function, *args) == []


def test_grad_cam_of_07(vgg16):
    head = models.dense_head(vgg16.output.shape[1:], classes=2)
    inputs = keras.Input(shape=(VGG_SIZE, VGG_SIZE, 3))
    conv_model = keras.Model(inputs, models.cut_at(vgg16, "block5_conv3")(models.preprocess("vgg16")(inputs)))
    maps = keras.Input(shape=conv_model.output_shape[1:])
    classifier_model = keras.Model(maps, head(vgg16.get_layer("block5_pool")(maps)))

    def heatmaps(images):
        return visualize.grad_cam_maps(conv_model, classifier_model, images)

    compiled = tf.function(heatmaps, jit_compile=True)(tf.constant(VGG_IMAGES)).numpy()
    eager = heatmaps(tf.constant(VGG_IMAGES)).numpy()
    np.testing.assert_allclose(compiled, eager, rtol=1e-3, atol=1e-5 * max(1.0, float(eager.max())))
    assert _ops_without_gpu_xla_kernel(heatmaps, tf.constant(VGG_IMAGES)) == []


def test_the_check_fails_for_a_layer_xla_cannot_compile():
    """What the tests above catch: a layer that claims XLA support but has no XLA kernel."""
    rotation = keras.layers.RandomRotation(0.1, fill_mode="nearest")
    rotation.supports_jit = True  # as if Keras had forgotten to opt it out
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), rotation, keras.layers.Flatten(),
                              keras.layers.Dense(1, activation="sigmoid")])
    with pytest.raises(tf.errors.InvalidArgumentError, match="ImageProjectiveTransformV3"):
        train_and_predict(model, IMAGES, BINARY)
    graph_ops = _ops_without_gpu_xla_kernel(lambda x: rotation(x, training=True), tf.constant(IMAGES))
    assert graph_ops == ["ImageProjectiveTransformV3"]


def test_conv_head_of_03():
    from test_notebook_code import Stub, notebook_value

    features = RNG.uniform(0, 100, (4, 4, 4, 512)).astype("float32")  # block5_pool's maps at 128x128
    conv_head = notebook_value("03_vgg_feature_extraction", "conv_head", x_train=Stub(shape=features.shape))
    train_and_predict(conv_head, features, BINARY, optimizer=keras.optimizers.Adam(1e-4))


def test_block5_and_head_of_04_phase_two(vgg16):
    models.set_trainable_from(vgg16, "block5_conv1")
    try:
        top_input = keras.Input(shape=vgg16.get_layer("block4_pool").output.shape[1:])
        x = top_input
        for name in ("block5_conv1", "block5_conv2", "block5_conv3", "block5_pool"):
            x = vgg16.get_layer(name)(x)
        head = models.dense_head(vgg16.output.shape[1:], classes=17, normalize=True)
        features = np.asarray(models.cut_at(vgg16, "block4_pool")(models.preprocess("vgg16")(VGG_IMAGES)))
        train_and_predict(keras.Model(top_input, head(x)), features, np.arange(4),
                          loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.RMSprop(1e-5))
    finally:
        models.set_trainable_from(vgg16, None)


def test_upsampling_of_04():
    """The enlarging front of 04's InceptionV3 (rescaling, UpSampling2D, Resizing) on a small stack: the
    full InceptionV3 takes minutes to compile here, and its operations (convolutions, batch norm,
    pooling, concatenation) are those the other tests compile."""
    small = keras.Input(shape=(16, 16, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(small)
    x = keras.layers.Concatenate()([keras.layers.UpSampling2D(size=3)(x), keras.layers.Resizing(48, 48)(x)])
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.BatchNormalization()(keras.layers.Conv2D(8, 3)(x)))
    model = keras.Model(small, keras.layers.Dense(17, activation="softmax")(x))
    train_and_predict(model, IMAGES[:, :16, :16], np.arange(4), loss="sparse_categorical_crossentropy",
                      optimizer=keras.optimizers.Adam(1e-3))


def test_scratch_cnn_of_06():
    from test_notebook_code import notebook_value

    scratch = notebook_value("06_tfhub_mobilenet_cifar10", "scratch")
    train_and_predict(scratch, VGG_IMAGES, np.arange(4), loss="sparse_categorical_crossentropy",
                      optimizer=keras.optimizers.Adam(1e-3))
