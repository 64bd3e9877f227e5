"""Results and figures that notebooks record, and the tables built from them.

A notebook states once what its results come from, where it chooses them,

    course_utils.using(cfg, dataset="cats_vs_dogs", model="vgg16")

then records a number with one line,

    course_utils.record_result(cfg, "test_accuracy", acc, method="VGG16 features + dense head")

which appends a record to `<build>/results/<notebook>.jsonl`, and saves a
figure with `course_utils.save_figure(cfg, fig, "learning_curves")`, which
writes `<build>/report/figures/<notebook>__learning_curves.png`. Both are
labelled from that one statement, so a record cannot carry another notebook
cell's label. The course runner collects every record into
`<build>/report/results.json` and a Markdown table. Each record says which
profile, data and weights produced it.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from .config import artifact_path
from .files import append_line, atomic_path
from .install import describe

REQUIRED = ("notebook", "method", "metric", "value", "profile", "data", "weights")
NO_DATASET = "none (no dataset used)"
FROM_SCRATCH = "none (trained from scratch)"
RANDOM_WEIGHTS = "none (random initialisation, for comparison)"  # `models.random_base`


def using(cfg: dict[str, Any], *, dataset: str | None, model: str | None = None,
          weights: str | None = None) -> None:
    """State what the notebook's next results and figures come from: a course dataset (None
    for none, a timing say) and the weights the model started from, either as a pretrained
    model of `cfg["weights"]` ("vgg16", "vgg19") or, for a model whose label is known only
    once it is loaded (the TF-Hub layer's `label`), as `weights`; neither for a network
    trained from scratch. Stays in force until the next call."""
    if model is not None and model not in cfg["weights"]:
        raise ValueError(f"no weights setting for {model!r}: one of {', '.join(cfg['weights'])}, or None")
    label = weights or (cfg["weights"][model] if model else FROM_SCRATCH)
    cfg["using"] = {"dataset": dataset, "weights": label}


def labels(cfg: dict[str, Any]) -> tuple[str, str]:
    """The data and weights labels of what the notebook stated with `using`."""
    if "using" not in cfg:
        raise ValueError("say what the results come from first: "
                         "course_utils.using(cfg, dataset=..., model=...) after setup()")
    dataset = cfg["using"]["dataset"]
    return (describe(dataset) if dataset else NO_DATASET), cfg["using"]["weights"]


def results_file(cfg: dict[str, Any]) -> Path:
    """The file this notebook's records are appended to: `<build>/results/<notebook>.jsonl`."""
    return artifact_path(cfg, "results", f"{cfg['notebook']}.jsonl")


def test_images(record: dict[str, Any]) -> int | None:
    """The size of the test split a record came from (the last of its "train / validation /
    test" sizes), or None when it names none."""
    try:
        return int(str(record.get("split", "")).split("/")[-1])
    except ValueError:
        return None


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


def record_result(cfg: dict[str, Any], metric: str, value: float, *, method: str,
                  details: dict[str, Any] | None = None, outcomes=None) -> dict[str, Any]:
    """Append one result of this notebook's run and return the record.

    The data (with the copy in use: official files or a stand-in) and the
    weights the model started from are those the notebook stated with `using`;
    the split sizes are those `load_dataset` loaded for that dataset.
    `details` (optional) are numbers the lessons read, such as the epoch kept
    (`training.best_epoch`). `outcomes` (optional, with a test accuracy) says for
    each test image, in the test split's order, whether the model got it right
    (`training.right_per_image`): the lessons compare two models image by image with
    it (`stats.paired_test`). Raises ValueError when they are not one per test
    image or do not give `value`.
    """
    data, weights = labels(cfg)
    dataset = cfg["using"]["dataset"]
    split = cfg.get("split_sizes", {}).get(dataset, "") if dataset else ""
    packed = None if outcomes is None else pack_outcomes(outcomes)
    if packed is not None:
        n, right = packed["images"], sum(read_outcomes({"outcomes": packed}))
        expected = test_images({"split": split})
        if expected is not None and n != expected:
            raise ValueError(f"outcomes for {n} images, but the test split of {dataset} has {expected}")
        # One image either way: Keras' `evaluate` and a prediction pass may round a probability of
        # exactly 0.5 differently; anything more means these outcomes are not this accuracy's.
        if not n or abs(right / n - value) > 1 / n + 1e-6:
            raise ValueError(f"outcomes give an accuracy of {right} of {n}, not {value:.4f}: not this result's")
    record = {
        "notebook": cfg["notebook"],
        "method": method,
        "metric": metric,
        "value": float(value),
        "profile": cfg["profile"],
        "data": data,
        "weights": weights,
        "split": split,
        "details": details or {},
        "seed": cfg["seed"],
        "device": cfg["device"],
        # Which course run produced it: the report shows only its own run's records as this run's.
        "run_id": cfg.get("run_id", "unknown"),
        "wall_time_s": round(time.time() - cfg["started"], 1),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if packed is not None:
        record["outcomes"] = packed
    # One write per record: a notebook open in JupyterLab and the course runner may append
    # to the same file at once; the records are never rewritten, so no run deletes another's.
    append_line(results_file(cfg), json.dumps(record))
    print(f"Recorded {metric} = {value:.4f} ({method}; profile {cfg['profile']})")
    return record


def load_results(build: Path, notebook: str | None = None) -> list[dict[str, Any]]:
    """Every record under `<build>/results` (or one notebook's), in notebook order.

    A line cut short by an interrupted run is skipped, with a notice.
    """
    pattern = f"{notebook}.jsonl" if notebook else "*.jsonl"
    records = []
    for path in sorted(artifact_path(Path(build), "results").glob(pattern)):
        for line in filter(str.strip, path.read_text().splitlines()):
            try:
                records.append(json.loads(line))
            except ValueError:
                print(f"Skipped a damaged record in {path} (a run interrupted while writing it)")
    return records


def latest_result(cfg: dict[str, Any], notebook: str, metric: str = "test_accuracy",
                  method: str | None = None) -> dict[str, Any] | None:
    """The newest record of an earlier notebook in this profile, or None.

    Notebooks compare with earlier lessons through this, never by typing a number in.
    """
    matches = [r for r in load_results(cfg["build_dir"], notebook)
               if r["metric"] == metric and r["profile"] == cfg["profile"]
               and (method is None or r["method"] == method)]
    return matches[-1] if matches else None


CAPTION_SUFFIX = ".txt"  # a figure's caption is stored beside it: <notebook>__<name>.txt


def save_figure(cfg: dict[str, Any], fig, name: str, caption: str) -> Path:
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
    lines = [f"{cfg['notebook']}, profile {cfg['profile']}, seed {cfg['seed']}"]
    if "using" in cfg:
        data, weights = labels(cfg)
        lines += [f"data: {data}", f"weights: {weights}"]
    footnote(fig, lines)
    path = artifact_path(cfg, "figures", f"{cfg['notebook']}__{name}.png")
    with atomic_path(path) as temporary:  # a run interrupted mid-save leaves the old figure or none
        fig.savefig(temporary, dpi=110, bbox_inches="tight")
    path.with_suffix(CAPTION_SUFFIX).write_text(caption.strip() + "\n")
    return path


def check_record(record: dict[str, Any]) -> None:
    """Raise ValueError for a record that lacks a field a report must show."""
    missing = [key for key in REQUIRED if record.get(key) in (None, "")]
    if missing:
        raise ValueError(f"result record {record} lacks {', '.join(missing)}")


# Every results table (the report's Markdown and HTML): each column's heading and record field.
COLUMNS = (("notebook", "notebook"), ("method", "method"), ("metric", "metric"), ("value", "value"),
           ("profile", "profile"), ("data", "data"), ("split (train/validation/test)", "split"),
           ("weights", "weights"), ("wall time (s)", "wall_time_s"))


def table_row(record: dict[str, Any]) -> list[str]:
    """A checked record's cells, in the order of `COLUMNS` (the value to four decimals)."""
    check_record(record)
    return [f"{record['value']:.4f}" if field == "value" else str(record.get(field, "")) for _, field in COLUMNS]


def markdown_table(records: list[dict[str, Any]], extra: str | None = None) -> str:
    """The results as a Markdown table (one row per record), with the field `extra`
    as a last column when given (the report's older results add their run)."""
    headings = [heading for heading, _ in COLUMNS] + ([extra] if extra else [])
    rows = ["| " + " | ".join(headings) + " |", "|" + " --- |" * len(headings)]
    rows += ["| " + " | ".join(table_row(r) + ([str(r[extra])] if extra else [])) + " |" for r in records]
    return "\n".join(rows)
