"""Recording results and figures under their keys, and the Markdown table."""

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest

from conftest import new_session
from course_utils import results
from course_utils.data import Sizes, Splits

CATS = Splits(None, None, None, ["cats", "dogs"], "cats_vs_dogs", 32, Sizes(20, 10, 10))


@pytest.fixture
def scratch(data_home, tmp_path):
    """Notebook 01's session."""
    return new_session(tmp_path / "build", notebook="01_scratch_cnn_baseline")


def test_record_and_read_back(scratch, tmp_path):
    scratch.using(CATS, network="small_cnn")
    scratch.record(results.SCRATCH_CNN, 0.5, method="a")
    scratch.record(results.SCRATCH_CNN, 0.75, method="a")
    records = results.load_results(scratch.build_dir)
    assert [r["value"] for r in records] == [0.5, 0.75]
    first = records[0]
    assert (first["key"], first["notebook"], first["metric"]) == ("scratch_cnn", "01_scratch_cnn_baseline",
                                                                   "test_accuracy")
    assert first["profile"] == "smoke" and first["data"] == "cats_vs_dogs: not installed"
    assert (first["dataset"], first["split"], first["image_size"]) == ("cats_vs_dogs", CATS.sizes._asdict(), 32)
    assert (first["network"], first["pretrained"], first["weights"]) == ("small_cnn", False, results.FROM_SCRATCH)
    assert scratch.latest_result(results.SCRATCH_CNN)["value"] == 0.75
    assert scratch.latest_result(results.SCRATCH_CNN, network="vgg16") is None
    other = new_session(scratch.build_dir, notebook="02_data_augmentation", profile="full")
    assert other.latest_result(results.SCRATCH_CNN) is None  # other profiles don't count
    filters = new_session(scratch.build_dir, notebook="07_visualizing_filters_and_activations")
    filters.using(None, network="vgg16")
    timing = filters.record(results.FILTER_ASCENT_SECONDS, 1.5, method="b")
    assert timing["metric"] == "filter_visualisation_s" and timing["data"] == "none (no dataset used)"
    assert timing["split"] is None and timing["pretrained"] is True


def test_a_record_needs_a_stated_source_and_takes_its_labels(data_home, tmp_path):
    session = new_session(tmp_path / "build", notebook="03_vgg_feature_extraction")
    with pytest.raises(ValueError, match=r"session.using\(splits, network=...\)"):
        session.record(results.FEATURES_DENSE_HEAD, 0.5, method="a")
    with pytest.raises(ValueError, match="no pretrained weights for 'resnet' in this course: .* vgg16, mobilenet_v2"):
        session.using(CATS, network="resnet", pretrained=True)
    flowers = CATS._replace(dataset="flowers17")
    session.using(flowers, network="vgg16")
    record = session.record(results.FEATURES_DENSE_HEAD, 0.5, method="a")
    assert record["weights"] == "STAND-IN, not ImageNet" and record["data"].startswith("flowers17")
    assert (record["network"], record["pretrained"]) == ("vgg16", True)
    session.using(flowers, network="vgg16", pretrained=False)  # its own random weights, for comparison
    record = session.record(results.FEATURES_DENSE_HEAD, 0.5, method="a")
    assert (record["pretrained"], record["weights"]) == (False, results.RANDOM_WEIGHTS)
    session.using(flowers, network="mobilenet_v2", weights="MobileNetV2 from a lab kit")  # known once loaded
    assert session.source.weights == "MobileNetV2 from a lab kit" and session.source.pretrained


