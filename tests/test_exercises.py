"""The exercises: every solution passes, every starter is "not answered yet", typical wrong answers get
their own message, bad input gives one sentence; the student and teacher editions, and stamping.

The notebooks' own variables (`base`, `splits`, `size`, ...) are given small stand-ins here: VGG16 with
weights=None at 64x64, random arrays. A check never depends on weights, so none is downloaded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import types
from pathlib import Path

import keras
import nbformat
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from course_utils import compat, config, editions, exercises, models, visualize
from course_utils.errors import CourseError
from course_utils.exercise_checks import NOT_ANSWERED, PASSED, WRONG, Outcome

SIZE = 64


def small_cnn(size: int = SIZE):
    stack = [keras.Input(shape=(size, size, 3)), layers.Rescaling(1.0 / 255)]
    for filters in (32, 64, 128, 128):
        stack += [layers.Conv2D(filters, 3, activation="relu"), layers.MaxPooling2D(2)]
    return keras.Sequential(stack + [layers.Flatten(), layers.Dense(512, activation="relu"),
                                     layers.Dense(1, activation="sigmoid")])


def vgg():
    return keras.applications.VGG16(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))


def bn_base():
    inputs = keras.Input(shape=(16, 16, 3))
    x = layers.BatchNormalization(name="bn_a")(layers.Conv2D(4, 3, name="conv_a")(inputs))
    return keras.Model(inputs, x, name="resnet_stand_in")


def phase_two_base():
    """`base` as notebooks 04 and 05 leave it before their exercises: block 5 unfrozen, blocks 1-4 frozen."""
    base = vgg()
    models.set_trainable_from(base, "block5_conv1")
    return base


def given(names, notebook: str = "") -> dict:
    """Stand-ins for the notebook variables `names` (as `notebook` leaves them), plus the modules the
    exercise cells import."""
    images = np.random.default_rng(1).uniform(0, 255, (4, SIZE, SIZE, 3)).astype("float32")
    labels = np.array([0, 1, 0, 1])
    namespace = {"keras": keras, "layers": layers, "np": np, "tf": tf, "visualize": visualize, "session": None,
                 "models": models, "size": SIZE, "images": images, "cat": images[0]}
    makers = {
        "model": small_cnn, "small": small_cnn, "resnet": bn_base,
        "augment": lambda: keras.Sequential([layers.RandomRotation(0.1, fill_mode="nearest"),
                                             layers.RandomTranslation(0.2, 0.2, fill_mode="nearest"),
                                             layers.RandomZoom(0.2, fill_mode="nearest"), compat.random_shear(0.2),
                                             layers.RandomFlip("horizontal")]),
        "splits": lambda: types.SimpleNamespace(train=tf.data.Dataset.from_tensor_slices((images, labels)).batch(2)),
        "x_train": lambda: np.random.default_rng(2).uniform(0, 5, (6, 2, 2, 512)).astype("float32"),
        "conv_head": lambda: keras.Sequential([keras.Input((2, 2, 512)), layers.Flatten(), layers.Dense(1)]),
        "prepare": lambda: models.preprocess("vgg16"),
        "base": phase_two_base if notebook.startswith(("04", "05")) else vgg,
        "head": (lambda: models.dense_head((2, 2, 512), classes=17, normalize=True)) if notebook.startswith("04") else
                (lambda: keras.Sequential([keras.Input((2, 2, 512)), layers.Flatten(), layers.Dense(1, activation="sigmoid")])),
    }
    for name in names:
        if name in makers:
            namespace[name] = makers[name]()
    return namespace


def run(exercise_id: str, code: str, check_cell: str | None = None) -> Outcome:
    """Run `code` as an exercise cell among the notebook's stand-ins, then the exercise's check: the
    source of an edition's check cell when given (it must leave its outcome in `outcome`)."""
    exercise = exercises.get(exercise_id)
    namespace = given(exercise.uses, exercise.notebook)
    exec(code, namespace)
    if check_cell is None:
        return exercise.outcome({name: namespace.get(name) for name in exercise.names})
    exec(check_cell, namespace)
    return namespace["outcome"]


ALL = list(exercises.EXERCISES)

# Each exercise: at least three right answers other than the solution, written as careful learners
# would (Sequential or functional, other names, activations as separate layers, other valid layers),
# and at least two typical wrong ones with a piece of the message each must get. A check weakened
# to pass a wrong answer, or narrowed to reject a right one, fails here.
THREE = ("three_blocks = keras.Sequential([keras.Input(shape=(size, size, 3)), layers.Rescaling(1 / 255), {}, "
         "layers.Flatten(), layers.Dense(512, activation='relu'), layers.Dense(1, activation='sigmoid')])")
C, P = "layers.Conv2D({}, 3, activation='relu')", "layers.MaxPooling2D(2)"
BLOCKS = ", ".join([C.format(32), P, C.format(64), P, C.format(128), P])
VGG64 = "vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(64, 64, 3))\n"
CUT3 = "cut3 = keras.Model(base.input, base.get_layer('block3_pool').output)\n"
UNFREEZE3 = "models.set_trainable_from(cut3, 'block3_conv1')\n"
GAP = "gap_head = keras.Sequential([keras.Input(base.output.shape[1:]), {}])"
RESIZE = "resize_layers = keras.Sequential([keras.Input((32, 32, 3)), {}])"
MOBILE = "m = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(size, size, 3){})\n"
CONV_B4 = ("inputs = keras.Input((size, size, 3))\n"
           "conv_model_b4 = keras.Model(inputs, models.cut_at(base, 'block4_conv3')(prepare(inputs)))\n")

