"""The lessons' verdicts: read from the recorded numbers, never assumed; two models compared
image by image on the same test images (McNemar's exact test), never by a margin on two accuracies;
records found by key and fields, never by the wording of their labels."""

import math
import random
import re

import pytest

from conftest import documentation
from course_utils import lessons, report, results, stats

SCRATCH, AUGMENTED = results.SCRATCH_CNN, results.AUGMENTED_CNN
# How a compared number is named (`lessons._name`): by key and fields, never by the record's label.
SCRATCH_NAME, AUGMENTED_NAME = "scratch_cnn, small_cnn, not pretrained", "augmented_cnn, small_cnn, not pretrained"
CATS = "cats_vs_dogs: official files, sha256-verified"


def record(key, value, gap=None, epochs=30, best=20, split=(2000, 500, 500), weights="none (trained from scratch)",
           outcomes=None, data=CATS, network="small_cnn", pretrained=False, method=None, details=None):
    notebook, metric = results.KEYS[key]
    found = {"key": key, "notebook": notebook, "method": method or f"{key} as the notebook labels it",
             "metric": metric, "value": value, "network": network, "pretrained": pretrained, "profile": "quick",
             "dataset": data.split(":")[0], "data": data, "weights": weights,
             "split": dict(zip(("train", "validation", "test"), split)),
             "details": details or ({} if gap is None else {"last_gap": gap, "epochs": epochs, "epochs_run": epochs,
                                                            "best_epoch": best})}
    if outcomes is not None:
        found["outcomes"] = results.pack_outcomes(outcomes)
    return found


def pair(both, only_ours, only_theirs, n=500):
    """Per-image outcomes of two models on n images: `both` right for both, `only_ours` right for the
    first only, `only_theirs` for the second only, the rest wrong for both."""
    ours = [True] * both + [True] * only_ours + [False] * only_theirs
    theirs = [True] * both + [False] * only_ours + [True] * only_theirs
    rest = [False] * (n - len(ours))
    return ours + rest, theirs + rest


def compared(ours_key, theirs_key, both, b, c, n=500, ours_gap=0.02, theirs_gap=0.20, theirs=None, **kw):
    """Two records compared by a lesson, built from their per-image outcomes (`theirs`: the second
    record's own fields; `kw`: the first's)."""
    right_ours, right_theirs = pair(both, b, c, n)
    split = (2000, n, n)
    return [record(theirs_key, sum(right_theirs) / n, gap=theirs_gap, split=split, outcomes=right_theirs,
                   **(theirs or {})),
            record(ours_key, sum(right_ours) / n, gap=ours_gap, split=split, outcomes=right_ours, **kw)]


def augmentation(both, b, c, n=500, **kw):
    return compared(AUGMENTED, SCRATCH, both, b, c, n, **kw)


def verdict(records, notebook):
    return {v.notebook: v for v in lessons.judge(records)}[notebook]


def test_mcnemar_exact_p_values_and_intervals_are_the_known_ones():
    assert stats.paired_test(10, 0, 500).p == pytest.approx(2 * 0.5 ** 10)  # 0.00195
    assert stats.paired_test(5, 5, 500).p == 1.0
    assert stats.paired_test(8, 2, 500).p == pytest.approx(2 * (1 + 10 + 45) / 2 ** 10)  # 0.109
    assert stats.paired_test(0, 0, 500) == (0.0, 0.0, 0.0, 1.0)  # the two agree on every image
    assert "(95 % interval +0.0 to +0.0)" in verdict(augmentation(300, 0, 0), "02_data_augmentation").reason
    assert stats.paired_test(30, 10, 500).estimate == pytest.approx(20 / 500)
    # Clopper-Pearson, the textbook values: 5 of 10 gives 0.1871 to 0.8129; 10 of 10 gives 0.6915 to 1.
    five = stats.binomial_test(5, 10)
    assert (five.low, five.high, five.p) == (pytest.approx(0.187086, abs=1e-6), pytest.approx(0.812914, abs=1e-6), 1.0)
    assert stats.binomial_test(10, 10)[1:] == (pytest.approx(0.691503, abs=1e-6), 1.0, pytest.approx(0.001953125))
    # Large counts (CIFAR-10's 10,000 test images) stay finite: summed in logs.
    assert 0 < stats.paired_test(2100, 1900, 10000).p < 0.01


