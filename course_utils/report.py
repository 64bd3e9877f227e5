"""The course report: every recorded result and figure of one profile's run.

`write_report(build, profile, timings, run_id)` writes `<build>/report/results.json`,
`report.md` and `report.html`, and the summary figure that tells the course's
story on cats vs dogs, as one unit: the `report/` folder is built anew beside
the old one and put in its place at the end. The report is built once, as a
`document.Document` (`course_document`, or `rehearsal_document` for a
rehearsal), and rendered to both files from it. The numbers presented as the run's are the records the
notebooks wrote during that run (same run id); records an earlier run left
for notebooks this one did not execute are shown apart, as older, with their
date and run id, and never enter the summary figure. The original material's
figures appear as labelled reference marks.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib.pyplot as plt
from matplotlib.patches import Patch

from .config import artifact_path, is_rehearsal
from . import results
from .files import restore_folder, staged_folder
from .exercises import NOT_ANSWERED, PASSED, WRONG, for_notebook, latest_outcomes
from .document import Block, Document, Figure, Items, Section, Table, to_html, to_markdown
from .plots import footnote
from .results import CAPTION_SUFFIX, COLUMNS, load_results, table_row

# The figures the course sets out to beat (accuracy), from the material it grew from, keyed by
# the notebook that compares with them, with how each was obtained: a course result compares
# like with like only where network, data and phase match. Shown as reference marks only; the
# docs/reports.md's table is `seed_table()` (tests/test_report.py checks that they agree). `measured_with` names
# the network in the course's words (a record's `network`): the summary marks only bars of that network.
_CATS_DOGS = "cats vs dogs: 1,000 + 1,000 training, 500 + 500 validation, 500 + 500 test images"
SEED_RESULTS = {
    "01_scratch_cnn_baseline": {"lesson": "from scratch", "value": 0.733, "network": "small CNN",
                                "data": _CATS_DOGS, "phase": "RMSprop at 1e-4; no epoch count given",
                                "measured_with": "small_cnn"},
    "02_data_augmentation": {"lesson": "with data augmentation", "value": 0.818,
                             "network": "small CNN + augmentation, no dropout", "data": _CATS_DOGS,
                             "phase": "RMSprop at 1e-5; no epoch count given", "measured_with": "small_cnn"},
    "03_vgg_feature_extraction": {"lesson": "feature extraction", "value": 0.884, "network": "VGG19 base, frozen",
                                  "data": _CATS_DOGS,
                                  "phase": "two dense layers on the base's features, RMSprop at 1e-5",
                                  "measured_with": "vgg19"},
    "04_head_swap": {"lesson": "new head, 17 flowers", "value": 0.94, "network": "VGG16 base + new head",
                     "data": "17 flowers: 340 test images",
                     "phase": "after a second phase with every layer below the head unfrozen",
                     "measured_with": "vgg16"},
    "05_unfreezing_block5": {"lesson": "block-5 fine-tuning", "value": 0.941, "network": "VGG19, block 5 unfrozen",
                             "data": _CATS_DOGS, "phase": "after fine-tuning block 5's four convolutions, with dropout",
                             "measured_with": "vgg19"},
    "06_tfhub_mobilenet_cifar10": {"lesson": "TF-Hub feature vector, CIFAR-10", "value": 0.838,
                                   "network": "TF-Hub MobileNetV2",
                                   "data": "CIFAR-10: about half the training images (30,000) at 224x224, "
                                           "all 10,000 test images",
                                   "phase": "one epoch (that version needed over 50 GB of RAM)",
                                   "measured_with": "mobilenet_v2"},
}


def seed_table() -> str:
    """The figures to beat as the Markdown table docs/reports.md shows."""
    rows = ["| notebook | lesson | network | data | phase | original material |", "|" + " --- |" * 6]
    rows += [f"| {notebook[:2]} | {s['lesson']} | {s['network']} | {s['data']} | {s['phase']} | {s['value']:.1%} |"
             for notebook, s in SEED_RESULTS.items()]
    return "\n".join(rows)


def caption(figure: Path) -> str:
    """The one-sentence caption `save_figure` stored beside the figure; for a figure saved
    without one, its name: '01_scratch_cnn_baseline__learning_curves.png' ->
    '01_scratch_cnn_baseline: learning curves'."""
    try:
        return figure.with_suffix(CAPTION_SUFFIX).read_text().strip()
    except OSError:
        notebook, _, name = figure.stem.partition("__")
        return f"{notebook}: {name.replace('_', ' ')}"


def _source(figure: Path) -> str:
    """Who saved a figure: the notebook's number ("01"), or "course" for the summary."""
    owner = figure.stem.split("__")[0]
    return owner[:2] if owner[:2].isdigit() else owner


