"""The course report: every recorded result and figure of one profile's run.

`write_report(build, profile, timings)` writes `<build>/report/results.json`,
`report.md` and `report.html`, and the summary figure that tells the course's
story on cats vs dogs. The only numbers in it are the records the notebooks
wrote during the run; the original material's figures appear as labelled
reference marks.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from .plots import footnote
from .results import check_record, load_results, markdown_table

# The figures the course sets out to beat, from the material it grew from
# (test accuracy; cats vs dogs with 2,000 training images unless noted).
# These are the original material's numbers, shown as reference marks only.
SEED_RESULTS = {
    "from scratch": 0.733,
    "data augmentation": 0.818,
    "VGG19 feature extraction": 0.884,
    "block-5 fine-tuning": 0.941,
    "VGG16 new head, 17 flowers": 0.94,
    "TF-Hub MobileNetV2, CIFAR-10, one epoch": 0.838,
}

# The cats-vs-dogs lessons in order, with the original material's figure for each.
STORY = [
    ("01_scratch_cnn_baseline", "from scratch"),
    ("02_data_augmentation", "data augmentation"),
    ("03_vgg_feature_extraction", "VGG19 feature extraction"),
    ("05_unfreezing_block5", "block-5 fine-tuning"),
]


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
    bars = [(nb, seed, r) for nb, seed in STORY for (n, _), r in latest.items() if n == nb]
    if not bars:
        return None
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(bars)), 4.5))
    positions = range(len(bars))
    ax.bar(positions, [r["value"] for _, _, r in bars], color="tab:blue", label="this run")
    for x, (_, seed, record) in zip(positions, bars):
        ax.text(x, record["value"] + 0.01, f"{record['value']:.3f}", ha="center", fontsize=8)
        ax.plot([x - 0.4, x + 0.4], [SEED_RESULTS[seed]] * 2, color="black", linestyle="--",
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


def write_report(build: Path, profile: str, timings: dict[str, float]) -> Path:
    """Write results.json, report.md, report.html and the summary figure; return report.md."""
    report = Path(build) / "report"
    figures_dir = report / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    records = [r for r in load_results(build) if r["profile"] == profile]
    for record in records:
        check_record(record)
    (report / "results.json").write_text(json.dumps(records, indent=1))
    summary = summary_figure(records)
    if summary is not None:
        summary.savefig(figures_dir / "course__summary_cats_vs_dogs.png", dpi=110, bbox_inches="tight")
        plt.close(summary)
    figures = sorted(figures_dir.glob("*.png"))
    captions = {f: caption(f) for f in figures}
    intro = ("Every number below was recorded by this run; each row names the profile, the data and the "
             "weights that produced it. Dashed marks in the summary figure are the original material's "
             "figures, for reference.")
    md = [f"# Transfer learning with Keras: course report ({profile} profile)", "", intro, "",
          markdown_table(records) if records else "No notebook recorded a result.", "",
          "## Notebook wall times", "", *[f"- {name}: {seconds:.0f} s" for name, seconds in timings.items()],
          "", "## Figures", ""]
    md += [f"![{captions[f]}](figures/{f.name})\n\n*{captions[f]}*\n" for f in figures]
    (report / "report.md").write_text("\n".join(md) + "\n")

    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            r["notebook"], r["method"], r["metric"], f"{r['value']:.4f}", r["profile"], r["data"],
            r["weights"], r.get("wall_time_s", ""))) + "</tr>\n" for r in records)
    head = "".join(f"<th>{h}</th>" for h in ("notebook", "method", "metric", "value", "profile", "data",
                                              "weights", "wall time (s)"))
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
    (report / "report.html").write_text("\n".join(page) + "\n")
    return report / "report.md"