RIGHT_ANSWERS = {
    "01.no_fourth_block": [
        "inputs = keras.Input((size, size, 3))\nx = layers.Rescaling(1 / 255)(inputs)\nfor f in (32, 64, 128):\n"
        "    x = layers.MaxPooling2D()(layers.ReLU()(layers.Conv2D(f, 3)(x)))\n"
        "x = layers.Activation('relu')(layers.Dense(512)(layers.Flatten()(x)))\n"
        "three_blocks = keras.Model(inputs, layers.Dense(1, activation='sigmoid')(x), name='mine')",
        "three_blocks = keras.Sequential([keras.Input((size, size, 3)), layers.Rescaling(scale=1.0 / 255.0), "
        + ", ".join(f"layers.Conv2D({f}, (3, 3), padding='valid'), layers.Activation('relu'), "
                    "layers.MaxPooling2D(pool_size=(2, 2), strides=2)" for f in (32, 64, 128))
        + ", layers.Flatten(), layers.Dense(512), layers.ReLU(), layers.Dense(1), layers.Activation('sigmoid')])",
        "three_blocks = keras.Sequential([keras.Input((size, size, 3)), layers.Rescaling(1 / 255), "
        "keras.Sequential([" + BLOCKS + "], name='blocks'), layers.Flatten(), layers.Dropout(0.5), "
        "layers.Dense(512, activation=keras.activations.relu, name='hidden'), layers.Dense(1, activation='sigmoid')])"],
    "01.block_output_size": [
        "block_output_size = lambda n: ((n - 2) // 2, (n - 2) // 2)",
        "import math\ndef block_output_size(n):\n    after_conv = n - 3 + 1\n    return math.floor(after_conv / 2)",
        "def block_output_size(n):\n    return np.int64(int((n - 2) / 2))",
        "block_output_size = lambda n: [(n - 2) // 2] * 2"],
    "02.augment_in_range": [
        "inputs = keras.Input((size, size, 3))\n"
        "augment_plus = keras.Model(inputs, layers.RandomContrast(0.3)(augment(inputs)), name='plus')",
        "augment_plus = keras.Sequential([*augment.layers, layers.Solarization(value_range=(0, 255))])",
        "augment_plus = keras.Sequential([keras.Input((size, size, 3)), *augment.layers, "
        "layers.RandAugment(value_range=(0, 255))])",
        "augment_plus = keras.Sequential([augment, layers.RandomBrightness(0.2), layers.RandomGrayscale(0.5)])"],
    "02.augment_batch": [
        "augment_batch = lambda images, labels: (augment(images, training=True), labels)",
        "def augment_batch(images, labels):\n    images = augment(images)\n    return images, labels",
        "def augment_batch(x, y):\n    return tf.clip_by_value(augment(x, training=True), 0.0, 255.0), y"],
    "03.conv_head": [
        "inputs = keras.Input(x_train.shape[1:])\nx = layers.ReLU()(layers.Conv2D(64, 1)(inputs))\n"
        "x = layers.Dense(1)(layers.GlobalAveragePooling2D()(x))\n"
        "gap_conv_head = keras.Model(inputs, layers.Activation('sigmoid')(x), name='mine')",
        "gap_conv_head = keras.Sequential([keras.Input(x_train.shape[1:]), layers.Conv2D(128, 3, padding='same'), "
        "layers.BatchNormalization(), layers.Activation('relu'), layers.GlobalAveragePooling2D(), layers.Dropout(0.5), "
        "layers.Dense(1, activation='sigmoid')])",
        "gap_conv_head = keras.Sequential([keras.Input(x_train.shape[1:]), layers.Conv2D(32, 2, activation='relu'), "
        "layers.GlobalMaxPooling2D(), layers.Dense(1, activation='sigmoid', name='dog')])"],
    "03.frozen_base_in_model": [
        VGG64 + "vgg.trainable = False\nend_to_end = keras.Sequential([keras.Input((64, 64, 3)), "
        "layers.RandomFlip('horizontal'), layers.Lambda(prepare), vgg, layers.GlobalAveragePooling2D(), "
        "layers.Dense(1, activation='sigmoid')])",
        VGG64 + "for layer in vgg.layers:\n    layer.trainable = False\ninputs = keras.Input((64, 64, 3))\n"
        "x = keras.Sequential([layers.RandomRotation(0.1), layers.RandomZoom(0.1)], name='aug')(inputs)\n"
        "x = vgg(keras.applications.vgg16.preprocess_input(x), training=False)\n"
        "end_to_end = keras.Model(inputs, layers.Dense(1, activation='sigmoid')(layers.Flatten()(x)))",
        VGG64 + "models.set_trainable_from(vgg, None)\ninputs = keras.Input((64, 64, 3))\n"
        "x = prepare(layers.RandomContrast(0.2)(inputs))\nx = layers.Dropout(0.5)(layers.Dense(64, activation='relu')("
        "layers.Flatten()(vgg(x))))\nend_to_end = keras.Model(inputs, layers.Activation('sigmoid')(layers.Dense(1)(x)))"],
    "04.cut_block3": [
        "cut3 = models.cut_at(base, 'block3_pool')\nfor layer in cut3.layers:\n"
        "    layer.trainable = layer.name.startswith('block3')\n"
        "cut3_trainable = sum(layer.count_params() for layer in cut3.layers if layer.trainable)",
        "cut3 = keras.Model(inputs=base.inputs, outputs=base.layers[10].output, name='to_block3')\n"
        "for name in ('block3_conv1', 'block3_conv2', 'block3_conv3'):\n    cut3.get_layer(name).trainable = True\n"
        "cut3_trainable = np.sum([np.prod(w.shape) for w in cut3.trainable_weights])",
        "cut3 = keras.Sequential([keras.Input(base.input.shape[1:]), *base.layers[1:11]])\n" + UNFREEZE3 +
        "cut3_trainable = models.parameter_counts(cut3)['trainable']"],
    "04.gap_head": [
        "inputs = keras.Input(base.output.shape[1:])\nx = layers.BatchNormalization()(layers.GlobalAveragePooling2D()(inputs))\n"
        "x = layers.Dropout(0.5)(layers.ReLU()(layers.Dense(256)(x)))\n"
        "gap_head = keras.Model(inputs, layers.Softmax()(layers.Dense(17)(x)), name='my_head')",
        GAP.format("layers.GlobalAveragePooling2D(), layers.Dropout(0.2), layers.BatchNormalization(), layers.Dense(256), "
                   "layers.Activation('relu'), layers.Dropout(0.5), layers.Dense(17), layers.Activation('softmax')"),
        GAP.format("layers.GlobalAveragePooling2D(keepdims=False, name='average'), layers.BatchNormalization(), "
                   "layers.Dense(256, activation=keras.activations.relu), layers.Dropout(0.5), "
                   "layers.Dense(17, activation='softmax', name='flowers')")],
    "05.unfreeze_block4": [
        "models.set_trainable_from(base, 'block4_conv1')\n"
        "trainable_now = sum(int(np.prod(w.shape)) for w in base.trainable_weights)",
        "for index, layer in enumerate(base.layers):\n    layer.trainable = index >= 11  # blocks 1-3: layers 1 to 10\n"
        "trainable_now = int(np.sum([np.prod(v.shape) for v in base.trainable_variables]))",
        "for layer in base.layers:\n    if 'block4' in layer.name or 'block5' in layer.name:\n        layer.trainable = True\n"
        "    else:\n        layer.trainable = False\ntrainable_now = models.parameter_counts(base)['trainable']"],
    "05.freeze_bn": [
        "def unfreeze_except_bn(model):\n    model.trainable = True\n    for layer in model.layers:\n"
        "        layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)",
        "def unfreeze_except_bn(model):\n    model.trainable = True\n"
        "    for layer in model.layers:\n        if type(layer).__name__ == 'BatchNormalization':\n"
        "            layer.trainable = False\n    return model",
        "def unfreeze_except_bn(base):\n    base.trainable = True\n"
        "    for bn in [l for l in base.layers if l.name.endswith('_bn')]:\n        bn.trainable = False"],
    "06.resize_in_model": [
        RESIZE.format("layers.UpSampling2D(size // 32), layers.Rescaling(1 / 255)"),
        "inputs = keras.Input((32, 32, 3))\nx = layers.Rescaling(1.0 / 255)(inputs)\n"
        "resize_layers = keras.Model(inputs, layers.Resizing(size, size, interpolation='nearest')(x), name='mine')",
        RESIZE.format("layers.Resizing(size, size, interpolation='area'), layers.Lambda(lambda x: x / 255.0)")],
    "06.mobilenet_applications": [
        MOBILE.format(", name='my_base'") + "m.trainable = False\ninputs = keras.Input((size, size, 3))\n"
        "x = m(keras.applications.mobilenet_v2.preprocess_input(inputs * 255.0), training=False)\n"
        "mobilenet_model = keras.Model(inputs, layers.Softmax()(layers.Dense(10)(layers.GlobalAveragePooling2D()(x))))",
        MOBILE.format("") + "for layer in m.layers:\n    layer.trainable = False\n"
        "mobilenet_model = keras.Sequential([keras.Input((size, size, 3)), layers.Rescaling(2.0, offset=-1.0), m, "
        "layers.GlobalAveragePooling2D(), layers.Dropout(0.2), layers.Dense(10, activation='softmax')])",
        MOBILE.format(", pooling='max'") + "m.trainable = False\n"
        "mobilenet_model = keras.Sequential([keras.Input((size, size, 3)), layers.Rescaling(1 / 127.5, offset=-1), "
        "layers.Rescaling(255.0), m, layers.Dense(10), layers.Activation('softmax')])"],
    "07.conv_activations": [
        "conv_activations = keras.Model(inputs=small.inputs, "
        "outputs=[l.output for l in small.layers if type(l).__name__ == 'Conv2D'])",
        "outs = []\nfor layer in small.layers:\n    if isinstance(layer, keras.layers.Conv2D):\n"
        "        outs.append(layer.output)\nconv_activations = keras.Model(small.inputs, outs, name='convs')",
        "conv_activations = keras.Model(small.inputs, [small.get_layer(index=i).output for i in (1, 3, 5, 7)])"],
    "07.grad_cam_layer": [
        "inputs = keras.Input((size, size, 3))\n"
        "conv_model_b4 = keras.Model(inputs, keras.Model(base.input, base.get_layer('block4_conv3').output)(prepare(inputs)))\n"
        "names = [layer.name for layer in base.layers]\nmaps = keras.Input(conv_model_b4.output.shape[1:])\nx = maps\n"
        "for layer in base.layers[names.index('block4_conv3') + 1:]:\n    x = layer(x)\n"
        "classifier_model_b4 = keras.Model(maps, head(x))",
        "inputs = keras.Input((size, size, 3))\nx = keras.applications.vgg16.preprocess_input(inputs)\n"
        "conv_model_b4 = keras.Model(inputs, models.cut_at(base, 'block4_conv3')(x), name='to_b4')\n"
        "classifier_model_b4 = keras.Sequential([keras.Input(conv_model_b4.output.shape[1:]), "
        "*[base.get_layer(n) for n in ('block4_pool', 'block5_conv1', 'block5_conv2', 'block5_conv3', 'block5_pool')], "
        "head])",
        CONV_B4 + "maps = keras.Input(conv_model_b4.output_shape[1:])\n"
        "rest = keras.Sequential(base.layers[base.layers.index(base.get_layer('block4_pool')):], name='rest')\n"
        "classifier_model_b4 = keras.Model(maps, head(rest(maps)))"],
}