class Bar(NamedTuple):
    """One bar of the summary figure: the newest record of result `key` (of `network`, and
    pretrained or not, when given), its short label, whether it is a baseline (grey, no
    reference mark) and whether the original material's figure is comparable with it at all."""

    key: str
    label: str
    fields: dict[str, Any] = {}
    baseline: bool = False
    marked: bool = True


# The summary figure's bars: one per cats-vs-dogs lesson result, found by key and fields.
SUMMARY_BARS = [Bar(results.SCRATCH_CNN, "01 from\nscratch"),
                Bar(results.AUGMENTED_CNN, "02 augmentation\n+ dropout"),
                Bar(results.FEATURES_DENSE_HEAD, "03 random-weight\nfeatures", {"pretrained": False}, baseline=True),
                Bar(results.FEATURES_DENSE_HEAD, "03 VGG16\nfeatures", {"pretrained": True, "network": "vgg16"}),
                Bar(results.FEATURES_DENSE_HEAD, "03 VGG19\nfeatures", {"pretrained": True, "network": "vgg19"}),
                # Phase 1 is the head alone: the original figure is that of phase 2.
                Bar(results.HEAD_ONLY, "05 phase 1\n(head only)", marked=False),
                Bar(results.BLOCK5_FINE_TUNED, "05 phase 2\n(block 5 tuned)")]


def _seed_mark(bar: Bar, record: dict[str, Any]) -> float | None:
    """The original material's figure for this bar, only where it is comparable: a lesson's
    result (not a baseline, not phase 1) of the network it was measured with (03 and 05's:
    VGG19)."""
    seed = SEED_RESULTS.get(results.KEYS[bar.key][0])
    if seed is None or bar.baseline or not bar.marked or record.get("network") != seed["measured_with"]:
        return None
    return seed["value"]


def summary_figure(records: list[dict[str, Any]]):
    """Test accuracy of the run's cats-vs-dogs lesson results, in lesson order, with the
    original material's figure as a reference mark where it is comparable; bars of a
    lesson whose effect the run did not show are hatched. Returns None when the run
    recorded no cats-vs-dogs accuracy."""
    from .lessons import NOT_SEEN, judge

    def newest(bar: Bar) -> dict[str, Any] | None:
        found = [r for r in records if r.get("key") == bar.key and r.get("dataset") == "cats_vs_dogs"
                 and all(r.get(field) == value for field, value in bar.fields.items())]
        return found[-1] if found else None

    bars = [(bar, newest(bar)) for bar in SUMMARY_BARS]
    bars = [(bar, r) for bar, r in bars if r is not None]
    if not bars:
        return None
    unseen = {v.notebook for v in judge(records) if v.verdict == NOT_SEEN}
    fig, ax = plt.subplots(figsize=(max(6.5, 1.45 * len(bars)), 4.8))
    marked = skipped = False
    for x, (bar, record) in enumerate(bars):
        value, notebook = record["value"], record["notebook"]
        hatch = notebook in unseen
        # The random-weight bar is a baseline, not a lesson's result: grey.
        colour = "silver" if bar.baseline else "tab:blue"
        ax.bar(x, value, color="lightsteelblue" if hatch else colour, hatch="//" if hatch else None,
               edgecolor=colour)
        # The value sits inside the bar, clear of the reference mark above or across it.
        ax.text(x, max(value - 0.03, 0.02), f"{value:.3f}", ha="center", va="top", fontsize=9,
                color="black" if hatch else "white", fontweight="bold")
        seed = _seed_mark(bar, record)
        if seed is not None:
            ax.plot([x - 0.45, x + 0.45], [seed] * 2, color="black", linestyle="--",
                    label=None if marked else "original material (comparable network)")
            marked = True
        lesson_bar = bar.marked and not bar.baseline
        skipped |= seed is None and lesson_bar and notebook in ("03_vgg_feature_extraction", "05_unfreezing_block5")
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Patch(facecolor="lightsteelblue", hatch="//", edgecolor="tab:blue", label="lesson's effect not seen"))
    ax.set_xticks(range(len(bars)), [bar.label for bar, _ in bars], fontsize=8)
    ax.set_ylim(0.0, 1.05)
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Cats vs dogs, {bars[0][1]['profile']} profile: from scratch to fine-tuning", fontsize=10)
    ax.legend(handles=handles, loc="upper left", fontsize=8)
    fig.tight_layout()
    # A pretrained bar is only as good as its weights: say which ones, below the axes.
    notes = [f"weights: {w}" for w in sorted({r["weights"] for _, r in bars})]
    if skipped:
        notes.append("no mark on 03/05 pretrained bars: the original figures there were measured with VGG19")
    footnote(fig, notes)
    return fig


