"""course_utils.config: profiles and folders."""

import pytest

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