WRONG_ANSWERS = {
    "01.no_fourth_block": [
        (THREE.format(", ".join([C.format(32), P, C.format(64), P, C.format(128), P, P])), "followed by its MaxPooling2D"),
        (THREE.format(", ".join([C.format(32), P, C.format(128), P, C.format(128), P])), "not the first three blocks"),
        (THREE.format(", ".join([C.format(32), P, C.format(64), P, C.format(128), P, C.format(128), P])),
         "has 4 convolution layers"),
        (THREE.format(BLOCKS).replace("layers.Dense(512, activation='relu')", "layers.Dense(512)"), "512 ReLU units"),
        (THREE.format(BLOCKS.replace("activation='relu')", "activation='relu', padding='same')")), "without padding"),
        (THREE.format(BLOCKS.replace("MaxPooling2D(2)", "MaxPooling2D(3)")), "pools 3x3 windows"),
        (THREE.format(BLOCKS).replace("layers.Rescaling(1 / 255), ", ""), "no Rescaling"),
        (THREE.format(BLOCKS.replace("Conv2D(64, 3, activation='relu')", "Conv2D(64, 3)")), "the block of"),
        (THREE.format(BLOCKS).replace("layers.Dense(1, activation='sigmoid')", "layers.Dense(1)"), "sigmoid unit"),
        (THREE.format(BLOCKS).replace("Dense(512", "Dense(256"), "a Dense layer of 512 ReLU units"),
        (THREE.format(BLOCKS + ", layers.BatchNormalization()"), "has weights that notebook 01's network does not have"),
        (THREE.format(BLOCKS).replace("layers.Flatten()", "layers.GlobalAveragePooling2D()"), "Flatten right after")],
    "01.block_output_size": [("block_output_size = lambda n: n // 2", "gives 75, Keras gives 74x74"),
                             ("block_output_size = lambda n: (n - 2) / 2", "gives 17.5"),
                             ("block_output_size = lambda n: ((n - 2) // 2, n // 2)", "Keras gives 74x74"),
                             ("block_output_size = lambda n: n - 2", "gives 148"),
                             ("block_output_size = lambda n: str((n - 2) // 2)", "not a number"),
                             ("block_output_size = (size - 2) // 2", "not a function of n")],
    "02.augment_in_range": [
        ("augment_plus = keras.Sequential([*augment.layers, layers.RandomBrightness(0.2, value_range=(0, 1))])",
         "squeezed the pixel range"),
        ("augment_plus = keras.Sequential([*augment.layers, layers.GaussianNoise(0.5)])", "goes down to"),
        ("augment_plus = keras.Sequential([*augment.layers, layers.Rescaling(1.0)])", "no new random transformation"),
        ("augment_plus = keras.Sequential([*augment.layers, layers.RandomContrast(0.2), layers.Rescaling(0.5)])",
         "with training=False it changes the images"),
        ("augment_plus = keras.Sequential([layers.RandomContrast(0.3)])", "lost the notebook's"),
        ("augment_plus = [*augment.layers, layers.RandomContrast(0.3)]", "is a list, not a Keras model"),
        ("augment_plus = keras.Sequential([*augment.layers, layers.RandomCrop(16, 16)])", "augmentation keeps the size")],
    "02.augment_batch": [("def augment_batch(images, labels):\n    return augment(images, training=False), labels", "unchanged"),
                         ("def augment_batch(images, labels):\n    return augment(images, training=True)",
                          "does not return two values"),
                         ("def augment_batch(images, labels):\n    return augment(images, training=True) / 255.0, labels",
                          "squeezed"),
                         ("def augment_batch(images, labels):\n    return labels, augment(images, training=True)",
                          "changes the labels"),
                         ("augment_batch = splits.train.map(lambda x, y: (augment(x, training=True), y))",
                          "not a function of (images, labels)"),
                         ("def augment_batch(images, labels):\n"
                          "    return tf.image.resize(augment(images, training=True), (32, 32)), labels", "turns images of shape")],
    "03.conv_head": [
        ("gap_conv_head = keras.Sequential([keras.Input(x_train.shape[1:]), layers.Conv2D(8, 1), layers.Flatten(), "
         "layers.Dense(1, activation='sigmoid')])", "still flattens"),
        ("gap_conv_head = keras.Sequential([keras.Input((64, 64, 3)), layers.Conv2D(8, 3), "
         "layers.GlobalAveragePooling2D(), layers.Dense(1, activation='sigmoid')])", "the cached features are"),
        ("gap_conv_head = keras.Sequential([keras.Input(x_train.shape[1:]), layers.Dense(8), "
         "layers.GlobalAveragePooling2D(), layers.Dense(1, activation='sigmoid')])", "starts with a Conv2D"),
        ("gap_conv_head = keras.Sequential([keras.Input(x_train.shape[1:]), layers.Conv2D(8, 1, activation='relu'), "
         "layers.GlobalAveragePooling2D(), layers.Dense(1)])", "one sigmoid unit"),
        ("gap_conv_head = keras.Sequential([keras.Input(x_train.shape[1:]), layers.Conv2D(8, 1, activation='relu'), "
         "layers.Dense(1, activation='sigmoid')])", "nothing turns its feature maps into one vector")],
    "03.frozen_base_in_model": [
        (VGG64 + "inputs = keras.Input((64, 64, 3))\nx = vgg(prepare(layers.RandomFlip()(inputs)))\n"
         "end_to_end = keras.Model(inputs, layers.Dense(1, activation='sigmoid')(layers.Flatten()(x)))",
         "block1_conv1 is still trainable"),
        (VGG64 + "vgg.trainable = False\ninputs = keras.Input((64, 64, 3))\nx = layers.RandomFlip()(vgg(prepare(inputs)))\n"
         "end_to_end = keras.Model(inputs, layers.Dense(1, activation='sigmoid')(layers.Flatten()(x)))",
         "comes after the base"),
        (VGG64 + "vgg.trainable = False\ninputs = keras.Input((64, 64, 3))\nx = vgg(layers.RandomFlip()(inputs))\n"
         "end_to_end = keras.Model(inputs, layers.Dense(1, activation='sigmoid')(layers.Flatten()(x)))",
         "reach the base as they are"),
        (VGG64 + "vgg.trainable = False\ninputs = keras.Input((64, 64, 3))\nx = vgg(prepare(prepare(inputs)))\n"
         "end_to_end = keras.Model(inputs, layers.Dense(1, activation='sigmoid')(layers.Flatten()(x)))",
         "is not `prepare(images)`"),
        (VGG64 + "vgg.trainable = False\ninputs = keras.Input((64, 64, 3))\nx = vgg(prepare(inputs))\n"
         "end_to_end = keras.Model(inputs, layers.Dense(1, activation='sigmoid')(layers.Flatten()(x)))",
         "no random augmentation"),
        (VGG64 + "vgg.trainable = False\nx = layers.Flatten()(vgg.output)\n"
         "end_to_end = keras.Model(vgg.input, layers.Dense(1, activation='sigmoid')(x))", "no VGG base inside"),
        (VGG64 + "inputs = keras.Input((64, 64, 3))\nx = vgg(prepare(layers.RandomFlip()(inputs)))\n"
         "end_to_end = keras.Model(inputs, layers.Dense(1, activation='sigmoid')(layers.Flatten()(x)))\n"
         "end_to_end.trainable = False", "nothing in `end_to_end` is trainable"),
        (VGG64 + "vgg.trainable = False\ninputs = keras.Input((64, 64, 3))\nx = vgg(prepare(layers.RandomFlip()(inputs)))\n"
         "end_to_end = keras.Model(inputs, layers.Dense(2, activation='softmax')(layers.Flatten()(x)))", "gives (1,)")],
    "04.cut_block3": [
        (CUT3 + UNFREEZE3 + "cut3_trainable = cut3.count_params()", "frozen ones included"),
        ("cut3 = keras.Model(base.input, base.get_layer('block3_conv3').output)\n"
         "models.set_trainable_from(cut3, 'block3_conv1')\ncut3_trainable = 0", "ends at block3_conv3"),
        (CUT3 + UNFREEZE3 + "cut3_trainable = len(cut3.trainable_weights)", "weight tensors"),
        (CUT3 + "cut3_trainable = sum(int(np.prod(w.shape)) for w in cut3.trainable_weights)", "block3_conv1 is still frozen"),
        (CUT3 + "cut3_trainable = sum(int(np.prod(w.shape)) for w in cut3.trainable_weights)\n" + UNFREEZE3,
         "0 is what trained"),
        (CUT3 + "for layer in cut3.layers:\n    layer.trainable = True\ncut3_trainable = cut3.count_params()",
         "block2_conv2 is trainable"),
        (CUT3 + "cut3.trainable = True  # already True: its layers keep phase two's flags\ncut3_trainable = 0",
         "block3_conv1 is still frozen"),
        ("fresh = keras.applications.VGG16(include_top=False, weights=None, input_shape=(64, 64, 3))\n"
         "cut3 = keras.Model(fresh.input, fresh.get_layer('block3_pool').output)\n" + UNFREEZE3 +
         "cut3_trainable = sum(int(np.prod(w.shape)) for w in cut3.trainable_weights)", "cut the base itself"),
        (CUT3 + UNFREEZE3 + "cut3_trainable = 3 * 3 * 256 * 256 * 3  # by hand: no biases, block3_conv1 reads 128 maps",
         "not how many of cut3's weights")],
    "04.gap_head": [
        (GAP.format("layers.Flatten(), layers.Dense(17, activation='softmax')"), "still has a Flatten"),
        (GAP.format("layers.GlobalAveragePooling2D(), layers.Dense(1, activation='sigmoid')"), "17 flowers"),
        (GAP.format("layers.GlobalAveragePooling2D(), layers.Dense(17, activation='softmax')"), "change only its Flatten"),
        (GAP.format("layers.GlobalAveragePooling2D(), layers.BatchNormalization(), layers.Dense(256), layers.Dropout(0.5), "
                    "layers.Dense(17, activation='softmax')"), "not followed by a ReLU"),
        (GAP.format("layers.GlobalMaxPooling2D(), layers.BatchNormalization(), layers.Dense(256, activation='relu'), "
                    "layers.Dropout(0.5), layers.Dense(17, activation='softmax')"), "not the maps averaged"),
        (GAP.format("layers.GlobalAveragePooling2D(), layers.BatchNormalization(), layers.Dense(256, activation='relu'), "
                    "layers.Dense(17)"), "17 flowers"),
        ("gap_head = keras.Sequential([keras.Input((size, size, 3)), layers.GlobalAveragePooling2D(), "
         "layers.BatchNormalization(), layers.Dense(256, activation='relu'), layers.Dense(17, activation='softmax')])",
         "the base gives"),
        (GAP.format("layers.BatchNormalization(), layers.Dense(256, activation='relu'), layers.Dropout(0.5), "
                    "layers.Dense(17, activation='softmax')"), "nothing turns the base's maps into one vector")],
    "05.unfreeze_block4": [
        ("for layer in base.layers:\n    layer.trainable = layer.name.startswith(('block4', 'block5'))\n"
         "base.trainable = False\ntrainable_now = 0", "`base` itself is frozen"),
        ("base.trainable = True  # already True: its layers keep phase two's flags\n"
         "trainable_now = base.count_params()", "block4_conv1 is still frozen"),
        ("for layer in base.layers:\n    layer.trainable = True\ntrainable_now = base.count_params()",
         "block3_conv3 is trainable"),
        ("for layer in base.layers:\n    layer.trainable = layer.name.startswith(('block4', 'block5'))\n"
         "trainable_now = sum(l.count_params() for l in base.layers if l.name.startswith('block5'))",
         "block 5 alone"),
        ("for layer in base.layers:\n    layer.trainable = layer.name.startswith(('block4', 'block5'))\n"
         "trainable_now = len(base.trainable_weights)", "weight tensors"),
        ("trainable_now = sum(int(np.prod(w.shape)) for w in base.trainable_weights)", "block4_conv1 is still frozen"),
        ("for layer in base.layers:\n    layer.trainable = layer.name.startswith(('block4', 'block5'))\n"
         "trainable_now = sum(l.count_params() for l in base.layers if l.name.startswith('block4'))",
         "not how many of base's weights"),
        ("base = keras.Sequential([keras.Input((64, 64, 3)), base, layers.Flatten(), layers.Dense(1)])\n"
         "trainable_now = sum(int(np.prod(w.shape)) for w in base.trainable_weights)", "no layer block4_conv1")],
    "05.freeze_bn": [
        ("def unfreeze_except_bn(model):\n    for layer in model.layers:\n"
         "        if isinstance(layer, keras.layers.BatchNormalization):\n            layer.trainable = False\n"
         "    model.trainable = True", "conv1_bn (BatchNormalization) is trainable"),
        ("def unfreeze_except_bn(model):\n    pass", "still frozen"),
        ("def unfreeze_except_bn(model):\n    for layer in model.layers:\n"
         "        layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)", "base itself is still frozen"),
        ("unfreeze_except_bn = [layer for layer in resnet.layers if not isinstance(layer, keras.layers.BatchNormalization)]",
         "is a list, not a function"),
        ("def unfreeze_except_bn(model):\n    model.trainable = True\n    for layer in model.layers:  # as phase two\n"
         "        layer.trainable = layer.name.startswith('conv2') and not isinstance(layer, keras.layers.BatchNormalization)",
         "conv1_conv is still frozen")],
    "06.resize_in_model": [
        (RESIZE.format("layers.Resizing(size, size)"), "reaches"),
        (RESIZE.format("layers.Resizing(size, size), layers.Rescaling(1 / 127.5, offset=-1)"), "goes down to"),
        (RESIZE.format("layers.Rescaling(1 / 255)"), "outputs 32x32"),
        (RESIZE.format("layers.ZeroPadding2D((size - 32) // 2), layers.Rescaling(1 / 255)"), "another picture"),
        (RESIZE.format("layers.Resizing(size, size), layers.Rescaling(1 / 255), layers.Rescaling(1 / 255)"),
         "more than once")],
    "06.mobilenet_applications": [
        (MOBILE.format(", pooling='avg'") + "m.trainable = False\nmobilenet_model = keras.Sequential([keras.Input((size, size, 3)), m, "
         "layers.Dense(10, activation='softmax')])", "receives pixels in [0"),
        (MOBILE.format(", pooling='avg'") + "mobilenet_model = keras.Sequential([keras.Input((size, size, 3)), "
         "layers.Rescaling(2.0, offset=-1.0), m, layers.Dense(10, activation='softmax')])", "Conv1 is trainable"),
        (MOBILE.format("") + "m.trainable = False\nmobilenet_model = keras.Sequential([keras.Input((size, size, 3)), m, "
         "layers.Flatten(), layers.Dense(10, activation='softmax')])", "gives maps"),
        (MOBILE.format(", pooling='avg'") + "m.trainable = False\nmobilenet_model = keras.Sequential([keras.Input((size, size, 3)), "
         "layers.Rescaling(2.0, offset=-1.0), m, layers.Dense(10)])", "softmax over CIFAR-10"),
        (MOBILE.format(", pooling='avg'") + "m.trainable = False\nmobilenet_model = keras.Sequential([keras.Input((size, size, 3)), "
         "layers.Rescaling(255.0), m, layers.Dense(10, activation='softmax')])", "up to 255"),
        ("m = keras.applications.MobileNet(include_top=False, weights=None, input_shape=(size, size, 3), pooling='avg')\n"
         "m.trainable = False\nmobilenet_model = keras.Sequential([keras.Input((size, size, 3)), "
         "layers.Rescaling(2.0, offset=-1.0), m, layers.Dense(10, activation='softmax')])", "no keras.applications.MobileNetV2"),
        ("m = keras.applications.MobileNetV2(weights=None, input_shape=(size, size, 3), classes=10)\nm.trainable = False\n"
         "mobilenet_model = keras.Sequential([keras.Input((size, size, 3)), layers.Rescaling(2.0, offset=-1.0), m, "
         "layers.Dense(10, activation='softmax')])", "1,000-class classifier")],
    "07.conv_activations": [
        ("conv_activations = keras.Model(small.inputs, [l.output for l in small.layers "
         "if isinstance(l, (layers.Conv2D, layers.MaxPooling2D))])", "has 8 output(s)"),
        ("other = keras.models.clone_model(small)\nconv_activations = keras.Model(other.inputs, "
         "[l.output for l in other.layers if isinstance(l, layers.Conv2D)])", "differ from `small`'s own"),
        ("conv_activations = keras.Model(small.inputs, [l.output for l in small.layers "
         "if isinstance(l, layers.MaxPooling2D)])", "where conv2d")],
    "07.grad_cam_layer": [
        ("inputs = keras.Input((size, size, 3))\nconv_model_b4 = keras.Model(inputs, models.cut_at(base, 'block4_conv3')(inputs))\n"
         "classifier_model_b4 = conv_model_b4", "are they prepared first"),
        ("inputs = keras.Input((size, size, 3))\n"
         "conv_model_b4 = keras.Model(inputs, models.cut_at(base, 'block4_pool')(prepare(inputs)))\n"
         "classifier_model_b4 = conv_model_b4", "block4_conv3's are"),
        (CONV_B4 + "maps = keras.Input(conv_model_b4.output_shape[1:])\nx = maps\n"
         "for name in ('block5_conv1', 'block5_conv2', 'block5_conv3', 'block5_pool'):\n    x = base.get_layer(name)(x)\n"
         "classifier_model_b4 = keras.Model(maps, head(base.get_layer('block4_pool')(x)))", "missing or repeated"),
        (CONV_B4 + "maps = keras.Input(base.get_layer('block4_pool').output.shape[1:])\nx = maps\n"
         "for name in ('block5_conv1', 'block5_conv2', 'block5_conv3', 'block5_pool'):\n    x = base.get_layer(name)(x)\n"
         "classifier_model_b4 = keras.Model(maps, head(x))", "the classifier starts where the conv model ends")],
}


