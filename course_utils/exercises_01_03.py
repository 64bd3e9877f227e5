"""The exercises of notebooks 01 to 03 (from scratch, augmentation, feature extraction): one
`Exercise` each, with the check that inspects what the learner built (see `exercise_checks`)."""

from __future__ import annotations

import numpy as np

from .exercise_checks import (Exercise, Wrong, copy_weights, count, first_difference, flat_layers, input_reaching, kinds,
                              model_of, output_activation, probe, shape_of)


def _probe_images(shape: tuple = (24, 24, 3)) -> np.ndarray:
    """Eight images of `shape` in [0, 255] that hold both ends of the range: a layer that leaves it shows at once."""
    images = probe(shape, n=8)
    images[:, :4], images[:, -4:] = 0.0, 255.0
    return images


def _three_blocks_reference(shape: tuple):
    """Notebook 01's network without its fourth block, for inputs of `shape`: what `three_blocks` must compute."""
    import keras
    from keras import layers

    stack = [keras.Input(shape=shape), layers.Rescaling(1.0 / 255)]
    for filters in (32, 64, 128):
        stack += [layers.Conv2D(filters, 3, activation="relu"), layers.MaxPooling2D(2)]
    return keras.Sequential(stack + [layers.Flatten(), layers.Dense(512, activation="relu"),
                                     layers.Dense(1, activation="sigmoid")])


def _no_fourth_block(three_blocks) -> str:
    """Layer counts and settings first (the messages a learner can act on), then behaviour: the
    learner's weights copied into the reference network must give the same outputs, stage by stage,
    so that activations may be written as arguments or as layers, in a Sequential or a functional model."""
    from keras import layers

    model = model_of(three_blocks, "three_blocks")
    stack = flat_layers(model)
    convs = [layer for layer in stack if isinstance(layer, layers.Conv2D)]
    if len(convs) != 3:
        raise Wrong(f"`three_blocks` has {len(convs)} convolution layers; without the fourth block it keeps three.")
    if [conv.filters for conv in convs] != [32, 64, 128]:
        raise Wrong(f"its convolutions have {', '.join(str(c.filters) for c in convs)} filters: not the first three "
                    "blocks of notebook 01's network.")
    for conv in convs:
        if tuple(conv.kernel_size) != (3, 3) or tuple(conv.strides) != (1, 1) or conv.padding != "valid":
            raise Wrong(f"{conv.name} is not a 3x3 convolution without padding, as notebook 01's are.")
    blocks = [type(layer).__name__ for layer in stack if isinstance(layer, (layers.Conv2D, layers.MaxPooling2D))]
    pools = [layer for layer in stack if isinstance(layer, layers.MaxPooling2D)]
    if blocks != ["Conv2D", "MaxPooling2D"] * 3:
        raise Wrong(f"its blocks read {', '.join(blocks)}: each block is one Conv2D followed by its MaxPooling2D(2).")
    for pool in pools:
        if tuple(pool.pool_size) != (2, 2) or tuple(pool.strides) != (2, 2):
            raise Wrong(f"{pool.name} pools {'x'.join(map(str, pool.pool_size))} windows: each block is one Conv2D "
                        "followed by its MaxPooling2D(2), which halves the maps.")
    denses = [layer for layer in stack if isinstance(layer, layers.Dense)]
    if [dense.units for dense in denses] != [512, 1]:
        raise Wrong("after Flatten, notebook 01's network has a Dense layer of 512 ReLU units, then one sigmoid unit.")
    others = [layer.name for layer in stack if layer.weights and layer not in convs + denses]
    if others:
        raise Wrong(f"{others[0]} has weights that notebook 01's network does not have: keep everything else as it was.")
    shape = shape_of(model.inputs[0].shape)
    reference = _three_blocks_reference(shape)
    mine = convs + denses
    theirs = [layer for layer in reference.layers if layer.weights]
    if not copy_weights(list(zip(mine, theirs))):
        raise Wrong("its first Dense layer reads another number of values than notebook 01's network would: is "
                    "Flatten right after the last block?")
    stages = [(convs[0], theirs[0], "no Rescaling(1/255) before the first convolution: the network would see "
                                    "pixels in [0, 255], not [0, 1].")]
    stages += [(after, their_after, f"what leaves the block of {conv.name} is not what notebook 01's block gives: "
                                    "a 3x3 convolution with ReLU, then MaxPooling2D(2)?")
               for conv, after, their_after in zip(convs, mine[1:4], theirs[1:4])]
    stages += [(denses[1], theirs[4], "after Flatten, notebook 01's network has a Dense layer of 512 ReLU units: "
                                      "is the ReLU there?"),
               (None, None, "it does not end in one sigmoid unit, the probability of dog.")]
    wrong = first_difference(model, reference, stages, _probe_images(shape)[:2])
    if wrong:
        raise Wrong(wrong)
    flat = count(denses[0].weights[:1]) // 512
    return (f"three blocks of 32, 64 and 128 filters, then Flatten ({flat:,} numbers per image) and the dense layers: "
            f"{model.count_params():,} parameters. Compare with `model.count_params()` and explain the difference.")


