"""The course report, and the reproducibility of a recorded result."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import documentation, run_cli
from course_utils import data, exercises, report, results, runner
from course_utils.exercises import NOT_ANSWERED, PASSED, WRONG, Outcome

TOLERANCE = 0.005  # test accuracy, same profile, seed and machine


VGG16, VGG19 = {"network": "vgg16", "pretrained": True}, {"network": "vgg19", "pretrained": True}


def _records(build, rows):
    """Records as the notebooks write them: (key, label, value, weights[, other fields])."""
    folder = build / "results"
    folder.mkdir(parents=True, exist_ok=True)
    for key, method, value, weights, *fields in rows:
        notebook, metric = results.KEYS[key]
        record = {"key": key, "notebook": notebook, "method": method, "metric": metric, "value": value,
                  "network": "small_cnn", "pretrained": False, "profile": "smoke", "dataset": "cats_vs_dogs",
                  "data": "cats_vs_dogs: official files, sha256-verified", "weights": weights, "wall_time_s": 1.0,
                  **(fields[0] if fields else {})}
        with (folder / f"{notebook}.jsonl").open("a") as out:
            out.write(json.dumps(record) + "\n")


def test_report_has_table_summary_figure_and_captions(tmp_path):
    _records(tmp_path, [(results.SCRATCH_CNN, "small CNN", 0.61, "none (trained from scratch)"),
                        (results.BLOCK5_FINE_TUNED, "vgg16 phase 2: block 5", 0.83, "STAND-IN, not ImageNet", VGG16)])
    figures = tmp_path / "report" / "figures"
    figures.mkdir(parents=True)
    (figures / "01_scratch_cnn_baseline__learning_curves.png").write_bytes(b"png")
    (figures / "01_scratch_cnn_baseline__learning_curves.txt").write_text("Accuracy per epoch.\n")
    (figures / "01_scratch_cnn_baseline__misclassified.png").write_bytes(b"png")  # saved without a caption
    md = report.write_report(tmp_path, "smoke", {"01_scratch_cnn_baseline": 12.0})
    text = md.read_text()
    assert "| 01_scratch_cnn_baseline | small CNN | test_accuracy | 0.6100 | smoke |" in text
    # Each weights description once, under the table; the rows carry its key.
    assert text.count("STAND-IN, not ImageNet") == 1 and "- w2: STAND-IN, not ImageNet" in text
    assert "01_scratch_cnn_baseline: 12 s" in text
    assert "*01 · Accuracy per epoch.*" in text and "*01 · 01_scratch_cnn_baseline: misclassified*" in text
    assert "## What each lesson showed" in text and "| 01: a small CNN should learn" in text
    assert (figures / "course__summary_cats_vs_dogs.png").stat().st_size > 1000
    assert "course · Test accuracy of each cats-vs-dogs lesson" in text
    page = (tmp_path / "report" / "report.html").read_text()
    assert "<td>0.8300</td>" in page and "<figcaption>01 · Accuracy per epoch.</figcaption>" in page
    assert [r["value"] for r in json.loads((tmp_path / "report" / "results.json").read_text())] == [0.61, 0.83]


def test_a_record_without_weights_is_left_out_with_a_notice_naming_its_line(tmp_path, capsys):
    _records(tmp_path, [(results.SCRATCH_CNN, "small CNN", 0.7, "none (trained from scratch)"),
                        (results.SCRATCH_CNN, "small CNN", 0.61, "")])
    text = report.write_report(tmp_path, "smoke", {}).read_text()
    assert "0.7000" in text and "0.6100" not in text
    assert (f"Skipped line 2 of {tmp_path / 'results' / '01_scratch_cnn_baseline.jsonl'}: not a result record of "
            "this course (it lacks weights)") in capsys.readouterr().out


def test_summary_figure_names_the_weights_of_its_bars(tmp_path):
    _records(tmp_path, [(results.SCRATCH_CNN, "small CNN from scratch", 0.61, "none (trained from scratch)"),
                        (results.FEATURES_DENSE_HEAD, "vgg16 features + dense head", 0.8, "STAND-IN, not ImageNet", VGG16)])
    fig = report.summary_figure(results.load_results(tmp_path))
    notes = "\n".join(text.get_text() for text in fig.texts)
    assert "weights: STAND-IN, not ImageNet" in notes and "weights: none (trained from scratch)" in notes
    # 03's figure to beat was measured with VGG19: no reference mark on a VGG16 bar, and a note says why.
    assert "measured with VGG19" in notes
    labels = [tick.get_text() for tick in fig.axes[0].get_xticklabels()]
    assert labels == ["01 from\nscratch", "03 VGG16\nfeatures"]


def test_summary_figure_marks_a_vgg19_bar_with_the_vgg19_figure(tmp_path):
    _records(tmp_path, [(results.FEATURES_DENSE_HEAD, "vgg16 features + dense head", 0.8, "imagenet", VGG16),
                        (results.FEATURES_DENSE_HEAD, "vgg19 features + dense head", 0.85, "imagenet", VGG19)])
    fig = report.summary_figure(results.load_results(tmp_path))
    marks = [line for line in fig.axes[0].lines if line.get_linestyle() == "--"]
    assert len(marks) == 1 and list(marks[0].get_ydata()) == [report.SEED_RESULTS["03_vgg_feature_extraction"]["value"]] * 2
    assert list(marks[0].get_xdata()) == [1 - 0.45, 1 + 0.45]  # on the second bar, VGG19's


def test_summary_figure_hatches_a_lesson_whose_effect_was_not_seen(tmp_path):
    _records(tmp_path, [(results.SCRATCH_CNN, "small CNN from scratch", 0.70, "none (trained from scratch)"),
                        (results.AUGMENTED_CNN, "small CNN + augmentation + dropout", 0.69, "none (trained from scratch)")])
    records = results.load_results(tmp_path)
    for record, gap in zip(records, (0.2, 0.05)):  # 01 overfits; 02 does not beat it
        record.update(split={"train": 2000, "validation": 500, "test": 500}, details={"last_gap": gap, "epochs": 30, "best_epoch": 20})
    fig = report.summary_figure(records)
    bars = fig.axes[0].patches
    assert [bar.get_hatch() for bar in bars[:2]] == [None, "//"]  # 02 did not beat 01


def test_no_summary_figure_without_cats_results():
    assert report.summary_figure([]) is None


def test_rerun_reproduces_the_recorded_accuracy(tmp_path, monkeypatch):
    """Notebook 01, smoke profile, twice: same seed, same machine, same result."""
    try:
        data.ensure_dataset("cats_vs_dogs")
    except data.DataError as error:
        pytest.skip(f"cats_vs_dogs is not available here: {error}")
    monkeypatch.setattr(data, "DATASETS", {"cats_vs_dogs": data.DATASETS["cats_vs_dogs"]})
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    runs = []
    for attempt in ("a", "b"):
        build = tmp_path / attempt
        runner.run_course("smoke", notebooks, only=["01_scratch_cnn_baseline"], build=build)
        record = json.loads((build / "results" / "01_scratch_cnn_baseline.jsonl").read_text().splitlines()[-1])
        history = json.loads((build / "histories" / "01_scratch_cnn_baseline__scratch.json").read_text())
        runs.append((record["value"], history["history"]["loss"]))
    (first, first_loss), (second, second_loss) = runs
    assert abs(first - second) <= TOLERANCE
    assert second_loss == pytest.approx(first_loss, rel=1e-4)


def test_the_documented_figures_to_beat_are_the_report_s_seed_results():
    from course_utils.report import SEED_RESULTS, seed_table

    pages = [page for page, text in documentation().items() if seed_table() in text]
    assert len(pages) == 1, f"the table of the figures to beat is in {pages or 'no page'} of README.md and docs/"
    assert "| 05 | block-5 fine-tuning | VGG19, block 5 unfrozen |" in seed_table()
    assert all(entry["value"] < 1 for entry in SEED_RESULTS.values())


def test_records_of_a_killed_run_are_shown_only_as_older_and_partial(tmp_path, monkeypatch):
    _records(tmp_path, [(results.SCRATCH_CNN, "small CNN", 0.61, "none"), (results.AUGMENTED_CNN, "augmented", 0.7, "none")])
    killed, rerun = "20261124-100000-11", "20261124-110000-22"
    for path, run_id in ((tmp_path / "results" / "01_scratch_cnn_baseline.jsonl", rerun),
                         (tmp_path / "results" / "02_data_augmentation.jsonl", killed)):
        record = dict(json.loads(path.read_text()), run_id=run_id, recorded_at="2026-11-24T10:00:05")
        path.write_text(json.dumps(record) + "\n")
    (tmp_path / "runs").mkdir()  # the killed run never finished notebook 02
    (tmp_path / "runs" / f"{killed}.json").write_text(json.dumps(
        {"run_id": killed, "notebooks": {"01_scratch_cnn_baseline": "done", "02_data_augmentation": "interrupted"}}))
    drawn = []
    summary = report.summary_figure
    monkeypatch.setattr(report, "summary_figure", lambda records: drawn.extend(records) or summary(records))
    text = report.write_report(tmp_path, "smoke", {"01_scratch_cnn_baseline": 5.0}, rerun).read_text()
    this_run, older = text.split("## Older results, not from this run")
    assert f"(run {rerun})" in this_run and "02_data_augmentation" not in this_run
    assert f"2026-11-24T10:00:05, run {killed}, interrupted: partial results" in older
    assert [r["notebook"] for r in json.loads((tmp_path / "report" / "results.json").read_text())] == [
        "01_scratch_cnn_baseline"]
    assert [r["notebook"] for r in drawn] == ["01_scratch_cnn_baseline"]  # the summary figure: this run only


def test_a_rehearsal_report_shows_no_results(tmp_path):
    _records(tmp_path, [(results.SCRATCH_CNN, "small CNN", 0.61, "none (trained from scratch)")])
    rehearsed = tmp_path / "results" / "01_scratch_cnn_baseline.jsonl"
    rehearsed.write_text(rehearsed.read_text().replace('"smoke"', '"full-rehearsal"'))
    text = report.write_report(tmp_path, "full-rehearsal", {"01_scratch_cnn_baseline": 3.0}).read_text()
    assert "rehearsal (full-rehearsal): no results" in text.lower() and "0.61" not in text
    assert "Its 1 recorded numbers are not results" in text and "01_scratch_cnn_baseline: 3 s" in text
    assert json.loads((tmp_path / "report" / "results.json").read_text()) == []


def test_older_results_are_the_newest_earlier_run_of_each_notebook_this_run_did_not_execute(tmp_path):
    """Results files keep every run's records (no run deletes another's): the report picks."""
    folder = tmp_path / "results"
    folder.mkdir()
    rows = [("01_scratch_cnn_baseline", "small CNN", 0.55, "run-a"), ("02_data_augmentation", "augmented", 0.6, "run-a"),
            ("02_data_augmentation", "augmented", 0.65, "run-b"), ("01_scratch_cnn_baseline", "small CNN", 0.61, "run-c")]
    for notebook, method, value, run_id in rows:
        record = {"notebook": notebook, "method": method, "metric": "test_accuracy", "value": value,
                  "profile": "smoke", "data": "cats_vs_dogs", "weights": "none", "run_id": run_id,
                  "recorded_at": "2026-11-24T10:00:05"}
        with (folder / f"{notebook}.jsonl").open("a") as out:
            out.write(json.dumps(record) + "\n")
    text = report.write_report(tmp_path, "smoke", {"01_scratch_cnn_baseline": 5.0}, "run-c").read_text()
    this_run, older = text.split("## Older results, not from this run")
    assert "| 01_scratch_cnn_baseline | small CNN | test_accuracy | 0.6100 |" in this_run
    assert "0.5500" not in text  # 01's earlier run: this run executed 01, its records replace those
    assert "| 02_data_augmentation | augmented | test_accuracy | 0.6500 |" in older and "run run-b" in older
    assert "0.6000" not in text  # 02's run before run-b


class _Page(HTMLParser):
    """What an HTML report shows: its headings, table rows, figures (source, caption) and list items."""

    TEXT = ("h1", "h2", "th", "td", "li", "figcaption")

    def __init__(self, page: str):
        super().__init__()
        self.headings, self.rows, self.figures, self.items = [], [], [], []
        self.text, self.src = None, None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag == "img":
            self.src = dict(attrs)["src"]
        elif tag in self.TEXT:
            self.text = ""

    def handle_data(self, data):
        if self.text is not None:
            self.text += data

    def handle_endtag(self, tag):
        if tag not in self.TEXT:
            return
        text, self.text = self.text.strip(), None
        if tag in ("h1", "h2"):
            self.headings.append(text)
        elif tag in ("th", "td"):
            self.rows[-1].append(text)
        elif tag == "li":
            self.items.append(text)
        else:
            self.figures.append((self.src, text))


def _markdown_contents(text: str) -> dict:
    """What a Markdown report shows, in the terms of `_Page`."""
    rows = [[cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
            for line in text.splitlines() if line.startswith("| ") and not re.fullmatch(r"\|( --- \|)+", line)]
    return {"headings": re.findall(r"^#{1,2} (.+)$", text, re.M), "rows": rows,
            "figures": [(src, caption) for caption, src in re.findall(r"^!\[(.*)\]\((.*)\)$", text, re.M)],
            "items": re.findall(r"^- (.+)$", text, re.M)}


def _both_renderings(report_md):
    page = _Page((report_md.parent / "report.html").read_text())
    shown = {"headings": page.headings, "rows": page.rows, "figures": page.figures, "items": page.items}
    return _markdown_contents(report_md.read_text()), shown


def test_report_md_and_html_show_the_same_sections_rows_figures_and_lists(tmp_path):
    """Both files are rendered from one structure: whatever one shows, the other shows too,
    older results and older figures included."""
    _records(tmp_path, [(results.SCRATCH_CNN, "small CNN | 2 blocks", 0.61, "none (trained from scratch)"),
                        (results.AUGMENTED_CNN, "augmented", 0.7, "STAND-IN, <not> ImageNet")])
    older = tmp_path / "results" / "02_data_augmentation.jsonl"
    older.write_text(json.dumps(dict(json.loads(older.read_text()), run_id="run-a", recorded_at="2026-11-24")) + "\n")
    figures = tmp_path / "report" / "figures"
    figures.mkdir(parents=True)
    for name in ("01_scratch_cnn_baseline__curves", "02_data_augmentation__curves"):
        (figures / f"{name}.png").write_bytes(b"png")
        (figures / f"{name}.txt").write_text(f"What {name} shows & why.\n")
    md, html = _both_renderings(report.write_report(tmp_path, "smoke", {"01_scratch_cnn_baseline": 5.0}, None))
    assert md == html
    # ... and there is something in each: every kind of section of a report with older results.
    assert html["headings"][1:] == ["What each lesson showed", "Results", "Exercises", "Notebook wall times",
                                    "Figures"]
    assert ["01_scratch_cnn_baseline", "small CNN | 2 blocks", "test_accuracy", "0.6100"] in [r[:4] for r in html["rows"]]
    assert ("figures/01_scratch_cnn_baseline__curves.png", "01 · What 01_scratch_cnn_baseline__curves shows & why."
            ) in html["figures"]
    assert "w2: STAND-IN, <not> ImageNet" in html["items"]

    run_c = dict(json.loads((tmp_path / "results" / "01_scratch_cnn_baseline.jsonl").read_text()), run_id="run-c")
    (tmp_path / "results" / "01_scratch_cnn_baseline.jsonl").write_text(json.dumps(run_c) + "\n")
    md, html = _both_renderings(report.write_report(tmp_path, "smoke", {"01_scratch_cnn_baseline": 5.0}, "run-c"))
    assert md == html
    assert html["headings"][-1] == "Older results, not from this run"
    assert html["rows"][-1][:4] == ["02_data_augmentation", "augmented", "test_accuracy", "0.7000"]
    assert html["rows"][-1][-1] == "2026-11-24, run run-a"
    assert any(item.startswith("figures/02_data_augmentation__curves.png (") for item in html["items"])


def test_a_rehearsal_report_md_and_html_show_the_same(tmp_path):
    md, html = _both_renderings(report.write_report(tmp_path, "full-rehearsal", {"01_a": 3.0, "02_b": 4.0}))
    assert md == html and html["items"] == ["01_a: 3 s", "02_b: 4 s"]
    assert html["headings"] == ["Course rehearsal (full-rehearsal): no results", "Notebook wall times"]


def test_the_renderers_refuse_what_is_not_a_block():
    from course_utils import document

    page = document.Document("t", "t", [document.Section("s", [3.5])])
    for render in (document.to_markdown, document.to_html):
        with pytest.raises(TypeError, match="not a block"):
            render(page)


def test_the_report_lists_this_run_s_exercises_answered_and_passed(tmp_path):
    """Each exercise of the notebooks the run executed, with its newest outcome in this run only."""
    _records(tmp_path, [(results.SCRATCH_CNN, "small CNN", 0.61, "none (trained from scratch)", {"run_id": "run-b"})])
    folder = tmp_path / "exercises"
    notebook = "01_scratch_cnn_baseline"
    exercises.record(Outcome("01.no_fourth_block", PASSED, "fine."), folder, notebook, "run-a", "smoke")
    exercises.record(Outcome("01.no_fourth_block", NOT_ANSWERED, "still None."), folder, notebook, "run-b", "smoke")
    exercises.record(Outcome("01.no_fourth_block", WRONG, "`three_blocks` has 4 blocks."), folder, notebook, "run-b",
                     "smoke")
    exercises.record(Outcome("01.block_output_size", PASSED, "right."), folder, notebook, "run-b", "quick")
    md, html = _both_renderings(report.write_report(tmp_path, "smoke", {notebook: 5.0}, "run-b"))
    assert md == html and "Exercises" in html["headings"]
    text = (tmp_path / "report" / "report.md").read_text()
    assert "1 of 2 exercises answered, 0 passed." in text
    assert "| 01.no_fourth_block | The network without its fourth block | wrong | `three_blocks` has 4 blocks. |" in text
    assert "| 01.block_output_size | Output sizes, by hand | not run |  |" in text  # its line is another profile's
    exercises.record(Outcome("01.block_output_size", PASSED, "right."), folder, notebook, "run-b", "smoke")
    report.write_report(tmp_path, "smoke", {notebook: 5.0}, "run-b")
    assert "2 of 2 exercises answered, 1 passed." in (tmp_path / "report" / "report.md").read_text()


def test_the_report_command_writes_the_report_from_the_records_running_no_notebook(tmp_path, monkeypatch, capsys):
    """What a teacher collecting the learners' results files runs: `python -m course_utils report`."""
    _records(tmp_path, [(results.SCRATCH_CNN, "small CNN", 0.61, "none (trained from scratch)", {"run_id": "run-a"}),
                        (results.AUGMENTED_CNN, "augmented", 0.7, "none (trained from scratch)", {"run_id": "run-b"})])
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "run-a.json").write_text(json.dumps(
        {"run_id": "run-a", "profile": "smoke", "notebooks": {"01_scratch_cnn_baseline": "done"},
         "seconds": {"01_scratch_cnn_baseline": 12.3}}))
    monkeypatch.setattr(runner, "execute_notebook", lambda *args, **kwargs: pytest.fail("a notebook was run"))
    code, out, err = run_cli(capsys, "report", "--profile", "smoke", "--build-dir", str(tmp_path))
    assert (code, err) == (0, "") and out == f"Report: {tmp_path / 'report' / 'report.md'}\n"
    text = (tmp_path / "report" / "report.md").read_text()
    assert "| 01_scratch_cnn_baseline | small CNN | test_accuracy | 0.6100 |" in text
    assert "| 02_data_augmentation | augmented | test_accuracy | 0.7000 |" in text
    assert "01_scratch_cnn_baseline: 12 s" in text  # the wall time its run recorded
    assert [r["value"] for r in json.loads((tmp_path / "report" / "results.json").read_text())] == [0.61, 0.7]
    assert (tmp_path / "report" / "figures" / report.SUMMARY).is_file()

    code, out, err = run_cli(capsys, "report", "--profile", "quick", "--build-dir", str(tmp_path))
    assert code == 2 and err == (f"error: no result of the quick profile is recorded in {tmp_path / 'results'} "
                                 "(it holds the smoke profile's): pass --profile smoke\n")
    assert "0.6100" in (tmp_path / "report" / "report.md").read_text()  # the report it had is kept
