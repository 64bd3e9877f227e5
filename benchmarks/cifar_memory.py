"""Peak resident memory of preparing CIFAR-10 for a 224x224 model, two ways,
side by side at several dataset sizes:

- `upfront`: the original lesson's way, resize every image to 224x224 in one
  array first (float32 here; the original's float64 needs twice as much);
- `streaming`: the course's way, resize batch by batch inside `tf.data`.

Each measurement runs in a fresh process (peak RSS from getrusage) that loads
N training images, prepares them, and reads every batch once.

    python benchmarks/cifar_memory.py [--sizes 1000 2000 4000] [--resolution 224]
    python benchmarks/cifar_memory.py --full-profile [--resolution 224]

The up-front side needs about 1.8 GB per 1,000 images at 224x224; the widest
range of sizes your memory allows gives the steadiest slope (the offline
image-folder copy holds at most 9,000 training images).

`--full-profile` measures notebook 06's full profile instead of extrapolating
to it: the streaming side only, on all 50,000 training and 10,000 test images
of the official arrays, through `load_dataset` and `data.to_model_input` as the
notebook builds them, read as often as the profile's epochs read them. Where
the official arrays are not at hand (offline), arrays of their exact shapes and
dtype (32x32x3 uint8) are synthesised: pixel values do not change memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def child(mode: str, count: int, resolution: int) -> None:
    import numpy as np
    import tensorflow as tf

    import course_utils
    from course_utils import config, data

    settings = config.Settings({"image_size": 32, "batch_size": 64, "train_per_class": count // 10,
                                "val_per_class": 1, "test_per_class": 1}, notebook="benchmark", profile="quick", seed=0)
    train = course_utils.load_dataset("cifar10", settings, image_size=32).train
    if mode == "upfront":
        images = np.concatenate([x.numpy() for x, _ in train])
        resized = tf.image.resize(images, (resolution, resolution)).numpy() / 255.0
        batches = (resized[i:i + 64] for i in range(0, len(resized), 64))
    else:
        batches = (x.numpy() for x, _ in data.to_model_input(train, resolution))
    seen = sum(len(b) for b in batches)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(f"{seen} {peak_mb:.0f}")


def full_profile_child(resolution: int) -> None:
    import numpy as np

    import course_utils
    from course_utils import config, data

    try:
        arrays, source = data.cifar10_arrays(), "official arrays"
    except data.DataNotAvailable:
        rng = np.random.default_rng(0)
        arrays = tuple((rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
                        rng.permutation(np.repeat(np.arange(10, dtype=np.uint8), n // 10))[:, None])
                       for n in (50_000, 10_000))
        source = "synthesised at the official arrays' shapes, 32x32x3 uint8"
    # The official-array path of load_dataset, whatever image-folder copy is installed here.
    data.cifar10_arrays = lambda name="cifar10": arrays
    data.ensure_dataset = lambda name: None
    settings = config.Settings(config.profile_settings("06_tfhub_mobilenet_cifar10", "full"),
                               notebook="06_tfhub_mobilenet_cifar10", profile="full", seed=0)
    train, validation, test = (data.to_model_input(split, resolution)
                               for split in course_utils.load_dataset("cifar10", settings, image_size=32)[:3])
    epochs = settings.head_epochs + settings.fine_tune_epochs  # fit reads train and validation once per epoch
    seen = [sum(len(x.numpy()) for x, _ in split) for split in (train, validation) for _ in range(epochs)]
    seen.append(sum(len(x.numpy()) for x, _ in test))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(f"{seen[0]} {seen[epochs]} {seen[-1]} {epochs} {peak_mb:.0f} {source}")


def full_profile(resolution: int) -> None:
    """Run `full_profile_child` in a fresh process and print its figures."""
    out = subprocess.run([sys.executable, __file__, "--child", "full", "0", str(resolution)],
                         check=True, capture_output=True, text=True).stdout.splitlines()[-1].split(maxsplit=5)
    train, validation, test, epochs, peak_mb, source = out
    print(f"Notebook 06, full profile, streaming side: CIFAR-10 {source}; {train} training + {validation} "
          f"validation images ({int(train) + int(validation):,} in all) read {epochs} times and {test} test "
          f"images once, resized to {resolution}x{resolution} batch by batch")
    print(f"peak resident memory of a fresh process: {float(peak_mb):.0f} MB = {float(peak_mb) / 1024:.2f} GB "
          f"(target: at most 3 GB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000])
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--full-profile", action="store_true",
                        help="measure notebook 06's full profile (streaming, all 50,000 training images)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, count, resolution = args.child[0], int(args.child[1]), int(args.child[2])
        full_profile_child(resolution) if mode == "full" else child(mode, count, resolution)
        return
    if args.full_profile:
        full_profile(args.resolution)
        return

    import course_utils

    print(f"CIFAR-10 ({course_utils.data.describe('cifar10')}) resized to {args.resolution}x{args.resolution}; "
          "peak resident memory of a fresh process")
    print(f"{'images':>8} {'upfront MB':>11} {'streaming MB':>13}")
    peaks = {"upfront": [], "streaming": []}
    for count in args.sizes:
        row = []
        for mode in ("upfront", "streaming"):
            out = subprocess.run([sys.executable, __file__, "--child", mode, str(count), str(args.resolution)],
                                 check=True, capture_output=True, text=True).stdout.splitlines()[-1].split()
            peaks[mode].append(float(out[1]))
            row.append(float(out[1]))
        print(f"{count:>8} {row[0]:>11.0f} {row[1]:>13.0f}")
    first, last = args.sizes[0], args.sizes[-1]
    for mode, values in peaks.items():
        per_1000 = (values[-1] - values[0]) / (last - first) * 1000
        at_50k = values[-1] + per_1000 * (50_000 - last) / 1000
        print(f"{mode:>9}: grows {per_1000:7.0f} MB per 1,000 images; linear extrapolation to 50,000 images: "
              f"{at_50k / 1024:6.1f} GB")


if __name__ == "__main__":
    main()
