"""Figures the notebooks share. Each function returns a matplotlib Figure."""

from __future__ import annotations

import math
import textwrap
from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np


def image_grid(images: Sequence[Any], titles: Sequence[str], columns: int = 8,
               suptitle: str | None = None):
    """A grid of images (values in [0, 255] or [0, 1]) with one title each."""
    count = len(images)
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.8 * columns, 2.3 * rows), squeeze=False)
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


FOOTNOTE = "course-footnote"  # the gid of a figure's footnote text, so that a second call adds to it


def footnote(fig, lines: Sequence[str]) -> None:
    """Write `lines` in small grey type below the figure, wrapped to its width, after
    any lines an earlier call wrote there (one block, never two texts on top of each other).

    Used by `learning_curves` (curves from an earlier run), `save_figure` (profile,
    data, weights) and the report's summary figure.
    """
    width = max(30, int(fig.get_figwidth() * 16))  # characters that fit the figure's width
    text = "\n".join(textwrap.fill(line, width) for line in lines)
    earlier = [t for t in fig.texts if t.get_gid() == FOOTNOTE]
    if earlier:
        earlier[0].set_text(f"{earlier[0].get_text()}\n{text}")
    else:
        fig.text(0.0, 0.0, text, fontsize=6.5, color="dimgray", ha="left", va="top", gid=FOOTNOTE)


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


def learning_curves(histories: dict[str, dict[str, list[float]]], title: str | None = None,
                    mark: tuple[float, str] | None = None):
    """Accuracy and loss per epoch for one or several runs on shared axes.

    Training is drawn solid, validation dashed, one colour per run. Two panels; a
    circle marks each run's best validation epoch, the one `training.keep_best` keeps.
    A history may carry `"first_epoch"` (where it starts on the axis, for a
    second training phase) and `"earlier_run"` (set by `training.load_history` for
    a history another run saved: its run id and date, which the legend and a
    footnote then show); `mark=(epoch, text)` draws a labelled vertical line.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    earlier = [f"{label}: {history['earlier_run']}" for label, history in histories.items() if "earlier_run" in history]
    histories = {f"{label} (earlier run)" if "earlier_run" in history else label: history
                 for label, history in histories.items()}
    for (label, history), color in zip(histories.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        for ax, metric in zip(axes, ("accuracy", "loss")):
            first = history.get("first_epoch", 1)
            epochs = range(first, first + len(history[metric]))
            ax.plot(epochs, history[metric], "-", color=color, label=f"{label}: training")
            if f"val_{metric}" in history:
                ax.plot(epochs, history[f"val_{metric}"], "--", color=color, label=f"{label}: validation")
        if "val_accuracy" in history:  # the epoch `training.keep_best` keeps: the best validation accuracy
            best = int(np.argmax(history["val_accuracy"]))
            axes[0].plot(first + best, history["val_accuracy"][best], "o", color=color, markersize=8,
                         markerfacecolor="none", label=f"{label}: best validation, epoch {first + best}")
    for ax, metric in zip(axes, ("accuracy", "loss")):
        if mark:
            ax.axvline(mark[0], color="grey", linestyle=":")
            ax.text(mark[0], ax.get_ylim()[1], f" {mark[1]}", va="top", fontsize=8, color="grey")
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if earlier:  # numbers not from the run that draws them say whose they are, as the report's tables do
        footnote(fig, earlier)
    return fig


def predicted_classes(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class and its probability, for one sigmoid unit or a softmax."""
    probabilities = np.asarray(probabilities, dtype="float64")
    if probabilities.ndim == 1 or probabilities.shape[-1] == 1:
        p = probabilities.reshape(-1)
        predicted = (p >= 0.5).astype(int)
        return predicted, np.where(predicted == 1, p, 1.0 - p)
    return probabilities.argmax(axis=-1), probabilities.max(axis=-1)