def lessons_table(records: list[dict[str, Any]], keys: dict[str, str]) -> list[list[str]]:
    """The lessons table's rows: lesson, expected effect, measured, verdict, weights (by key)."""
    from .lessons import judge

    return [[f"{v.notebook[:2]}: {v.lesson}", v.expected, v.measured,
             v.verdict + (f" ({v.reason})" if v.reason else ""), keys.get(v.weights, "-")] for v in judge(records)]


LESSON_HEADINGS = ["lesson", "expected effect", "measured in this run", "verdict", "weights"]


def weights_keys(records: list[dict[str, Any]]) -> dict[str, str]:
    """A short key (w1, w2, ...) for each weights description of the records, in order of
    appearance: the tables show the key, and the description is written once, under them."""
    keys: dict[str, str] = {}
    for record in records:
        keys.setdefault(_weights(record), f"w{len(keys) + 1}")
    return keys


# The record fields the report reads itself, each in one place (a table's cells are `table_row`'s).
def _notebook(record: dict[str, Any]) -> str:
    return record["notebook"]


def _run_id(record: dict[str, Any]) -> str | None:
    """The id of the run that recorded it; None for a record made before runs had ids."""
    return record.get("run_id")


def _weights(record: dict[str, Any]) -> str:
    return record["weights"]


def newest_runs(records: list[dict[str, Any]], skip: set[str]) -> list[dict[str, Any]]:
    """For each notebook not in `skip`, the records of the newest run that recorded it.

    A notebook's results file keeps every run's records, in the order they were
    appended (no run deletes another's), so the newest run is that of its last record.
    """
    newest = {_notebook(r): _run_id(r) for r in records}
    return [r for r in records if _notebook(r) not in skip and _run_id(r) == newest[_notebook(r)]]


def _run_note(record: dict[str, Any], build: Path) -> str:
    """An older record's `run` cell: its date, its run id and, when that run did not finish
    the notebook (its status file says interrupted or failed), that the results are partial."""
    run_id = _run_id(record) or "unknown"
    try:
        status = json.loads(artifact_path(build, "runs", f"{run_id}.json").read_text())
        state = status["notebooks"].get(_notebook(record), "done")
    except (OSError, ValueError, KeyError):
        state = "done"
    note = "" if state == "done" else f", {state}: partial results"
    return f"{record.get('recorded_at', '?')}, run {run_id}{note}"


def _results_table(records: list[dict[str, Any]], runs: list[str] | None = None) -> Table:
    """One row per record, in the columns of `results.COLUMNS`, and a last `run` column
    when `runs` gives each row's."""
    headings, rows = [heading for heading, _ in COLUMNS], [table_row(r) for r in records]
    if runs is None:
        return Table(headings, rows)
    return Table([*headings, "run"], [[*row, run] for row, run in zip(rows, runs)])


def _listed(lines: list[str]) -> list[Block]:
    """A bulleted list of `lines` as blocks of a section: none for no lines."""
    return [Items(lines)] if lines else []


def _wall_times(timings: dict[str, float]) -> Section:
    """The section listing each executed notebook's wall time."""
    return Section("Notebook wall times", _listed([f"{name}: {seconds:.0f} s" for name, seconds in timings.items()]))


LESSONS_TEXT = ("Each lesson's expected effect against this run's numbers. Two models are compared on the same "
                "test images, image by image: an effect is seen when the lesson's model is ahead by McNemar's exact "
                "test at the 95 % level (p < 0.05); the difference comes with its 95 % exact interval. Notebook 01 "
                "is tested against chance (50 %) with the exact binomial test. These tests cover the draw of test "
                "images, not training again with another seed or on another machine, which moves an accuracy by a "
                "few points too (docs/reports.md, \"What a verdict says, and how much a number moves\").")
