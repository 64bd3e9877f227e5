"""course_utils.session: setup(), the call that opens every notebook."""

import json
import random
from pathlib import Path

import numpy as np
import pytest

import course_utils
from course_utils import config, session


def test_setup_seeds_and_returns_the_session(data_home, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    opened = session.setup("00_start_here", seed=3)
    draws = (random.random(), np.random.rand())
    session.setup("00_start_here", seed=3)
    assert (random.random(), np.random.rand()) == draws
    banner = capsys.readouterr().out
    assert "profile     smoke" in banner and "vgg16: none (random initialisation)" in banner
    assert isinstance(opened, course_utils.Session) and opened.notebook == "00_start_here" and opened.seed == 3
    assert opened.profile == "smoke" and opened.data_dir == data_home
    assert opened.batch_size == config.PROFILES["smoke"]["*"]["batch_size"]
    assert dict(opened.settings) == config.profile_settings("00_start_here", "smoke")
    assert opened.weights["vgg16"] == "none (random initialisation)"


def test_the_session_s_settings_and_identity_are_read_only_and_say_where_they_come_from(data_home, monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    opened = session.setup("05_unfreezing_block5")
    for name in ("head_epochs", "profile", "seed", "weights"):
        with pytest.raises(course_utils.SettingError, match=rf"^session.{name} cannot be changed: the settings come "
                                                            r"from PROFILES in course_utils/config.py, .*COURSE_PROFILE"):
            setattr(opened, name, 99)
    with pytest.raises(AttributeError):  # also an AttributeError, as for any attribute that cannot be set
        del opened.head_epochs
    with pytest.raises(TypeError):
        opened.settings["head_epochs"] = 99  # the mapping is read-only too
    with pytest.raises(TypeError):
        opened.weights["vgg16"] = "mine"
    assert opened.head_epochs == config.PROFILES["smoke"]["05_unfreezing_block5"]["head_epochs"]
    with pytest.raises(AttributeError, match=r"05_unfreezing_block5 has no setting 'epochs' in the smoke profile; its "
                                             r"settings: image_size, batch_size"):
        opened.epochs
    # What the results come from is stated by the notebook's own call to using(), never by a loader.
    with pytest.raises(ValueError, match="say what the results come from first"):
        opened.source


def test_a_seed_that_is_not_a_number_names_the_variable_and_range(data_home, monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    for value in ("abc", "-1", "4294967296"):
        monkeypatch.setenv("COURSE_SEED", value)
        with pytest.raises(course_utils.CourseError, match=rf"COURSE_SEED='{value}'.*from 0 to 4294967295"):
            session.setup("01_scratch_cnn_baseline")
    monkeypatch.setenv("COURSE_SEED", " 7 ")
    assert session.setup("01_scratch_cnn_baseline").seed == 7


def test_missing_weights_file_is_a_banner_warning_not_a_failure(data_home, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", str(tmp_path / "gone.weights.h5"))
    opened = session.setup("00_start_here")  # notebooks 00-02 use no pretrained weights: they run
    banner = capsys.readouterr().out
    assert "  weights     vgg16: NOT USABLE: COURSE_WEIGHTS_VGG16=" in banner and "gone.weights.h5': no such file" in banner
    assert "  warning     vgg16's weights cannot be used" in banner
    assert opened.weights["vgg16"].startswith("NOT USABLE")


def test_time_plan_covers_every_notebook_and_says_full_is_not_measured(capsys):
    times = json.loads(session.TIMINGS.read_text())
    notebooks = sorted(p.stem for p in (Path(__file__).parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(times["quick"]["seconds"]) == notebooks  # a new notebook needs its time measured
    session.time_plan(config.Settings({}, notebook="00_start_here", profile="quick", device="CPU"))
    out = capsys.readouterr().out
    assert f"{sum(times['quick']['seconds'].values()) / 60:5.1f} min" in out and times["quick"]["machine"] in out
    assert "full: not measured" in out
    for notebook, change in times["quick"].get("changed_since", {}).items():  # a notebook changed since: said so
        assert notebook in times["quick"]["seconds"] and f"before {change}" in out and "before those changes" in out


def test_a_seed_of_non_ascii_digits_is_refused_by_name_not_a_raw_value_error(data_home, monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    for value in ("²", "٣"):  # str.isdigit() accepts both; int() refuses the first
        monkeypatch.setenv("COURSE_SEED", value)
        with pytest.raises(course_utils.SettingError, match=rf"COURSE_SEED='{value}' is not a seed: .*from 0 to"):
            session.setup("01_scratch_cnn_baseline")


def test_determinism_takes_the_usual_spellings_and_refuses_others_by_name(monkeypatch):
    from tensorflow.python.framework import config as tf_config

    try:
        for value in ("true", "Yes", " ON ", "1"):
            monkeypatch.setenv("COURSE_DETERMINISTIC", value)
            tf_config.disable_op_determinism()
            [line] = session.deterministic_ops()
            assert tf_config.is_op_determinism_enabled() and f"(COURSE_DETERMINISTIC={value.strip()})" in line
    finally:
        tf_config.disable_op_determinism()  # the other tests run without it
    for value in ("false", "No", "off", "0", ""):
        monkeypatch.setenv("COURSE_DETERMINISTIC", value)
        assert session.deterministic_ops() == [] and not tf_config.is_op_determinism_enabled()
    for value in ("maybe", "2", "ja"):
        monkeypatch.setenv("COURSE_DETERMINISTIC", value)
        with pytest.raises(course_utils.SettingError) as refused:
            session.deterministic_ops()
        assert str(refused.value).startswith(f"COURSE_DETERMINISTIC='{value}' is neither yes nor no: use 1, true, "
                                             "yes, on to turn it on, or 0, false, no, off (or unset it)")
        assert not tf_config.is_op_determinism_enabled()


def test_the_banner_prints_this_notebooks_measured_time_and_what_is_not_measured(data_home, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    quick = json.loads(session.TIMINGS.read_text())["quick"]
    session.setup("05_unfreezing_block5")
    banner = capsys.readouterr().out
    minutes = quick["seconds"]["05_unfreezing_block5"] / 60
    assert f"  time        quick {minutes:.1f} min for this notebook, measured {quick['measured']} on {quick['machine']}" in banner
    assert "  time        full  not measured (no GPU on the course's build machine)" in banner


def test_a_notebook_missing_from_the_timings_is_said_not_measured_not_a_key_error(monkeypatch, tmp_path):
    times = json.loads(session.TIMINGS.read_text())
    del times["quick"]["seconds"]["05_unfreezing_block5"]
    (tmp_path / "timings.json").write_text(json.dumps(times))
    monkeypatch.setattr(session, "TIMINGS", tmp_path / "timings.json")
    quick, full, smoke = session.notebook_time("05_unfreezing_block5")
    assert quick == "quick this notebook not measured yet (benchmarks/lessons.py --save-times)"
    assert full.startswith("full  not measured") and smoke.startswith("smoke")
