"""Training, evaluation and predictions, shared by the notebooks from 01 on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .results import record_result


def fit_and_evaluate(model, splits, cfg: dict[str, Any], *, method: str, dataset: str,
                     weights: str, epochs: int | None = None, initial_epoch: int = 0,
                     callbacks: list | None = None) -> tuple[dict[str, list[float]], float]:
    """Fit on the train split (validating on the validation split), evaluate on
    the test split and record the test accuracy.

    Returns the history (`{"accuracy": [...], "val_accuracy": [...], ...}`)
    and the test accuracy. `epochs` defaults to the profile's. Used by 01-05.
    """
    epochs = epochs or cfg["epochs"]
    history = model.fit(splits.train, validation_data=splits.validation,
                        epochs=initial_epoch + epochs, initial_epoch=initial_epoch,
                        callbacks=callbacks, verbose=2)
    scores = model.evaluate(splits.test, return_dict=True, verbose=0)
    accuracy = float(scores["accuracy"])
    record_result(cfg, "test_accuracy", accuracy, method=method, dataset=dataset, weights=weights)
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}, accuracy


def predict_all(model, dataset, prepare=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images, true labels and predicted probabilities over a whole (batched) dataset.

    `prepare`, when given, turns each batch into the model's input (notebook 06
    resizes CIFAR-10 to 224x224 this way): the images returned are the batches as
    the dataset gives them, so a large model input is never kept for the whole set.
    """
    images, labels, probabilities = [], [], []
    for batch_images, batch_labels in dataset:
        images.append(batch_images.numpy())
        labels.append(batch_labels.numpy())
        inputs = batch_images if prepare is None else prepare(batch_images)
        probabilities.append(np.asarray(model.predict_on_batch(inputs)))
    return np.concatenate(images), np.concatenate(labels), np.concatenate(probabilities)


def save_history(cfg: dict[str, Any], history: dict[str, list[float]], name: str) -> Path:
    """Save a training history as `<build>/histories/<notebook>__<name>.json`."""
    path = Path(cfg["build_dir"]) / "histories" / f"{cfg['notebook']}__{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"profile": cfg["profile"], "history": history}))
    return path


def load_history(cfg: dict[str, Any], notebook: str, name: str) -> dict[str, list[float]] | None:
    """An earlier notebook's saved history in this profile, or None."""
    path = Path(cfg["build_dir"]) / "histories" / f"{notebook}__{name}.json"
    if not path.is_file():
        return None
    saved = json.loads(path.read_text())
    return saved["history"] if saved["profile"] == cfg["profile"] else None


def model_path(cfg: dict[str, Any], name: str) -> Path:
    """Where a trained model is saved for later notebooks: `<build>/models/<name>.keras`
    (the folder is created)."""
    path = Path(cfg["build_dir"]) / "models" / f"{name}.keras"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def cached_features(base, dataset, cfg: dict[str, Any], *, model: str, data: str,
                    split: str) -> tuple[np.ndarray, np.ndarray]:
    """Features of a frozen `base` over one split, and the labels, computed once.

    One batched pass over the `tf.data` split (never one `predict` per image).
    The result is cached in `<build>/features/`, keyed by the model, its
    weights (the file's sha256 for a local file), the base's output shape, the
    image size, the dataset and the split with its size in this profile: a
    second call with the same key loads it from disk, a change to any part
    recomputes. Used by notebooks 03-05.
    """
    import hashlib

    from . import models
    from .data import describe

    count = cfg[{"train": "train_per_class", "validation": "val_per_class", "test": "test_per_class"}[split]]
    key = {"model": model, "weights": models.weights_fingerprint(model),
           "output": [int(d) if d else None for d in base.output_shape[1:]],
           "image_size": cfg["image_size"], "data": describe(data), "split": split, "per_class": count}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = Path(cfg["build_dir"]) / "features" / f"{model}_{data}_{split}_{digest}.npz"
    if path.is_file():
        cached = np.load(path)
        print(f"{split}: features loaded from the cache ({path.name})")
        return cached["features"], cached["labels"]
    prepare = models.preprocess(model)
    features, labels = [], []
    for images, batch_labels in dataset:
        features.append(np.asarray(base(prepare(images), training=False)))
        labels.append(batch_labels.numpy())
    features, labels = np.concatenate(features), np.concatenate(labels)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, features=features, labels=labels, key=json.dumps(key))
    print(f"{split}: computed features {features.shape}, cached as {path.name}")
    return features, labels
