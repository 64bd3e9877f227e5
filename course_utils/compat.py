"""The Python, TensorFlow and Keras versions the course supports, and what differs across them.

The course runs on the Keras 3 era of TensorFlow, tested at both ends of
`TESTED` (and of `TESTED_PYTHON`) by `.ci/run`; TensorFlow Hub is imported
only where it is needed, with or without `pkg_resources` (`import_tensorflow_hub`), and
TensorFlow itself with its C++ start-up lines held to `TF_CPP_MIN_LOG_LEVEL` (`import_tensorflow`).
Everything that differs between those versions is
handled here (or, for the TF-Hub layer, in `hub.HubFeatures`), so that no
notebook branches on a version.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
import tempfile
import types

from .errors import CourseError

# The oldest and the newest TensorFlow the tests run on (`.ci/run`, docs/learners.md "Supported versions").
TESTED = ("2.17", "2.21")
# The oldest and newest Python the tests run on (`.ci/run`: 3.10 for the oldest TensorFlow, 3.13 for
# Colab and the course's own environment). Before 3.10.12 (and 3.11.4), `tarfile` has no `filter=`
# argument, which the course's safe extraction of `.tgz` archives needs (`archives.extract`);
# `requires-python` in pyproject.toml refuses those versions too.
TESTED_PYTHON = ("3.10", "3.13")
SAFE_TARFILE = {(3, 10): 12, (3, 11): 4}  # first patch release of each minor version with `filter=`
# Keras 3 arrived with TensorFlow 2.16; before it `import keras` gives Keras 2, which the course
# does not use (its models, layers and saved files are Keras 3's).
OLDEST_KERAS = "3.4"


class VersionError(CourseError):
    """The installed TensorFlow or Keras is outside the range the course supports."""


def _minor(version: str) -> tuple[int, int]:
    """(major, minor) of a version string such as "2.21.0" or "2.22.0rc1"."""
    numbers = re.findall(r"\d+", version)[:2]
    return (int(numbers[0]), int(numbers[1]) if len(numbers) > 1 else 0)


def check_versions(tensorflow: str, keras: str) -> list[str]:
    """Check the installed versions against the supported range.

    Raises `VersionError` for a TensorFlow older than `TESTED[0]` or a Keras
    older than `OLDEST_KERAS` (one message naming what is installed and the
    range). Returns warnings for the banner (a TensorFlow newer than tested
    runs, with a one-line warning), possibly none.
    """
    installed = f"TensorFlow {tensorflow} with Keras {keras}"
    supported = (f"TensorFlow {TESTED[0]} to {TESTED[1]} with Keras {OLDEST_KERAS} or newer "
                 "(in Colab, the preinstalled versions)")
    if _minor(tensorflow) < _minor(TESTED[0]) or _minor(keras) < _minor(OLDEST_KERAS):
        raise VersionError(f"this environment has {installed}; the course needs {supported}. "
                           "Upgrade with `pip install --upgrade \"tensorflow>=2.17\" \"keras>=3.4\"`, "
                           "or create the course's own environment with `make install`")
    if _minor(tensorflow) > _minor(TESTED[1]):
        return [f"TensorFlow {tensorflow} is newer than the newest tested ({TESTED[1]}): "
                "it should work; if a notebook fails, please report it"]
    return []


def check_python(version: tuple[int, int, int]) -> list[str]:
    """Check a Python version (`sys.version_info[:3]`) against the supported range.

    Raises `VersionError` for one older than 3.10.12 (or a 3.11 before 3.11.4), whose
    `tarfile` cannot extract archives safely; returns a banner warning for one newer
    than `TESTED_PYTHON[1]`, possibly none.
    """
    major, minor, patch = version
    oldest = _minor(TESTED_PYTHON[0])
    if (major, minor) < oldest or patch < SAFE_TARFILE.get((major, minor), 0):
        raise VersionError(f"this is Python {major}.{minor}.{patch}; the course needs Python 3.10.12 or newer "
                           "(3.11.4 or newer in the 3.11 series: older ones cannot extract archives safely). "
                           f"Use a newer Python, e.g. `pyenv install 3.12` or a conda environment from environment.yml")
    if (major, minor) > _minor(TESTED_PYTHON[1]):
        return [f"Python {major}.{minor} is newer than the newest tested ({TESTED_PYTHON[1]}): "
                "it should work; if a notebook fails, please report it"]
    return []


# TensorFlow's C++ log lines: severity letter, date, time, thread, file:line] message
# ("I0000 00:00:1795994839.850542   27036 port.cc:153] ...": before absl is set up, date and
# time are zero and the seconds count from 1970).
NATIVE_LOG_LINE = re.compile(r"([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]]+\] ")
# absl's notice that the lines after it bypass the log settings (it precedes INFO lines).
ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def native_log_above_level(text: str, level: int) -> str:
    """The lines of `text` that `TF_CPP_MIN_LOG_LEVEL=level` keeps: a C++ log line of severity
    I, W, E or F (0 to 3) is dropped below `level`, and absl's notice counts as INFO. Every other
    line is kept, so that nothing else written meanwhile is lost."""
    def severity(line: str) -> int | None:
        header = NATIVE_LOG_LINE.match(line)
        return "IWEF".index(header.group(1)) if header else 0 if line.startswith(ABSL_NOTICE) else None

    return "".join(line for line in text.splitlines(keepends=True)
                   if severity(line) is None or severity(line) >= level)


def import_tensorflow() -> types.ModuleType:
    """The `tensorflow` module, its first import in the process held to `TF_CPP_MIN_LOG_LEVEL`.

    While it loads, TensorFlow writes C++ log lines straight to the process's stderr (file
    descriptor 2) before absl's logging is set up, and those (absl's "All log messages before
    absl::InitializeLog()" notice, oneDNN and CUDA-driver INFO lines, all of it twice) ignore
    `TF_CPP_MIN_LOG_LEVEL` in TensorFlow 2.21. A Jupyter kernel shows descriptor 2 in the cell
    that runs, so they would be a learner's first output: see `import_quietly`. (`course_utils`
    sets the level to 3 unless it is set.)
    """
    return sys.modules.get("tensorflow") or import_quietly("tensorflow")


def import_quietly(name: str) -> types.ModuleType:
    """Import module `name` with file descriptor 2 sent to a temporary file; afterwards the
    lines `TF_CPP_MIN_LOG_LEVEL` keeps (`native_log_above_level`) go on to `sys.stderr`, and
    all of them if the import fails. Where descriptor 2 cannot be moved, a plain import."""
    try:
        level = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
        saved = os.dup(2)
    except (ValueError, OSError):  # a level TensorFlow would not read either; no stderr at all
        return importlib.import_module(name)
    failed = True
    sys.stderr.flush()
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            module = importlib.import_module(name)
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode(errors="replace")
            shown = text if failed else native_log_above_level(text, level)
            if shown:
                sys.stderr.write(shown)
                sys.stderr.flush()
    return module


class HubUnavailable(CourseError):
    """The `tensorflow_hub` package is missing or cannot be imported, and a TF-Hub address must be resolved."""


def import_tensorflow_hub() -> types.ModuleType:
    """The `tensorflow_hub` module, imported only where a TF-Hub address is resolved (notebook 06
    online, `lab-kit`): the banner and every other notebook run without it.

    tensorflow_hub 0.16.1, its newest release, imports `pkg_resources` when it is imported, for
    one version comparison (`parse_version`). A new virtual environment on Python 3.12 or newer
    has no setuptools, and setuptools 82 and newer no longer ship `pkg_resources`; there the
    import is given `packaging`'s `parse` under that name, for that import only. Raises
    `HubUnavailable` naming what is missing and the command that installs it.
    """
    stand_in = None
    if sys.modules.get("pkg_resources") is None and importlib.util.find_spec("pkg_resources") is None:
        from packaging.version import parse  # a dependency of TensorFlow

        stand_in = types.ModuleType("pkg_resources")
        stand_in.parse_version = parse
        sys.modules["pkg_resources"] = stand_in
    try:
        import tensorflow_hub
    except Exception as error:  # not installed, or its tf_keras missing or of another TensorFlow
        import tensorflow as tf

        minor = ".".join(tf.__version__.split(".")[:2])
        raise HubUnavailable(
            f"TensorFlow Hub cannot be imported here ({type(error).__name__}: {error}); notebook 06 needs it "
            f"to download a TF-Hub model. Install it next to this TensorFlow: pip install tensorflow-hub "
            f"\"tf-keras~={minor}.0\" \"tensorflow=={tf.__version__}\" (or set COURSE_DATA_MIRROR to a lab kit)") from error
    finally:
        if stand_in is not None and sys.modules.get("pkg_resources") is stand_in:
            del sys.modules["pkg_resources"]
    return tensorflow_hub


def random_shear(factor: float, seed: int | None = None):
    """A `RandomShear` layer (shear by up to `factor` of the width), or, on Keras before 3.8,
    which has no such layer, an `Identity` layer that leaves images as they are.

    Its range is (0, factor) because Keras 3.15 cannot load a saved `RandomShear(0.2)` (it
    stores (-0.2, 0.2) and then refuses the negative bound). Shears still go both ways: the
    layer gives each one a random sign (`get_random_transformation`, Keras 3.8 to 3.15).
    """
    from keras import layers

    if not hasattr(layers, "RandomShear"):
        return layers.Identity()
    return layers.RandomShear(x_factor=(0.0, factor), fill_mode="nearest", seed=seed)


def xla_with_determinism() -> bool:
    """Whether Keras still compiles with XLA once TensorFlow's op determinism is on.

    Keras 3.7 and newer turn XLA off then (not every XLA kernel is deterministic);
    before 3.7 they do not, so a GPU run may still vary slightly.
    """
    import keras

    return _minor(keras.__version__) < (3, 7)


def compatibility_notes() -> list[str]:
    """What this environment's versions change in the course, for the banner."""
    from keras import layers

    if not hasattr(layers, "RandomShear"):
        return ["this Keras has no RandomShear layer (new in 3.8): notebook 02's augmentation goes without shear"]
    return []
