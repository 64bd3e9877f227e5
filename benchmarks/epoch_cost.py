"""Where an epoch of notebook 02 goes on this machine: its network trained with and without its
augmentation, and the ways to run the augmentation that could make the epoch cheaper, in one run.

    python benchmarks/epoch_cost.py [--profile quick] [--epochs 3]

Rows, each the median seconds of `--epochs` epochs (the first epoch, which traces, left out), on
the course's cats-vs-dogs splits at the profile's size and batch:

- `02 as the notebook runs it`: augmentation layers inside the model, dropout (notebook 02);
- `no augmentation`: the same network without the augmentation layers: the convolutions, the data
  pipeline and Keras' loop, so the difference to the row above is what augmentation costs;
- `augmentation alone`: the augmentation layers over one epoch's training batches, no network;
- `augmentation in tf.data`: the layers applied in the input pipeline (`map`, parallel calls,
  prefetch), which can overlap them with training on another core;
- `XLA, no augmentation`: the network without augmentation compiled with `jit_compile=True` (Keras
  compiles with XLA only on a GPU by default; the augmentation layers cannot be compiled).

Speed only: accuracy is not compared (too few epochs). Not part of the tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import course_utils  # noqa: E402
from course_utils import models  # noqa: E402


def epoch_seconds(model, train, validation, epochs: int, jit: bool = False) -> float:
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"],
                  jit_compile=jit)
    times = []
    clock = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: times.append(time.perf_counter()),
                                           on_epoch_end=lambda e, logs: times.append(time.perf_counter() - times.pop()))
    model.fit(train, validation_data=validation, epochs=epochs + 1, verbose=0, callbacks=[clock])
    return float(np.median(times[1:]))


def augmentation_alone(augment, train, epochs: int) -> float:
    step = tf.function(lambda images: augment(images, training=True))
    times = []
    for _ in range(epochs + 1):
        start = time.perf_counter()
        for images, _ in train:
            step(images).numpy()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    session = course_utils.setup("02_data_augmentation", profile=args.profile)
    splits = course_utils.load_dataset("cats_vs_dogs", session)
    size, n = session.image_size, args.epochs
    augment = models.augmentation(session.seed)
    in_pipeline = splits.train.map(lambda x, y: (augment(x, training=True), y),
                                   num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    rows = {
        "02 as the notebook runs it": lambda: epoch_seconds(models.small_cnn(size, augment, 0.5), splits.train,
                                                            splits.validation, n),
        "no augmentation": lambda: epoch_seconds(models.small_cnn(size, None, 0.5), splits.train, splits.validation, n),
        "augmentation alone": lambda: augmentation_alone(augment, splits.train, n),
        "augmentation in tf.data": lambda: epoch_seconds(models.small_cnn(size, None, 0.5), in_pipeline,
                                                         splits.validation, n),
        "XLA, no augmentation": lambda: epoch_seconds(models.small_cnn(size, None, 0.5), splits.train,
                                                      splits.validation, n, jit=True),
    }
    print(f"\n{platform.machine()}, {os.cpu_count()} cores, TensorFlow {tf.__version__}, Keras {keras.__version__}; "
          f"profile {session.profile}: {size}x{size}, batch {session.batch_size}; median of {n} epochs after the first "
          "(an epoch: the training images, then the validation pass)")
    print(f"{'run':<28} {'s/epoch':>8}")
    for name, run in rows.items():
        keras.utils.set_random_seed(session.seed)
        print(f"{name:<28} {run():>8.2f}", flush=True)


if __name__ == "__main__":
    main()
