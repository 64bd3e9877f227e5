"""Filter visualisation by gradient ascent: 64 filters in one batch against one
filter at a time, same layer, same number of steps, same compiled step, in one run.

    python benchmarks/filter_visualisation.py [--layer block3_conv1] [--filters 64] [--steps 20] [--size 64]

Uses the configured VGG16 weights (speed does not depend on them).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from course_utils import models, visualize  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="block3_conv1")
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()

    feature_model = models.cut_at(models.pretrained_base("vgg16", args.size), args.layer)
    step = visualize.ascent_step(feature_model)
    filters = list(range(args.filters))
    run = dict(size=args.size, steps=args.steps, step_size=10.0, step=step)
    visualize.filter_patterns(feature_model, filters, **dict(run, steps=1))  # trace both shapes first
    visualize.filter_patterns(feature_model, [0], **dict(run, steps=1))

    start = time.perf_counter()
    batched, _ = visualize.filter_patterns(feature_model, filters, **run)
    batched_s = time.perf_counter() - start

    start = time.perf_counter()
    for f in filters:
        visualize.filter_patterns(feature_model, [f], **run)
    single_s = time.perf_counter() - start

    print(f"Gradient ascent on VGG16 {args.layer}, {args.filters} filters, {args.steps} steps, "
          f"{args.size}x{args.size} inputs; TensorFlow {tf.__version__}, {platform.machine()} with "
          f"{os.cpu_count()} cores, GPU: {bool(tf.config.list_physical_devices('GPU'))}")
    print(f"  one filter at a time : {single_s:7.2f} s")
    print(f"  all filters batched  : {batched_s:7.2f} s")
    print(f"  speed-up             : {single_s / batched_s:7.1f}x")
    # Batching pays off where one image leaves the hardware idle (a GPU) or a call costs more than its
    # arithmetic; the time per filter and step shows how much of that this machine has to save.
    ms_per_filter_step = 1000 / (args.filters * args.steps)
    print(f"  per filter and step  : {single_s * ms_per_filter_step:7.1f} ms one at a time, "
          f"{batched_s * ms_per_filter_step:.1f} ms batched")


if __name__ == "__main__":
    main()
