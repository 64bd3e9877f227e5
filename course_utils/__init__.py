"""course_utils: the helper package of the course "Transfer learning with Keras".

Every notebook starts with

    import course_utils
    session = course_utils.setup("01_scratch_cnn_baseline")

`session` (a `results.Session`) holds the profile's settings as read-only attributes
(`session.image_size`), the run's identity (`session.profile`, `session.seed`, ...) and
the notebook's actions: `session.using(splits, network=...)` states what the next results
come from, `session.record(results.SCRATCH_CNN, accuracy, method=...)` records one under its
key, `session.save_figure(...)` saves a figure. The helpers take the session:
`course_utils.load_dataset("cats_vs_dogs", session)`, `training.fit_and_evaluate(model,
splits, session, key=..., method=...)`, `lessons.show(session)`.

Modules, from the bottom up (each imports only modules above it in this list):
`errors` (`CourseError`, the parent of every error a user can fix), `compat`
(the supported TensorFlow and Keras versions), `config` (profiles, folders,
`artifact_path`, a run's read-only `Settings`), `files` (writing without half-written files, hashing a file),
`registry` (the datasets as data: kind, source, checks, split rule; `Source`),
`networks` (the pretrained networks: constructor, weights source, stand-ins,
preprocessing, input limits, top variables), `mirror` (what a lab kit or mirror
folder holds), `archives` (downloads), `images` (which images can be read),
`install` (where a dataset comes from, installing it), `data` (the loaders),
`pretrained` (where a network's weights come from, and their label), `models`
(the small CNN, pretrained bases, heads, surgery, the feature cache), `hub` (TF-Hub
models as Keras 3 layers), `labkit` (building and checking a teacher's lab kit), `plots`, `results` (the notebook's `Session`, the result keys, recording numbers and
figures), `stats` (exact tests of test accuracies), `lessons` (what each lesson should show, and
whether a run showed it), `training`, `visualize` (activations, filter patterns, Grad-CAM),
`exercise_checks` (what an exercise is, and how its check answers), `exercises_01_03` and
`exercises_04_07` (the exercises of each notebook), `exercises` (`exercises.get(id)`, what a check
cell calls), `editions` (the notebooks' student and teacher editions),
`document` (a report as data, rendered to Markdown and HTML), `report` (the course
report), `estimate` (this machine's probe, and each notebook's estimated time on it),
`session` (`setup()`, the banner), `colab` (badges and the install cell),
`execute` (executing one notebook, with its progress line), `runner` (executing the course),
`cli` (`python -m course_utils`).
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
from .results import Session

__all__ = [
    "CourseError", "SettingError", "PROFILES", "ProfileError", "artifact_path", "resolve_profile", "setup",
    "DATASETS", "DataError", "DataNotAvailable", "ChecksumError", "ensure_dataset",
    "import_dataset", "load_dataset", "load_image_folder", "Session", "SEED_RESULTS",
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