def _block_output_size(block_output_size) -> str:
    from keras import layers

    if not callable(block_output_size):
        raise Wrong(f"`block_output_size` is a {type(block_output_size).__name__}, not a function of n.")
    for n in (150, 64, 37, 11, 8):
        keras_side = layers.MaxPooling2D(2).compute_output_shape(layers.Conv2D(1, 3).compute_output_shape((1, n, n, 3)))[1]
        got = block_output_size(n)
        # The task asks for "the height (and width)": one number, or the pair (height, width).
        pair = isinstance(got, (tuple, list, np.ndarray)) and np.ndim(got) == 1 and len(got) == 2
        sides = list(got) if pair else [got]
        for side in sides:
            if isinstance(side, (bool, np.bool_)) or not isinstance(side, (int, float, np.integer, np.floating)):
                raise Wrong(f"for n = {n} your function returns {got!r}, not a number (or a pair of numbers).")
            if side != keras_side:
                raise Wrong(f"for a {n}x{n} input your function gives {got}, Keras gives {keras_side}x{keras_side}.")
    return "your function agrees with Keras' own output shapes for inputs from 8x8 to 150x150."


# The types of the notebook's five layers (`Identity`: compat.random_shear on a Keras without RandomShear).
_ORIGINAL = {"RandomRotation", "RandomTranslation", "RandomZoom", "RandomShear", "RandomFlip", "Identity", "InputLayer"}


def _check_range(output, what: str) -> None:
    low, high = float(np.min(output)), float(np.max(output))
    if low < -1e-3:
        raise Wrong(f"{what} goes down to {low:.1f}: pixels must stay in [0, 255].")
    if high > 255.001:
        raise Wrong(f"{what} goes up to {high:.1f}: pixels must stay in [0, 255].")
    if high <= 1.5:
        raise Wrong(f"{what} lies within [0, {high:.2f}] for pixels in [0, 255]: a layer squeezed the pixel range.")


