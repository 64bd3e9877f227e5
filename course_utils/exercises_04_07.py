"""The exercises of notebooks 04 to 07 (surgery, fine-tuning, TF-Hub, looking inside): one
`Exercise` each, with the check that inspects what the learner built (see `exercise_checks`)."""

from __future__ import annotations

import numpy as np

from .exercise_checks import (Exercise, Wrong, close, copy_weights, count, first_difference, flat_layers, input_reaching,
                              integer, kinds, model_of, output_activation, probe, shape_of)


def _cut_block3(cut3, cut3_trainable, base) -> str:
    """After phase two only block 5 trains, so a cut at block 3 has nothing trainable: the exercise
    unfreezes block 3 in the cut, and the check reads what trains (by layer) and the learner's count."""
    import keras

    model = model_of(cut3, "cut3")
    want = model_of(base, "base").get_layer("block3_pool").output
    if shape_of(model.outputs[0].shape) != shape_of(want.shape):
        ends = model.layers[-1].name
        raise Wrong(f"`cut3` ends at {ends}, with maps of shape {shape_of(model.outputs[0].shape)}; block3_pool's "
                    f"are {shape_of(want.shape)}.")
    images = probe(shape_of(base.inputs[0].shape), n=1)
    if shape_of(model.inputs[0].shape) != shape_of(base.inputs[0].shape) or not close(
            model(images, training=False), keras.Model(base.input, want)(images, training=False)):
        raise Wrong("`cut3` does not compute what `base` computes up to block3_pool: cut the base itself, from "
                    "`base.input`.")
    weighted = [layer for layer in flat_layers(model) if layer.weights]
    frozen = [layer.name for layer in weighted if layer.name.startswith("block3") and not layer.trainable]
    if frozen or not model.trainable:
        raise Wrong(f"{(frozen or ['block 3'])[0]} is still frozen: unfreeze block 3 of `cut3` (after phase two, "
                    "only block 5 trains).")
    extra = [layer.name for layer in weighted if layer.trainable and not layer.name.startswith("block3")]
    if extra:
        raise Wrong(f"{extra[-1]} is trainable: blocks 1 and 2 stay frozen.")
    given = integer(cut3_trainable, "cut3_trainable")
    trainable, total = count(model.trainable_weights), model.count_params()
    if given != trainable:
        if given == total:
            raise Wrong(f"{given:,} is every weight of `cut3`, frozen ones included: count the trainable ones only.")
        if given == len(model.trainable_weights):
            raise Wrong(f"{given} is the number of trainable weight tensors (a kernel and a bias per convolution): "
                        "count the numbers in them.")
        if given == 0:
            raise Wrong("0 is what trained in `cut3` before you unfroze block 3: count after the change.")
        raise Wrong(f"`cut3_trainable` is {given:,}, but that is not how many of cut3's weights are trainable.")
    return (f"cut after block3_pool, output {shape_of(model.outputs[0].shape)}; {trainable:,} of its {total:,} weights "
            "(block 3's) are trainable. The cut shares its layers with `base`: block 3 of `base` trains now too.")


def _gap_head_reference(shape: tuple):
    """The notebook's new head with GlobalAveragePooling2D in place of Flatten, for maps of `shape`."""
    import keras
    from keras import layers

    return keras.Sequential([keras.Input(shape=shape), layers.GlobalAveragePooling2D(), layers.BatchNormalization(),
                             layers.Dense(256, activation="relu"), layers.Dropout(0.5),
                             layers.Dense(17, activation="softmax")])


