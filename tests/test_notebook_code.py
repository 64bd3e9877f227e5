"""Where a notebook writes a piece out and `course_utils` keeps it for later notebooks, both are
the same network: same layers, same settings, same parameter counts (as d2l saves the library from
the chapter's own cell: code taught in a notebook and code kept in the package must not drift apart)."""

import ast
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from course_utils import compat, data, hub, models, pretrained, visualize

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def notebook_value(notebook: str, name: str, **namespace):
    """Evaluate the first assignment to `name` (or definition of a function `name`, or the `with`
    statement around either) in `notebook`'s code cells, with `namespace` standing in for what the
    cells before it computed."""
    cells = json.loads((NOTEBOOKS / f"{notebook}.ipynb").read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] != "code" or cell.get("id") == "install-course":
            continue
        for statement in ast.parse("".join(cell["source"])).body:
            if _defines(statement, name):
                scope = {"keras": keras, "layers": layers, "tf": tf, "np": np,
                         "course_utils": __import__("course_utils"), **namespace}
                exec(compile(ast.Module([statement], []), notebook, "exec"), scope)
                return scope[name]
    raise AssertionError(f"{notebook} assigns no {name!r}")


def _defines(statement, name: str) -> bool:
    """Whether `statement` assigns `name` or defines a function `name`, directly or in a `with` block."""
    if isinstance(statement, ast.With):
        return any(_defines(inner, name) for inner in statement.body)
    targets = statement.targets if isinstance(statement, ast.Assign) else [statement]
    return any(getattr(t, "id", getattr(t, "name", None)) == name for t in targets)


def architecture(model):
    """Each layer's type and its settings that change what the network computes."""
    keep = ("filters", "kernel_size", "units", "activation", "rate", "pool_size", "scale", "factor",
            "height_factor", "width_factor", "x_factor", "fill_mode", "mode")
    rows = []
    for layer in model.layers:
        config = layer.get_config()
        rows.append((type(layer).__name__, {key: config[key] for key in keep if key in config}))
    return rows, model.count_params()


class Stub:
    """Stands in for an object a notebook computed earlier (a base, a split) by the attributes used."""

    def __init__(self, **attributes):
        self.__dict__.update(attributes)


def test_notebook_01_network_is_models_small_cnn():
    model = notebook_value("01_scratch_cnn_baseline", "model", size=64)
    assert architecture(model) == architecture(models.small_cnn(64))


def test_notebook_02_augmentation_is_models_augmentation():
    augment, kept = notebook_value("02_data_augmentation", "augment"), models.augmentation()
    for stack in (augment, kept):
        stack.build((None, 32, 32, 3))
    assert architecture(augment) == architecture(kept)
    assert type(augment.layers[3]) is type(compat.random_shear(0.2))


def shapes(model) -> list[tuple]:
    """Each layer's output shape."""
    return [tuple(layer.output.shape) for layer in model.layers]


def test_notebook_02_network_is_models_small_cnn_with_augmentation_and_dropout():
    augment = notebook_value("02_data_augmentation", "augment")
    written_out = notebook_value("02_data_augmentation", "model", size=64, augment=augment)
    kept = models.small_cnn(64, augment=models.augmentation(), dropout=0.5)
    assert architecture(written_out) == architecture(kept) and shapes(written_out) == shapes(kept)
    assert architecture(written_out.layers[0]) == architecture(kept.layers[0])  # the augmentation, in front
    kinds = [type(layer).__name__ for layer in written_out.layers]
    assert kinds.index("Dropout") == kinds.index("Flatten") + 1  # the flattened features, before the dense layer


def test_notebook_03_head_is_models_dense_head():
    x_train = Stub(shape=(8, 4, 4, 512))
    head = notebook_value("03_vgg_feature_extraction", "head", x_train=x_train)
    assert architecture(head) == architecture(models.dense_head((4, 4, 512), classes=2))


