"""course_utils.compat: the supported TensorFlow/Keras range and what differs across it."""

import keras
import pytest

from course_utils import compat, config, session


def test_keras_2_era_tensorflow_is_one_clear_error():
    with pytest.raises(compat.VersionError) as error:
        compat.check_versions("2.15.1", "2.15.0")
    message = str(error.value)
    assert "TensorFlow 2.15.1 with Keras 2.15.0" in message and f"TensorFlow {compat.TESTED[0]} to" in message


def test_an_old_keras_beside_a_supported_tensorflow_is_refused():
    with pytest.raises(compat.VersionError, match="Keras 3.2.1"):
        compat.check_versions("2.17.1", "3.2.1")


def test_the_tested_range_runs_quietly_and_newer_runs_with_a_warning():
    assert compat.check_versions(f"{compat.TESTED[0]}.1", compat.OLDEST_KERAS) == []
    assert compat.check_versions(f"{compat.TESTED[1]}.0", "3.15.1") == []
    [warning] = compat.check_versions("2.99.0rc1", "3.99.0")
    assert "2.99.0rc1 is newer than the newest tested" in warning


def test_setup_refuses_a_keras_2_environment(monkeypatch, data_home):
    monkeypatch.setattr(keras, "__version__", "2.15.0")
    with pytest.raises(compat.VersionError, match="Keras 2.15.0"):
        session.setup("00_start_here", profile="smoke")


def test_random_shear_falls_back_to_identity_on_keras_without_it(monkeypatch):
    assert type(compat.random_shear(0.2)).__name__ == ("RandomShear" if hasattr(keras.layers, "RandomShear")
                                                      else "Identity")
    monkeypatch.delattr(keras.layers, "RandomShear", raising=False)
    assert isinstance(compat.random_shear(0.2), keras.layers.Identity)
    assert "no RandomShear" in compat.compatibility_notes()[0]


def test_banner_says_which_profile_and_why(monkeypatch, data_home, capsys):
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    monkeypatch.setattr(config, "_gpu_visible", lambda: True)
    assert config.choose_profile() == ("full", "TensorFlow sees a GPU")
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    session.setup("00_start_here", profile="quick")
    assert "profile     quick  (chosen in setup()" in capsys.readouterr().out