def misclassified(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Indices of the wrong predictions, the most confidently wrong first (may be empty)."""
    predicted, confidence = predicted_classes(probabilities)
    wrong = np.flatnonzero(predicted != np.asarray(labels).reshape(-1))
    return wrong[np.argsort(-confidence[wrong], kind="stable")]


def misclassified_grid(images, labels, probabilities, class_names: Sequence[str], limit: int = 16):
    """The misclassified images, most confidently wrong first, each titled with
    true label, predicted label and the predicted class's probability."""
    wrong = misclassified(labels, probabilities)[:limit]
    if len(wrong) == 0:
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        return fig
    predicted, confidence = predicted_classes(probabilities)
    titles = [f"true: {class_names[int(labels[i])]}\npred: {class_names[int(predicted[i])]} ({confidence[i]:.2f})"
              for i in wrong]
    return image_grid([images[i] for i in wrong], titles,
                      suptitle=f"{len(misclassified(labels, probabilities))} misclassified; the {len(wrong)} most confident")


def confusion_matrix(labels, predicted, class_names: Sequence[str], title: str | None = None):
    """The confusion matrix (rows: true class, columns: predicted), computed and
    drawn by scikit-learn, with the class names on both axes."""
    from sklearn.metrics import ConfusionMatrixDisplay

    size = max(4.0, 0.45 * len(class_names))
    fig, ax = plt.subplots(figsize=(size + 1, size))
    ConfusionMatrixDisplay.from_predictions(labels, predicted, labels=list(range(len(class_names))),
                                            display_labels=class_names, ax=ax, colorbar=False,
                                            xticks_rotation=90)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def feature_maps(maps, title: str, limit: int = 32, columns: int = 8, channels: Sequence[int] | None = None):
    """Channels of one image's feature maps (height, width, channels), one panel each: the first
    `limit`, or those listed in `channels` (each panel then titled with its channel's index)."""
    maps = np.asarray(maps)
    shown = list(channels) if channels is not None else list(range(min(limit, maps.shape[-1])))
    count = len(shown)
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.4 * columns, 1.4 * rows + 0.4), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < count:
            ax.imshow(maps[..., shown[index]], cmap="viridis")
            if channels is not None:
                ax.set_title(str(shown[index]), fontsize=8)
    fig.suptitle(f"{title}: {count} of {maps.shape[-1]} channels, {maps.shape[0]}x{maps.shape[1]}", fontsize=10)
    fig.tight_layout()
    return fig


def heatmap_overlays(images, heatmaps, titles: Sequence[str], alpha: float = 0.4):
    """Each image (values in [0, 255]) with its heatmap (values in [0, 1]) resized and laid over it."""
    import tensorflow as tf

    images = np.asarray(images, dtype="float32")
    size = images.shape[1:3]
    resized = tf.image.resize(np.asarray(heatmaps)[..., None], size).numpy()[..., 0]
    fig, axes = plt.subplots(1, len(images), figsize=(2.4 * len(images), 2.8), squeeze=False)
    for ax, image, heatmap, title in zip(axes.flat, images, resized, titles):
        ax.imshow(image / 255.0)
        ax.imshow(heatmap, cmap="jet", alpha=alpha, vmin=0.0, vmax=1.0)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return fig


FROZEN_COLOUR, TRAINED_COLOUR = "#d9d9d9", "#f4a259"


def transfer_workflow(blocks: Sequence[str] = ("block 1", "block 2", "block 3", "block 4", "block 5"),
                      unfrozen: int = 1, head: str = "new head\n(Dense layers)"):
    """The two phases of transfer learning, side by side, as boxes from input to output: the
    pretrained base's `blocks` and the new `head`, each grey when frozen and orange when it trains.

    Phase 1 (feature extraction) trains the head on the frozen base; phase 2 (fine-tuning) also
    trains the base's last `unfrozen` blocks, at a small learning rate. Each box's patch carries
    the gid "frozen" or "trained" (the tests count them).
    """
    if not 0 < unfrozen <= len(blocks):
        raise ValueError(f"unfrozen must be between 1 and {len(blocks)} (the base's blocks), not {unfrozen}")
    phases = [("Phase 1: feature extraction", 0, "train the head; the base is frozen"),
              ("Phase 2: fine-tuning", unfrozen, f"then also train the top {unfrozen} block(s),\nat a smaller learning rate")]
    rows = ["input image", *blocks, head, "class probabilities"]
    fig, axes = plt.subplots(1, 2, figsize=(8, 0.65 * len(rows) + 1.2))
    for ax, (title, trained_blocks, note) in zip(axes, phases):
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.8, len(rows))
        ax.axis("off")
        ax.set_title(title, fontsize=11)
        for row, name in enumerate(rows):
            y = len(rows) - 1 - row  # input at the top
            if name in blocks or name == head:
                trains = name == head or blocks.index(name) >= len(blocks) - trained_blocks
                state = "trained" if trains else "frozen"
                ax.add_patch(plt.Rectangle((0.15, y + 0.1), 0.7, 0.75, gid=state, linewidth=1, edgecolor="black",
                                           facecolor=TRAINED_COLOUR if trains else FROZEN_COLOUR))
                ax.text(0.5, y + 0.47, f"{name}\n{state}", ha="center", va="center", fontsize=8)
            else:
                ax.text(0.5, y + 0.47, name, ha="center", va="center", fontsize=9, style="italic")
            if row:
                ax.annotate("", xy=(0.5, y + 0.85), xytext=(0.5, y + 1.1), arrowprops={"arrowstyle": "->"})
        base_top, base_bottom = len(rows) - 1 - 1 + 0.85, len(rows) - 1 - len(blocks) + 0.1
        ax.annotate("", xy=(0.08, base_top), xytext=(0.08, base_bottom), arrowprops={"arrowstyle": "-"})
        ax.text(0.05, (base_top + base_bottom) / 2, "pretrained base", rotation=90, ha="right", va="center", fontsize=9)
        ax.text(0.5, -0.5, note, ha="center", va="center", fontsize=8)
    fig.tight_layout()
    return fig
