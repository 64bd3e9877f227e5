"""What each lesson sets out to show, and whether a run showed it.

Every lesson notebook (01-07) ends with `show(cfg)`, which reads the results the
course recorded in this profile and prints the lesson's effect in words and
numbers with a plain verdict: *seen*, *not seen* (with the likely reason the
numbers support) or *not run*. The report's lessons table is `judge` over one
run's records, so the notebook and the report cannot disagree.

An accuracy difference counts as an effect only when it exceeds one standard
error of a test accuracy near 50 %, 0.5/sqrt(n) for n test images (2.2 points
for 500 images, 12.5 for 16): smaller differences are within what another
subset or seed moves.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

from .config import is_rehearsal
from .results import FROM_SCRATCH, load_results

SEEN, NOT_SEEN, NOT_RUN = "seen", "not seen", "not run"
GAP = 0.05  # a training-validation gap of 5 points or more at the last epoch is overfitting


class Verdict(NamedTuple):
    """One lesson's outcome in one run."""

    notebook: str
    lesson: str
    expected: str
    measured: str
    verdict: str
    reason: str
    weights: str


def _find(records: list[dict[str, Any]], notebook: str, test: Callable[[str], bool],
          metric: str = "test_accuracy") -> dict[str, Any] | None:
    """The newest record of `notebook` and `metric` whose method passes `test`."""
    found = [r for r in records if r["notebook"] == notebook and r["metric"] == metric and test(r["method"])]
    return found[-1] if found else None


def _test_images(record: dict[str, Any]) -> int | None:
    """The test split's size, from the record's "train / validation / test" sizes."""
    try:
        return int(str(record.get("split", "")).split("/")[-1])
    except ValueError:
        return None


def noise(record: dict[str, Any]) -> float:
    """One standard error of a test accuracy near 50 % on this record's test split."""
    n = _test_images(record)
    return 0.5 / math.sqrt(n) if n else 0.05


def _why(record: dict[str, Any]) -> list[str]:
    """The likely reasons, that the record supports, why an effect did not show."""
    reasons = []
    details = record.get("details") or {}
    epochs, best, run = details.get("epochs"), details.get("best_epoch"), details.get("epochs_run")
    if run is not None and run < 10:
        reasons.append(f"only {run} epoch(s) of this training in the {record['profile']} profile")
    elif epochs and best and best > 0.9 * epochs:
        reasons.append(f"validation accuracy still rising at the end (best epoch {best} of {epochs}): "
                       "too few epochs in this profile")
    train = str(record.get("split", "")).split("/")[0].strip()
    if train.isdigit() and int(train) < 500:
        reasons.append(f"a small subset ({train} training images)")
    pretrained, weights = record["weights"] != FROM_SCRATCH, record["weights"].lower()
    if pretrained and "stand-in" in weights:
        reasons.append("the weights are a stand-in, not ImageNet: features learned for another task")
    elif pretrained and weights.startswith("none"):
        reasons.append("the pretrained weights are switched off (random initialisation)")
    return reasons or ["the difference is within the noise of one run"]


def _points(a: float, b: float) -> str:
    return f"{100 * (a - b):+.1f} points"


def _compare(notebook: str, lesson: str, expected: str, ours, theirs, what: str) -> Verdict:
    """A lesson whose effect is `ours` beating `theirs` (both records) by more than the noise."""
    if ours is None:
        return Verdict(notebook, lesson, expected, "no result", NOT_RUN, "the notebook has not recorded one", "")
    if theirs is None:
        return Verdict(notebook, lesson, expected, f"test accuracy {ours['value']:.3f}; {what}: no result",
                       NOT_RUN, f"{what} was not run in this profile", ours["weights"])
    gain, margin = ours["value"] - theirs["value"], noise(ours)
    measured = (f"test accuracy {ours['value']:.3f} against {theirs['value']:.3f} for {what} "
                f"({_points(ours['value'], theirs['value'])}; noise ±{100 * margin:.1f})")
    if gain > margin:
        return Verdict(notebook, lesson, expected, measured, SEEN, "", ours["weights"])
    return Verdict(notebook, lesson, expected, measured, NOT_SEEN, "; ".join(_why(ours)), ours["weights"])


def _scratch(records):
    lesson = "a small CNN learns from 2,000 images, then overfits"
    expected = (f"test accuracy above chance (50 %) by more than the noise, and a training-validation gap of "
                f"{100 * GAP:.0f} points or more at the last epoch")
    ours = _find(records, "01_scratch_cnn_baseline", lambda m: m == "small CNN from scratch")
    if ours is None:
        return Verdict("01_scratch_cnn_baseline", lesson, expected, "no result", NOT_RUN, "notebook not run", "")
    gap = (ours.get("details") or {}).get("last_gap")
    measured = f"test accuracy {ours['value']:.3f} (noise ±{100 * noise(ours):.1f} points)"
    measured += f"; last-epoch gap {100 * gap:+.1f} points" if gap is not None else "; gap not recorded"
    learned = ours["value"] - 0.5 > noise(ours)
    overfit = gap is not None and gap >= GAP
    if learned and overfit:
        return Verdict("01_scratch_cnn_baseline", lesson, expected, measured, SEEN, "", ours["weights"])
    missing = [] if learned else ["not clearly above chance"]
    missing += [] if overfit else ["no overfitting gap yet"]
    return Verdict("01_scratch_cnn_baseline", lesson, expected, measured, NOT_SEEN,
                   ", ".join(missing) + ": " + "; ".join(_why(ours)), ours["weights"])


