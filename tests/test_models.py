"""course_utils.models: weights and their labels, the small CNN and its augmentation, pretrained
bases, freezing and surgery."""

import hashlib
from pathlib import Path

import keras
import numpy as np
import pytest

from conftest import patch_network
from course_utils import models, pretrained

STAND_IN = Path(__file__).resolve().parents[2] / "shared" / "course-data" / "weights" / "vgg16_notop_hed_bsds500.weights.h5"


def test_default_is_imagenet(monkeypatch):
    monkeypatch.delenv("COURSE_WEIGHTS_VGG16", raising=False)
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    assert pretrained.weights_setting("vgg16") == "imagenet"
    assert pretrained.weights_label("vgg16").startswith("imagenet")


def test_none_means_random_initialisation(monkeypatch):
    monkeypatch.setenv("COURSE_WEIGHTS_VGG19", "None")
    assert pretrained.weights_setting("vgg19") is None
    assert "random" in pretrained.weights_label("vgg19")


def test_missing_file_is_a_clear_error_where_weights_are_used(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(tmp_path / "nope.weights.h5"))
    with pytest.raises(pretrained.WeightsError, match="COURSE_WEIGHTS_VGG16=.*no such file"):
        pretrained.weights_setting("vgg16")
    with pytest.raises(pretrained.WeightsError, match="COURSE_WEIGHTS_VGG16=.*no such file"):
        models.pretrained_base("vgg16", 32)
    # The label (banners, results) says so instead of failing: notebooks without weights still run.
    assert pretrained.weights_label("vgg16").startswith(pretrained.UNUSABLE)


def test_a_file_that_is_not_hdf5_names_variable_file_and_expectation(monkeypatch, tmp_path):
    text = tmp_path / "vgg16.weights.h5"
    text.write_text("<html>404 Not Found</html>")  # a failed download saved under the right name
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(text))
    with pytest.raises(pretrained.WeightsError) as error:
        pretrained.weights_setting("vgg16")
    message = str(error.value)
    assert "COURSE_WEIGHTS_VGG16=" in message and "vgg16.weights.h5 is not an HDF5 weights file" in message
    assert "VGG16 no-top weights file" in message


def _weights_file(path, values: list) -> str:
    """A weights file at `path` holding the arrays `values`; returns their `Tensors.values`."""
    import h5py

    with h5py.File(path, "w") as file:
        for number, value in enumerate(values):
            file[f"layers/conv2d_{number}/vars/0"] = np.asarray(value, "float32")
    return pretrained.tensors_of(np.asarray(value, "float32") for value in values).values


def test_local_files_are_labelled_by_content(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    stand_in = tmp_path / "a.weights.h5"
    patch_network(monkeypatch, "vgg16", shapes=None, stand_ins={_weights_file(stand_in, [[1, 2]]): "STAND-IN, not ImageNet"})
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(stand_in))
    assert pretrained.weights_label("vgg16") == "STAND-IN, not ImageNet (local file a.weights.h5)"

    imagenet = tmp_path / "renamed.h5"  # Keras' own file, recognised by the md5 Keras checks
    imagenet.write_bytes(pretrained.HDF5_SIGNATURE + b"imagenet weights")
    patch_network(monkeypatch, "vgg16", md5=hashlib.md5(imagenet.read_bytes()).hexdigest())
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(imagenet))
    assert pretrained.weights_label("vgg16") == "imagenet (local file renamed.h5)"

    other = tmp_path / "imagenet.weights.h5"  # the name alone proves nothing
    _weights_file(other, [[1, 3]])
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(other))
    assert "not known to be ImageNet" in pretrained.weights_label("vgg16")

    damaged = tmp_path / "damaged.weights.h5"  # the HDF5 signature, then nothing h5py can read
    damaged.write_bytes(pretrained.HDF5_SIGNATURE + b"cut short")
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(damaged))
    label = pretrained.weights_label("vgg16")
    assert label.startswith(f"{pretrained.UNUSABLE} COURSE_WEIGHTS_VGG16: local file damaged.weights.h5 cannot be "
                            "used: h5py cannot read it as a weights file")


def _first_kernel(model):
    return model.get_layer("block1_conv1").get_weights()[0]


def _step(model, x, y):
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    model.train_on_batch(x, y)


def _with_head(base):
    x = keras.layers.Flatten()(base.output)
    return keras.Model(base.input, keras.layers.Dense(1, activation="sigmoid")(x))


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
    assert pretrained.weights_label("vgg16").startswith("STAND-IN, not ImageNet")


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


@pytest.mark.filterwarnings("ignore:Skipping nested container")  # Keras' own, on the way to its error
def test_weights_of_another_architecture_name_the_variable_and_the_cli_prints_no_traceback(
        tmp_path, monkeypatch, capsys):
    from course_utils import cli

    other = tmp_path / "small_cnn.weights.h5"  # a valid Keras 3 weights file, of another network
    models.small_cnn(64).save_weights(other)
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(other))
    monkeypatch.setenv("COURSE_WEIGHTS_MOBILENET_V2_KERAS", str(other))
    with pytest.raises(pretrained.WeightsError, match=r"COURSE_WEIGHTS_VGG16: local file small_cnn.weights.h5 cannot "
                                                      r"be used: its tensors fit no network the course knows"):
        models.pretrained_base("vgg16", 32)
    assert cli.main(["hub", "export-stand-in", str(tmp_path / "hub")]) == 2
    err = capsys.readouterr().err
    assert "COURSE_WEIGHTS_MOBILENET_V2_KERAS: local file small_cnn.weights.h5 cannot be used" in err
    assert "not MobileNetV2's layers" in err and "Traceback" not in err
    # A file of the right layers that Keras still cannot load (its own error) names the setting too.
    shapes = pretrained.file_tensors(other).shapes
    patch_network(monkeypatch, "vgg16", shapes=shapes)
    with pytest.raises(pretrained.WeightsError, match=r"COURSE_WEIGHTS_VGG16=.*does not hold VGG16's weights"):
        models.pretrained_base("vgg16", 32)


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


def test_augmented_model_saves_and_loads_back(tmp_path):
    model = models.small_cnn(48, augment=models.augmentation(), dropout=0.5)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(0).uniform(0, 255, (2, 48, 48, 3)).astype("float32")
    assert np.allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_mirror_weights_are_found_by_content_whatever_their_name(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_WEIGHTS_VGG16", raising=False)
    monkeypatch.delenv("COURSE_WEIGHTS_VGG19", raising=False)
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(tmp_path))
    (tmp_path / "weights").mkdir()
    stand_in = _weights_file(tmp_path / "weights" / "edges.h5", [[1, 2]])
    _weights_file(tmp_path / "weights" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", [[5, 6]])
    patch_network(monkeypatch, "vgg16", shapes=None, stand_ins={stand_in: "STAND-IN, not ImageNet"})
    assert pretrained.weights_setting("vgg16") == tmp_path / "weights" / "edges.h5"
    assert pretrained.weights_label("vgg16") == "STAND-IN, not ImageNet (mirror file edges.h5)"
    assert pretrained.weights_setting("vgg19") == "imagenet"  # an unrecognised file is not taken, whatever its name

    imagenet = _weights_file(tmp_path / "renamed.h5", [[3, 4]])  # ImageNet wins over a stand-in
    patch_network(monkeypatch, "vgg16", imagenet_tensors=imagenet)
    assert pretrained.weights_label("vgg16") == ("imagenet (converted copy, the same tensors as Keras' file: "
                                                 "mirror file renamed.h5)")
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")  # an explicit setting wins over the mirror
    assert pretrained.weights_setting("vgg16") is None