def _augment_in_range(augment_plus) -> str:
    """By behaviour, not by class name: the added layer must change the images in training (any of
    Keras' random layers, `Solarization`, `RandAugment`, ...) and the whole must keep the range in
    training and change nothing at evaluation. Probed at the model's own input size when it has one."""
    import keras

    if not isinstance(augment_plus, keras.layers.Layer):
        raise Wrong(f"`augment_plus` is a {type(augment_plus).__name__}, not a Keras model of layers.")
    layers_in = flat_layers(augment_plus) if isinstance(augment_plus, keras.Model) else [augment_plus]
    names = kinds(layers_in)
    lost = {"RandomRotation", "RandomTranslation", "RandomZoom", "RandomFlip"} - set(names)
    if lost:
        raise Wrong(f"it lost the notebook's {', '.join(sorted(lost))}: keep the five layers of `augment` and add one.")
    try:
        shape = shape_of(augment_plus.inputs[0].shape)
    except (AttributeError, ValueError, IndexError, TypeError):  # a Sequential without keras.Input: any size
        shape = ()
    images = _probe_images(shape if len(shape) == 3 and None not in shape else (24, 24, 3))
    at_evaluation = np.asarray(augment_plus(images, training=False))
    draws = [np.asarray(augment_plus(images, training=True)) for _ in range(3)]
    changed = next((out.shape for out in (at_evaluation, *draws) if out.shape != images.shape), None)
    if changed:
        raise Wrong(f"it turns images of shape {images.shape[1:]} into {changed[1:]}: augmentation keeps the size.")
    if not np.allclose(at_evaluation, images):
        raise Wrong("with training=False it changes the images: at evaluation augmentation must let them through.")
    for draw in draws:
        _check_range(draw, "in training its output")
    added = [layer for layer in layers_in if type(layer).__name__ not in _ORIGINAL]
    acting = [type(layer).__name__ for layer in added
              if any(not np.allclose(np.asarray(layer(images, training=True)), images) for _ in range(3))]
    if not acting:
        raise Wrong("it adds no new random transformation to the notebook's layers: nothing new changes the images "
                    "in training.")
    return (f"{', '.join(acting)} added; in training the output stays in [{min(d.min() for d in draws):.0f}, "
            f"{max(d.max() for d in draws):.0f}], and at evaluation the images pass unchanged.")


def _augment_batch(augment_batch) -> str:
    import tensorflow as tf

    if not callable(augment_batch):
        raise Wrong(f"`augment_batch` is a {type(augment_batch).__name__}, not a function of (images, labels).")
    images, labels = _probe_images(), np.arange(8) % 2
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8).map(augment_batch)  # in graph mode, as in fit
    element = next(iter(dataset))
    if not isinstance(element, tuple) or len(element) != 2:
        raise Wrong("it does not return two values: `map` needs (images, labels) back, or the labels are lost.")
    out_images, out_labels = (np.asarray(part) for part in element)
    if out_labels.shape != labels.shape or not np.array_equal(out_labels, labels):
        raise Wrong("it changes the labels: only the images should be transformed.")
    if out_images.shape != images.shape:
        raise Wrong(f"it turns images of shape {images.shape[1:]} into {out_images.shape[1:]}.")
    _check_range(out_images, "its output")
    if np.allclose(out_images, images):
        raise Wrong("it returns the images unchanged: the augmentation does not run as in training.")
    return "it augments each batch inside tf.data and keeps the labels: `splits.train.map(augment_batch)` is ready."


def _conv_head(gap_conv_head, x_train) -> str:
    from keras import layers

    model = model_of(gap_conv_head, "gap_conv_head")
    features = tuple(np.shape(x_train)[1:])
    if shape_of(model.inputs[0].shape) != features:
        raise Wrong(f"it takes inputs of shape {shape_of(model.inputs[0].shape)}; the cached features are {features}: "
                    "the head sits on the base's features, not on images.")
    stack = flat_layers(model)
    first = next((layer for layer in stack if layer.weights), None)
    if not isinstance(first, layers.Conv2D):
        raise Wrong(f"its first layer with weights is a {type(first).__name__}: a convolutional head starts with a Conv2D.")
    if any(isinstance(layer, layers.Flatten) for layer in stack):
        raise Wrong("it still flattens the maps (Flatten): this head should pool each map to one number instead.")
    if not any(isinstance(layer, (layers.GlobalAveragePooling2D, layers.GlobalMaxPooling2D)) for layer in stack):
        raise Wrong("nothing turns its feature maps into one vector per image before the dense layer.")
    last, activation = output_activation(stack)
    if last is None or last.units != 1 or activation != "sigmoid" or shape_of(model.outputs[0].shape) != (1,):
        raise Wrong("it does not end in one sigmoid unit: the labels are 0 (cat) or 1 (dog), with binary_crossentropy.")
    out = np.asarray(model(np.asarray(x_train[:2], "float32"), training=False))
    return (f"Conv2D over the {'x'.join(map(str, features))} features, global pooling, one sigmoid unit: "
            f"{model.count_params():,} parameters, output {out.shape}.")