def test_every_exercise_has_three_right_and_two_wrong_answers_and_every_notebook_two_exercises():
    """The tables above are the checks' specification: an exercise without them has an untested check."""
    assert set(RIGHT_ANSWERS) == set(WRONG_ANSWERS) == set(ALL)
    for exercise_id in ALL:
        assert len(RIGHT_ANSWERS[exercise_id]) >= 3, exercise_id
        assert len(WRONG_ANSWERS[exercise_id]) >= 2, exercise_id
        assert exercises.get(exercise_id).solution_code not in RIGHT_ANSWERS[exercise_id]
    for number in range(1, 8):
        assert len([e for e in ALL if e.startswith(f"0{number}.")]) >= 2


@pytest.mark.parametrize("exercise_id,code", [(e, code) for e, answers in RIGHT_ANSWERS.items() for code in answers])
def test_every_right_answer_passes(exercise_id, code):
    """A check narrowed to one form (Sequential only, class names, activations as arguments) fails here."""
    outcome = run(exercise_id, code)
    assert outcome.status == PASSED, f"{exercise_id} rejected a right answer: {outcome.message}"


@pytest.mark.parametrize("exercise_id", ALL)
def test_the_solution_passes_the_teacher_editions_check_cell(exercise_id):
    exercise = exercises.get(exercise_id)
    outcome = run(exercise_id, editions.source(exercise, "code", "teacher"), editions.source(exercise, "check", "teacher"))
    assert outcome.status == PASSED, outcome.message


