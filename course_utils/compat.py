"""The TensorFlow and Keras versions the course supports, and what differs across them.

The course runs on the Keras 3 era of TensorFlow, tested at both ends of
`TESTED` by `.ci/run`. Everything that differs between those versions is
handled here (or, for the TF-Hub layer, in `hub.HubFeatures`), so that no
notebook branches on a version.
"""

from __future__ import annotations

import re

from .errors import CourseError

# The oldest and the newest TensorFlow the tests run on (`.ci/run`, README "Supported versions").
TESTED = ("2.17", "2.21")
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


def random_shear(factor: float, seed: int | None = None):
    """A one-sided `RandomShear` layer (shear by up to `factor` of the width), or, on Keras
    before 3.8, which has no such layer, an `Identity` layer that leaves images as they are.

    One-sided because Keras 3.15 cannot load a saved `RandomShear(0.2)` (it stores
    (-0.2, 0.2) and then refuses the negative bound); notebook 02's random flip
    supplies the other direction.
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