def _augmentation(records):
    notebook = "02_data_augmentation"
    lesson = "augmentation and dropout reduce overfitting and beat the baseline"
    expected = "test accuracy above notebook 01's by more than the noise, with a smaller training-validation gap"
    ours = _find(records, notebook, lambda m: m.startswith("small CNN + augmentation"))
    theirs = _find(records, "01_scratch_cnn_baseline", lambda m: m == "small CNN from scratch")
    verdict = _compare(notebook, lesson, expected, ours, theirs, "notebook 01")
    if verdict.verdict == NOT_RUN:
        return verdict
    gaps = [(r.get("details") or {}).get("last_gap") for r in (ours, theirs)]
    if None in gaps:
        return verdict
    measured = verdict.measured + f"; last-epoch gap {100 * gaps[0]:+.1f} against {100 * gaps[1]:+.1f} points"
    if verdict.verdict == SEEN and gaps[0] >= gaps[1]:
        return verdict._replace(measured=measured, verdict=NOT_SEEN, reason="the gap did not shrink")
    return verdict._replace(measured=measured)


def _pretrained_against_random(notebook: str, lesson: str, method: str):
    expected = "pretrained features beat the same classifier on features of the same network with random weights"

    def judge(records):
        # The random-weight record names its network ("vgg16 random-weight ..."): the pretrained result of the
        # same network is the one to compare (notebook 03 may also record another base's in the full profile).
        theirs = _find(records, notebook, lambda m: m.endswith(method) and "random-weight" in m)
        network = theirs["method"].split()[0] if theirs else ""
        ours = _find(records, notebook, lambda m: m.endswith(method) and "random-weight" not in m
                     and m.startswith(network))
        return _compare(notebook, lesson, expected, ours, theirs, "random weights")
    return judge


def _fine_tuning(records):
    notebook = "05_unfreezing_block5"
    return _compare(notebook, "unfreezing block 5 after training the head improves on the head alone",
                    "phase 2 (block 5 fine-tuned) beats phase 1 (head on the frozen base) by more than the noise",
                    _find(records, notebook, lambda m: "phase 2" in m), _find(records, notebook, lambda m: "phase 1" in m),
                    "phase 1")


def _hub(records):
    notebook = "06_tfhub_mobilenet_cifar10"
    return _compare(notebook, "pretrained features beat a CNN trained from scratch on the same CIFAR-10 subset",
                    "the hub features' softmax head beats the scratch CNN by more than the noise",
                    _find(records, notebook, lambda m: m == "hub features + softmax head (frozen)"),
                    _find(records, notebook, lambda m: m.startswith("small CNN from scratch")), "the scratch CNN")


def _filters(records):
    notebook = "07_visualizing_filters_and_activations"
    lesson = "deeper filters are more selective: fewer of them switch on from a grey, noisy start"
    expected = "the share of filters that switch on falls from block 2 to block 5"
    shares = {r["method"]: r for r in records if r["notebook"] == notebook and r["metric"] == "filters_switched_on"}
    if not shares:
        return Verdict(notebook, lesson, expected, "no result", NOT_RUN, "notebook not run", "")
    ordered = sorted(shares.values(), key=lambda r: r["method"])
    measured = ", ".join(f"{r['method'].split('_')[0]} {r['value']:.0%}" for r in ordered) + " switched on"
    first, last = ordered[0], ordered[-1]
    if last["value"] < first["value"]:
        return Verdict(notebook, lesson, expected, measured, SEEN, "", last["weights"])
    return Verdict(notebook, lesson, expected, measured, NOT_SEEN,
                   "; ".join(_why(last)), last["weights"])


LESSONS = {
    "01_scratch_cnn_baseline": _scratch,
    "02_data_augmentation": _augmentation,
    "03_vgg_feature_extraction": _pretrained_against_random(
        "03_vgg_feature_extraction", "a frozen pretrained base gives features a small classifier separates",
        "features + dense head"),
    "04_head_swap": _pretrained_against_random(
        "04_head_swap", "a new head on a pretrained base learns 17 flower classes", "base + new head (17 flowers)"),
    "05_unfreezing_block5": _fine_tuning,
    "06_tfhub_mobilenet_cifar10": _hub,
    "07_visualizing_filters_and_activations": _filters,
}


def judge(records: list[dict[str, Any]]) -> list[Verdict]:
    """Every lesson's verdict from these records (one run's, or one profile's)."""
    return [rule(records) for rule in LESSONS.values()]


def show(cfg: dict[str, Any]) -> Verdict:
    """Print what this notebook's lesson showed in this run, from the results recorded in
    this profile (this notebook's newest, and the earlier notebooks' it compares with)."""
    records = [r for r in load_results(cfg["build_dir"]) if r["profile"] == cfg["profile"]]
    verdict = LESSONS[cfg["notebook"]](records)
    print(f"What this run showed ({cfg['profile']} profile)\n" +
          ("  REHEARSAL   training and data passes were capped to a few steps: the lines below show that "
           "the code runs, they are no verdict\n" if is_rehearsal(cfg["profile"]) else "") +
          f"  lesson    {verdict.lesson}\n  expected  {verdict.expected}\n  measured  {verdict.measured}\n"
          f"  verdict   {verdict.verdict.upper()}" + (f": {verdict.reason}" if verdict.reason else ""))
    if verdict.weights:
        print(f"  weights   {verdict.weights}")
    return verdict
