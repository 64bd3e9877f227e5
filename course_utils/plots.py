"""Figures the notebooks share. Each function returns a matplotlib Figure."""

from __future__ import annotations

import math
from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np


def image_grid(images: Sequence[Any], titles: Sequence[str], columns: int = 8,
               suptitle: str | None = None):
    """A grid of images (values in [0, 255] or [0, 1]) with one title each.

    Used by 00 for sample images and by later notebooks for predictions.
    """
    count = len(images)
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.8 * columns, 2.0 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles):
        image = np.asarray(image, dtype="float32")
        ax.imshow(image / 255.0 if image.max() > 1.0 else image)
        ax.set_title(title, fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def dataset_grid(dataset, class_names: Sequence[str], count: int, suptitle: str | None = None):
    """The first `count` images of a batched (image, label) dataset, titled by class."""
    images, titles = [], []
    for batch_images, batch_labels in dataset:
        for image, label in zip(batch_images.numpy(), batch_labels.numpy()):
            images.append(image)
            titles.append(class_names[int(label)])
        if len(images) >= count:
            break
    return image_grid(images[:count], titles[:count], suptitle=suptitle)
