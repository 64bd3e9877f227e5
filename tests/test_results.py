"""Recording results and figures, and the Markdown table."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_utils import results


def test_record_and_read_back(cfg):
    results.using(cfg, dataset="cats_vs_dogs", model=None)
    results.record_result(cfg, "test_accuracy", 0.5, method="a")
    results.record_result(cfg, "test_accuracy", 0.75, method="a")
    records = results.load_results(cfg["build_dir"])
    assert [r["value"] for r in records] == [0.5, 0.75]
    assert records[0]["profile"] == "smoke" and records[0]["data"] == "cats_vs_dogs: not installed"
    assert results.latest_result(cfg, "test")["value"] == 0.75
    assert results.latest_result(cfg, "test", method="b") is None
    assert results.latest_result(dict(cfg, profile="full"), "test") is None  # other profiles don't count
    assert records[0]["weights"] == "none (trained from scratch)"
    results.using(cfg, dataset=None, model=None)
    timing = results.record_result(cfg, "seconds", 1.5, method="b")
    assert timing["data"] == "none (no dataset used)"


def test_a_record_needs_a_stated_source_and_takes_its_labels(cfg):
    with pytest.raises(ValueError, match=r"course_utils.using\(cfg"):
        results.record_result(cfg, "test_accuracy", 0.5, method="a")
    cfg = dict(cfg, weights={"vgg16": "STAND-IN, not ImageNet", "hub": "TF-Hub"})
    with pytest.raises(ValueError, match="no weights setting for 'resnet'"):
        results.using(cfg, dataset="flowers17", model="resnet")
    results.using(cfg, dataset="flowers17", model="vgg16")
    record = results.record_result(cfg, "test_accuracy", 0.5, method="a")
    assert record["weights"] == "STAND-IN, not ImageNet" and record["data"].startswith("flowers17")


def test_table_refuses_a_record_without_weights_or_profile(cfg):
    results.using(cfg, dataset="flowers17", model=None)
    record = results.record_result(cfg, "test_accuracy", 0.5, method="a")
    assert "| test | a | test_accuracy | 0.5000 | smoke |" in results.markdown_table([record])
    for key in ("weights", "profile"):
        with pytest.raises(ValueError, match=key):
            results.markdown_table([dict(record, **{key: ""})])


def test_save_figure_uses_a_stable_name(cfg):
    fig, _ = plt.subplots()
    path = results.save_figure(cfg, fig, "curves", caption="Accuracy per epoch.")
    assert path == cfg["build_dir"] / "report" / "figures" / "test__curves.png" and path.stat().st_size > 0
    assert path.with_suffix(".txt").read_text() == "Accuracy per epoch.\n"  # the report's caption
    with pytest.raises(ValueError):
        results.save_figure(cfg, fig, "../escape", caption="x")
    with pytest.raises(ValueError, match="caption"):
        results.save_figure(cfg, fig, "curves", caption=" ")


def test_saved_figure_says_which_profile_data_and_weights_made_it(cfg):
    fig, _ = plt.subplots(figsize=(4, 3))
    cfg = dict(cfg, weights={"vgg16": "STAND-IN, not ImageNet: VGG16 of HED"})
    results.using(cfg, dataset="flowers17", model="vgg16")
    results.save_figure(cfg, fig, "curves", caption="c")
    footer = "\n".join(text.get_text() for text in fig.texts)
    assert "test, profile smoke, seed 1" in footer
    assert "data: flowers17: not installed" in footer
    assert "weights: STAND-IN, not ImageNet: VGG16" in footer.replace("\n", " ")


def test_a_figure_drawing_an_earlier_run_s_curve_names_that_run_and_its_date(cfg):
    """`run --only 02...` after an interrupted run: notebook 01's curve is the killed run's."""
    import time

    from course_utils import plots, training

    curve = {"accuracy": [0.5, 0.6], "val_accuracy": [0.5, 0.55], "loss": [0.7, 0.6], "val_loss": [0.7, 0.65]}
    killed, now = "20261124-142501-8123", "20261125-090000-4242"
    training.save_history(dict(cfg, notebook="01_a", run_id=killed), curve, "scratch")
    cfg = dict(cfg, notebook="02_b", run_id=now)
    results.using(cfg, dataset=None, model=None)
    baseline = training.load_history(cfg, "01_a", "scratch")
    fig = plots.learning_curves({"from scratch (01)": baseline, "augmented": dict(curve)})
    results.save_figure(cfg, fig, "curves", caption="c")
    footer = "\n".join(t.get_text() for t in fig.texts)
    today = time.strftime("%Y-%m-%d")
    assert f"from scratch (01): notebook 01_a's run {killed} of {today}" in footer and "not this run" in footer
    assert "02_b, profile smoke" in footer and len(fig.texts) == 1  # one footnote block, not two overlapping
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "from scratch (01) (earlier run): training" in labels and "augmented: training" in labels
    plt.close(fig)

    # The same run's history draws as this run's: no note.
    training.save_history(dict(cfg, notebook="01_a"), curve, "scratch")
    assert "earlier_run" not in training.load_history(cfg, "01_a", "scratch")


def test_per_image_outcomes_are_stored_compactly_and_read_back(cfg):
    results.using(cfg, dataset="cats_vs_dogs", model=None)
    cfg["split_sizes"] = {"cats_vs_dogs": "20 / 10 / 10"}
    outcomes = np.array([True, False, True, True, False, False, True, False, True, True])  # 10: not whole hex digits
    results.record_result(cfg, "test_accuracy", 0.6, method="a", outcomes=outcomes)
    results.record_result(cfg, "test_accuracy", 0.6, method="b")
    with_outcomes, without = results.load_results(cfg["build_dir"])
    assert with_outcomes["outcomes"] == {"images": 10, "right": "b2c"}  # 1011 0010 11(00)
    assert results.read_outcomes(with_outcomes) == outcomes.tolist()
    assert results.read_outcomes(without) is None
    # CIFAR-10's 10,000 test images: 2,500 hex digits, read back exactly.
    many = np.random.default_rng(0).random(10_000) < 0.7
    packed = results.pack_outcomes(many)
    assert len(packed["right"]) == 2500 and results.read_outcomes({"outcomes": packed}) == many.tolist()


def test_outcomes_that_are_not_this_result_s_are_refused(cfg):
    results.using(cfg, dataset="cats_vs_dogs", model=None)
    cfg["split_sizes"] = {"cats_vs_dogs": "20 / 10 / 10"}
    right = [True] * 6 + [False] * 4
    with pytest.raises(ValueError, match="outcomes for 9 images, but the test split of cats_vs_dogs has 10"):
        results.record_result(cfg, "test_accuracy", 0.6, method="a", outcomes=right[:9])
    with pytest.raises(ValueError, match="outcomes give an accuracy of 6 of 10, not 0.8000"):
        results.record_result(cfg, "test_accuracy", 0.8, method="a", outcomes=right)
    with pytest.raises(ValueError, match="1-D"):
        results.record_result(cfg, "test_accuracy", 0.6, method="a", outcomes=np.array([right, right]))
    assert not results.results_file(cfg).exists()  # nothing recorded
    # One image apart: Keras' evaluate and a prediction pass may round a probability of 0.5 differently.
    results.record_result(cfg, "test_accuracy", 0.7, method="a", outcomes=right)
