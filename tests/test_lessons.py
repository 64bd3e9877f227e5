"""The lessons' verdicts: read from the recorded numbers, never assumed."""

from course_utils import lessons

SCRATCH, AUGMENTED = "small CNN from scratch", "small CNN + augmentation + dropout"


def record(notebook, method, value, gap=None, epochs=30, best=20, split="2000 / 500 / 500",
           weights="none (trained from scratch)", metric="test_accuracy"):
    return {"notebook": notebook, "method": method, "metric": metric, "value": value, "profile": "quick",
            "weights": weights, "split": split,
            "details": {} if gap is None else {"last_gap": gap, "epochs": epochs, "epochs_run": epochs,
                                               "best_epoch": best}}


def verdict(records, notebook):
    return {v.notebook: v for v in lessons.judge(records)}[notebook]


def test_augmentation_seen_only_beyond_the_noise_and_with_a_smaller_gap():
    baseline = record("01_scratch_cnn_baseline", SCRATCH, 0.70, gap=0.20)
    seen = verdict([baseline, record("02_data_augmentation", AUGMENTED, 0.75, gap=0.02)], "02_data_augmentation")
    assert seen.verdict == lessons.SEEN and "+5.0 points" in seen.measured and "noise ±2.2" in seen.measured
    # One point on 500 test images is within the noise of one run.
    small = verdict([baseline, record("02_data_augmentation", AUGMENTED, 0.71, gap=0.02)], "02_data_augmentation")
    assert small.verdict == lessons.NOT_SEEN and "within the noise" in small.reason
    # Better, but the gap did not shrink: the overfitting lesson is not shown.
    wider = verdict([baseline, record("02_data_augmentation", AUGMENTED, 0.80, gap=0.25)], "02_data_augmentation")
    assert wider.verdict == lessons.NOT_SEEN and "gap did not shrink" in wider.reason


def test_a_not_seen_verdict_names_the_reason_the_numbers_support():
    baseline = record("01_scratch_cnn_baseline", SCRATCH, 0.70, gap=0.20)
    rising = record("02_data_augmentation", AUGMENTED, 0.69, gap=0.0, epochs=28, best=28)
    assert "still rising at the end (best epoch 28 of 28)" in verdict([baseline, rising], "02_data_augmentation").reason
    smoke = record("01_scratch_cnn_baseline", SCRATCH, 0.55, gap=0.0, epochs=1, best=1, split="48 / 16 / 16")
    found = verdict([smoke], "01_scratch_cnn_baseline")
    assert found.verdict == lessons.NOT_SEEN
    assert "only 1 epoch(s) of this training" in found.reason and "a small subset (48 training images)" in found.reason


def test_lessons_without_results_are_not_run():
    assert {v.verdict for v in lessons.judge([])} == {lessons.NOT_RUN}
    alone = verdict([record("02_data_augmentation", AUGMENTED, 0.75, gap=0.02)], "02_data_augmentation")
    assert alone.verdict == lessons.NOT_RUN and "notebook 01" in alone.reason


def test_pretrained_against_random_names_stand_in_weights_when_not_seen():
    notebook, stand_in = "03_vgg_feature_extraction", "STAND-IN, not ImageNet: VGG16 of HED"
    rows = [record(notebook, "vgg16 features + dense head", 0.66, gap=0.1, weights=stand_in),
            record(notebook, "vgg16 random-weight features + dense head", 0.65, gap=0.1,
                   weights="none (random initialisation, for comparison)")]
    found = verdict(rows, notebook)
    assert found.verdict == lessons.NOT_SEEN and "stand-in, not ImageNet" in found.reason
    rows[0]["value"] = 0.80
    assert verdict(rows, notebook).verdict == lessons.SEEN


def test_filters_lesson_reads_the_share_switched_on_by_depth():
    notebook = "07_visualizing_filters_and_activations"
    shares = [record(notebook, f"block{b}_conv1", v, metric="filters_switched_on", weights="imagenet")
              for b, v in ((2, 1.0), (3, 0.9), (4, 0.7), (5, 0.4))]
    found = verdict(shares, notebook)
    assert found.verdict == lessons.SEEN and "block2 100%" in found.measured and "block5 40%" in found.measured


def test_pretrained_against_random_pairs_the_same_network():
    notebook = "03_vgg_feature_extraction"
    rows = [record(notebook, "vgg16 features + dense head", 0.62, gap=0.1, weights="imagenet"),
            record(notebook, "vgg16 random-weight features + dense head", 0.60, gap=0.1, weights="none"),
            record(notebook, "vgg19 features + dense head", 0.90, gap=0.1, weights="imagenet")]  # another base
    found = verdict(rows, notebook)
    assert "0.620 against 0.600" in found.measured and found.verdict == lessons.NOT_SEEN