OLDER_TEXT = ("Recorded by earlier runs of notebooks this run did not execute, with the date and run id of each; "
              "run those notebooks again to replace them.")
SUMMARY_CAPTION = ("Test accuracy of each cats-vs-dogs lesson in this run, in lesson order; hatched bars are lessons "
                   "whose effect this run did not show.")


EXERCISES_TEXT = ("Each exercise of the notebooks this run executed, with the newest outcome of its check in this run: "
                  f"{PASSED}, {WRONG} (with what the check said), {NOT_ANSWERED} (the answer left as the notebook "
                  "gives it), or not run (the run did not reach the check cell). A check looks at what was built "
                  "(layers, shapes, what trains), never at an accuracy.")


def exercises_section(build: Path, profile: str, run_id: str | None, notebooks: list[str]) -> Section | None:
    """The report's list of the exercises of `notebooks` with their newest outcome (of run
    `run_id` when given), and how many were answered and passed; None when they have none."""
    listed = [exercise for notebook in notebooks for exercise in for_notebook(notebook)]
    if not listed:
        return None
    latest = latest_outcomes(artifact_path(build, "exercises"), profile, run_id)
    rows = []
    for exercise in listed:
        line = latest.get(exercise.id)
        status = line["status"] if line else "not run"
        rows.append([exercise.id, exercise.title, status, line["message"] if status == WRONG else ""])
    answered = sum(row[2] in (PASSED, WRONG) for row in rows)
    passed = sum(row[2] == PASSED for row in rows)
    return Section("Exercises", [EXERCISES_TEXT, f"{answered} of {len(rows)} exercises answered, {passed} passed.",
                                 Table(["exercise", "title", "outcome", "what the check said"], rows)])


def course_document(profile: str, run_id: str | None, records: list[dict[str, Any]], timings: dict[str, float],
                    figures: list[Path], older: list[tuple[dict[str, Any], str]],
                    old_figures: list[Path], exercises: Section | None = None) -> Document:
    """The report of a run as one structure: intro, lessons table, results with the weights'
    keys under them, the exercises' outcomes (`exercises_section`), wall times, figures with
    captions (the summary figure among them) and, when there are any, the older results
    (`older`: each record with its `run` cell) and older figures."""
    keys = weights_keys(records)
    intro = ((f"Every number below was recorded by this run (run {run_id})" if run_id else
              "Every number below was recorded in this build folder, by any run of this profile") +
             "; each row names the profile, the data, the split sizes and the weights that produced it "
             "(weights by key, described under the table). Dashed marks in the summary figure are the original "
             "material's figures, for reference, where the network is comparable.")
    keyed = [{**r, "weights": keys[_weights(r)]} for r in records]
    results = _results_table(keyed) if records else "No notebook recorded a result."
    lessons = Table(LESSON_HEADINGS, lessons_table(records, keys))
    sections = [Section(None, [intro]),
                Section("What each lesson showed", [LESSONS_TEXT, lessons]),
                Section("Results", [results, *_listed([f"{k}: {weights}" for weights, k in keys.items()])]),
                *([exercises] if exercises else []),
                _wall_times(timings),
                Section("Figures", [Figure(f"figures/{f.name}", f"{_source(f)} · {caption(f)}") for f in figures])]
    if older or old_figures:
        saved = [f"figures/{f.name} ({time.strftime('%Y-%m-%d %H:%M', time.localtime(f.stat().st_mtime))})"
                 for f in old_figures]
        table = [_results_table([r for r, _ in older], [run for _, run in older])] if older else []
        sections.append(Section("Older results, not from this run",
                                [OLDER_TEXT, *table, *_listed(saved)]))
    return Document(f"Course report ({profile})", f"Transfer learning with Keras: course report ({profile} profile)",
                    sections)


def rehearsal_document(profile: str, timings: dict[str, float], recorded: int) -> Document:
    """A rehearsal's report: which notebooks ran and how long they took, and no results (its
    training was capped to a few steps, so its numbers measure nothing)."""
    intro = (f"This run was a rehearsal ({profile}): every notebook ran the {profile.split('-')[0]} profile's "
             "configuration with every training and data pass capped to a few steps, to show that its code runs. "
             f"Its {recorded} recorded numbers are not results and are not shown; nor are its figures.")
    return Document(f"Course rehearsal ({profile})", f"Course rehearsal ({profile}): no results",
                    [Section(None, [intro]), _wall_times(timings)])


