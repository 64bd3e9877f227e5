"""Where a notebook writes a piece out and `course_utils` keeps it for later notebooks, both are
the same network: same layers, same settings, same parameter counts (STYLE.md, d2l's rule)."""

import ast
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from course_utils import compat, models, visualize

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def notebook_value(notebook: str, name: str, **namespace):
    """Evaluate the first assignment to `name` (or definition of a function `name`) in `notebook`'s
    code cells, with `namespace` standing in for what the cells before it computed."""
    cells = json.loads((NOTEBOOKS / f"{notebook}.ipynb").read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] != "code" or cell.get("id") == "install-course":
            continue
        for statement in ast.parse("".join(cell["source"])).body:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement]
            if any(getattr(t, "id", getattr(t, "name", None)) == name for t in targets):
                scope = {"keras": keras, "layers": layers, "tf": tf, "course_utils": __import__("course_utils"),
                         **namespace}
                exec(compile(ast.Module([statement], []), notebook, "exec"), scope)
                return scope[name]
    raise AssertionError(f"{notebook} assigns no {name!r}")


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


def test_notebook_03_head_is_models_dense_head():
    x_train = Stub(shape=(8, 4, 4, 512))
    head = notebook_value("03_vgg_feature_extraction", "head", x_train=x_train)
    assert architecture(head) == architecture(models.dense_head((4, 4, 512), classes=2))


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


@pytest.mark.parametrize("notebook, name", [("03_vgg_feature_extraction", "head"), ("04_head_swap", "head")])
def test_a_missing_piece_is_an_error_not_a_pass(notebook, name):
    with pytest.raises(AssertionError, match="assigns no"):
        notebook_value(notebook, name + "_that_does_not_exist")


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
