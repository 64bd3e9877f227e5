"""Why validation accuracy runs ahead of test accuracy in notebooks 03 and 05: the two halves of
cats vs dogs' held-out folder, each in both roles.

    python benchmarks/validation_halves.py [--image-size 96] [--epochs 30] [--seed 42]

The course validates on the first half of `cats_and_dogs_filtered/validation` (cat/dog.2000-2249)
and tests on the second (2250-2499), through one pipeline. This script extracts the configured
VGG16 base's features of the 2,000 training images and of both halves once, then prints:

1. a classifier with no choice made on either half (logistic regression on the globally pooled
   features, fixed regularisation): its accuracy on each half says whether one half is harder;
2. notebook 03's dense head trained `--epochs` epochs, with the accuracy on both halves after every
   epoch: the epoch chosen on half A, read on A and on B, and the same with the roles swapped,
   which shows the optimism of choosing an epoch on the half it is then read on.

The weights label is printed: the result depends on them.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

import course_utils  # noqa: E402
from course_utils import models, pretrained  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    settings = course_utils.config.Settings({"image_size": args.image_size, "batch_size": 32, "train_per_class": 1000,
                                             "val_per_class": 250, "test_per_class": 250},
                                            notebook="benchmark", profile="quick", seed=args.seed)
    splits = course_utils.load_dataset("cats_vs_dogs", settings)
    base = models.pretrained_base("vgg16", args.image_size)
    print(f"VGG16 weights: {pretrained.weights_label('vgg16')}; images {args.image_size}x{args.image_size}, "
          f"seed {args.seed}")
    (x_train, y_train), first, second = (models.extract_features(base, split, "vgg16")
                                         for split in (splits.train, splits.validation, splits.test))
    halves = {"A (2000-2249)": first, "B (2250-2499)": second}

    pooled = LogisticRegression(C=0.1, max_iter=2000).fit(x_train.mean(axis=(1, 2)), y_train)
    print("1. logistic regression on pooled features, nothing chosen on either half:")
    for name, (x, y) in halves.items():
        print(f"   half {name}: {pooled.score(x.mean(axis=(1, 2)), y):.3f} ({len(y)} images)")

    head = models.dense_head(x_train.shape[1:], classes=2)
    head.compile(optimizer=keras.optimizers.RMSprop(1e-4), loss="binary_crossentropy", metrics=["accuracy"])
    curves = {name: [] for name in halves}
    for _ in range(args.epochs):
        head.fit(x_train, y_train, batch_size=32, epochs=1, verbose=0)
        for name, (x, y) in halves.items():
            curves[name].append(float(np.mean((head.predict(x, verbose=0).ravel() > 0.5) == y)))
    print(f"2. notebook 03's dense head, {args.epochs} epochs (RMSprop 1e-4), the epoch chosen on one half:")
    for chosen, other in (tuple(halves), tuple(reversed(halves))):
        best = int(np.argmax(curves[chosen]))
        print(f"   chosen on {chosen}: epoch {best + 1}, {chosen} {curves[chosen][best]:.3f}, "
              f"{other} {curves[other][best]:.3f}")
    print(f"   mean over the last 10 epochs: " + ", ".join(f"{name} {np.mean(curve[-10:]):.3f}"
                                                          for name, curve in curves.items()))


if __name__ == "__main__":
    main()
