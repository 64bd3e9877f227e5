"""Training, evaluation and predictions, shared by the notebooks from 01 on."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import pretrained
from .config import Settings
from .data import Splits
from .files import DAMAGED_FILE, atomic_path
from .results import Session


def optimizer(settings: Settings):
    """The profile's optimiser for notebooks 01 and 02: the session's `optimizer` ("rmsprop",
    the original material's, or "adam") at its `learning_rate`."""
    import keras

    kinds = {"rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam}
    return kinds[settings.optimizer](learning_rate=settings.learning_rate)


def keep_best(epochs: int):
    """A callback that, when training ends, puts back the weights of the epoch with the
    best validation accuracy (the first such epoch), so that the model evaluated on the
    test split is the one validation chose, not whatever the last epoch left.

    It is Keras' `EarlyStopping` with a patience longer than the run: it never stops
    training early, it only keeps the best weights (`restore_best_weights=True`).
    """
    import keras

    return keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=epochs + 1,
                                         restore_best_weights=True)


def _duration(seconds: float) -> str:
    """'45 s', '12 minutes' or '2.5 hours'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} minutes" if seconds < 90 * 60 else f"{seconds / 3600:.1f} hours"


def time_left(longer_than: float = 60.0, after: float = 30.0):
    """A callback that prints how long a `fit()` will take, when it looks longer than
    `longer_than` seconds: once the first epoch is done ("epoch 1 took 42 s; about 70 minutes
    for the remaining 99") and, for a long first epoch, already `after` seconds into it
    ("epoch 1: 120 of 1563 batches in 30 s; about 6 minutes for the rest of this training").
    The first batch pays for building the model's graph (and, on a GPU, compiling it): the
    estimate inside the epoch leaves it out, the one after the first epoch errs long.
    """
    import keras

    state = {}

    def begin(epoch, logs):
        state.setdefault("first", epoch)  # `initial_epoch` in a second phase
        state["at"] = time.perf_counter()

    def batch_end(batch, logs):
        now, steps = time.perf_counter(), callback.params.get("steps")
        if batch == 0:
            state.setdefault("first_batch", now)
        if state.get("told") or not steps or batch == 0 or now - state["at"] < after:
            return
        state["told"] = True
        epochs = callback.params["epochs"] - state["first"]
        rest = (now - state["first_batch"]) / batch * (steps * epochs - batch - 1)
        if now - state["at"] + rest > longer_than:
            print(f"epoch {state['first'] + 1}: {batch + 1} of {steps} batches in {_duration(now - state['at'])}; "
                  f"about {_duration(rest)} for the rest of this training ({epochs} epoch(s))", flush=True)

    def end(epoch, logs):
        state["told"] = True
        remaining = callback.params["epochs"] - epoch - 1
        took = time.perf_counter() - state["at"]
        if epoch == state["first"] and remaining > 0 and took * (remaining + 1) > longer_than:
            print(f"epoch {epoch + 1} took {_duration(took)}; about {_duration(took * remaining)} "
                  f"for the remaining {remaining}", flush=True)

    callback = keras.callbacks.LambdaCallback(on_epoch_begin=begin, on_train_batch_end=batch_end, on_epoch_end=end)
    return callback


def best_epoch(history: dict[str, list[float]], initial_epoch: int = 0) -> dict[str, Any]:
    """What `keep_best` kept, read from a history: the epoch (counted from 1, after
    `initial_epoch`), its validation accuracy, the last epoch's number and the epochs
    this history ran (they differ in a second phase), and the gap
    between training and validation accuracy at the last epoch (overfitting's symptom).
    Recorded with each test accuracy as its `details`."""
    val = history["val_accuracy"]
    best = int(np.argmax(val))  # the first maximum, as EarlyStopping keeps it
    return {"best_epoch": initial_epoch + best + 1, "best_val_accuracy": round(float(val[best]), 4),
            "epochs": initial_epoch + len(val), "epochs_run": len(val),
            "last_gap": round(float(history["accuracy"][-1] - val[-1]), 4)}


def describe_best(details: dict[str, Any]) -> str:
    """'kept epoch 26 of 30 (validation accuracy 0.765)'."""
    return (f"kept epoch {details['best_epoch']} of {details['epochs']} "
            f"(validation accuracy {details['best_val_accuracy']:.3f})")


def fit_and_evaluate(model, splits: Splits, session: Session, *, key: str, method: str, epochs: int | None = None,
                     initial_epoch: int = 0, callbacks: list | None = None) -> tuple[dict[str, list[float]], float]:
    """Fit on the train split (validating on the validation split), keep the best
    validation epoch (`keep_best`), evaluate it on the test split and record the test
    accuracy as result `key`, labelled `method` (its data and network as `session.using`
    stated), with the epoch it came from and whether each test image was classified right
    (`right_per_image`).

    The splits are `tf.data` pipelines: `load_dataset`'s, or cached features through
    `data.array_splits`. Returns the history
    (`{"accuracy": [...], "val_accuracy": [...], ...}`) and the test accuracy.
    `epochs` defaults to the session's `epochs` (the notebook's main training).
    """
    epochs = epochs or session.epochs
    history = model.fit(splits.train, validation_data=splits.validation, epochs=initial_epoch + epochs,
                        initial_epoch=initial_epoch, callbacks=[keep_best(epochs), time_left(), *(callbacks or [])], verbose=2)
    history = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    outcomes = right_per_image(model, splits.test)
    accuracy = float(outcomes.mean())  # what Keras' `evaluate` gives, image by image (tests/test_training.py)
    details = best_epoch(history, initial_epoch)
    print(describe_best(details))
    session.record(key, accuracy, method=method, details=details, outcomes=outcomes)
    return history, accuracy


def right_or_wrong(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Whether each prediction is right, as Keras' "accuracy" metric counts it: with one
    sigmoid output, the class is 1 when its probability exceeds 0.5; with a softmax
    output, it is the most probable class (the first, in a tie). Returns booleans, one
    per image."""
    labels = np.asarray(labels).reshape(len(labels), -1)[:, 0]
    probabilities = np.asarray(probabilities).reshape(len(labels), -1)
    predicted = (probabilities[:, 0] > 0.5) if probabilities.shape[1] == 1 else probabilities.argmax(axis=1)
    return predicted.astype(labels.dtype) == labels


def right_per_image(model, dataset, prepare=None) -> np.ndarray:
    """For each image of a (batched) dataset, in its order, whether `model` classifies it
    right (`right_or_wrong`): what `session.record(..., outcomes=...)` takes and the lessons
    compare two models with, image by image. `prepare` as for `predict_all`. Their mean is
    the accuracy."""
    right = []
    for batch_images, batch_labels in dataset:
        inputs = batch_images if prepare is None else prepare(batch_images)
        right.append(right_or_wrong(batch_labels.numpy(), model.predict_on_batch(inputs)))
    return np.concatenate(right)


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


def save_history(settings: Settings, history: dict[str, list[float]], name: str) -> Path:
    """Save a training history as `<build>/histories/<notebook>__<name>.json`, with the run
    that produced it and when; returns the path."""
    path = settings.artifact_path("histories", f"{settings.notebook}__{name}.json")
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps({"profile": settings.profile, "run_id": settings.run_id,
                                         "saved_at": time.strftime("%Y-%m-%d %H:%M"), "history": history}))
    return path


def load_history(settings: Settings, notebook: str, name: str) -> dict[str, Any] | None:
    """An earlier notebook's saved history in this profile, or None (none saved, or unreadable).

    A history saved by another run than this one (`session.run_id`: an interrupted run,
    a run of only that notebook, the notebook opened by hand) carries
    `"earlier_run"`: "notebook 01_...'s run <run id> of <date>, not this run", which
    `plots.learning_curves` shows on the figure.
    """
    path = settings.artifact_path("histories", f"{notebook}__{name}.json")
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        print(f"The saved history {path} is damaged (an interrupted run): ignored")
        return None
    if saved["profile"] != settings.profile:
        return None
    history = saved["history"]
    if saved.get("run_id") != settings.run_id:
        # Saved before histories named their run: the file's date is all there is.
        date = saved.get("saved_at") or time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))
        run = saved.get("run_id") or "(id not saved)"
        history["earlier_run"] = f"notebook {notebook}'s run {run} of {date}, not this run"
    return history


