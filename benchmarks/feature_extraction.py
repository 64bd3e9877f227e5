"""Images per second of VGG feature extraction: one `predict` call per image
(the original material's way) against one batched `tf.data` pass, on the same
images in one run.

    python benchmarks/feature_extraction.py [--images 64] [--image-size 150] [--batch-size 32]

Uses the course's cats-vs-dogs training images (made available as usual) and
the configured VGG16 weights (speed does not depend on them).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import course_utils  # noqa: E402
from course_utils import models  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    settings = course_utils.config.Settings({"image_size": args.image_size, "batch_size": args.batch_size,
                                             "train_per_class": args.images // 2, "val_per_class": 1,
                                             "test_per_class": 1}, notebook="benchmark", profile="quick", seed=0)
    train = course_utils.load_dataset("cats_vs_dogs", settings).train
    images = np.concatenate([x.numpy() for x, _ in train])[: args.images]
    base = models.pretrained_base("vgg16", args.image_size)
    prepare = models.preprocess("vgg16")
    base.predict(prepare(images[:2]), verbose=0)  # warm up both paths before timing
    base.predict(prepare(images[:1]), verbose=0)

    start = time.perf_counter()
    one_by_one = np.concatenate([base.predict(prepare(image[None]), verbose=0) for image in images])
    slow = len(images) / (time.perf_counter() - start)

    pipeline = (tf.data.Dataset.from_tensor_slices(images).batch(args.batch_size)
                .map(prepare).prefetch(tf.data.AUTOTUNE))
    start = time.perf_counter()
    batched = np.concatenate([np.asarray(base(batch, training=False)) for batch in pipeline])
    fast = len(images) / (time.perf_counter() - start)

    assert np.allclose(one_by_one, batched, rtol=1e-3, atol=1e-3 * float(np.abs(batched).max()))
    print(f"VGG16 feature extraction, {len(images)} images at {args.image_size}x{args.image_size}, "
          f"TensorFlow {tf.__version__}, {platform.machine()} with {os.cpu_count()} cores, "
          f"GPU: {bool(tf.config.list_physical_devices('GPU'))}")
    print(f"  one predict() per image : {slow:8.1f} images/s")
    print(f"  batched tf.data pass    : {fast:8.1f} images/s (batch {args.batch_size})")
    print(f"  ratio                   : {fast / slow:8.1f}x")


if __name__ == "__main__":
    main()