@pytest.mark.parametrize("exercise_id", ALL)
def test_the_starter_is_not_answered_yet_in_the_student_editions_check_cell(exercise_id):
    """The student edition's cells, as they run in a notebook: the check reads the cell's variables."""
    exercise = exercises.get(exercise_id)
    check_cell = editions.source(exercise, "check", "student").replace("exercises.get(", "outcome = exercises.get(")
    outcome = run(exercise_id, editions.source(exercise, "code", "student"), check_cell)
    assert outcome.status == NOT_ANSWERED, outcome.message
    assert "still None" in outcome.message


@pytest.mark.parametrize("exercise_id,code,expected",
                         [(e, code, expected) for e, answers in WRONG_ANSWERS.items() for code, expected in answers])
def test_a_typical_wrong_answer_gets_its_message_and_never_passes(exercise_id, code, expected):
    """A check weakened to always pass fails here: each of these answers must be "wrong"."""
    outcome = run(exercise_id, code)
    assert outcome.status == WRONG, f"{exercise_id} passed a wrong answer: {outcome.message}"
    assert expected in outcome.message


class Raises(layers.Layer):
    """A learner's layer that builds but fails on real images."""

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, x):
        raise RuntimeError("this layer cannot run\nsecond line")


@pytest.mark.parametrize("make,expected", [
    (lambda: "a string", "is a str, not a Keras model"),
    (lambda: keras.Sequential([layers.Resizing(SIZE, SIZE)]), "has no input shape yet"),
    (lambda: keras.Sequential([keras.Input((32, 32, 3)), Raises()]),
     "could not be used: RuntimeError: this layer cannot run."),
], ids=["wrong type", "not built", "raises when called"])
def test_bad_input_gives_one_sentence_and_no_exception(make, expected):
    outcome = exercises.get("06.resize_in_model").check(make(), size=SIZE)
    assert outcome.status == WRONG and expected in outcome.message and "\n" not in outcome.message