def test_the_interval_excludes_no_difference_exactly_when_the_test_says_so():
    for b in range(0, 40):
        for c in (0, 3, 10, 17):
            evidence = stats.paired_test(b, c, 500)
            assert (evidence.low > 0) == (b > c and evidence.p < stats.LEVEL), (b, c)
            assert evidence.low <= evidence.estimate <= evidence.high


def test_a_difference_beyond_one_standard_error_is_not_seen_when_the_paired_test_finds_nothing():
    # +3.0 points on 500 images: beyond 0.5/sqrt(500) = 2.2 (the old rule called it seen), but the two
    # disagree on 105 images, 60 to 45: p = 0.17.
    found = verdict(augmentation(300, 60, 45), "02_data_augmentation")
    assert found.verdict == lessons.NOT_SEEN
    assert "+3.0 points" in found.reason and "McNemar's exact test p = 0.172" in found.reason
    assert "within what the draw of test images explains" in found.reason
    assert "of the same 500 test images, 60 right here only, 45 there only" in found.measured


def test_a_difference_within_one_standard_error_is_seen_when_the_models_disagree_only_one_way():
    # +2.0 points: within 0.5/sqrt(500) (the old rule said not seen), but every one of the ten images
    # the two disagree on went to notebook 02: p = 2 * 0.5**10.
    found = verdict(augmentation(340, 10, 0), "02_data_augmentation")
    assert found.verdict == lessons.SEEN
    assert found.reason.startswith("+2.0 points (95 % interval +")
    assert "McNemar's exact test p = 0.00195" in found.reason


def test_augmentation_seen_needs_a_smaller_gap_too():
    seen = verdict(augmentation(330, 40, 5), "02_data_augmentation")
    assert seen.verdict == lessons.SEEN and "p < 0.001" in seen.reason
    wider = verdict(augmentation(330, 40, 5, ours_gap=0.25), "02_data_augmentation")
    assert wider.verdict == lessons.NOT_SEEN and wider.reason.endswith("but the gap did not shrink")
    assert "McNemar's exact test" in wider.reason


def test_a_model_that_did_worse_beyond_chance_is_not_called_within_chance():
    found = verdict(augmentation(330, 5, 40), "02_data_augmentation")
    assert found.verdict == lessons.NOT_SEEN and "notebook 01 did better, beyond chance" in found.reason
    assert "within what the draw" not in found.reason


def test_records_that_cannot_be_paired_are_never_seen_and_say_why():
    # Ten points apart, but notebook 01's record has no per-image outcomes (an older version recorded it).
    rows = augmentation(300, 60, 10)
    del rows[0]["outcomes"]
    found = verdict(rows, "02_data_augmentation")
    assert found.verdict == lessons.NOT_SEEN
    assert found.reason.startswith("no paired comparison: notebook 01's record has no per-image outcomes")
    # Both have outcomes, but from other test images: another test split (its size) or another copy of the data.
    rows = augmentation(300, 60, 10)
    rows[0].update(split={"train": 2000, "validation": 400, "test": 400},
                   outcomes=results.pack_outcomes(pair(300, 0, 10, 400)[1]))
    found = verdict(rows, "02_data_augmentation")
    assert found.verdict == lessons.NOT_SEEN and "tested on different images (500 of" in found.reason
    rows = augmentation(300, 60, 10)
    rows[0]["data"] = "cats_vs_dogs: STAND-IN copy"
    assert "tested on different images" in verdict(rows, "02_data_augmentation").reason


def test_a_not_seen_verdict_names_the_reason_the_numbers_support():
    rows = augmentation(300, 12, 10)
    rows[1]["details"].update(epochs=28, epochs_run=28, best_epoch=28)
    assert "still rising at the end (best epoch 28 of 28)" in verdict(rows, "02_data_augmentation").reason
    smoke = record(SCRATCH, 0.5625, gap=0.0, epochs=1, best=1, split=(48, 16, 16))
    found = verdict([smoke], "01_scratch_cnn_baseline")
    assert found.verdict == lessons.NOT_SEEN
    assert "only 1 epoch(s) of this training" in found.reason and "a small subset (48 training images)" in found.reason


