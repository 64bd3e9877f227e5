"""Seconds per training epoch of notebook 01's and 02's network in float32 and in mixed
bfloat16 (Keras' `mixed_bfloat16` policy), on the same images, in one run.

    python benchmarks/precision.py [--image-size 128] [--epochs 3] [--train-per-class 1000]

What the quick profile's `precision` setting rests on (see `session.precision_policy`).
Uses the course's cats-vs-dogs training images; the first epoch (tracing) is left out
of the median. On a CPU without bfloat16 instructions, bfloat16 is emulated: expect it slower.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import course_utils  # noqa: E402
from course_utils import models  # noqa: E402
from course_utils.session import bfloat16_cpu  # noqa: E402


def seconds_per_epoch(train, size: int, epochs: int, augment: bool) -> float:
    """Median seconds of the epochs after the first, for a freshly built small CNN."""
    model = models.small_cnn(size, augment=models.augmentation() if augment else None, dropout=0.5 if augment else 0.0)
    model.compile(optimizer=keras.optimizers.RMSprop(1e-4), loss="binary_crossentropy", metrics=["accuracy"])
    times = []
    clock = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: times.append(time.perf_counter()),
                                           on_epoch_end=lambda e, logs: times.append(time.perf_counter() - times.pop()))
    model.fit(train, epochs=epochs, verbose=0, callbacks=[clock])
    return float(np.median(times[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-per-class", type=int, default=1000)
    args = parser.parse_args()
    cfg = course_utils.setup("01_scratch_cnn_baseline", profile="quick")
    cfg.update(image_size=args.image_size, train_per_class=args.train_per_class)
    train = course_utils.load_dataset("cats_vs_dogs", cfg).train
    print(f"\n{platform.machine()}, {os.cpu_count()} cores, native bfloat16: {bfloat16_cpu()}; "
          f"{2 * args.train_per_class} images at {args.image_size}x{args.image_size}, {args.epochs} epochs each")
    print(f"{'network':<34} {'float32 s/epoch':>16} {'mixed bfloat16':>16} {'speed-up':>9}")
    for name, augment in (("01: small CNN", False), ("02: small CNN + augmentation", True)):
        seconds = {}
        for policy in ("float32", "mixed_bfloat16"):
            keras.mixed_precision.set_global_policy(policy)
            seconds[policy] = seconds_per_epoch(train, args.image_size, args.epochs, augment)
        print(f"{name:<34} {seconds['float32']:>16.1f} {seconds['mixed_bfloat16']:>16.1f} "
              f"{seconds['float32'] / seconds['mixed_bfloat16']:>8.1f}x")


if __name__ == "__main__":
    main()