def test_a_missing_variable_is_not_answered_and_values_come_from_the_calling_cell(capsys):
    namespace = {"exercises": exercises}
    exec('outcome = exercises.get("01.block_output_size").check()', namespace)  # no such variable yet
    assert namespace["outcome"].status == NOT_ANSWERED
    assert namespace["outcome"].message == ("`block_output_size` is not defined yet: run the exercise cell above, "
                                            "then this one.")
    exec('block_output_size = lambda n: (n - 2) // 2\noutcome = exercises.get("01.block_output_size").check()', namespace)
    assert namespace["outcome"].passed
    assert str(namespace["outcome"]).startswith("Correct (01.block_output_size): ")


def test_hints_come_one_by_one_and_the_solution_prints_the_code(capsys):
    exercise = exercises.get("01.no_fourth_block")
    exercise._hints_shown = 0
    exercise.hint()
    exercise.hint()
    exercise.hint()
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Hint (1 of 2") and out[1].startswith("Hint: ") and out[2] == out[1]
    exercise.solution()
    assert "layers.Conv2D(128, 3" in capsys.readouterr().out


def test_an_unknown_exercise_is_a_course_error_naming_the_ids():
    with pytest.raises(CourseError, match="no exercise 'xx'.*01.no_fourth_block"):
        exercises.get("xx")


def test_outcomes_are_recorded_one_json_line_each(tmp_path):
    path = exercises.record(Outcome("01.a", PASSED, "fine."), tmp_path, notebook="01_x", run_id="r", profile="quick")
    exercises.record(Outcome("01.b", NOT_ANSWERED, "later."), tmp_path, notebook="01_x")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(line["id"], line["status"]) for line in lines] == [("01.a", PASSED), ("01.b", NOT_ANSWERED)]
    assert path.name == "01_x.jsonl" and lines[0]["notebook"] == "01_x"
    assert (lines[0]["run_id"], lines[0]["profile"]) == ("r", "quick")
    assert exercises.record(Outcome("01.c", PASSED, "."), tmp_path).name == exercises.OUTCOMES_FILE


