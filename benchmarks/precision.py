"""Notebook 01's network trained in float32 and in mixed bfloat16 (Keras' `mixed_bfloat16`
policy) on the same images, in one run: seconds per epoch, and whether training stayed sound.

    python benchmarks/precision.py [--image-size 128] [--epochs 30] [--optimizer rmsprop|adam]

Why the quick profile computes in float32 even on a CPU with bfloat16 instructions: this
prints both the speed-up and, per policy, the first epoch whose loss was not a number
(NaN) or whose validation accuracy fell to 50 % (one class for every image), if any.
Uses the course's cats-vs-dogs splits at the quick profile's sizes; the first epoch
(tracing) is left out of the median time.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import course_utils  # noqa: E402
from course_utils import models  # noqa: E402


def native_bfloat16() -> bool:
    """AMX or AVX512-BF16 among the CPU's flags (Linux only)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def train(splits, size: int, epochs: int, optimizer: str) -> dict:
    model = models.small_cnn(size)
    make = {"rmsprop": lambda: keras.optimizers.RMSprop(1e-4), "adam": lambda: keras.optimizers.Adam(1e-3)}[optimizer]
    model.compile(optimizer=make(), loss="binary_crossentropy", metrics=["accuracy"])
    times = []
    clock = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: times.append(time.perf_counter()),
                                           on_epoch_end=lambda e, logs: times.append(time.perf_counter() - times.pop()))
    history = model.fit(splits.train, validation_data=splits.validation, epochs=epochs, verbose=0, callbacks=[clock]).history
    broken = [e + 1 for e, (loss, val) in enumerate(zip(history["loss"], history["val_accuracy"]))
              if math.isnan(loss) or val == 0.5]
    return {"seconds": float(np.median(times[1:])), "best_val": max(history["val_accuracy"]),
            "broken": broken[0] if broken else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--optimizer", choices=("rmsprop", "adam"), default="rmsprop")
    args = parser.parse_args()
    session = course_utils.setup("01_scratch_cnn_baseline", profile="quick")
    splits = course_utils.load_dataset("cats_vs_dogs", session, image_size=args.image_size)
    print(f"\n{platform.machine()}, {os.cpu_count()} cores, native bfloat16: {native_bfloat16()}; "
          f"small CNN at {args.image_size}x{args.image_size}, {args.optimizer}, {args.epochs} epochs per policy")
    print(f"{'policy':<16} {'s/epoch':>8} {'best validation':>16}  first broken epoch (NaN loss or 50 %)")
    for policy in ("float32", "mixed_bfloat16"):
        keras.mixed_precision.set_global_policy(policy)
        keras.utils.set_random_seed(session.seed)
        run = train(splits, args.image_size, args.epochs, args.optimizer)
        print(f"{policy:<16} {run['seconds']:>8.1f} {run['best_val']:>16.3f}  {run['broken'] or 'none'}", flush=True)


if __name__ == "__main__":
    main()