def _gap_head(gap_head, base) -> str:
    """The notebook's head with one line changed: its weighted layers are BatchNormalization, Dense(256)
    and Dense(17); copied into the reference head, they must compute the same (ReLU and softmax as
    arguments or as layers, Sequential or functional)."""
    from keras import layers

    model = model_of(gap_head, "gap_head")
    expected = shape_of(model_of(base, "base").outputs[0].shape)
    if shape_of(model.inputs[0].shape) != expected:
        raise Wrong(f"`gap_head` takes inputs of shape {shape_of(model.inputs[0].shape)}; the base gives {expected}.")
    stack = flat_layers(model)
    if any(isinstance(layer, layers.Flatten) for layer in stack):
        raise Wrong("it still has a Flatten layer: this head averages each map instead.")
    if not any(isinstance(layer, (layers.GlobalAveragePooling2D, layers.GlobalMaxPooling2D)) for layer in stack):
        raise Wrong("nothing turns the base's maps into one vector per image before the dense layers.")
    last, activation = output_activation(stack)
    if last is None or last.units != 17 or activation != "softmax":
        units = getattr(last, "units", 0)
        raise Wrong(f"its last layer gives {units} output{'' if units == 1 else 's'} with "
                    f"{activation if last is not None else 'no activation'}: 17 flowers need a probability for each.")
    weighted = [layer for layer in stack if layer.weights]
    if kinds(weighted) != ["BatchNormalization", "Dense", "Dense"] or weighted[1].units != 256:
        raise Wrong(f"its layers with weights are {', '.join(kinds(weighted))}; the notebook's head has "
                    "BatchNormalization, Dense(256) with ReLU and the softmax, with Dropout: change only its Flatten.")
    reference = _gap_head_reference(expected)
    theirs = [layer for layer in reference.layers if layer.weights]
    if not copy_weights(list(zip(weighted, theirs))):
        raise Wrong("its layers do not read the numbers the notebook's head reads after the pooling.")
    wrong = first_difference(model, reference, [
        (weighted[1], theirs[1], "what reaches its Dense(256) is not the maps averaged (GlobalAveragePooling2D), "
                                 "then normalised (BatchNormalization), as in the notebook's head."),
        (weighted[2], theirs[2], "its Dense(256) is not followed by a ReLU, as in the notebook's head."),
        (None, None, "it does not end in a softmax over the 17 flowers.")], probe(expected, 0.0, 5.0))
    if wrong:
        raise Wrong(wrong)
    return (f"{model.count_params():,} parameters: its first Dense layer reads {expected[-1]} numbers per image, "
            f"where Flatten would give it {int(np.prod(expected)):,}.")


def _unfreeze_block4(base, trainable_now) -> str:
    model = model_of(base, "base")
    if "block4_conv1" not in [layer.name for layer in model.layers]:
        raise Wrong("`base` has no layer block4_conv1: it should be the notebook's VGG base.")
    if not model.trainable:
        raise Wrong("`base` itself is frozen (base.trainable is False), so none of its layers train, block4_conv1 included.")
    weighted = [layer for layer in model.layers if layer.weights]
    should = {layer.name: layer.name.startswith(("block4", "block5")) for layer in weighted}
    extra = [layer.name for layer in weighted if layer.trainable and not should[layer.name]]
    if extra:
        raise Wrong(f"{extra[-1]} is trainable: below block 4, the layers stay frozen.")
    still = [layer.name for layer in weighted if not layer.trainable and should[layer.name]]
    if still:
        raise Wrong(f"{still[0]} is still frozen.")
    given = integer(trainable_now, "trainable_now")
    trainable, total = count(model.trainable_weights), model.count_params()
    block5 = sum(layer.count_params() for layer in weighted if layer.name.startswith("block5"))
    if given != trainable:
        if given == block5:
            raise Wrong(f"{given:,} is what block 5 alone holds: count again now that block 4 trains too.")
        if given == len(model.trainable_weights):
            raise Wrong(f"{given} is the number of trainable weight tensors: count the numbers in them.")
        raise Wrong(f"`trainable_now` is {given:,}, but that is not how many of base's weights now train.")
    return (f"blocks 4 and 5 train: {trainable:,} weights, {trainable / total:.0%} of the base's {total:,} "
            f"(block 5 alone: {block5:,}).")