def _frozen_base_in_model(end_to_end, prepare) -> str:
    """By behaviour where the lesson allows several forms: what reaches the base must be `prepare`'s
    output at evaluation (however the learner wrote it: `prepare`, `preprocess_input`, a Lambda), and
    something before the base must change the images in training (any random layer)."""
    import keras

    model = model_of(end_to_end, "end_to_end")
    bases = [layer for layer in model.layers if isinstance(layer, keras.Model) and
             any(inner.name == "block1_conv1" for inner in layer.layers)]
    if not bases:
        raise Wrong("no VGG base inside `end_to_end`: call the base on the prepared images.")
    base = bases[0]
    unfrozen = [layer.name for layer in base.layers if layer.trainable_weights]
    if unfrozen:
        raise Wrong(f"{unfrozen[0]} is still trainable ({len(unfrozen)} of the base's layers are): "
                    "the base would learn with the head.")
    if not model.trainable_weights:
        raise Wrong("nothing in `end_to_end` is trainable: the head must learn.")
    if shape_of(model.outputs[0].shape) != (1,):
        raise Wrong(f"its output has shape {shape_of(model.outputs[0].shape)}: one sigmoid unit gives (1,).")
    images = _probe_images(shape_of(model.inputs[0].shape))  # 8 images, 3 draws: a 50 % flip skips all 1 in 2**24
    at_evaluation = input_reaching(model, base, images, training=False)
    if at_evaluation is None:
        raise Wrong("the base's input cannot be traced from the model's input: call the base once, on the prepared "
                    "images, inside `end_to_end`.")
    if not np.allclose(at_evaluation, np.asarray(prepare(images.copy())), atol=1e-3):
        if np.allclose(at_evaluation, images, atol=1e-3):
            raise Wrong("the images reach the base as they are, in [0, 255]: call `prepare` on them before the base, "
                        "as the notebook does (VGG16 was trained on images prepared so).")
        raise Wrong("what reaches the base is not `prepare(images)`: the base's input preparation is missing or "
                    "changed.")
    in_training = [input_reaching(model, base, images, training=True) for _ in range(3)]
    if all(np.allclose(seen, at_evaluation) for seen in in_training):
        after = [inner for layer in model.layers[model.layers.index(base) + 1:]
                 for inner in (flat_layers(layer) if isinstance(layer, keras.Sequential) else [layer])]
        if any("Random" in name for name in kinds(after)):
            raise Wrong("the augmentation comes after the base: it would distort the features, not the images.")
        raise Wrong("nothing before the base changes the images in training: no random augmentation in `end_to_end`, "
                    "which is what a base inside the model makes possible.")
    return (f"augmentation and `prepare` first, the base frozen ({count(base.non_trainable_weights):,} weights), "
            f"{count(model.trainable_weights):,} trainable weights in the head.")


