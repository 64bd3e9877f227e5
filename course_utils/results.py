"""Results and figures that notebooks record, and the tables built from them.

A notebook records a number with one line,

    course_utils.record_result(cfg, "test_accuracy", acc, method="from scratch",
                               dataset="cats_vs_dogs", weights="none (trained from scratch)")

which appends a record to `<build>/results/<notebook>.jsonl`, and saves a
figure with `course_utils.save_figure(cfg, fig, "learning_curves")`, which
writes `<build>/report/figures/<notebook>__learning_curves.png`. The course
runner collects every record into `<build>/report/results.json` and a
Markdown table. Each record says which profile, data and weights produced it.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from .config import artifact_path
from .install import describe

REQUIRED = ("notebook", "method", "metric", "value", "profile", "data", "weights")


def results_file(cfg: dict[str, Any]) -> Path:
    """The file this notebook's records are appended to: `<build>/results/<notebook>.jsonl`."""
    return artifact_path(cfg, "results", f"{cfg['notebook']}.jsonl")


def record_result(cfg: dict[str, Any], metric: str, value: float, *, method: str,
                  dataset: str | None, weights: str) -> dict[str, Any]:
    """Append one result of this notebook's run and return the record.

    `weights` says which weights the model started from (for a pretrained
    model, `cfg["weights"]["vgg16"]`); `dataset` is a course dataset name
    and is recorded with the copy in use (official files or a stand-in),
    or None for a measurement that used no data (a timing, say).
    """
    record = {
        "notebook": cfg["notebook"],
        "method": method,
        "metric": metric,
        "value": float(value),
        "profile": cfg["profile"],
        "data": describe(dataset) if dataset else "none (no dataset used)",
        "weights": weights,
        "seed": cfg["seed"],
        "device": cfg["device"],
        # Which course run produced it: the report shows only its own run's records as this run's.
        "run_id": cfg.get("run_id", "unknown"),
        "wall_time_s": round(time.time() - cfg["started"], 1),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    path = results_file(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(json.dumps(record) + "\n")
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


def save_figure(cfg: dict[str, Any], fig, name: str, *, dataset: str | None = None,
                weights: str | None = None) -> Path:
    """Save `fig` as `<build>/report/figures/<notebook>__<name>.png` and return the path.

    The saved image carries a footer naming the notebook, profile and seed
    and, when given, the data (a course dataset name, with the copy in use)
    and the weights the figure's model started from, so that a figure copied
    into a report still says what produced it. The figure shown in the
    notebook gets the footer too.
    """
    from .plots import footnote  # here, not at the top: `import course_utils` stays free of pyplot

    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError(f"figure name {name!r}: use letters, digits, '_' and '-' only")
    lines = [f"{cfg['notebook']}, profile {cfg['profile']}, seed {cfg['seed']}"]
    lines += [f"data: {describe(dataset)}"] if dataset else []
    lines += [f"weights: {weights}"] if weights else []
    footnote(fig, lines)
    path = artifact_path(cfg, "figures", f"{cfg['notebook']}__{name}.png")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def check_record(record: dict[str, Any]) -> None:
    """Raise ValueError for a record that lacks a field a report must show."""
    missing = [key for key in REQUIRED if record.get(key) in (None, "")]
    if missing:
        raise ValueError(f"result record {record} lacks {', '.join(missing)}")


def markdown_table(records: list[dict[str, Any]], extra: str | None = None) -> str:
    """The results as a Markdown table (one row per record), with the field `extra`
    as a last column when given (the report's older results add their run)."""
    header = "| notebook | method | metric | value | profile | data | weights | wall time (s) |"
    header += f" {extra} |" if extra else ""
    rows = [header, "|" + " --- |" * (9 if extra else 8)]
    for r in records:
        check_record(r)
        rows.append(f"| {r['notebook']} | {r['method']} | {r['metric']} | {r['value']:.4f} | "
                    f"{r['profile']} | {r['data']} | {r['weights']} | {r.get('wall_time_s', '')} |"
                    + (f" {r[extra]} |" if extra else ""))
    return "\n".join(rows)