# Editions, on a fixture notebook built here (the course's notebooks are not read).

def fixture_notebook(folder, name="01_scratch_cnn_baseline.ipynb"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 01"), nbformat.v4.new_code_cell("size = 64")]
    nb = editions.stamp(nb, exercises.for_notebook("01_scratch_cnn_baseline"))
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.from_dict(nb), folder / name)
    return folder / name


def test_stamping_is_idempotent_and_updates_cells_in_place(tmp_path):
    path = fixture_notebook(tmp_path / "notebooks")
    nb = nbformat.read(path, as_version=4)
    assert len(nb.cells) == 2 + 3 * 2
    assert editions.stamp(nb, exercises.for_notebook("01_scratch_cnn_baseline")) == nb
    assert editions.stamp_file(path) is False
    nb.cells[3].source = "edited by hand"
    nbformat.write(nb, path)
    assert editions.stamp_file(path) is True and editions.stamp_file(path) is False
    assert nbformat.read(path, as_version=4).cells[3].source == exercises.get("01.no_fourth_block").starter.strip()


def test_stamping_puts_new_exercises_before_the_summary_and_after_the_last_exercise():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("size = 64"), nbformat.v4.new_markdown_cell("## Summary\n\n- ...")]
    first, second = exercises.for_notebook("01_scratch_cnn_baseline")
    nb = editions.stamp(editions.stamp(nb, [first]), [second])
    assert [c["metadata"].get("course_exercise") for c in nb.cells] == [None, *[first.id] * 3, *[second.id] * 3, None]
    assert nb.cells[-1]["source"].startswith("## Summary")