def model_path(settings: Settings, name: str, network: str | None = None, suffix: str = ".keras") -> Path:
    """Where a trained model is saved for later notebooks:
    `<build>/models/<profile>/<weights key>/<name><suffix>` (the folder is created).

    `network` names the pretrained network the model started from ("vgg16"),
    whose weights' fingerprint keys the folder; None for a network trained
    from scratch. A model saved in another profile or with other weights is
    thus never found in place of this one.
    """
    key = f"{network}-{pretrained.weights_fingerprint(network)[:16]}" if network else "from-scratch"
    return settings.artifact_path("models", f"{name}{suffix}", key=key)


def save_model(model, settings: Settings, name: str, network: str | None = None) -> Path:
    """Save `model` where `model_path` says, all at once (a temporary file renamed into
    place, so an interrupted save never leaves half a model); returns the path."""
    path = model_path(settings, name, network)
    with atomic_path(path) as temporary:
        model.save(temporary)
    print(f"Saved {name} to {path}")
    return path


def load_saved_model(settings: Settings, name: str, network: str | None = None):
    """The model an earlier notebook saved with `save_model` in this profile, starting from
    the weights `network` has in this run, or None (with a line saying why) when there is
    none or it cannot be opened."""
    import keras

    path = model_path(settings, name, network)
    if not path.is_file():
        print(f"No saved {name} for profile {settings.profile} and these weights (looked for {path}).")
        return None
    try:
        model = keras.models.load_model(path)
    except (*DAMAGED_FILE, TypeError) as error:  # cut short, or saved by a Keras that this one cannot read
        # Keras says "file not found" for a file cut short: name the likely causes instead.
        print(f"The saved {name} at {path} cannot be opened ({type(error).__name__}; damaged by an "
              "interrupted save, or written by another Keras version): ignored.")
        return None
    print(f"Loaded {name} from {path}")
    return model