def test_the_baseline_is_tested_against_chance_with_the_exact_binomial_test():
    # 11 of 16 right: 19 points above chance, beyond 0.5/sqrt(16) = 12.5 (the old rule: learned), but the
    # exact binomial test gives p = 2 * 6885 / 2**16 = 0.21.
    outcomes = [True] * 11 + [False] * 5
    found = verdict([record(SCRATCH, 11 / 16, gap=0.2, split=(48, 16, 16), outcomes=outcomes)],
                    "01_scratch_cnn_baseline")
    assert found.verdict == lessons.NOT_SEEN and "not above chance at the 95 % level" in found.reason
    assert f"+18.8 points above chance, exact binomial test against 50 %: p = {2 * 6885 / 2 ** 16:.3g}" in found.reason
    assert "11 of 16 test images right" in found.measured
    # 358 of 500, and an overfitting gap: seen; the count comes from the value when outcomes are missing.
    seen = verdict([record(SCRATCH, 0.716, gap=0.2)], "01_scratch_cnn_baseline")
    assert seen.verdict == lessons.SEEN
    assert "358 of 500 test images right; 95 % interval 0.674 to 0.755" in seen.measured
    assert seen.reason == "+21.6 points above chance, exact binomial test against 50 %: p < 0.001"


def test_lessons_without_results_are_not_run():
    assert {v.verdict for v in lessons.judge([])} == {lessons.NOT_RUN}
    alone = verdict([record(AUGMENTED, 0.75, gap=0.02)], "02_data_augmentation")
    assert alone.verdict == lessons.NOT_RUN and "notebook 01" in alone.reason


VGG16 = {"network": "vgg16", "pretrained": True}
RANDOM_VGG16 = {"network": "vgg16", "pretrained": False, "weights": results.RANDOM_WEIGHTS}


def test_pretrained_against_random_names_stand_in_weights_when_not_seen():
    key, notebook, stand_in = results.FEATURES_DENSE_HEAD, "03_vgg_feature_extraction", "STAND-IN, not ImageNet: VGG16 of HED"
    rows = compared(key, key, 300, 25, 20, theirs=RANDOM_VGG16, weights=stand_in, **VGG16)
    found = verdict(rows, notebook)
    assert found.verdict == lessons.NOT_SEEN and "stand-in, not ImageNet" in found.reason
    rows = compared(key, key, 300, 70, 5, theirs=RANDOM_VGG16, weights=stand_in, **VGG16)
    assert verdict(rows, notebook).verdict == lessons.SEEN


def test_pretrained_against_random_pairs_the_same_network():
    key, notebook = results.FEATURES_DENSE_HEAD, "03_vgg_feature_extraction"
    rows = [record(key, 0.62, gap=0.1, weights="imagenet", **VGG16),
            record(key, 0.60, gap=0.1, **RANDOM_VGG16),
            record(key, 0.90, gap=0.1, weights="imagenet", network="vgg19", pretrained=True)]  # another base
    found = verdict(rows, notebook)
    assert "0.620 against 0.600" in found.measured and found.verdict == lessons.NOT_SEEN


def filters(*values):
    return verdict([record(results.FILTERS_SWITCHED_ON, v, weights="imagenet", details={"layer": f"block{b}_conv1"},
                           **VGG16) for b, v in zip((2, 3, 4, 5), values)], "07_visualizing_filters_and_activations")


def test_filters_lesson_reads_the_whole_sequence_of_shares_by_depth():
    every = filters(1.0, 0.9, 0.7, 0.4)
    assert every.verdict == lessons.SEEN and every.reason == "falls at every step"
    assert "block2 100%" in every.measured and "block5 40%" in every.measured
    # Lower at block 5 than at block 2, but rising on the way: the old first-against-last rule said seen.
    overall = filters(0.578125, 0.78125, 0.796875, 0.1875)
    assert overall.verdict == lessons.NOT_SEEN
    assert overall.reason.startswith("falls overall only, not at every step: it rises or stays from "
                                     "block2 58% to block3 78%, from block3 78% to block4 80%")
    flat = filters(0.5, 0.5, 0.6, 0.5)
    assert flat.verdict == lessons.NOT_SEEN and flat.reason.startswith("does not fall: block5 50% against block2 50%")