def _bnprobe():
    """A small base named like ResNet50's layers, with BatchNormalization after each convolution."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(8, 8, 3))
    x = layers.Conv2D(4, 3, name="conv1_conv")(inputs)
    x = layers.BatchNormalization(name="conv1_bn")(x)
    x = layers.Conv2D(4, 3, name="conv2_block1_1_conv")(layers.Activation("relu", name="conv1_relu")(x))
    x = layers.BatchNormalization(name="conv2_block1_1_bn")(x)
    return keras.Model(inputs, x, name="resnet_like")


def _unfreeze_except_bn(unfreeze_except_bn) -> str:
    from keras import layers

    if not callable(unfreeze_except_bn):
        raise Wrong(f"`unfreeze_except_bn` is a {type(unfreeze_except_bn).__name__}, not a function of a model.")
    for start_frozen in (True, False):  # from a frozen base (the usual case) and from a trainable one
        probe = _bnprobe()
        probe.trainable = not start_frozen
        unfreeze_except_bn(probe)
        if not probe.trainable:
            raise Wrong("after your function the base itself is still frozen (its trainable is False): nothing trains.")
        for layer in probe.layers:
            if isinstance(layer, layers.BatchNormalization) and layer.trainable:
                raise Wrong(f"{layer.name} (BatchNormalization) is trainable: its scales and offsets would change.")
            if isinstance(layer, layers.Conv2D) and not layer.trainable:
                raise Wrong(f"{layer.name} is still frozen.")
    return ("every convolution trains and every BatchNormalization layer stays frozen, from a frozen base or a "
            "trainable one: apply it to `resnet` and look at its trainable weights.")


def _smooth_images() -> np.ndarray:
    """Two 32x32 images in [0, 255] without sharp edges (8x8 noise, enlarged): every enlargement of
    them (bilinear, nearest, bicubic, UpSampling2D) gives nearly the same picture."""
    import tensorflow as tf

    coarse = probe((8, 8, 3))
    coarse[:, :2], coarse[:, -2:] = 0.0, 255.0  # both ends of the range: a scaling that leaves it shows
    return np.asarray(tf.image.resize(coarse, (32, 32)))


def _resize_in_model(resize_layers, size) -> str:
    """Any enlargement to size x size that keeps the picture (Resizing with any interpolation,
    UpSampling2D), then pixels in [0, 1]: compared with `model_input` up to what interpolation changes."""
    import tensorflow as tf

    model = model_of(resize_layers, "resize_layers")
    images = _smooth_images()
    out = np.asarray(model(images, training=False))
    if out.shape[1:3] != (size, size):
        raise Wrong(f"it outputs {out.shape[1]}x{out.shape[2]} images; the model sees {size}x{size}.")
    if out.max() > 1.5:
        raise Wrong(f"its output reaches {out.max():.0f}: the TF-Hub model expects pixels in [0, 1].")
    if out.min() < -0.01:
        raise Wrong(f"its output goes down to {out.min():.2f}: the TF-Hub model expects [0, 1], not [-1, 1].")
    if out.max() < 0.5:
        raise Wrong(f"its output lies within [0, {out.max():.2f}]: divided by 255 more than once?")
    gap = float(np.mean(np.abs(out - np.asarray(tf.image.resize(images, (size, size))) / 255.0)))
    if out.shape != (len(images), size, size, 3) or gap > 0.05:
        raise Wrong(f"same size and range as `model_input` gives, but another picture (on average {gap:.2f} apart): "
                    "enlarge the images (Resizing or UpSampling2D), do not pad or crop them.")
    return ("the images `model_input` gives, up to interpolation, made inside the model: the pipeline can stream "
            "32x32 batches.")


def _mobilenet_applications(mobilenet_model) -> str:
    """The base is found by its layers' names (any `name=` of its own), pooled by `pooling=` or by a
    global pooling layer after it; the softmax may be an argument or a layer."""
    import keras
    from keras import layers

    model = model_of(mobilenet_model, "mobilenet_model")
    bases = [layer for layer in model.layers if isinstance(layer, keras.Model) and
             {"Conv1", "out_relu"} <= {inner.name for inner in layer.layers}]
    if not bases:
        raise Wrong("no keras.applications.MobileNetV2 inside `mobilenet_model`.")
    base = bases[0]
    if any(layer.name == "predictions" for layer in base.layers):
        raise Wrong("its MobileNetV2 still has ImageNet's 1,000-class classifier on top.")
    stack = flat_layers(model)
    pooled = any(isinstance(layer, (layers.GlobalAveragePooling2D, layers.GlobalMaxPooling2D))
                 for layer in stack[stack.index(base) + 1:])
    if len(base.output.shape) != 2 and not pooled:
        raise Wrong(f"its MobileNetV2 gives maps of shape {shape_of(base.output.shape)}, not one feature vector per "
                    "image as the hub layer does: pool them (pooling=\"avg\", or GlobalAveragePooling2D after it).")
    unfrozen = [layer.name for layer in base.layers if layer.trainable_weights]
    if unfrozen:
        raise Wrong(f"{unfrozen[0]} is trainable: the base should stay frozen, as the hub layer is.")
    last, activation = output_activation(stack)
    if last is None or last.units != 10 or activation != "softmax" or shape_of(model.outputs[0].shape) != (10,):
        raise Wrong("it does not end in a softmax over CIFAR-10's 10 classes.")
    reached = input_reaching(model, base, probe(shape_of(model.inputs[0].shape), 0.0, 1.0))
    if reached is not None and reached.max() - reached.min() < 1.5:
        raise Wrong(f"for images in [0, 1] its MobileNetV2 receives pixels in [{reached.min():.2f}, {reached.max():.2f}]; "
                    "keras.applications' MobileNetV2 expects [-1, 1] (the TF-Hub one takes [0, 1]).")
    if reached is not None and reached.max() > 1.01:
        raise Wrong(f"its MobileNetV2 receives pixels up to {reached.max():.0f}: it expects [-1, 1].")
    return (f"a frozen MobileNetV2 giving {base.output.shape[-1]} features per image, fed [-1, 1], and a 10-class "
            "softmax: the hub model's structure, from keras.applications.")


def _conv_activations(conv_activations, small) -> str:
    import keras
    from keras import layers

    model, network = model_of(conv_activations, "conv_activations"), model_of(small, "small")
    convs = [layer for layer in network.layers if isinstance(layer, layers.Conv2D)]
    outputs = model.outputs
    if len(outputs) != len(convs):
        raise Wrong(f"it has {len(outputs)} output(s); `small` has {len(convs)} Conv2D layers.")
    for output, conv in zip(outputs, convs):
        if shape_of(output.shape) != shape_of(conv.output.shape):
            raise Wrong(f"an output has shape {shape_of(output.shape)} where {conv.name}'s is {shape_of(conv.output.shape)}.")
    images = probe(shape_of(network.inputs[0].shape))
    own = keras.Model(network.inputs, [conv.output for conv in convs])(images)
    if not all(close(got, want) for got, want in zip(model(images), own)):
        raise Wrong("its outputs differ from `small`'s own convolutions on the same images: is it built from "
                    "`small`'s layers, or from a new network?")
    return f"one output for each of {', '.join(conv.name for conv in convs)}, computed by `small` itself."


def _grad_cam_layer(conv_model_b4, classifier_model_b4, base, head, prepare) -> str:
    import keras

    conv_model = model_of(conv_model_b4, "conv_model_b4")
    classifier = model_of(classifier_model_b4, "classifier_model_b4")
    images = probe(shape_of(conv_model.inputs[0].shape))
    maps = np.asarray(conv_model(images))
    want = np.asarray(keras.Model(base.input, base.get_layer("block4_conv3").output)(prepare(images)))
    if maps.shape != want.shape:
        raise Wrong(f"`conv_model_b4` gives maps of shape {maps.shape[1:]}; block4_conv3's are {want.shape[1:]}.")
    if not close(maps, want):
        raise Wrong("`conv_model_b4`'s maps differ from block4_conv3's for the same images: are they prepared first?")
    if shape_of(classifier.inputs[0].shape) != maps.shape[1:]:
        raise Wrong(f"`classifier_model_b4` takes inputs of shape {shape_of(classifier.inputs[0].shape)}, but "
                    f"`conv_model_b4` gives {maps.shape[1:]}: the classifier starts where the conv model ends.")
    if not close(classifier(maps), head(base(prepare(images)))):
        raise Wrong("together the two models predict otherwise than head(base(prepare(images))): a layer between "
                    "block4_conv3 and the head is missing or repeated.")
    return (f"conv_model_b4 gives block4_conv3's {maps.shape[1]}x{maps.shape[2]} maps and both models together "
            "predict as the classifier does: its heatmaps are twice as fine as block5_conv3's.")


EXERCISES = [
    Exercise(
        id="04.cut_block3", notebook="04_head_swap", title="Cut at block 3, and train its last block",
        task="Cut `base` after **block3_pool**, as the notebook cut it at block4_pool, into `cut3`. After phase two "
             "only block 5 trains, so nothing in `cut3` does yet: **unfreeze block 3** of `cut3` (blocks 1 and 2 "
             "stay frozen), then count how many of `cut3`'s weights are trainable, into `cut3_trainable`.",
        starter="import numpy as np\n\ncut3 = None  # your code here: keras.Model(...)\n"
                "# your code here: unfreeze block 3 of cut3\n"
                "cut3_trainable = None  # your code here: a number\n",
        solution_code="import numpy as np\n\n"
                      "cut3 = keras.Model(base.input, base.get_layer(\"block3_pool\").output, name=\"vgg16_to_block3\")\n"
                      "print(\"trainable before:\", sum(int(np.prod(w.shape)) for w in cut3.trainable_weights))\n"
                      "models.set_trainable_from(cut3, \"block3_conv1\")  # cut3's own layers are base's: base changes too\n"
                      "cut3_trainable = sum(int(np.prod(w.shape)) for w in cut3.trainable_weights)\n"
                      "print(cut3.output.shape, f\"{cut3_trainable:,} of {cut3.count_params():,} weights trainable\")\n",
        names=("cut3", "cut3_trainable", "base"), uses=("base", "keras", "models"),
        hints=("The notebook's `block4 = keras.Model(...)` line is the pattern; phase two's "
               "`models.set_trainable_from(...)` line unfreezes from a layer on.",
               "`cut3.trainable_weights` lists the trainable tensors; each has a `shape`."),
        mistakes="Counting before unfreezing (0: after phase two only block 5 trains, and `cut3` has no block 5); "
                 "`count_params()`, which counts frozen weights too; `len(cut3.trainable_weights)`, which counts "
                 "tensors; `cut3.trainable = True`, which changes no layer of a model that is already trainable; "
                 "unfreezing blocks 1 and 2 too; cutting at block3_conv3. "
                 "Many expect the cut to be a copy: it shares `base`'s layers, so block 3 of `base` trains now too.",
        verify=_cut_block3),
    Exercise(
        id="04.gap_head", notebook="04_head_swap", title="A head without Flatten",
        task="Build `gap_head`: the notebook's new head with **`GlobalAveragePooling2D` in place of `Flatten`**, "
             "for the 17 flowers, on `base`'s output. How many parameters does it save?",
        starter="gap_head = None  # your code here: keras.Sequential([keras.Input(shape=base.output.shape[1:]), ...])\n",
        solution_code="gap_head = keras.Sequential([\n    keras.Input(shape=base.output.shape[1:]),\n"
                      "    layers.GlobalAveragePooling2D(),  # one number per map\n    layers.BatchNormalization(),\n"
                      "    layers.Dense(256, activation=\"relu\"),\n    layers.Dropout(0.5),\n"
                      "    layers.Dense(17, activation=\"softmax\"),\n], name=\"gap_head\")\n"
                      "print(f\"{gap_head.count_params():,} parameters; with Flatten: {head.count_params():,}\")\n",
        names=("gap_head", "base"), uses=("base", "head", "keras", "layers"),
        hints=("Start from the `head = keras.Sequential([...])` cell and change one line.",),
        mistakes="Keeping `Flatten` after the pooling (harmless but pointless) or before it (it fails: pooling "
                 "needs maps); dropping the head's other layers (BatchNormalization, Dense(256)) with the Flatten; "
                 "ending with one sigmoid unit as in notebook 03, though there are 17 classes.",
        verify=_gap_head),
    Exercise(
        id="05.unfreeze_block4", notebook="05_unfreezing_block5", title="Unfreeze from block 4",
        task="Unfreeze **blocks 4 and 5** of `base` (blocks 1 to 3 stay frozen), then count the weights that now "
             "train, into `trainable_now`. How many more than block 5 alone?",
        starter="# your code here: a loop over base.layers\ntrainable_now = None  # your code here: a number\n",
        solution_code="for layer in base.layers:\n    layer.trainable = layer.name.startswith((\"block4\", \"block5\"))\n"
                      "trainable_now = sum(layer.count_params() for layer in base.layers if layer.trainable)\n"
                      "print(f\"{trainable_now:,} weights train\")\n",
        names=("base", "trainable_now"), uses=("base",),
        hints=("The phase-two cell's loop unfreezes block 5: widen its condition.",
               "Count after the loop: `base.trainable_weights` lists what trains now."),
        mistakes="Setting `base.trainable = False` after the loop (nothing trains), or `base.trainable = True` "
                 "alone (on a base that is already trainable it changes none of its layers' flags); unfreezing "
                 "everything; reusing block 5's count from before the change.",
        verify=_unfreeze_block4),
    Exercise(
        id="05.freeze_bn", notebook="05_unfreezing_block5", title="Unfreeze a base, but not its BatchNormalization",
        task="Write `unfreeze_except_bn(model)`: it makes every layer of `model` trainable **except its "
             "BatchNormalization layers**, the third variant of the experiment above. The check tries it on a small "
             "base with ResNet50's layer names.",
        starter="import keras\n\nunfreeze_except_bn = None  # your code here: def unfreeze_except_bn(model): ...\n",
        solution_code="import keras\n\ndef unfreeze_except_bn(model):\n    model.trainable = True  # first: it sets every "
                      "layer inside too\n    for layer in model.layers:\n"
                      "        if isinstance(layer, keras.layers.BatchNormalization):\n            layer.trainable = False\n\n"
                      "unfreeze_except_bn(resnet)\nprint(len(resnet.trainable_weights), \"trainable weight tensors\")\n",
        names=("unfreeze_except_bn",), uses=("resnet",),
        hints=("`isinstance(layer, keras.layers.BatchNormalization)` finds them.",
               "Setting `model.trainable` changes every layer inside it: mind the order."),
        mistakes="Setting `model.trainable = True` after the loop, which unfreezes the BatchNormalization layers "
                 "again; forgetting it altogether, so a frozen base stays frozen.",
        verify=_unfreeze_except_bn),
    Exercise(
        id="06.resize_in_model", notebook="06_tfhub_mobilenet_cifar10", title="The resize as layers",
        task="Build `resize_layers`, a small model from 32x32 CIFAR images to what `model_input` gives (`size` x "
             "`size`, pixels in [0, 1]) with Keras layers, as notebook 04 enlarged images inside the model "
             "(`Resizing` or `UpSampling2D`: the check accepts either interpolation).",
        starter="import keras\n\nresize_layers = None  # your code here: keras.Sequential([keras.Input(shape=(32, 32, 3)), ...])\n",
        solution_code="import keras\n\nresize_layers = keras.Sequential([\n    keras.Input(shape=(32, 32, 3)),\n"
                      "    keras.layers.Resizing(size, size),  # bilinear, as tf.image.resize\n"
                      "    keras.layers.Rescaling(1 / 255),     # [0, 1], the TF-Hub image models' input\n"
                      "], name=\"resize_in_model\")\n",
        names=("resize_layers", "size"), uses=("size",),
        hints=("Notebook 04's `layers.Resizing(96, 96)` enlarges; what does `model_input` do after resizing?",),
        mistakes="Forgetting the division by 255 (pixels up to 255); `Rescaling(1 / 127.5, offset=-1)`, the [-1, 1] "
                 "of other models; padding the images to the size (`ZeroPadding2D`) instead of enlarging them.",
        verify=_resize_in_model),
    Exercise(
        id="06.mobilenet_applications", notebook="06_tfhub_mobilenet_cifar10",
        title="The same model through keras.applications",
        task="Build `mobilenet_model`: **`keras.applications.MobileNetV2`** (without its top, pooled to one vector, "
             "frozen) in place of the hub layer, with a softmax over the 10 classes. It takes the images `streamed` "
             "gives, in [0, 1]. Use `weights=None` here (`\"imagenet\"` downloads them): only the structure is checked.",
        starter="import keras\n\nmobilenet_model = None  # your code here\n",
        solution_code="import keras\n\nmobilenet = keras.applications.MobileNetV2(include_top=False, weights=None,\n"
                      "                                           input_shape=(size, size, 3), pooling=\"avg\")\n"
                      "mobilenet.trainable = False\nmobilenet_model = keras.Sequential([\n"
                      "    keras.Input(shape=(size, size, 3)),\n"
                      "    keras.layers.Rescaling(2.0, offset=-1.0),  # [0, 1] -> [-1, 1], what this MobileNetV2 expects\n"
                      "    mobilenet,\n    keras.layers.BatchNormalization(),\n"
                      "    keras.layers.Dense(10, activation=\"softmax\"),\n], name=\"mobilenet_cifar10\")\n",
        names=("mobilenet_model",), uses=("size",),
        hints=("`include_top=False, pooling=\"avg\"` gives one feature vector per image, as the hub layer does.",
               "Read `keras.applications.mobilenet_v2.preprocess_input`'s documentation: which range does it produce?"),
        mistakes="Feeding the [0, 1] images as they are: keras.applications' MobileNetV2 was trained on [-1, 1], "
                 "the TF-Hub one on [0, 1]. Forgetting `pooling=\"avg\"` (maps, not a vector) or to freeze the base.",
        verify=_mobilenet_applications),
    Exercise(
        id="07.conv_activations", notebook="07_visualizing_filters_and_activations",
        title="An activation model of the convolutions only",
        task="Build `conv_activations`: an activation model of `small` whose outputs are the outputs of its "
             "**Conv2D layers only**, in order (the notebook's model also has the poolings).",
        starter="conv_activations = None  # your code here: keras.Model(small.inputs, [...])\n",
        solution_code="conv_names = [layer.name for layer in small.layers if isinstance(layer, layers.Conv2D)]\n"
                      "conv_activations = keras.Model(small.inputs, [small.get_layer(name).output for name in conv_names])\n"
                      "for name, maps in zip(conv_names, conv_activations(cat[None])):\n"
                      "    print(f\"{name:<16} zero activations: {float(np.mean(maps.numpy() == 0)):.0%}\")\n",
        names=("conv_activations", "small"), uses=("small", "cat", "keras", "layers", "np"),
        hints=("The notebook's `layer_names` line picks Conv2D and MaxPooling2D layers: keep one type.",),
        mistakes="Building the outputs from a new network (`models.small_cnn(...)`): same shapes, other numbers; "
                 "keeping the pooling layers.",
        verify=_conv_activations),
    Exercise(
        id="07.grad_cam_layer", notebook="07_visualizing_filters_and_activations", title="Grad-CAM of block 4",
        task="Split the classifier at **block4_conv3** instead of block5_conv3: `conv_model_b4` (images to "
             "block4_conv3's maps) and `classifier_model_b4` (those maps to the prediction, through the rest of "
             "the base and `head`). Then `visualize.grad_cam(conv_model_b4, classifier_model_b4, images)`.",
        starter="conv_model_b4 = None  # your code here\nclassifier_model_b4 = None  # your code here\n",
        solution_code="inputs = keras.Input(shape=(size, size, 3))\n"
                      "conv_model_b4 = keras.Model(inputs, models.cut_at(base, \"block4_conv3\")(prepare(inputs)))\n"
                      "maps = keras.Input(shape=conv_model_b4.output_shape[1:])\nx = maps\n"
                      "for name in (\"block4_pool\", \"block5_conv1\", \"block5_conv2\", \"block5_conv3\", \"block5_pool\"):\n"
                      "    x = base.get_layer(name)(x)  # the rest of the base, its own layers\n"
                      "classifier_model_b4 = keras.Model(maps, head(x))\n"
                      "heatmaps_b4 = visualize.grad_cam(conv_model_b4, classifier_model_b4, images)\n"
                      "print(\"heatmap\", heatmaps_b4.shape[1:], \"= block4_conv3's map size\")\n",
        names=("conv_model_b4", "classifier_model_b4", "base", "head", "prepare"),
        uses=("base", "head", "prepare", "size", "images", "models", "visualize", "keras"),
        hints=("The notebook's `conv_model` and `classifier_model` cell is the pattern; only the split moves.",
               "Between block4_conv3 and the head lie block4_pool and all of block 5."),
        mistakes="Starting the classifier at block5_conv1, which skips block4_pool; forgetting `prepare` in the "
                 "conv model; splitting at block4_pool, whose maps are half the size.",
        verify=_grad_cam_layer),
]