SUMMARY = "course__summary_cats_vs_dogs.png"  # the course's story in one figure, in `report/figures/`
REPORT_FILES = ("report.md", "report.html", "results.json")


def _write_summary(records: list[dict[str, Any]], figures_dir: Path) -> None:
    """Draw this run's summary figure with its caption into `figures_dir`, or, without
    cats-vs-dogs results, none."""
    summary = summary_figure(records)
    if summary is not None:
        summary.savefig(figures_dir / SUMMARY, dpi=110, bbox_inches="tight")
        plt.close(summary)
        (figures_dir / SUMMARY).with_suffix(CAPTION_SUFFIX).write_text(SUMMARY_CAPTION + "\n")


def _carry_over(figures: Path, staged: Path) -> None:
    """Link (or, without links, copy) the notebooks' figures and captions from `figures` into the staged
    report's `staged` folder: not the summary, which is redrawn, nor a save under way (a dot name)."""
    staged.mkdir(parents=True, exist_ok=True)
    for path in figures.iterdir():
        if path.is_file() and not path.name.startswith(".") and path.stem != Path(SUMMARY).stem:
            try:
                os.link(path, staged / path.name)
            except OSError:
                shutil.copy2(path, staged / path.name)


def report_files(build: Path) -> list[str]:
    """The files of the report now in `build`, relative to it: report.md, report.html,
    results.json and, when the run drew one, the summary figure and its caption."""
    report, summary = artifact_path(build, "report"), artifact_path(build, "figures", SUMMARY)
    paths = [*(report / name for name in REPORT_FILES), summary, summary.with_suffix(CAPTION_SUFFIX)]
    return [str(path.relative_to(build)) for path in paths if path.is_file()]


def write_report(build: Path, profile: str, timings: dict[str, float], run_id: str | None = None,
                 records: list[dict[str, Any]] | None = None) -> Path:
    """Write results.json, the summary figure, and the report (one `Document`) as report.md
    and report.html, all as one unit; return report.md.

    With `run_id`, only that run's records and the figures of the notebooks it
    executed (those in `timings`) are presented as the run's; for the notebooks
    it did not execute, the newest earlier run's records of this profile are
    listed after them as older. Without, every record of the profile is the run's.
    `records`: the build folder's records, when the caller has loaded them already.

    The whole `report/` folder is built anew beside the old one, the notebooks' figures
    linked into it, and put in its place at the end (`files.staged_folder`): a reader, or a
    run killed midway, sees the previous report whole or this one whole, never a mix.
    """
    build = Path(build)
    report, figures_dir = artifact_path(build, "report"), artifact_path(build, "figures")
    restore_folder(report)  # a report that a killed run left aside, put back first
    everything = [r for r in (load_results(build) if records is None else records) if r["profile"] == profile]
    records = [r for r in everything if run_id is None or _run_id(r) == run_id]
    with staged_folder(report) as staged:
        staged_figures = staged / figures_dir.relative_to(report)
        _carry_over(figures_dir, staged_figures)
        if is_rehearsal(profile):
            (staged / "results.json").write_text("[]\n")
            document = rehearsal_document(profile, timings, len(records))
        else:
            # Earlier runs' records of the notebooks this run executed are replaced by this run's: not shown.
            executed = {*timings, *(_notebook(r) for r in records)}
            others = [r for r in everything if _run_id(r) != run_id] if run_id else []
            older = [(r, _run_note(r, build)) for r in newest_runs(others, executed)]
            (staged / "results.json").write_text(json.dumps(records, indent=1))
            _write_summary(records, staged_figures)
            every = sorted(staged_figures.glob("*.png"))
            this_run = {"course", *timings} if run_id else None
            figures = [f for f in every if this_run is None or f.name.split("__")[0] in this_run]
            document = course_document(profile, run_id, records, timings, figures, older,
                                       [f for f in every if f not in figures],
                                       exercises_section(build, profile, run_id, sorted(executed)))
        (staged / "report.md").write_text(to_markdown(document))
        (staged / "report.html").write_text(to_html(document))
    return report / "report.md"