def test_lessons_over_seeds_count_the_seeds_that_showed_each_effect_and_spread_the_numbers():
    runs = [augmentation(300, 40, 0),  # 02 ahead on 40 images, behind on none: seen
            augmentation(310, 2, 0),  # ahead on 2 images: p = 0.5, not seen
            augmentation(302, 50, 0)[:1]]  # notebook 02 did not run with this seed
    summaries = {s.notebook: s for s in lessons.across_seeds(runs)}
    two = summaries["02_data_augmentation"]
    assert (two.seeds, two.judged, two.seen) == (3, 2, 1)
    assert two.numbers == {AUGMENTED_NAME: [0.68, 0.624], SCRATCH_NAME: [0.6, 0.62]}
    one = summaries["01_scratch_cnn_baseline"]
    assert one.numbers[SCRATCH_NAME] == [0.6, 0.62, 0.604] and one.seen == 3
    assert summaries["07_visualizing_filters_and_activations"].judged == 0
    text = lessons.describe_across_seeds(list(summaries.values()))
    assert ("02 augmentation and dropout should reduce overfitting and beat the baseline\n"
            "     seen in 1 of 3 seeds (not run in 1)") in text
    sd = math.sqrt(((0.6 - 0.608) ** 2 + (0.62 - 0.608) ** 2 + (0.604 - 0.608) ** 2) / 2)
    assert f"{SCRATCH_NAME:<58} mean 0.608, 0.600 to 0.620, sd {sd:.3f} over 3 seeds" in text
    assert f"{AUGMENTED_NAME:<58} mean 0.652, 0.624 to 0.680, sd 0.040 over 2 seeds" in text
    assert "seen in 0 of 3 seeds (not run in 3)" in text  # 07 never ran


def test_the_documented_example_verdicts_are_what_the_lessons_print():
    pages = documentation()
    seen = verdict(augmentation(300, 61, 24), "02_data_augmentation")
    shown = [page for page, text in pages.items() if f"verdict   {seen.verdict.upper()}: {seen.reason}" in text]
    unseen = verdict(augmentation(300, 40, 30), "02_data_augmentation")
    said = [page for page, text in pages.items()
            if re.sub(r"\s+", " ", f"{unseen.verdict.upper()}: {unseen.reason}") in re.sub(r"\s+", " ", text)]
    assert len(shown) == 1 and said == shown, (shown, said)


def large_rate(both, only_small, only_large=0, **kw):
    """05's phase two at the large rate, against its small-rate record built by `compared(BLOCK5_FINE_TUNED, ...)`
    with `both + only_small` images right for the small rate first, then `only_large` right for neither of those."""
    right = pair(both, only_small, only_large)[1]
    return record(results.BLOCK5_LARGE_RATE, sum(right) / 500, gap=0.3, outcomes=right, weights="imagenet",
                  method="vgg16 phase 2 at a large rate: block 5 fine-tuned", **{**VGG16, **kw})


def test_notebook_05_compares_phase_two_s_rates_and_reports_phase_one_beside():
    # The small rate right on 450 images: 440 of them also right for phase one, 10 only here, 12 only for
    # phase one (a point behind it, p = 0.83); the large rate right on 380 of the small rate's 450.
    rows = [*compared(results.BLOCK5_FINE_TUNED, results.HEAD_ONLY, 440, 10, 12, weights="imagenet", **VGG16,
                      theirs={**VGG16, "weights": "imagenet"})]
    found = verdict(rows, "05_unfreezing_block5")
    assert found.verdict == lessons.NOT_RUN and found.reason == "the large rate was not run in this profile"
    found = verdict(rows + [large_rate(380, 70)], "05_unfreezing_block5")
    assert found.verdict == lessons.SEEN and found.lesson.startswith("unfrozen block 5 should be fine-tuned with a "
                                                                     "small learning rate")
    assert found.measured.startswith("test accuracy 0.900 against 0.760 for the large rate; of the same 500 test "
                                     "images, 70 right here only, 0 there only; ")
    assert found.measured.endswith("phase 1 (head only) 0.904, phase 2 at the small rate -0.4 points on it "
                                   "(p = 0.832)")
    assert dict(found.numbers) == {"block5_fine_tuned, vgg16": 0.9, "block5_large_rate, vgg16": 0.76,
                                   "head_only, vgg16": 0.904}


