"""The notebook's session (`Session`), the results and figures it records, and the tables built from them.

`setup()` returns the session. A notebook states once what its results come from, where it
chooses them (the splits `load_dataset` returned, and the network),

    session.using(splits, network="vgg16")

then records a number with one line, under the key that says what the number is,

    session.record(results.FEATURES_DENSE_HEAD, accuracy, method="VGG16 features + dense head")

which appends a record to `<build>/results/<notebook>.jsonl`, and saves a figure with
`session.save_figure(fig, "learning_curves", caption=...)`, which writes
`<build>/report/figures/<notebook>__learning_curves.png`. Both are labelled from that one
statement, so a record cannot carry another notebook cell's label. A record holds:

    key, notebook, metric   what the number is (`KEYS`: each key belongs to one notebook and metric)
    value                   the number
    method                  its display label: free text, read by people only
    network, pretrained     the network the model is built on ("vgg16", "small_cnn") and whether it
                            started from pretrained weights
    dataset, data, split    the course dataset (or None), its copy in words, the split sizes as
                            numbers ({"train": 2000, "validation": 500, "test": 500}), image_size
    weights                 the weights in words (`pretrained.weights_label`, or how it was initialised)
    profile, seed, device, run_id, wall_time_s, recorded_at, details, outcomes (optional)

The lessons and the report's summary find records by key and read their fields, never their
label's wording: a label can change freely. A record written before keys existed has none,
and is matched by nothing. The course runner collects every record into
`<build>/report/results.json` and a Markdown table.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, NamedTuple

from .config import Settings, artifact_path
from .data import Sizes, Splits
from .files import append_line, atomic_path
from .install import describe

REQUIRED = ("notebook", "method", "metric", "value", "profile", "data", "weights")
NO_DATASET = "none (no dataset used)"
FROM_SCRATCH = "none (trained from scratch)"
RANDOM_WEIGHTS = "none (random initialisation, for comparison)"  # a pretrained network's own, left random

# Every result a notebook records, by key: the notebook that records it and the metric it measures.
# Notebooks, `lessons` and the report's summary share these constants; a new result needs its key here.
KEYS: dict[str, tuple[str, str]] = {}


def _key(key: str, notebook: str, metric: str = "test_accuracy") -> str:
    KEYS[key] = (notebook, metric)
    return key


SCRATCH_CNN = _key("scratch_cnn", "01_scratch_cnn_baseline")
AUGMENTED_CNN = _key("augmented_cnn", "02_data_augmentation")
FEATURES_DENSE_HEAD = _key("features_dense_head", "03_vgg_feature_extraction")  # also with random weights
FEATURES_LOGISTIC = _key("features_logistic_regression", "03_vgg_feature_extraction")
FEATURES_CONV_HEAD = _key("features_conv_head", "03_vgg_feature_extraction")
FROZEN_BASE_AUGMENTED = _key("frozen_base_augmented", "03_vgg_feature_extraction")
NEW_HEAD = _key("new_head", "04_head_swap")  # also with random weights
BLOCK4_HEAD = _key("block4_head", "04_head_swap")
INCEPTION_UPSAMPLED = _key("inception_upsampled", "04_head_swap")
FLOWERS_FINE_TUNED = _key("flowers_fine_tuned", "04_head_swap")
HEAD_ONLY = _key("head_only", "05_unfreezing_block5")  # phase 1: the head on the frozen base
BLOCK5_FINE_TUNED = _key("block5_fine_tuned", "05_unfreezing_block5")  # phase 2, at the small rate
BLOCK5_LARGE_RATE = _key("block5_large_rate", "05_unfreezing_block5")  # phase 2 again, at a large rate
HUB_HEAD = _key("hub_head", "06_tfhub_mobilenet_cifar10")
HUB_FINE_TUNED = _key("hub_fine_tuned", "06_tfhub_mobilenet_cifar10")
CIFAR_SCRATCH_CNN = _key("cifar_scratch_cnn", "06_tfhub_mobilenet_cifar10")
KERAS_MOBILENET_HEAD = _key("keras_mobilenet_head", "06_tfhub_mobilenet_cifar10")  # Keras' MobileNetV2, frozen
KERAS_MOBILENET_FINE_TUNED = _key("keras_mobilenet_fine_tuned", "06_tfhub_mobilenet_cifar10")  # its top unfrozen
FILTERS_SWITCHED_ON = _key("filters_switched_on", "07_visualizing_filters_and_activations", "filters_switched_on")
FILTER_ASCENT_SECONDS = _key("filter_ascent_seconds", "07_visualizing_filters_and_activations",
                             "filter_visualisation_s")


def check_key(key: str, notebook: str | None = None) -> tuple[str, str]:
    """The notebook and metric of result `key`; raises ValueError naming the valid keys for an
    unknown one, and the key's own notebook for a key that `notebook` does not record."""
    if key not in KEYS:
        raise ValueError(f"unknown result key {key!r}: the known keys are {', '.join(KEYS)} "
                         "(course_utils/results.py's KEYS; a new result needs its key there)")
    owner, metric = KEYS[key]
    if notebook is not None and owner != notebook:
        valid = [k for k, (nb, _) in KEYS.items() if nb == notebook]
        raise ValueError(f"result key {key!r} belongs to notebook {owner}, not {notebook}: "
                         f"{notebook}'s keys are {', '.join(valid) or 'none yet (add them to results.KEYS)'}")
    return owner, metric


