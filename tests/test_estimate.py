"""course_utils.estimate: the probe file's faults, the estimates' arithmetic and the banner's line."""

import datetime
import json

import keras
import pytest
import tensorflow as tf

from course_utils import config, estimate, session

DEVICE = "CPU (test, 2 cores)"


def probe(cnn=1e9, vgg=4e9, device=DEVICE, measured="2026-12-07T12:00:00+00:00", full=(2e9, 8e9)):
    """A probe as `measure` writes it, with these multiply-adds a second."""
    def part(small, big):
        return {"small_cnn": {"size": 64, "images_per_second": 10.0, "macs_per_second": small},
                "vgg16": {"size": 96, "images_per_second": 1.0, "macs_per_second": big}}
    return {"format": estimate.PROBE_FORMAT, "measured": measured, "device": device, "tensorflow": tf.__version__,
            "keras": keras.__version__, "load_average": 0.5, "seconds": 12.0,
            "rates": {"quick": part(cnn, vgg), "full": part(*full)}}


TIMINGS = {"quick": {"measured": "2026-11-30", "machine": "x86_64, 2 cores", "by": "test",
                     "seconds": {"00_start_here": 10, "01_scratch_cnn_baseline": 100, "04_head_swap": 200},
                     "probe": probe(cnn=2e9, vgg=2e9)}}


def test_the_quick_estimate_scales_the_build_machine_s_time_by_the_probes_speed_ratio():
    here = probe(cnn=1e9, vgg=4e9)  # small CNN: half the build machine's speed; VGG16: twice it
    assert estimate.quick_estimate("01_scratch_cnn_baseline", here, TIMINGS) == pytest.approx(200)
    assert estimate.quick_estimate("04_head_swap", here, TIMINGS) == pytest.approx(100)
    assert estimate.quick_estimate("00_start_here", here, TIMINGS) == pytest.approx(10 * (2 + 0.5) / 2)  # the mean
    assert estimate.quick_estimate("02_data_augmentation", here, TIMINGS) is None  # not measured there
    without = {"quick": {k: v for k, v in TIMINGS["quick"].items() if k != "probe"}}
    assert estimate.quick_estimate("01_scratch_cnn_baseline", here, without) is None


def test_the_work_is_counted_from_the_profile_s_settings():
    settings = config.profile_settings("01_scratch_cnn_baseline", "quick")
    assert estimate.split_sizes("cats_vs_dogs", settings) == {"train": 2000, "val": 500, "test": 500}
    assert estimate.split_sizes("cats_vs_dogs", {"train_per_class": 24, "val_per_class": 8, "test_per_class": None}) \
        == {"train": 48, "val": 16, "test": 500}
    epochs = settings["epochs"]
    assert estimate.work("01_scratch_cnn_baseline", settings) == [
        estimate.Pass("small_cnn", 64, epochs * 2000, 3), estimate.Pass("small_cnn", 64, epochs * 500 + 2 * 500)]
    assert estimate.work("00_start_here", config.profile_settings("00_start_here", "full")) == []
    for notebook in config.PROFILES["full"]:
        if notebook != "*":
            for profile in ("smoke", "quick", "full"):  # every notebook's settings have what its count reads
                estimate.work(notebook, config.profile_settings(notebook, profile))


def test_the_counted_estimate_divides_the_multiply_adds_by_the_probe_s_speed():
    settings = config.profile_settings("01_scratch_cnn_baseline", "full")
    epochs = settings["epochs"]
    macs = lambda network, size: 1e6  # noqa: E731  (one million multiply-adds an image, any network)
    expected = (epochs * 2000 * 3 + epochs * 500 + 1000) * 1e6 / 2e9  # at the full sizes' 2e9 a second
    assert estimate.full_estimate("01_scratch_cnn_baseline", probe(), settings, TIMINGS, macs) == pytest.approx(expected)
    # 00 runs no network: its full estimate is its quick one.
    assert estimate.full_estimate("00_start_here", probe(), {}, TIMINGS, macs) == \
        estimate.quick_estimate("00_start_here", probe(), TIMINGS)


def test_count_macs_counts_convolutions_and_dense_layers():
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), keras.layers.Flatten(),
                              keras.layers.Dense(2)])
    assert estimate.count_macs(model) == 6 * 6 * 27 * 4 + 144 * 2
    assert estimate.network_macs("vgg16", 224) == pytest.approx(15.35e9, rel=0.01)  # as the VGG paper's count