def test_student_edition_has_no_solution_and_teacher_edition_has_nbgrader_markers(tmp_path):
    fixture_notebook(tmp_path / "notebooks")
    written = editions.write_editions(tmp_path / "notebooks", tmp_path / "out")
    student = (tmp_path / "out/student/01_scratch_cnn_baseline.ipynb").read_text()
    teacher = nbformat.read(tmp_path / "out/teacher/01_scratch_cnn_baseline.ipynb", as_version=4)
    assert [p.name for p in written["teacher"]] == ["01_scratch_cnn_baseline.ipynb"]
    assert "BEGIN SOLUTION" not in student and "(n - 2) // 2" not in student and "Conv2D(64" not in student
    code = [c for c in teacher.cells if c.metadata.get("course_exercise_part") == "code"]
    assert len(code) == 2
    for found in code:
        exercise = exercises.get(found.metadata["course_exercise"])
        assert found.source.startswith("### BEGIN SOLUTION\n") and found.source.endswith("\n### END SOLUTION")
        assert exercise.solution_code.strip() in found.source
        assert found.metadata["nbgrader"] == {"task": False, "grade": False, "solution": True, "locked": False,
                                              "grade_id": exercise.id.replace(".", "-") + "-code", "schema_version": 3}
    task = next(c for c in teacher.cells if c.metadata.get("course_exercise_part") == "task")
    assert "BEGIN MARK SCHEME" in task.source and "typically get wrong" in task.source
    nbformat.validate(teacher)


def stand_in_session(build, run_id="run-1", profile="smoke"):
    """What a check cell uses of the notebook's session: its folders and the run's identity."""
    return types.SimpleNamespace(notebook="01_scratch_cnn_baseline", run_id=run_id, profile=profile,
                                 artifact_path=lambda kind, name="": config.artifact_path(build, kind, name))


def test_the_student_cells_run_say_not_answered_and_record_it_for_the_report(tmp_path, capsys):
    nb = editions.edition(nbformat.read(fixture_notebook(tmp_path), as_version=4), "student")
    namespace = {"session": stand_in_session(tmp_path / "build")}
    for found in nb.cells:
        if found["cell_type"] == "code":
            exec(found["source"], namespace)
    assert namespace["exercises"].get("01.no_fourth_block").check(three_blocks=None).status == NOT_ANSWERED
    latest = exercises.latest_outcomes(tmp_path / "build/exercises", "smoke", "run-1")
    assert {i: line["status"] for i, line in latest.items()} == {"01.no_fourth_block": NOT_ANSWERED,
                                                                 "01.block_output_size": NOT_ANSWERED}
    assert exercises.latest_outcomes(tmp_path / "build/exercises", "smoke", "run-2") == {}
    assert exercises.latest_outcomes(tmp_path / "build/exercises", "quick") == {}


def test_the_newest_outcome_of_a_run_counts_and_a_cut_line_is_skipped(tmp_path):
    session = stand_in_session(tmp_path)
    exercise = exercises.get("01.block_output_size")
    assert exercise.check(block_output_size=lambda n: n, session=session).status == WRONG
    assert exercise.check(block_output_size=lambda n: (n - 2) // 2, session=session).status == PASSED
    path = tmp_path / "exercises/01_scratch_cnn_baseline.jsonl"
    with path.open("a") as file:
        file.write('{"id": "01.block_output_size", "status": "wro')  # a run killed while writing
    assert exercises.latest_outcomes(tmp_path / "exercises", "smoke")["01.block_output_size"]["status"] == PASSED


def test_an_unknown_exercise_in_a_notebook_names_the_cell(tmp_path):
    path = fixture_notebook(tmp_path / "notebooks")
    nb = nbformat.read(path, as_version=4)
    nb.cells[3].metadata["course_exercise"] = "01.nothing"
    nbformat.write(nb, path)
    with pytest.raises(CourseError, match="01_scratch_cnn_baseline.ipynb, cell 3: no exercise '01.nothing'"):
        editions.write_editions(tmp_path / "notebooks", tmp_path / "out")
    assert editions.main(["write", str(tmp_path / "out"), "--notebooks", str(tmp_path / "nowhere")]) == 1


@pytest.mark.skipif(not (os.environ.get("NBGRADER") or shutil.which("nbgrader")), reason="nbgrader is not installed")
def test_nbgrader_generates_the_assignment_from_the_teacher_edition(tmp_path):
    """Set NBGRADER to an nbgrader executable (it is not a dependency of the course)."""
    fixture_notebook(tmp_path / "notebooks")
    editions.write_editions(tmp_path / "notebooks", tmp_path / "out")
    course = tmp_path / "course"
    (course / "source/lab01").mkdir(parents=True)
    shutil.copy(tmp_path / "out/teacher/01_scratch_cnn_baseline.ipynb", course / "source/lab01")
    nbgrader = os.environ.get("NBGRADER") or shutil.which("nbgrader")
    command = [nbgrader, "generate_assignment", "lab01", "--force", "--CourseDirectory.root=" + str(course),
               "--CourseDirectory.db_url=sqlite:///" + str(course / "gb.db")]
    # nbgrader runs `alembic` from PATH: its own environment's bin folder comes first, as when it is activated.
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(nbgrader), os.environ.get("PATH", "")]))
    done = subprocess.run(command, capture_output=True, text=True, cwd=course, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    released = (course / "release/lab01/01_scratch_cnn_baseline.ipynb").read_text()
    assert "BEGIN SOLUTION" not in released and "(n - 2) // 2" not in released
    assert "typically get wrong" not in released and "YOUR CODE HERE" in released


NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("0[1-7]_*.ipynb")), ids=lambda p: p.stem)
def test_every_lesson_notebook_is_the_student_edition_with_at_least_two_exercises(path):
    """The repository's notebooks are the student edition: stamping changes nothing, and the
    student edition written from them is the notebook itself."""
    notebook = nbformat.read(path, as_version=4)
    assert len(exercises.for_notebook(path.stem)) >= 2
    assert editions.stamp(notebook, exercises.for_notebook(path.stem)) == notebook
    assert editions.edition(notebook, "student") == notebook
    ids = {c.metadata.get("course_exercise") for c in notebook.cells} - {None}
    assert ids == {exercise.id for exercise in exercises.for_notebook(path.stem)}
