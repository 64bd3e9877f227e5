"""course_utils: the helper package of the course "Transfer learning with Keras".

Every notebook starts with

    import course_utils
    cfg = course_utils.setup("01_scratch_cnn_baseline")

Modules, from the bottom up (each imports only modules above it in this list):
`errors` (`CourseError`, the parent of every error a user can fix), `compat`
(the supported TensorFlow and Keras versions), `config` (profiles, folders,
`artifact_path`), `mirror` (what a lab kit or mirror folder holds), `files`
(writing without half-written files), `registry` (the datasets), `archives`
(downloads), `images` (which images can be read), `install` (installing the
datasets), `data` (the loaders), `pretrained` (which weights a network
starts from, and their label), `models` (networks, pretrained bases, heads,
surgery, the feature cache), `hub` (TF-Hub models as Keras 3 layers), `labkit` (building and
checking a teacher's lab kit), `plots`, `results` (recording numbers and
figures), `stats` (exact tests of test accuracies), `lessons` (what each lesson should show, and
whether a run showed it), `training`, `visualize` (activations, filter patterns, Grad-CAM),
`exercise_checks` (what an exercise is, and how its check answers), `exercises_01_03` and
`exercises_04_07` (the exercises of each notebook), `exercises` (`exercises.get(id)`, what a check
cell calls), `editions` (the notebooks' student and teacher editions),
`report` (the course report), `session` (`setup()`, the banner), `colab`
(badges and the install cell), `runner` (executing the course), `cli`
(`python -m course_utils`).
"""

import os

# TensorFlow's C++ messages at start-up (on a machine without a GPU, an "E0000 ... failed call to
# cuInit: INTERNAL: CUDA error" line) read like failures and would be a learner's first output:
# only a level set before TensorFlow is imported silences them, and `import course_utils` comes
# first in every notebook. To see them, set TF_CPP_MIN_LOG_LEVEL=0 before starting Jupyter.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from .config import PROFILES, ProfileError, artifact_path, resolve_profile  # noqa: E402  (these imports after the setting)
from .data import (DATASETS, DataError, DataNotAvailable, ChecksumError, ensure_dataset,
                   import_dataset, load_dataset, load_image_folder)
from .errors import CourseError, SettingError
from .results import latest_result, record_result, save_figure, using

__all__ = [
    "CourseError", "SettingError", "PROFILES", "ProfileError", "artifact_path", "resolve_profile", "setup",
    "DATASETS", "DataError", "DataNotAvailable", "ChecksumError", "ensure_dataset",
    "import_dataset", "load_dataset", "load_image_folder",
    "latest_result", "record_result", "save_figure", "using", "SEED_RESULTS",
]


def __getattr__(name: str):
    """`setup` and `SEED_RESULTS` on first use: they load TensorFlow and matplotlib, which
    `import course_utils` (and so every `python -m course_utils` command) should not."""
    if name == "setup":
        from .session import setup
        return setup
    if name == "SEED_RESULTS":
        from .report import SEED_RESULTS
        return SEED_RESULTS
    raise AttributeError(f"module 'course_utils' has no attribute {name!r}")