def notebook_03_base(network: str = "vgg16"):
    """Notebook 03's base, built by its own lines, for `network` at 32x32."""
    scope = dict(NETWORK=network, session=Stub(image_size=32), pretrained=pretrained)
    return notebook_value("03_vgg_feature_extraction", "base",
                          VGG=notebook_value("03_vgg_feature_extraction", "VGG", **scope), **scope)


@pytest.mark.parametrize("model", ["vgg16", "vgg19"])
def test_notebook_03_base_is_models_pretrained_base(tmp_path, monkeypatch, model):
    keras.utils.set_random_seed(0)
    weights = tmp_path / f"{model}.weights.h5"  # a weights file as a lab copy provides one
    models.random_base(model, 32).save_weights(weights)
    monkeypatch.setenv(f"COURSE_WEIGHTS_{model.upper()}", str(weights))
    written_out, kept = notebook_03_base(model), models.pretrained_base(model, 32)
    assert architecture(written_out) == architecture(kept) and shapes(written_out) == shapes(kept)
    assert all(np.array_equal(a, b) for a, b in zip(written_out.get_weights(), kept.get_weights()))


@pytest.mark.filterwarnings("ignore:Skipping nested container")  # Keras' own, on the way to its error
def test_notebook_03_base_with_weights_of_another_network_names_the_setting(tmp_path, monkeypatch):
    other = tmp_path / "small_cnn.weights.h5"  # a valid Keras 3 weights file, of another network
    models.small_cnn(64).save_weights(other)
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(other))
    with pytest.raises(pretrained.WeightsError, match=r"COURSE_WEIGHTS_VGG16: local file small_cnn.weights.h5 cannot "
                                                      r"be used: its tensors fit no network the course knows"):
        notebook_03_base()