@pytest.mark.parametrize("fault, problem", [
    (lambda p: p.pop("rates"), "it is damaged"),
    (lambda p: p.update(device="GPU x1"), "it was measured on another device (GPU x1)"),
    (lambda p: p.update(tensorflow="2.0.0"), "it was measured with TensorFlow 2.0.0"),
    (lambda p: p.update(measured="2020-01-01T00:00:00+00:00"), f"it is older than {estimate.MAX_AGE_DAYS} days"),
    (lambda p: p.update(format=0), "it is of another format"),
])
def test_a_probe_that_cannot_stand_for_this_machine_says_why(fault, problem):
    now = datetime.datetime(2026, 12, 8, tzinfo=datetime.timezone.utc)
    good = probe()
    assert estimate.probe_problem(good, DEVICE, tf.__version__, now) is None
    fault(good)
    assert estimate.probe_problem(good, DEVICE, tf.__version__, now) == problem


def test_a_missing_or_damaged_probe_file_is_none(tmp_path):
    path = tmp_path / "machine-probe.json"
    assert estimate.read_probe(path, DEVICE, tf.__version__) == (None, "none measured yet")
    path.write_text('{"format": 1, "meas')  # cut off mid-write by an older version
    assert estimate.read_probe(path, DEVICE, tf.__version__) == (None, "it is damaged")


@pytest.mark.parametrize("kept", ["damaged", "other device", "good"])
def test_ensure_probe_measures_again_unless_the_kept_probe_stands_for_this_machine(tmp_path, monkeypatch, capsys, kept):
    fresh = probe(measured=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    monkeypatch.setattr(estimate, "device_label", lambda: DEVICE)
    monkeypatch.setattr(estimate, "measure", lambda: {**fresh, "seconds": 1.0})
    path = estimate.probe_path(tmp_path)
    old = {"damaged": "{", "other device": json.dumps({**fresh, "device": "GPU x1"}), "good": json.dumps(fresh)}[kept]
    path.write_text(old)
    got = estimate.ensure_probe(tmp_path)
    if kept == "good":
        assert got == fresh and capsys.readouterr().out == ""
    else:
        assert got["seconds"] == 1.0 and json.loads(path.read_text()) == got
        said = capsys.readouterr().out
        assert "Measuring this machine" in said and ("damaged" in said if kept == "damaged" else "another device" in said)


def test_the_banner_line_says_the_estimate_how_it_was_made_or_that_none_is_measured():
    line = estimate.banner_line("01_scratch_cnn_baseline", probe(), None, TIMINGS)
    assert line.startswith("estimate for this notebook on this machine: about 3.3 min (quick), measured 2026-12-07; how: ")
    assert "\n" not in line
    none = estimate.banner_line("01_scratch_cnn_baseline", None, "none measured yet", TIMINGS)
    assert none.startswith("no estimate for this machine (none measured yet): notebook 00 measures it")


def test_setup_s_banner_reads_the_kept_probe_and_never_measures(data_home, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("COURSE_BUILD_DIR", str(tmp_path))
    monkeypatch.setattr(estimate, "measure", lambda: pytest.fail("setup() measured"))
    session.setup("01_scratch_cnn_baseline")
    assert "  estimate    no estimate for this machine (none measured yet)" in capsys.readouterr().out
    kept = probe(device=estimate.device_label(),
                 measured=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    estimate.probe_path(tmp_path).write_text(json.dumps(kept))
    session.setup("01_scratch_cnn_baseline")
    assert "  estimate    estimate for this notebook on this machine: about " in capsys.readouterr().out


def test_the_table_labels_estimates_says_how_and_uses_the_probe_s_kept_counts(monkeypatch):
    monkeypatch.setattr(estimate, "network_macs", lambda network, size: pytest.fail(f"counted {network} again"))
    kept = {**probe(), "macs": {key: 1e9 for key in ("small_cnn@150", "vgg16@224", "vgg16_block4@224",
                                                     "vgg16_block5@224", "inception_v3@96")}}
    lines = estimate.table(kept, TIMINGS)
    assert lines[0].startswith(f"Estimates, not measurements, for this machine ({DEVICE})")
    assert [line.split()[0] for line in lines[2:5]] == list(TIMINGS["quick"]["seconds"])
    assert lines[-2].startswith("quick: " + estimate.HOW_QUICK) and lines[-1].startswith("full: " + estimate.HOW_FULL)
