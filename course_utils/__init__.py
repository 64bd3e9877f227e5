"""course_utils: the helper package of the course "Transfer learning with Keras".

Every notebook starts with

    import course_utils
    cfg = course_utils.setup("01_scratch_cnn_baseline")

Modules: `errors` (`CourseError`, the parent of every error a user can fix),
`config` (profiles, folders, `artifact_path`, `setup`), `files` (writing
without half-written files), `archives` (downloads), `images` (which images
can be read), `registry` (the datasets), `install` (installing them), `data` (the loaders),
`models` (pretrained weights), `results` (recording numbers and figures),
`plots`, `runner` (executing the course), `cli` (`python -m course_utils`).
"""

from .config import PROFILES, ProfileError, artifact_path, resolve_profile, setup
from .data import (DATASETS, DataError, DataNotAvailable, ChecksumError, ensure_dataset,
                   import_dataset, load_dataset, load_image_folder)
from .errors import CourseError, SettingError
from .results import latest_result, record_result, save_figure

# The figures the course sets out to beat, from the material it grew from
# (test accuracy; cats vs dogs with 2,000 training images unless noted).
# These are the original material's numbers, shown as reference marks only.
SEED_RESULTS = {
    "from scratch": 0.733,
    "data augmentation": 0.818,
    "VGG19 feature extraction": 0.884,
    "block-5 fine-tuning": 0.941,
    "VGG16 new head, 17 flowers": 0.94,
    "TF-Hub MobileNetV2, CIFAR-10, one epoch": 0.838,
}

__all__ = [
    "CourseError", "SettingError", "PROFILES", "ProfileError", "artifact_path", "resolve_profile", "setup",
    "DATASETS", "DataError", "DataNotAvailable", "ChecksumError", "ensure_dataset",
    "import_dataset", "load_dataset", "load_image_folder",
    "latest_result", "record_result", "save_figure", "SEED_RESULTS",
]
