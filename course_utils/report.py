"""The course report: every recorded result and figure of one profile's run.

`write_report(build, profile, timings, run_id)` writes `<build>/report/results.json`,
`report.md` and `report.html`, and the summary figure that tells the course's
story on cats vs dogs. The numbers presented as the run's are the records the
notebooks wrote during that run (same run id); records an earlier run left
for notebooks this one did not execute are shown apart, as older, with their
date and run id, and never enter the summary figure. The original material's
figures appear as labelled reference marks.
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from .config import artifact_path
from .plots import footnote
from .results import COLUMNS, check_record, load_results, markdown_table, table_row

# The figures the course sets out to beat (accuracy), from the material it grew from, keyed by
# the notebook that compares with them, with how each was obtained: a course result compares
# like with like only where network, data and phase match. Shown as reference marks only; the
# README's table is `seed_table()` (tests/test_report.py checks that they agree).
_CATS_DOGS = "cats vs dogs: 2,000 training images, 500 + 500 validation images"
SEED_RESULTS = {
    "01_scratch_cnn_baseline": {"lesson": "from scratch", "value": 0.733, "network": "small CNN",
                                "data": _CATS_DOGS, "phase": "30 epochs"},
    "02_data_augmentation": {"lesson": "with data augmentation", "value": 0.818,
                             "network": "small CNN + augmentation + dropout", "data": _CATS_DOGS,
                             "phase": "100 epochs"},
    "03_vgg_feature_extraction": {"lesson": "feature extraction", "value": 0.884, "network": "VGG19 base, frozen",
                                  "data": _CATS_DOGS, "phase": "classifier on the base's features"},
    "04_head_swap": {"lesson": "new head, 17 flowers", "value": 0.94, "network": "VGG16 base + new head",
                     "data": "17 flowers", "phase": "after fine-tuning the top of the base"},
    "05_unfreezing_block5": {"lesson": "block-5 fine-tuning", "value": 0.941, "network": "VGG19, block 5 unfrozen",
                             "data": _CATS_DOGS, "phase": "after fine-tuning block 5"},
    "06_tfhub_mobilenet_cifar10": {"lesson": "TF-Hub feature vector, CIFAR-10", "value": 0.838,
                                   "network": "TF-Hub MobileNetV2", "data": "CIFAR-10 at 224x224",
                                   "phase": "one epoch (that version needed over 50 GB of RAM)"},
}

# The cats-vs-dogs lessons in order.
STORY = ["01_scratch_cnn_baseline", "02_data_augmentation", "03_vgg_feature_extraction", "05_unfreezing_block5"]


def seed_table() -> str:
    """The figures to beat as the Markdown table the README shows."""
    rows = ["| notebook | lesson | network | data | phase | original material |", "|" + " --- |" * 6]
    rows += [f"| {notebook[:2]} | {s['lesson']} | {s['network']} | {s['data']} | {s['phase']} | {s['value']:.1%} |"
             for notebook, s in SEED_RESULTS.items()]
    return "\n".join(rows)


def caption(figure: Path) -> str:
    """'01_scratch_cnn_baseline__learning_curves.png' -> '01_scratch_cnn_baseline: learning curves'."""
    notebook, _, name = figure.stem.partition("__")
    return f"{notebook}: {name.replace('_', ' ')}"


def summary_figure(records: list[dict[str, Any]]):
    """Test accuracy of every cats-vs-dogs method of the run, in lesson order,
    with the original material's figure of each lesson as a reference mark.
    Returns None when the run recorded no cats-vs-dogs accuracy."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        if record["metric"] == "test_accuracy" and record["data"].startswith("cats_vs_dogs"):
            latest[(record["notebook"], record["method"])] = record
    bars = [(nb, SEED_RESULTS[nb]["value"], r) for nb in STORY for (n, _), r in latest.items() if n == nb]
    if not bars:
        return None
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(bars)), 4.5))
    positions = range(len(bars))
    ax.bar(positions, [r["value"] for _, _, r in bars], color="tab:blue", label="this run")
    for x, (_, seed, record) in zip(positions, bars):
        ax.text(x, record["value"] + 0.01, f"{record['value']:.3f}", ha="center", fontsize=8)
        ax.plot([x - 0.4, x + 0.4], [seed] * 2, color="black", linestyle="--",
                label="original material" if x == 0 else None)
    ax.set_xticks(list(positions), [f"{nb[:2]}\n{r['method']}" for nb, _, r in bars], fontsize=7)
    ax.set_ylim(0.0, 1.05)
    ax.set_ylabel("test accuracy")
    profile = bars[0][2]["profile"]
    ax.set_title(f"Cats vs dogs, {profile} profile: from scratch to fine-tuning", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    # A pretrained bar is only as good as its weights: say which ones, below the axes.
    footnote(fig, [f"weights: {w}" for w in sorted({r["weights"] for _, _, r in bars})])
    return fig


def _older(records: list[dict[str, Any]], build: Path) -> list[dict[str, Any]]:
    """Older records with a `run` column: the run id, the date and, when that run
    did not finish the notebook, that it was interrupted or failed."""
    rows = []
    for record in records:
        run_id = record.get("run_id", "unknown")
        try:
            state = json.loads(artifact_path(build, "runs", f"{run_id}.json").read_text())["notebooks"].get(
                record["notebook"], "done")
        except (OSError, ValueError, KeyError):
            state = "done"
        note = "" if state == "done" else f", {state}: partial results"
        rows.append({**record, "run": f"{record.get('recorded_at', '?')}, run {run_id}{note}"})
    return rows


def write_report(build: Path, profile: str, timings: dict[str, float], run_id: str | None = None) -> Path:
    """Write results.json, report.md, report.html and the summary figure; return report.md.

    With `run_id`, only that run's records and the figures of the notebooks it
    executed (those in `timings`) are presented as the run's; everything else
    of this profile is listed after them as older. Without, every record of
    the profile is the run's.
    """
    build = Path(build)
    report = artifact_path(build, "report")
    figures_dir = artifact_path(build, "figures")
    everything = [r for r in load_results(build) if r["profile"] == profile]
    records = [r for r in everything if run_id is None or r.get("run_id") == run_id]
    older = _older([r for r in everything if r not in records], build)
    for record in records:
        check_record(record)
    (report / "results.json").write_text(json.dumps(records, indent=1))
    summary = summary_figure(records)
    summary_path = figures_dir / "course__summary_cats_vs_dogs.png"
    summary_path.unlink(missing_ok=True)  # an earlier run's summary is not this run's
    if summary is not None:
        summary.savefig(summary_path, dpi=110, bbox_inches="tight")
        plt.close(summary)
    all_figures = sorted(figures_dir.glob("*.png"))
    this_run = {"course", *timings} if run_id else None
    figures = [f for f in all_figures if this_run is None or f.name.split("__")[0] in this_run]
    old_figures = [f for f in all_figures if f not in figures]
    captions = {f: caption(f) for f in all_figures}
    intro = ("Every number below was recorded by this run" + (f" (run {run_id})" if run_id else "") +
             "; each row names the profile, the data and the weights that produced it. Dashed marks in the "
             "summary figure are the original material's figures, for reference.")
    older_intro = ("## Older results, not from this run\n\nRecorded by earlier runs of notebooks this run did "
                   "not execute, with the date and run id of each; run those notebooks again to replace them.")
    md = [f"# Transfer learning with Keras: course report ({profile} profile)", "", intro, "",
          markdown_table(records) if records else "No notebook recorded a result.", "",
          "## Notebook wall times", "", *[f"- {name}: {seconds:.0f} s" for name, seconds in timings.items()],
          "", "## Figures", ""]
    md += [f"![{captions[f]}](figures/{f.name})\n\n*{captions[f]}*\n" for f in figures]
    if older or old_figures:
        md += [older_intro, "", markdown_table(older, extra="run") if older else "", ""]
        md += [f"- figures/{f.name} ({time.strftime('%Y-%m-%d %H:%M', time.localtime(f.stat().st_mtime))})"
               for f in old_figures]
    (report / "report.md").write_text("\n".join(md) + "\n")

    rows = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in table_row(r)) + "</tr>\n"
                   for r in records)
    head = "".join(f"<th>{heading}</th>" for heading, _ in COLUMNS)
    page = [f"<!doctype html><meta charset='utf-8'><title>Course report ({html.escape(profile)})</title>",
            "<style>body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 6px;font-size:90%}figure{margin:1em 0}"
            "img{max-width:100%}</style>",
            f"<h1>Transfer learning with Keras: course report ({html.escape(profile)} profile)</h1>",
            f"<p>{html.escape(intro)}</p>",
            f"<table><tr>{head}</tr>\n{rows}</table>" if records else "<p>No notebook recorded a result.</p>",
            "<h2>Notebook wall times</h2><ul>",
            *[f"<li>{html.escape(n)}: {s:.0f} s</li>" for n, s in timings.items()], "</ul><h2>Figures</h2>",
            *[f"<figure><img src='figures/{html.escape(f.name)}' alt='{html.escape(captions[f])}'>"
              f"<figcaption>{html.escape(captions[f])}</figcaption></figure>" for f in figures]]
    if older or old_figures:
        page += ["<h2>Older results, not from this run</h2><ul>",
                 *[f"<li>{html.escape(r['notebook'])}, {html.escape(r['method'])}: {r['value']:.4f} "
                   f"({html.escape(r['run'])})</li>" for r in older],
                 *[f"<li>figures/{html.escape(f.name)}</li>" for f in old_figures], "</ul>"]
    (report / "report.html").write_text("\n".join(page) + "\n")
    return report / "report.md"