class Source(NamedTuple):
    """What the notebook's next results come from, as `Session.using` stated it."""

    dataset: str | None
    data: str  # the dataset and its copy, in words
    sizes: Sizes | None
    image_size: int | None
    network: str
    pretrained: bool
    weights: str  # the weights, in words


class Session(Settings):
    """A notebook's session, as `setup()` returns it: the profile's settings as read-only
    attributes (`session.image_size`) and the run's identity (`Settings`), and the notebook's
    actions: `using`, `record`, `latest_result`, `save_figure`, `artifact_path`. Nothing else
    writes into it: what the results come from changes only when the notebook calls `using`."""

    _source: Source | None = None

    def using(self, data: Splits | None, *, network: str, pretrained: bool | None = None,
              weights: str | None = None) -> None:
        """State what the notebook's next results and figures come from, until the next call:
        `data`, the splits `load_dataset` returned (None for none, a timing say), and the
        network the model is built on ("vgg16", or the course's own "small_cnn").

        A network with pretrained weights in this course (a key of `weights`: "vgg16",
        "vgg19", "mobilenet_v2") starts from them unless `pretrained=False` (its own random
        initialisation, for comparison); any other network is trained from scratch. `weights`
        gives the label of a model whose weights are known only once it is loaded (the TF-Hub
        layer's). Raises ValueError for `pretrained=True` on a network without weights here.
        """
        known = network in self.weights or weights is not None
        if pretrained and not known:
            raise ValueError(f"no pretrained weights for {network!r} in this course: the pretrained networks are "
                             f"{', '.join(self.weights)}; leave pretrained= out for a network trained from scratch")
        pretrained = known if pretrained is None else pretrained
        label = (weights or self.weights[network]) if pretrained else RANDOM_WEIGHTS if known else FROM_SCRATCH
        dataset, sizes, image_size = (None, None, None) if data is None else (data.dataset, data.sizes, data.image_size)
        source = Source(dataset, describe(dataset) if dataset else NO_DATASET, sizes, image_size, network, pretrained,
                        label)
        object.__setattr__(self, "_source", source)

    @property
    def source(self) -> Source:
        """What the notebook stated with `using`; raises ValueError before it has."""
        if self._source is None:
            raise ValueError("say what the results come from first: session.using(splits, network=...) "
                             "after load_dataset")
        return self._source

    @property
    def results_file(self) -> Path:
        """The file this notebook's records are appended to: `<build>/results/<notebook>.jsonl`."""
        return self.artifact_path("results", f"{self.notebook}.jsonl")

    def record(self, key: str, value: float, *, method: str, details: dict[str, Any] | None = None,
               outcomes=None) -> dict[str, Any]:
        """Append one result of this notebook's run and return the record (see the module's docstring).

        `key` says what the result is (one of `KEYS` for this notebook: its metric comes from
        there); `method` is its label for people, free text. The data, split sizes, network and
        weights are those the notebook stated with `using`. `details` (optional) are numbers the
        lessons read, such as the epoch kept (`training.best_epoch`). `outcomes` (optional, with a
        test accuracy) says for each test image, in the test split's order, whether the model got
        it right (`training.right_per_image`): the lessons compare two models image by image with
        it (`stats.paired_test`). Raises ValueError for an unknown key, and for outcomes that are
        not one per test image or do not give `value`.
        """
        _, metric = check_key(key, self.notebook)
        source = self.source
        packed = None if outcomes is None else pack_outcomes(outcomes)
        if packed is not None:
            n, right = packed["images"], sum(read_outcomes({"outcomes": packed}))
            if source.sizes is not None and n != source.sizes.test:
                raise ValueError(f"outcomes for {n} images, but the test split of {source.dataset} has "
                                 f"{source.sizes.test}")
            # One image either way: Keras' `evaluate` and a prediction pass may round a probability of
            # exactly 0.5 differently; anything more means these outcomes are not this accuracy's.
            if not n or abs(right / n - value) > 1 / n + 1e-6:
                raise ValueError(f"outcomes give an accuracy of {right} of {n}, not {value:.4f}: not this result's")
        record = {
            "key": key, "notebook": self.notebook, "method": method, "metric": metric, "value": float(value),
            "network": source.network, "pretrained": source.pretrained, "profile": self.profile,
            "dataset": source.dataset, "data": source.data,
            "split": source.sizes._asdict() if source.sizes else None, "image_size": source.image_size,
            "weights": source.weights, "details": details or {}, "seed": self.seed, "device": self.device,
            # Which course run produced it: the report shows only its own run's records as this run's.
            "run_id": self.run_id, "wall_time_s": round(time.time() - self.started, 1),
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        if packed is not None:
            record["outcomes"] = packed
        # One write per record: a notebook open in JupyterLab and the course runner may append
        # to the same file at once; the records are never rewritten, so no run deletes another's.
        append_line(self.results_file, json.dumps(record))
        print(f"Recorded {metric} = {value:.4f} ({method}; profile {self.profile})")
        return record

    def latest_result(self, key: str, *, network: str | None = None,
                      pretrained: bool | None = None) -> dict[str, Any] | None:
        """The newest record of result `key` in this profile (of `network`, and pretrained or not,
        when given), or None. Notebooks compare with earlier lessons through this, never by typing
        a number in."""
        notebook, _ = check_key(key)
        matches = [r for r in load_results(self.build_dir, notebook)
                   if r.get("key") == key and r["profile"] == self.profile
                   and network in (None, r.get("network")) and pretrained in (None, r.get("pretrained"))]
        return matches[-1] if matches else None

    def save_figure(self, fig, name: str, caption: str) -> Path:
        """Save `fig` as `<build>/report/figures/<notebook>__<name>.png` and return the path.

        `caption` is one sentence saying what the figure shows; the report prints it
        under the figure (it is stored beside it, `<notebook>__<name>.txt`). The saved
        image carries a footer naming the notebook, profile and seed and, once the
        notebook has stated them with `using`, the data and the weights, so that a
        figure copied into a report still says what produced it. The figure shown in
        the notebook gets the footer too.
        """
        from .plots import footnote  # here, not at the top: `import course_utils` stays free of pyplot

        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise ValueError(f"figure name {name!r}: use letters, digits, '_' and '-' only")
        if not caption.strip():
            raise ValueError(f"figure {name!r}: give a one-sentence caption saying what it shows")
        lines = [f"{self.notebook}, profile {self.profile}, seed {self.seed}"]
        if self._source is not None:
            lines += [f"data: {self._source.data}", f"weights: {self._source.weights}"]
        footnote(fig, lines)
        path = self.artifact_path("figures", f"{self.notebook}__{name}.png")
        with atomic_path(path) as temporary:  # a run interrupted mid-save leaves the old figure or none
            fig.savefig(temporary, dpi=110, bbox_inches="tight")
        path.with_suffix(CAPTION_SUFFIX).write_text(caption.strip() + "\n")
        return path


def split_sizes(record: dict[str, Any]) -> Sizes | None:
    """The split sizes a record came from, or None when it names none (no dataset, or an older
    version of the course, which stored them as text)."""
    split = record.get("split")
    return Sizes(**split) if isinstance(split, dict) and set(split) == set(Sizes._fields) else None


def test_images(record: dict[str, Any]) -> int | None:
    """The size of the test split a record came from, or None when it names none."""
    sizes = split_sizes(record)
    return sizes.test if sizes else None


def pack_outcomes(outcomes) -> dict[str, Any]:
    """Per-image outcomes (one true or false per test image, in the test split's order: right or
    wrong) as a record stores them: `{"images": n, "right": hex}`, the outcomes as bits, four to
    a hex digit, the first image in the first digit's highest bit (10,000 images: 2,500 digits)."""
    if getattr(outcomes, "ndim", 1) != 1:
        raise ValueError("outcomes: give one true or false per test image, a 1-D array")
    bits = "".join("1" if right else "0" for right in outcomes)
    padded = bits + "0" * (-len(bits) % 4)
    return {"images": len(bits), "right": format(int(padded or "0", 2), f"0{len(padded) // 4}x") if bits else ""}


def read_outcomes(record: dict[str, Any]) -> list[bool] | None:
    """A record's per-image outcomes (True: the image was classified right), in test-split
    order, or None when the record has none (it was recorded without them)."""
    stored = record.get("outcomes")
    if not stored:
        return None
    n, digits = stored["images"], stored["right"]
    bits = format(int(digits, 16), f"0{4 * len(digits)}b") if digits else ""
    return [bit == "1" for bit in bits[:n]]


def load_results(build: Path, notebook: str | None = None) -> list[dict[str, Any]]:
    """Every usable record under `<build>/results` (or one notebook's), in notebook order.

    A line that is not a record is skipped with a notice naming its file and line: one cut
    short by an interrupted run, or valid JSON of another shape (`record_problem`), such as a
    record of another version of the course appended by a notebook run by hand.
    """
    pattern = f"{notebook}.jsonl" if notebook else "*.jsonl"
    records = []
    for path in sorted(artifact_path(Path(build), "results").glob(pattern)):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                print(f"Skipped line {number} of {path}: not JSON (cut short by a run interrupted while writing it?)")
                continue
            problem = record_problem(record)
            if problem:
                print(f"Skipped line {number} of {path}: not a result record of this course ({problem})")
            else:
                records.append(record)
    return records


CAPTION_SUFFIX = ".txt"  # a figure's caption is stored beside it: <notebook>__<name>.txt

# What each field the report and the lessons read must hold, when a record has it (REQUIRED ones
# it must have). A line of another shape is skipped when loaded, never used.
_IS = {"text": lambda v: isinstance(v, str), "true or false": lambda v: isinstance(v, bool),
       "a number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),  # JSON's true is no number
       "a JSON object": lambda v: isinstance(v, dict)}
FIELD_KINDS = {"notebook": "text", "method": "text", "metric": "text", "value": "a number", "profile": "text",
               "data": "text", "weights": "text", "key": "text", "run_id": "text", "network": "text",
               "dataset": "text", "pretrained": "true or false", "details": "a JSON object",
               "outcomes": "a JSON object", "recorded_at": "text", "wall_time_s": "a number"}


def record_problem(record: Any) -> str | None:
    """Why `record` (one parsed line of a results file) is not a usable result record, e.g.
    "its value is 'high', not a number"; None when it is."""
    if not isinstance(record, dict):
        return f"a JSON {'array' if isinstance(record, list) else 'value'}, not an object"
    missing = [key for key in REQUIRED if record.get(key) in (None, "")]
    if missing:
        return f"it lacks {', '.join(missing)}"
    for field, kind in FIELD_KINDS.items():
        if record.get(field) is not None and not _IS[kind](record[field]):
            return f"its {field} is {record[field]!r:.40}, not {kind}"
    return None


def check_record(record: dict[str, Any]) -> None:
    """Raise ValueError for a record that `record_problem` finds unusable, naming why."""
    problem = record_problem(record)
    if problem:
        raise ValueError(f"result record {record!r:.200}: {problem}")


# Every results table (the report's Markdown and HTML): each column's heading and record field.
COLUMNS = (("notebook", "notebook"), ("method", "method"), ("metric", "metric"), ("value", "value"),
           ("profile", "profile"), ("data", "data"), ("split (train/validation/test)", "split"),
           ("weights", "weights"), ("wall time (s)", "wall_time_s"))


def _cell(record: dict[str, Any], field: str) -> str:
    if field == "value":
        return f"{record['value']:.4f}"
    sizes = split_sizes(record) if field == "split" else None
    if sizes:
        return " / ".join(map(str, sizes))
    value = record.get(field)
    return "" if value is None else str(value)


def table_row(record: dict[str, Any]) -> list[str]:
    """A checked record's cells, in the order of `COLUMNS` (the value to four decimals, the split
    sizes as "train / validation / test")."""
    check_record(record)
    return [_cell(record, field) for _, field in COLUMNS]
