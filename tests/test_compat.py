"""course_utils.compat: the supported TensorFlow/Keras range and what differs across it."""

import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import pytest
import tensorflow as tf
from packaging.specifiers import SpecifierSet

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


def test_python_range_old_is_refused_new_is_a_banner_warning():
    assert compat.check_python((3, 10, 13)) == [] and compat.check_python((3, 13, 0)) == []
    for too_old in ((3, 9, 18), (3, 10, 11), (3, 11, 3)):  # no tarfile `filter=` before 3.10.12 / 3.11.4
        with pytest.raises(compat.VersionError, match="3.10.12 or newer"):
            compat.check_python(too_old)
    [warning] = compat.check_python((3, 14, 0))
    assert "Python 3.14 is newer than the newest tested (3.13)" in warning


def test_package_metadata_admits_every_tested_python_and_no_upper_cap():
    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    spec = SpecifierSet(re.search(r'^requires-python = "([^"]+)"', text, re.MULTILINE).group(1))
    assert all(v in spec for v in ("3.10.12", "3.11.4", "3.12.0", "3.13.0", "3.14.0", "3.20.0"))
    assert not any(v in spec for v in ("3.9.18", "3.10.11", "3.11.3"))


# A fresh virtual environment on Python 3.12+ has no setuptools, and setuptools 82 and newer no
# longer ship `pkg_resources`; tensorflow_hub 0.16.1 imports it. `None` in sys.modules makes
# `import pkg_resources` fail in the child as it does there (.ci/run also runs these tests in a
# venv with no setuptools, and again with the newest setuptools).
WITHOUT_PKG_RESOURCES = """
import pathlib, sys
sys.modules["pkg_resources"] = None
import course_utils
for notebook in sorted(pathlib.Path(sys.argv[1]).glob("[0-9][0-9]_*.ipynb")):
    course_utils.setup(notebook.stem, profile="smoke")
assert "tensorflow_hub" not in sys.modules, "setup() imported tensorflow_hub"
from course_utils import compat
hub = compat.import_tensorflow_hub()
assert callable(hub.resolve) and sys.modules.get("pkg_resources") is None
print("every notebook set up, then tensorflow_hub imported without pkg_resources")
"""


def test_every_notebook_sets_up_without_pkg_resources(data_home):
    notebooks = Path(__file__).parents[1] / "notebooks"
    done = subprocess.run([sys.executable, "-c", WITHOUT_PKG_RESOURCES, str(notebooks)],
                          capture_output=True, text=True, env={**os.environ, "COURSE_WEIGHTS_VGG16": "none"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "tensorflow_hub imported without pkg_resources" in done.stdout
    assert done.stdout.count("Transfer learning with Keras: ") == len(list(notebooks.glob("[0-9][0-9]_*.ipynb")))


def test_without_tensorflow_hub_only_its_download_stops_naming_the_fix(monkeypatch, data_home, capsys):
    monkeypatch.setitem(sys.modules, "tensorflow_hub", None)  # not installed, or broken
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    session.setup("06_tfhub_mobilenet_cifar10", profile="smoke")
    assert "TF-Hub MobileNetV2" in capsys.readouterr().out
    from course_utils import hub, networks

    with pytest.raises(compat.HubUnavailable) as error:
        hub.feature_layer(networks.NETWORKS[hub.HUB_NETWORK].source)
    assert "TensorFlow Hub cannot be imported here" in str(error.value)
    assert "pip install tensorflow-hub" in str(error.value) and f"tensorflow=={tf.__version__}" in str(error.value)


NOISY_IMPORT = '''import os
os.write(2, ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n"
             "I0000 00:00:1795994839.850542   27036 port.cc:153] oneDNN custom operations are on.\\n"
             "E0000 00:00:1795994841.164518   27036 cuda_platform.cc:52] failed call to cuInit: CUDA error\\n"
             "a line of its own\\n").encode())
'''
NOTICE, INFO, ERROR, OWN = "absl::InitializeLog", "oneDNN custom", "failed call to cuInit", "a line of its own"


@pytest.mark.parametrize("level, shown", [("3", [OWN]), ("2", [ERROR, OWN]), ("0", [NOTICE, INFO, ERROR, OWN])])
def test_native_start_up_lines_are_held_to_the_log_level(tmp_path, monkeypatch, capfd, level, shown):
    # A module that writes, as TensorFlow does while it loads, straight to file descriptor 2.
    name = f"noisy_native_{level}"
    (tmp_path / f"{name}.py").write_text(NOISY_IMPORT)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", level)
    compat.import_quietly(name)
    err = capfd.readouterr().err
    assert [line for line in (NOTICE, INFO, ERROR, OWN) if line in err] == shown


def test_a_failing_import_shows_everything_it_wrote(tmp_path, monkeypatch, capfd):
    (tmp_path / "noisy_broken.py").write_text(NOISY_IMPORT + "raise ImportError('broken library')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    with pytest.raises(ImportError, match="broken library"):
        compat.import_quietly("noisy_broken")
    err = capfd.readouterr().err
    assert all(line in err for line in (NOTICE, INFO, ERROR, OWN))


def test_the_notebook_session_starts_tensorflow_without_a_word_on_stderr():
    # The real thing: what setup() imports, and the device query that logs cuInit's error without a GPU.
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    code = "import course_utils.session as s; s.tf.config.list_physical_devices('GPU')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stderr == "", done.stderr[-2000:]