EXERCISES = [
    Exercise(
        id="01.no_fourth_block", notebook="01_scratch_cnn_baseline", title="The network without its fourth block",
        task="Build notebook 01's network **without its fourth convolution block** (its `Conv2D(128)` and the "
             "`MaxPooling2D` after it), everything else as it was, as `three_blocks`. Then compare "
             "`three_blocks.count_params()` with `model.count_params()`: fewer blocks, fewer parameters?",
        starter="import keras\nfrom keras import layers\n\n"
                "three_blocks = None  # your code here: keras.Sequential([...], name=\"three_blocks\")\n",
        solution_code="import keras\nfrom keras import layers\n\nthree_blocks = keras.Sequential([\n"
                      "    keras.Input(shape=(size, size, 3)),\n    layers.Rescaling(1.0 / 255),\n"
                      "    layers.Conv2D(32, 3, activation=\"relu\"),\n    layers.MaxPooling2D(2),\n"
                      "    layers.Conv2D(64, 3, activation=\"relu\"),\n    layers.MaxPooling2D(2),\n"
                      "    layers.Conv2D(128, 3, activation=\"relu\"),\n    layers.MaxPooling2D(2),\n"
                      "    layers.Flatten(),\n    layers.Dense(512, activation=\"relu\"),\n"
                      "    layers.Dense(1, activation=\"sigmoid\"),\n], name=\"three_blocks\")\n"
                      "print(f\"{three_blocks.count_params():,} parameters with three blocks, "
                      "{model.count_params():,} with four\")\n",
        names=("three_blocks",), uses=("size", "model"),
        hints=("Copy the network's cell and delete two lines: a block is a Conv2D and the pooling after it.",
               "Look at the Output Shape column of `three_blocks.summary()` at the Flatten row: how many numbers "
               "reach the Dense layer of 512 units now?"),
        mistakes="Deleting the `Conv2D(128)` but keeping its `MaxPooling2D` (two poolings in a row), or deleting "
                 "another block (the second: 32, 128, 128 filters); changing what stays (a Dense(512) without its "
                 "ReLU, `padding=\"same\"`, `MaxPooling2D(3)`). Most expect fewer parameters: there are more, because the "
                 "Flatten layer now gets a larger map and the first Dense layer's weights grow with it.",
        verify=_no_fourth_block),
    Exercise(
        id="01.block_output_size", notebook="01_scratch_cnn_baseline", title="Output sizes, by hand",
        task="Write `block_output_size(n)`: the height (and width) of the maps after one of the network's blocks, "
             "a 3x3 convolution without padding and a 2x2 max pooling, for an `n` x `n` input. The check compares "
             "it with the shapes Keras computes.",
        starter="block_output_size = None  # your code here: def block_output_size(n): ...\n",
        solution_code="def block_output_size(n):\n    # the convolution trims a pixel on each border, the pooling "
                      "halves and rounds down\n    return (n - 2) // 2\n\n"
                      "print([block_output_size(n) for n in (size, 150)])\n",
        names=("block_output_size",), uses=("size",),
        hints=("Two steps: what does a 3x3 convolution without padding do to n, and what does a 2x2 pooling do?",
               "The summary's Output Shape column of the network gives you examples to test against."),
        mistakes="Forgetting that the convolution trims the borders (`n // 2`), or dividing with `/`, which gives "
                 "a fraction for odd sizes where pooling rounds down.",
        verify=_block_output_size),
    Exercise(
        id="02.augment_in_range", notebook="02_data_augmentation", title="One more augmentation, pixels in range",
        task="Make `augment_plus`: the five layers of `augment` and **one more random transformation** of your "
             "choice (contrast, brightness, ...). Its output must stay in the images' range, [0, 255], in training, "
             "and at evaluation it must pass images through unchanged.",
        starter="import keras\nfrom keras import layers\n\n"
                "augment_plus = None  # your code here: keras.Sequential([*augment.layers, ...], name=\"augment_plus\")\n",
        solution_code="import keras\nfrom keras import layers\n\naugment_plus = keras.Sequential([\n    *augment.layers,\n"
                      "    layers.RandomContrast(0.3),  # its value_range is (0, 255) by default: the output is kept in it\n"
                      "], name=\"augment_plus\")\n",
        names=("augment_plus",), uses=("augment",),
        hints=("`augment.layers` is the list of the notebook's five layers; a new `keras.Sequential` can start from it.",
               "Keras' colour layers take a `value_range`: the range the images come in, and the one the output keeps."),
        mistakes="`RandomBrightness(0.2, value_range=(0, 1))` on images in [0, 255]: the output is squeezed into "
                 "[0, 1]. `GaussianNoise` pushes pixels below 0 and above 255. A `Rescaling` added here changes the "
                 "images at evaluation too.",
        verify=_augment_in_range),
    Exercise(
        id="02.augment_batch", notebook="02_data_augmentation", title="Augmentation in the tf.data pipeline",
        task="Write `augment_batch(images, labels)`, a function for `splits.train.map(augment_batch)` that applies "
             "`augment` to a batch of images and returns it with its labels: the augmentation then runs in the "
             "input pipeline instead of the model. Compare an epoch's time with the model's.",
        starter="import tensorflow as tf\n\n"
                "augment_batch = None  # your code here: def augment_batch(images, labels): ...\n",
        solution_code="import tensorflow as tf\n\ndef augment_batch(images, labels):\n"
                      "    # training=True, as fit() would say: augmentation runs in training only\n"
                      "    return augment(images, training=True), labels\n\n"
                      "augmented_train = splits.train.map(augment_batch, num_parallel_calls=tf.data.AUTOTUNE)\n",
        names=("augment_batch",), uses=("augment", "splits"),
        hints=("`map` calls the function with the two parts of each element and keeps what it returns.",
               "Inside `fit`, Keras calls the model with `training=True`; inside `map`, you call `augment` yourself."),
        mistakes="Calling `augment(images, training=False)`, copied from the notebook's inference check (the images "
                 "come back unchanged), or returning the images alone, which drops the labels.",
        verify=_augment_batch),
    Exercise(
        id="03.conv_head", notebook="03_vgg_feature_extraction", title="A convolutional head with global pooling",
        task="Build `gap_conv_head`, a convolutional head for the cached features `x_train`: a `Conv2D` over the "
             "base's maps, then **global average pooling** instead of `Flatten`, and one sigmoid unit. How many "
             "parameters does it have, against `conv_head`?",
        starter="import keras\nfrom keras import layers\n\n"
                "gap_conv_head = None  # your code here: keras.Sequential([keras.Input(shape=x_train.shape[1:]), ...])\n",
        solution_code="import keras\nfrom keras import layers\n\ngap_conv_head = keras.Sequential([\n"
                      "    keras.Input(shape=x_train.shape[1:]),\n"
                      "    layers.Conv2D(256, 3, padding=\"same\", activation=\"relu\"),\n"
                      "    layers.GlobalAveragePooling2D(),  # one number per map: no Flatten\n"
                      "    layers.Dense(1, activation=\"sigmoid\"),\n], name=\"gap_conv_head\")\n"
                      "print(f\"{gap_conv_head.count_params():,} parameters; conv_head: {conv_head.count_params():,}\")\n",
        names=("gap_conv_head", "x_train"), uses=("x_train", "conv_head"),
        hints=("The head's input is one cached feature map, `x_train.shape[1:]`, not an image.",
               "`layers.GlobalAveragePooling2D()` turns maps of h x w x c into c numbers."),
        mistakes="Giving the head the image shape as input; a 3x3 convolution without `padding=\"same\"` on maps "
                 "smaller than 3x3 (the smoke profile's are 2x2: it fails to build); keeping `Flatten`.",
        verify=_conv_head),
    Exercise(
        id="03.frozen_base_in_model", notebook="03_vgg_feature_extraction", title="A frozen base inside the model",
        task="Build `end_to_end`: random augmentation, the base's input preparation (`prepare`), a **frozen** VGG16 "
             "base, and a small head, in one `keras.Model`. Build the base with `weights=None` and 64x64 inputs: "
             "only the structure is checked, and it builds in a second.",
        starter="import keras\nfrom keras import layers\n\n"
                "vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(64, 64, 3))\n"
                "end_to_end = None  # your code here: keras.Model(inputs, outputs)\n",
        solution_code="import keras\nfrom keras import layers\n\n"
                      "vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(64, 64, 3))\n"
                      "vgg.trainable = False  # before training: only the head learns\n"
                      "inputs = keras.Input(shape=(64, 64, 3))\nx = layers.RandomFlip(\"horizontal\")(inputs)\n"
                      "x = prepare(x)\nx = vgg(x, training=False)\nx = layers.Flatten()(x)\n"
                      "x = layers.Dense(256, activation=\"relu\")(x)\n"
                      "end_to_end = keras.Model(inputs, layers.Dense(1, activation=\"sigmoid\")(x))\n",
        names=("end_to_end", "prepare"), uses=("prepare",),
        hints=("Write it as the notebook's end-to-end cell does: `x = ...(x)` line by line, from `keras.Input`.",
               "Which attribute of the base decides whether its weights change in `fit`?"),
        mistakes="Leaving out `prepare`, so that the base sees pixels in [0, 255] instead of the input it was "
                 "trained on (the mistake notebook 03 warns about most); forgetting `vgg.trainable = False`, so that "
                 "`fit` would change the pretrained filters; putting the augmentation after the base.",
        verify=_frozen_base_in_model),
]