def test_an_unknown_key_is_an_error_naming_the_valid_ones_and_records_nothing(scratch):
    scratch.using(CATS, network="small_cnn")
    with pytest.raises(ValueError, match=r"unknown result key 'small CNN from scratch': the known keys are "
                                         r"scratch_cnn, augmented_cnn, .*filter_ascent_seconds"):
        scratch.record("small CNN from scratch", 0.5, method="a")
    with pytest.raises(ValueError, match="result key 'augmented_cnn' belongs to notebook 02_data_augmentation, not "
                                         "01_scratch_cnn_baseline: 01_scratch_cnn_baseline's keys are scratch_cnn$"):
        scratch.record(results.AUGMENTED_CNN, 0.5, method="a")
    with pytest.raises(ValueError, match="unknown result key 'nothing'"):
        scratch.latest_result("nothing")
    assert not scratch.results_file.exists()


def test_every_key_belongs_to_a_notebook_that_exists():
    from pathlib import Path

    notebooks = {p.stem for p in (Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert {notebook for notebook, _ in results.KEYS.values()} <= notebooks


def test_table_shows_split_sizes_and_refuses_a_record_without_weights_or_profile(scratch):
    scratch.using(CATS, network="small_cnn")
    record = scratch.record(results.SCRATCH_CNN, 0.5, method="a")
    row = results.table_row(record)
    assert row[:5] == ["01_scratch_cnn_baseline", "a", "test_accuracy", "0.5000", "smoke"] and "20 / 10 / 10" in row
    for key in ("weights", "profile"):
        with pytest.raises(ValueError, match=key):
            results.table_row(dict(record, **{key: ""}))
    # A record of an older version of the course: no key, its split sizes as text. Shown, never matched.
    older = {k: v for k, v in record.items() if k not in ("key", "network", "pretrained")}
    older["split"] = "2000 / 500 / 500"
    assert "2000 / 500 / 500" in results.table_row(older)
    assert results.test_images(older) is None
    with scratch.results_file.open("w") as out:
        out.write(json.dumps(older) + "\n")
    assert scratch.latest_result(results.SCRATCH_CNN) is None


def test_save_figure_uses_a_stable_name(session):
    fig, _ = plt.subplots()
    path = session.save_figure(fig, "curves", caption="Accuracy per epoch.")
    assert path == session.build_dir / "report" / "figures" / "test__curves.png" and path.stat().st_size > 0
    assert path.with_suffix(".txt").read_text() == "Accuracy per epoch.\n"  # the report's caption
    with pytest.raises(ValueError):
        session.save_figure(fig, "../escape", caption="x")
    with pytest.raises(ValueError, match="caption"):
        session.save_figure(fig, "curves", caption=" ")


def test_saved_figure_says_which_profile_data_and_weights_made_it(data_home, tmp_path):
    fig, _ = plt.subplots(figsize=(4, 3))
    session = new_session(tmp_path / "build", weights={"vgg16": "STAND-IN, not ImageNet: VGG16 of HED"})
    session.using(CATS._replace(dataset="flowers17"), network="vgg16")
    session.save_figure(fig, "curves", caption="c")
    footer = "\n".join(text.get_text() for text in fig.texts)
    assert "test, profile smoke, seed 1" in footer
    assert "data: flowers17: not installed" in footer
    assert "weights: STAND-IN, not ImageNet: VGG16" in footer.replace("\n", " ")


def test_a_figure_drawing_an_earlier_run_s_curve_names_that_run_and_its_date(data_home, tmp_path):
    """`run --only 02...` after an interrupted run: notebook 01's curve is the killed run's."""
    import time

    from course_utils import plots, training

    curve = {"accuracy": [0.5, 0.6], "val_accuracy": [0.5, 0.55], "loss": [0.7, 0.6], "val_loss": [0.7, 0.65]}
    killed, now = "20261124-142501-8123", "20261125-090000-4242"
    build = tmp_path / "build"
    training.save_history(new_session(build, notebook="01_a", run_id=killed), curve, "scratch")
    session = new_session(build, notebook="02_b", run_id=now)
    session.using(None, network="small_cnn")
    baseline = training.load_history(session, "01_a", "scratch")
    fig = plots.learning_curves({"from scratch (01)": baseline, "augmented": dict(curve)})
    session.save_figure(fig, "curves", caption="c")
    footer = "\n".join(t.get_text() for t in fig.texts)
    today = time.strftime("%Y-%m-%d")
    assert f"from scratch (01): notebook 01_a's run {killed} of {today}" in footer and "not this run" in footer
    assert "02_b, profile smoke" in footer and len(fig.texts) == 1  # one footnote block, not two overlapping
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "from scratch (01) (earlier run): training" in labels and "augmented: training" in labels
    plt.close(fig)

    # The same run's history draws as this run's: no note.
    training.save_history(new_session(build, notebook="01_a", run_id=now), curve, "scratch")
    assert "earlier_run" not in training.load_history(session, "01_a", "scratch")


def test_per_image_outcomes_are_stored_compactly_and_read_back(scratch):
    scratch.using(CATS, network="small_cnn")
    outcomes = np.array([True, False, True, True, False, False, True, False, True, True])  # 10: not whole hex digits
    scratch.record(results.SCRATCH_CNN, 0.6, method="a", outcomes=outcomes)
    scratch.record(results.SCRATCH_CNN, 0.6, method="b")
    with_outcomes, without = results.load_results(scratch.build_dir)
    assert with_outcomes["outcomes"] == {"images": 10, "right": "b2c"}  # 1011 0010 11(00)
    assert results.read_outcomes(with_outcomes) == outcomes.tolist()
    assert results.read_outcomes(without) is None
    # CIFAR-10's 10,000 test images: 2,500 hex digits, read back exactly.
    many = np.random.default_rng(0).random(10_000) < 0.7
    packed = results.pack_outcomes(many)
    assert len(packed["right"]) == 2500 and results.read_outcomes({"outcomes": packed}) == many.tolist()


def test_outcomes_that_are_not_this_result_s_are_refused(scratch):
    scratch.using(CATS, network="small_cnn")
    right = [True] * 6 + [False] * 4
    with pytest.raises(ValueError, match="outcomes for 9 images, but the test split of cats_vs_dogs has 10"):
        scratch.record(results.SCRATCH_CNN, 0.6, method="a", outcomes=right[:9])
    with pytest.raises(ValueError, match="outcomes give an accuracy of 6 of 10, not 0.8000"):
        scratch.record(results.SCRATCH_CNN, 0.8, method="a", outcomes=right)
    with pytest.raises(ValueError, match="1-D"):
        scratch.record(results.SCRATCH_CNN, 0.6, method="a", outcomes=np.array([right, right]))
    assert not scratch.results_file.exists()  # nothing recorded
    # One image apart: Keras' evaluate and a prediction pass may round a probability of 0.5 differently.
    scratch.record(results.SCRATCH_CNN, 0.7, method="a", outcomes=right)


def test_a_cut_line_and_a_record_of_another_shape_are_skipped_by_file_and_line(scratch, capsys):
    from course_utils.files import append_line

    scratch.using(CATS, network="small_cnn")
    good = scratch.record(results.SCRATCH_CNN, 0.5, method="a")
    append_line(scratch.results_file, json.dumps(good)[:40])  # cut short by a run interrupted while writing it
    append_line(scratch.results_file, json.dumps(dict(good, value="high")))  # another version's, or typed by hand
    scratch.record(results.SCRATCH_CNN, 0.75, method="a")
    capsys.readouterr()
    assert [r["value"] for r in results.load_results(scratch.build_dir)] == [0.5, 0.75]
    out = capsys.readouterr().out
    assert f"Skipped line 2 of {scratch.results_file}: not JSON (cut short by a run interrupted while writing it?)" in out
    assert (f"Skipped line 3 of {scratch.results_file}: not a result record of this course (its value is 'high', "
            "not a number)") in out
    assert scratch.latest_result(results.SCRATCH_CNN)["value"] == 0.75
    with pytest.raises(ValueError, match="its value is 'high', not a number"):
        results.table_row(dict(good, value="high"))