def every_lesson_s_records():
    """Records for every lesson and every summary bar, labelled as the notebooks label them."""
    key = results
    rows = [*compared(key.AUGMENTED_CNN, key.SCRATCH_CNN, 300, 40, 5, method="small CNN + augmentation + dropout",
                      theirs={"method": "small CNN from scratch"}),
            *compared(key.FEATURES_DENSE_HEAD, key.FEATURES_DENSE_HEAD, 300, 70, 5, weights="imagenet",
                      method="vgg16 features + dense head", theirs={**RANDOM_VGG16, "method": "vgg16 random-weight "
                                                                    "features + dense head"}, **VGG16),
            record(key.FEATURES_DENSE_HEAD, 0.9, gap=0.1, weights="imagenet", network="vgg19", pretrained=True,
                   method="vgg19 features + dense head"),
            *compared(key.NEW_HEAD, key.NEW_HEAD, 300, 60, 5, weights="imagenet", data="flowers17: official files",
                      method="vgg16 base + new head (17 flowers)",
                      theirs={**RANDOM_VGG16, "data": "flowers17: official files",
                              "method": "vgg16 random-weight base + new head (17 flowers)"}, **VGG16),
            *compared(key.BLOCK5_FINE_TUNED, key.HEAD_ONLY, 350, 20, 2, weights="imagenet",
                      method="vgg16 phase 2: block 5 fine-tuned",
                      theirs={**VGG16, "method": "vgg16 phase 1: new head, frozen base"}, **VGG16),
            large_rate(310, 60),  # 05's small rate (370 right, as above) against the large: 60 to 0
            *compared(key.HUB_HEAD, key.CIFAR_SCRATCH_CNN, 300, 60, 10, data="cifar10: official arrays",
                      method="hub features + softmax head (frozen)", network="mobilenet_v2", pretrained=True,
                      theirs={"data": "cifar10: official arrays", "network": "cifar_cnn",
                              "method": "small CNN from scratch, same CIFAR-10 subset"})]
    rows += [record(key.FILTERS_SWITCHED_ON, v, weights="imagenet", details={"layer": f"block{b}_conv1"},
                    method=f"block{b}_conv1", **VGG16) for b, v in zip((2, 3, 4, 5), (1.0, 0.9, 0.7, 0.4))]
    return rows


def reworded(records, seed=0):
    """The same records, each display label replaced by random text."""
    rng = random.Random(seed)
    return [dict(r, method="".join(rng.choice("abcxyz +-()0123456789") for _ in range(24))) for r in records]


def summary(records):
    """What the summary figure shows: each bar's label, height, hatch and colour, and the reference marks."""
    import matplotlib.pyplot as plt

    fig = report.summary_figure(records)
    ax = fig.axes[0]
    bars = [(tick.get_text(), bar.get_height(), bar.get_hatch(), bar.get_facecolor())
            for tick, bar in zip(ax.get_xticklabels(), ax.patches)]
    marks = [(tuple(line.get_xdata()), tuple(line.get_ydata())) for line in ax.lines]
    plt.close(fig)
    return bars, marks


def test_rewording_every_label_changes_no_verdict_and_no_summary_bar():
    records = every_lesson_s_records()
    verdicts = lessons.judge(records)
    assert {v.verdict for v in verdicts} == {lessons.SEEN}, [v for v in verdicts if v.verdict != lessons.SEEN]
    bars, marks = summary(records)
    assert len(bars) == 7 and len(marks) == 3  # every bar; reference marks on 01, 02 and VGG19
    for seed in range(3):
        other = reworded(records, seed)
        assert {r["method"] for r in other}.isdisjoint(r["method"] for r in records)
        assert lessons.judge(other) == verdicts
        assert summary(other) == (bars, marks)


def test_records_of_an_older_version_are_matched_by_nothing_and_break_nothing():
    """Records written before keys existed: their split sizes as text, no key, network or pretrained."""
    older = [{k: v for k, v in r.items() if k not in ("key", "network", "pretrained", "dataset")}
             | {"split": "2000 / 500 / 500"} for r in every_lesson_s_records()]
    assert {v.verdict for v in lessons.judge(older)} == {lessons.NOT_RUN}
    assert report.summary_figure(older) is None
    assert all(results.table_row(r) for r in older)  # the report still lists them


def test_show_names_the_table_a_notebook_without_a_lesson_needs(tmp_path):
    from conftest import new_session

    with pytest.raises(ValueError, match="08_new has no lesson to judge: add its rule to course_utils/lessons.py's "
                                         "LESSONS"):
        lessons.show(new_session(tmp_path, notebook="08_new"))