def test_notebook_03_feature_loop_is_models_extract_features(monkeypatch):
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    keras.utils.set_random_seed(0)
    base = models.pretrained_base("vgg16", 32)
    images = np.random.default_rng(0).uniform(0, 255, (5, 32, 32, 3)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices((images, np.arange(5))).batch(2)  # a smaller last batch
    extract = notebook_value("03_vgg_feature_extraction", "extract_features", base=base,
                             prepare=models.preprocess("vgg16"))
    (written_out, labels), (kept, kept_labels) = extract(dataset), models.extract_features(base, dataset, "vgg16")
    assert written_out.shape == kept.shape == (5, 1, 1, 512) and np.allclose(written_out, kept, atol=1e-5)
    assert np.array_equal(labels, kept_labels) and np.array_equal(labels, np.arange(5))


def test_notebook_04_head_is_models_dense_head_normalized():
    base = Stub(output=Stub(shape=(None, 4, 4, 512)))
    head = notebook_value("04_head_swap", "head", base=base, splits=Stub(class_names=[str(i) for i in range(17)]))
    assert architecture(head) == architecture(models.dense_head((4, 4, 512), classes=17, normalize=True))


def test_notebook_04_cut_is_models_cut_at():
    full = keras.applications.VGG16(include_top=True, weights=None)
    cut = notebook_value("04_head_swap", "cut", full=full)
    assert architecture(cut) == architecture(models.cut_at(full, "block5_pool"))


def notebook_loop(notebook: str, over: str, **namespace) -> dict:
    """Run the first `for` loop over `over` ("base.layers") in `notebook`'s code cells, with
    `namespace` standing in for what the cells before it computed; returns the namespace after it."""
    cells = json.loads((NOTEBOOKS / f"{notebook}.ipynb").read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] != "code" or cell.get("id") == "install-course":
            continue
        for statement in ast.parse("".join(cell["source"])).body:
            if isinstance(statement, ast.For) and ast.unparse(statement.iter) == over:
                scope = {"keras": keras, "np": np, **namespace}
                exec(compile(ast.Module([statement], []), notebook, "exec"), scope)
                return scope
    raise AssertionError(f"{notebook} has no loop over {over!r}")


def test_notebook_04_freezing_loop_is_models_set_trainable_from_none():
    written_out = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    kept = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    notebook_loop("04_head_swap", "base.layers", base=written_out)
    models.set_trainable_from(kept, None)
    assert [layer.trainable for layer in written_out.layers] == [layer.trainable for layer in kept.layers]
    assert models.parameter_counts(written_out) == models.parameter_counts(kept) == {
        "trainable": 0, "frozen": kept.count_params()}


def test_notebook_04_weights_by_name_is_models_copy_weights_by_name():
    keras.utils.set_random_seed(0)
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    # Targets of another input size and their own random weights (the notebook's is the complete VGG16).
    written_out, kept = (keras.applications.VGG16(include_top=False, weights=None, input_shape=(48, 48, 3))
                         for _ in range(2))
    source_layers = notebook_value("04_head_swap", "source_layers", base=base)
    scope = notebook_loop("04_head_swap", "full.layers", full=written_out, source_layers=source_layers, copied=[])
    assert scope["copied"] == models.copy_weights_by_name(base, kept)
    for layer in written_out.layers:
        if layer.name in scope["copied"]:
            for a, b in zip(layer.get_weights(), kept.get_layer(layer.name).get_weights()):
                assert np.array_equal(a, b)


def test_notebook_07_ascent_step_is_visualize_ascent_step(monkeypatch):
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    keras.utils.set_random_seed(0)
    feature_model = models.cut_at(models.pretrained_base("vgg16", 32), "block2_conv1")
    border = notebook_value("07_visualizing_filters_and_activations", "BORDER")
    ascend = notebook_value("07_visualizing_filters_and_activations", "ascend", feature_model=feature_model,
                            BORDER=border)
    image = tf.random.uniform((1, 32, 32, 3), -20.0, 20.0, seed=1)
    written_out, _ = ascend(image, 5, step_size=10.0)
    args = (image, tf.one_hot([5], 128), tf.constant([0, 0]), 10.0)
    kept = visualize.ascent_step(feature_model, border)(*args)
    assert np.allclose(written_out, kept, atol=1e-3)
    assert border == 2 and not np.allclose(written_out, visualize.ascent_step(feature_model, 0)(*args), atol=1e-3)


@pytest.mark.parametrize("model", ["vgg16", "vgg19"])
def test_notebook_05_unfreezing_loop_is_models_set_trainable_from_block5(model):
    written_out, kept = (models.random_base(model, 32) for _ in range(2))
    for base in (written_out, kept):
        models.set_trainable_from(base, None)  # phase one: all frozen
    notebook_loop("05_unfreezing_block5", "base.layers", base=written_out)
    models.set_trainable_from(kept, "block5_conv1")
    assert [layer.trainable for layer in written_out.layers] == [layer.trainable for layer in kept.layers]
    counts = models.parameter_counts(written_out)
    assert counts == models.parameter_counts(kept) and 0 < counts["trainable"] < counts["frozen"]


@pytest.fixture(scope="module")
def small_saved_model(tmp_path_factory) -> str:
    """A tiny feature-vector SavedModel in the TF-Hub format (images to 4 features)."""

    class Features(tf.Module):
        def __init__(self):
            super().__init__()
            self.kernel = tf.Variable(tf.reshape(tf.range(12, dtype=tf.float32), [3, 4]))

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def __call__(self, images):
            return tf.reduce_mean(images, axis=[1, 2]) @ self.kernel

    path = tmp_path_factory.mktemp("hub") / "small"
    tf.saved_model.save(Features(), str(path))
    return str(path)


def test_notebook_06_hub_layer_is_hub_feature_layer(small_saved_model):
    written_out = notebook_value("06_tfhub_mobilenet_cifar10", "features", path=small_saved_model, hub=hub)
    kept = hub.feature_layer(small_saved_model)
    assert type(written_out) is type(kept) is hub.HubFeatures
    for attribute in ("filepath", "call_endpoint", "trainable", "name"):
        assert getattr(written_out, attribute) == getattr(kept, attribute), attribute
    assert [w.name for w in written_out.weights] == [w.name for w in kept.weights] == ["Variable"]  # renamed
    images = np.random.default_rng(0).random((2, 8, 8, 3), dtype="float32")
    assert np.allclose(written_out(images), kept(images))


def test_notebook_06_hub_layer_on_a_damaged_folder_names_it_and_the_fix(small_saved_model, tmp_path):
    import shutil

    folder = tmp_path / "damaged"
    shutil.copytree(small_saved_model, folder)
    (folder / "saved_model.pb").write_bytes(b"not a SavedModel")
    with pytest.raises(data.DataNotAvailable, match=rf"^{folder} is a SavedModel folder that TensorFlow cannot "
                                                     r"load, .*; delete that folder and run again$"):
        notebook_value("06_tfhub_mobilenet_cifar10", "features", path=str(folder), hub=hub)


def test_notebook_06_streaming_is_data_to_model_input():
    model_input = notebook_value("06_tfhub_mobilenet_cifar10", "model_input", size=48)
    streamed = notebook_value("06_tfhub_mobilenet_cifar10", "streamed", model_input=model_input)
    images = np.random.default_rng(0).uniform(0, 255, (5, 32, 32, 3)).astype("float32")
    source = tf.data.Dataset.from_tensor_slices((images, np.arange(5))).batch(2)
    written_out, kept = streamed(source), data.to_model_input(source, 48)
    assert written_out.element_spec == kept.element_spec
    assert written_out.element_spec[0].shape.as_list() == [None, 48, 48, 3]
    for (a, labels_a), (b, labels_b) in zip(written_out, kept, strict=True):
        assert np.array_equal(a, b) and np.array_equal(labels_a, labels_b)
        assert 0.0 <= float(tf.reduce_min(a)) and float(tf.reduce_max(a)) <= 1.0


def _grad_cam_models(scale: float):
    """Notebook 07's two models in miniature: maps to maps, and a nested head with one sigmoid unit
    whose logit is `scale` times the maps' first channel minus their second, averaged."""
    conv_model = keras.Sequential([keras.Input((4, 4, 2)), layers.Identity()])
    head = keras.Sequential([keras.Input((4, 4, 2)), layers.GlobalAveragePooling2D(),
                             layers.Dense(1, activation="sigmoid")], name="head")
    head.layers[-1].set_weights([np.array([[scale], [-scale]], "float32"), np.zeros(1, "float32")])
    maps = keras.Input((4, 4, 2))
    return conv_model, keras.Model(maps, head(maps))


@pytest.mark.parametrize("scale", [1.0, 100.0])  # 100: saturated, sigmoid(z) rounds to exactly 0 or 1
def test_notebook_07_grad_cam_is_visualize_grad_cam(scale):
    conv_model, classifier_model = _grad_cam_models(scale)
    images = np.random.default_rng(0).random((6, 4, 4, 2)).astype("float32")
    images[:3, :2, :2, 0] += 2.0  # dogs, their evidence top left
    images[3:, 2:, 2:, 1] += 2.0  # cats, bottom right
    grad_cam = notebook_value("07_visualizing_filters_and_activations", "grad_cam", conv_model=conv_model,
                              classifier_model=classifier_model, logits_of=_notebook_07_logits_of())
    written_out, kept = grad_cam(images), visualize.grad_cam(conv_model, classifier_model, images)
    assert written_out.shape == (6, 4, 4) and np.allclose(written_out, kept, atol=1e-6)
    assert np.all(written_out.max(axis=(1, 2)) == pytest.approx(1.0))  # every image has its evidence
    assert written_out[:3, :2, :2].mean() > written_out[:3, 2:, 2:].mean()
    assert written_out[3:, 2:, 2:].mean() > written_out[3:, :2, :2].mean()
    if scale == 100.0:
        assert np.all(np.asarray(classifier_model(images))[:3, 0] == 1.0)  # dogs: no gradient through the sigmoid


@pytest.mark.parametrize("notebook, name", [
    ("02_data_augmentation", "model"), ("03_vgg_feature_extraction", "head"),
    ("03_vgg_feature_extraction", "base"), ("03_vgg_feature_extraction", "extract_features"),
    ("04_head_swap", "head"), ("06_tfhub_mobilenet_cifar10", "features"),
    ("06_tfhub_mobilenet_cifar10", "streamed"), ("07_visualizing_filters_and_activations", "grad_cam")])
def test_a_missing_piece_is_an_error_not_a_pass(notebook, name):
    with pytest.raises(AssertionError, match="assigns no"):
        notebook_value(notebook, name + "_that_does_not_exist")


@pytest.mark.parametrize("notebook", ["04_head_swap", "05_unfreezing_block5"])
def test_a_missing_loop_is_an_error_not_a_pass(notebook):
    with pytest.raises(AssertionError, match="has no loop over"):
        notebook_loop(notebook, "base.layers_that_do_not_exist")


def test_notebook_04_checks_a_handful_of_predictions_with_direct_calls():
    """Each model's `predict` traces its own prediction graph (again for a smaller last batch),
    and TensorFlow counts the traces of every model's graph together (keyed by Keras' code):
    with 04's checks on 8 inputs (`fresh`, `head`, then `model` after `predict_all` had traced
    it batch by batch) they reached 5 of the last 10 calls, and the learner got two
    `tf.function retracing` warnings. The checks call the models directly instead."""
    cells = json.loads((NOTEBOOKS / "04_head_swap.ipynb").read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    calls = [call.func.value.id for call in ast.walk(ast.parse(code))
             if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "predict"
             and isinstance(call.func.value, ast.Name)]
    assert calls == ["top"], calls  # one batched prediction over the phase-two test features


def test_the_notebooks_take_every_learning_rate_and_epoch_count_from_the_profile():
    """Training settings are the profile's (`config.PROFILES`, read as `session.head_learning_rate`), never
    numbers written into a notebook's code: no optimiser built with a literal rate, no literal `epochs=`."""
    literals = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "code" or cell.get("id") == "install-course":
                continue
            for call in (node for node in ast.walk(ast.parse("".join(cell["source"]))) if isinstance(node, ast.Call)):
                settings = [k.value for k in call.keywords if k.arg in ("learning_rate", "epochs", "initial_epoch")]
                if ".optimizers." in f".{ast.unparse(call.func)}":
                    settings += call.args[:1]
                literals += [f"{path.stem}, cell {cell['id']}: {ast.unparse(call)}" for value in settings
                             if isinstance(value, ast.Constant)]
    assert not literals, "\n".join(literals)


def test_notebook_03_preprocess_is_models_preprocess():
    preprocess_input = notebook_value("03_vgg_feature_extraction", "preprocess_input", NETWORK="vgg16")
    prepare = notebook_value("03_vgg_feature_extraction", "prepare", preprocess_input=preprocess_input)
    images = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    kept = images.copy()
    assert np.allclose(prepare(images), models.preprocess("vgg16")(images))
    assert np.array_equal(images, kept)  # the caller's images are left as they were
    assert np.allclose(prepare(tf.constant(images)), models.preprocess("vgg16")(tf.constant(images)))
    assert notebook_value("03_vgg_feature_extraction", "preprocess_input", NETWORK="vgg19") is \
        models.preprocess_input("vgg19")


@pytest.mark.parametrize("orientation, fmt", [(1, "PNG"), (6, "PNG"), (3, "PNG"), (8, "JPEG")])
def test_notebook_03_own_photo_is_prepared_as_the_training_pipeline_prepares_it(tmp_path, orientation, fmt):
    """The photo goes through what every training image went through: turned upright by its EXIF
    orientation, resized by `tf.image.resize`, rounded to whole pixel values (`data._pipeline`)."""
    from PIL import Image

    rng = np.random.default_rng(orientation)
    stored = Image.fromarray(rng.integers(0, 256, (30, 20, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"photo.{fmt.lower()}"
    stored.save(path, fmt, exif=exif)
    from PIL import ImageOps

    load_photo = notebook_value("03_vgg_feature_extraction", "load_photo", Image=Image, ImageOps=ImageOps)
    [(batch, _)] = data._pipeline([str(path)], [0], image_size=12, batch_size=1, shuffle=False, seed=0)
    written_out = load_photo(path, 12)
    # Rounding: 1 level apart at most. A JPEG is decoded by Pillow here and by TensorFlow in the pipeline, whose
    # chroma upsampling differs by a few levels on this noise (3 of 255 measured).
    assert written_out.shape == (12, 12, 3) and np.abs(written_out - batch.numpy()[0]).max() <= (4 if fmt == "JPEG" else 1)


def _notebook_07_logits_of():
    import contextlib

    return notebook_value("07_visualizing_filters_and_activations", "logits_of", contextlib=contextlib)


@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_notebook_07_logits_of_is_visualize_logits_of(scale):
    _, classifier_model = _grad_cam_models(scale)
    maps = np.random.default_rng(1).random((5, 4, 4, 2)).astype("float32")
    probabilities = np.asarray(classifier_model(maps))
    with _notebook_07_logits_of()(classifier_model):
        written_out = np.asarray(classifier_model(maps))
    with visualize.logits_of(classifier_model):
        kept = np.asarray(classifier_model(maps))
    assert np.allclose(written_out, kept) and not np.allclose(written_out, probabilities)
    assert np.allclose(1 / (1 + np.exp(-written_out)), probabilities, atol=1e-6)  # sigmoid(logit): the probability
    assert np.array_equal(np.asarray(classifier_model(maps)), probabilities)  # the sigmoid is back after the block


def test_notebook_06_fine_tuning_loop_trains_the_top_and_keeps_batch_norm_in_inference_mode():
    """06's loop over the Keras MobileNetV2: the convolutions from FINE_TUNE_AT on train, no BatchNormalization
    layer does, and a training step leaves every moving statistic where it was (Keras runs a frozen
    BatchNormalization layer in inference mode; in training mode the batch's statistics would move them)."""
    keras.utils.set_random_seed(0)
    mobilenet = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3))
    fine_tune_at = notebook_value("06_tfhub_mobilenet_cifar10", "FINE_TUNE_AT")
    start_at = [layer.name for layer in mobilenet.layers].index(fine_tune_at)
    notebook_loop("06_tfhub_mobilenet_cifar10", "enumerate(mobilenet.layers)", mobilenet=mobilenet, start_at=start_at,
                  layers=layers)
    trained = [weight.path for weight in mobilenet.trainable_weights]
    top = ("block_14_", "block_15_", "block_16_", "Conv_1/")  # the last three blocks and the final 1x1 convolution
    assert trained and all(path.startswith(top) and path.endswith("/kernel") for path in trained), trained
    assert len(trained) == 3 * 3 + 1  # expand, depthwise and project in each block, then Conv_1
    inputs = keras.Input((32, 32, 3))
    outputs = layers.Dense(2, activation="softmax")(layers.GlobalAveragePooling2D()(mobilenet(inputs, training=False)))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    statistics = [weight for weight in mobilenet.non_trainable_weights if "moving_" in weight.path]
    before = [np.array(weight) for weight in statistics]
    images = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype("float32")
    model.train_on_batch(images, np.array([0, 1, 0, 1]))
    assert len(statistics) == 2 * 52  # mean and variance of each of MobileNetV2's 52 BatchNormalization layers
    assert all(np.array_equal(np.array(weight), old) for weight, old in zip(statistics, before))
