"""course_utils.config: profiles and folders."""

import pytest

import course_utils
from course_utils import config


def test_unknown_profile_lists_the_valid_ones(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    with pytest.raises(config.ProfileError, match="unknown profile 'fast': choose one of smoke, quick, full"):
        config.resolve_profile()


def test_profile_from_argument_then_environment_then_device(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "Smoke ")
    assert config.resolve_profile() == "smoke"
    assert config.resolve_profile("full") == "full"
    monkeypatch.delenv("COURSE_PROFILE")
    monkeypatch.setattr(config, "_gpu_visible", lambda: False)
    assert config.resolve_profile() == "quick"
    monkeypatch.setattr(config, "_gpu_visible", lambda: True)
    assert config.resolve_profile() == "full"


def test_every_profile_defines_the_same_settings():
    """A setting missing from one profile would only fail when that profile runs."""
    profiles = list(config.PROFILES.values())
    notebooks = set().union(*profiles)
    for notebook in notebooks:
        keys = [frozenset(table.get(notebook, {})) for table in profiles]
        assert len(set(keys)) == 1, (notebook, keys)


def test_notebook_settings_override_the_defaults(monkeypatch):
    monkeypatch.setitem(config.PROFILES["smoke"], "99_test", {"epochs": 7})
    settings = config.profile_settings("99_test", "smoke")
    assert settings["epochs"] == 7
    assert settings["batch_size"] == config.PROFILES["smoke"]["*"]["batch_size"]


def test_build_dir_defaults_to_the_checkout(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_BUILD_DIR", raising=False)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "pyproject.toml").touch()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert config.build_dir() == tmp_path / "build"


def test_every_user_fixable_error_shares_one_base():
    from course_utils import data, pretrained, runner

    from course_utils import compat

    for error in (compat.VersionError, data.DataError, data.DataNotAvailable, data.ChecksumError, config.ProfileError,
                  pretrained.WeightsError, runner.NotebookFailed, course_utils.SettingError):
        assert issubclass(error, course_utils.CourseError), error


def test_artifact_path_keys_models_and_features_by_profile(tmp_path):
    assert (config.artifact_path(tmp_path, "models", "m.keras", key="vgg16-ab", profile="quick")
            == tmp_path / "models/quick/vgg16-ab/m.keras")
    settings = config.Settings({}, notebook="03_x", profile="quick", build_dir=tmp_path)  # a session's own
    assert settings.artifact_path("features", "f.npz") == tmp_path / "features/quick/f.npz"
    assert config.artifact_path(tmp_path, "figures", "a.png") == tmp_path / "report/figures/a.png"
    assert config.artifact_path(tmp_path, "results") == tmp_path / "results"
    with pytest.raises(ValueError, match="per profile"):
        config.artifact_path(tmp_path, "models", "m.keras")


def test_only_artifact_path_knows_the_layout_of_build():
    import re
    from pathlib import Path

    root = Path(config.__file__).resolve().parents[1]
    joins = re.compile(r'build_dir[^/\n]{0,6}/ |build / "|build / kind')
    places = [f"{path.name}:{n}" for path in [*root.glob("course_utils/*.py"), *root.glob("notebooks/*.ipynb")]
              for n, line in enumerate(path.read_text().splitlines(), 1) if joins.search(line)]
    assert len(places) == 1 and places[0].startswith("config.py:"), places


def test_a_rehearsal_keeps_the_full_configuration_and_caps_every_pass(monkeypatch):
    monkeypatch.setenv("COURSE_REHEARSAL", "yes")
    assert config.resolve_profile("full") == "full-rehearsal"
    full = config.profile_settings("04_head_swap", "full")  # without the switch: the real thing
    monkeypatch.delenv("COURSE_REHEARSAL")
    assert config.profile_settings("04_head_swap", "full")["head_epochs"] == 50
    assert full["image_size"] == 224 and full["batch_size"] == 32  # shapes as in full
    assert full["train_per_class"] == config.REHEARSAL_CAPS["per_class"]  # every image -> a few
    assert full["head_epochs"] == full["inception_epochs"] == config.REHEARSAL_CAPS["epochs"]
    rehearsed_03 = config.profile_settings("03_vgg_feature_extraction", "full-rehearsal")
    assert rehearsed_03["other_bases"] == ["vgg19"] and rehearsed_03["slow_images"] == 4  # full-only branch kept
    quick_06 = config.profile_settings("06_tfhub_mobilenet_cifar10", "quick-rehearsal")
    assert quick_06["fine_tune_epochs"] == 0  # a branch the profile skips stays skipped


def test_switches_take_the_usual_spellings_and_refuse_others(monkeypatch):
    for value, expected in (("1", True), ("TRUE", True), (" yes ", True), ("on", True),
                            ("0", False), ("no", False), ("False", False), ("", False)):
        monkeypatch.setenv("COURSE_REHEARSAL", value)
        assert config.flag_setting("COURSE_REHEARSAL") is expected, value
    monkeypatch.setenv("COURSE_REHEARSAL", "maybe")
    with pytest.raises(config.SettingError, match="COURSE_REHEARSAL='maybe' is neither yes nor no"):
        config.resolve_profile("full")


def test_a_rehearsal_builds_into_a_folder_of_its_own(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_BUILD_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert config.build_dir() == tmp_path / "build"
    monkeypatch.setenv("COURSE_REHEARSAL", "1")
    assert config.build_dir() == tmp_path / "build" / "rehearsal"


@pytest.mark.parametrize("profile", list(config.PROFILES))
def test_notebook_05_phase_one_trains_notebook_03s_head_at_03s_rate(profile):
    # Phase one is 03's dense head on 03's features: another rate would leave it under- or
    # over-trained against 03, and phase two, measured against it, would look better or worse.
    def rate(notebook):
        return config.profile_settings(notebook, profile)["head_learning_rate"]

    assert rate("05_unfreezing_block5") == rate("03_vgg_feature_extraction")
