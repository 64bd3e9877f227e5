"""Run profiles and folders: the settings every other module builds on.

Every training setting a notebook uses (sample counts, image size, epochs,
learning rates, batch size) comes from `PROFILES` below, never from literals in
the notebooks; `setup()` hands them to the notebook as the read-only attributes
of its session (`Settings`). A profile is picked by the `COURSE_PROFILE`
environment variable (or the runner's `--profile` option); without one, `full`
is used when TensorFlow sees a GPU and `quick` otherwise.

How a training's settings are named: each training a notebook runs has a name,
and its settings are `<name>_epochs` and `<name>_learning_rate`:

- `epochs`, `learning_rate` (and `optimizer`): a network trained whole from
  its first epoch, the notebook's main training (01, 02);
- `head_epochs`, `head_learning_rate`: a new head trained on a frozen base or
  its cached features (03, 04, 05, 06, and 07's stand-in for 05's model);
- `fine_tune_epochs`, `fine_tune_learning_rate`: the second phase, part of
  the base unfrozen (04, 05, 06);
- `<variant>_epochs`, `<variant>_learning_rate`: a notebook's side experiment, named after it: `conv_head` and
  `end_to_end` (03), `inception` (04), `bn_demo` (05, with `bn_demo_steps`), `large_rate` (05's phase two
  again, from the same start, at a large rate), `keras_fine_tune` (06's Keras MobileNetV2, after
  its head's `head_epochs`), `scratch` (a CNN from scratch: 07's stand-in for 01's network;
  06's, compared with the head at equal epochs, trains for `head_epochs`).

An epochs setting of 0 skips that training in the profile.

Environment variables (all optional):

- `COURSE_PROFILE`: `smoke`, `quick` or `full`.
- `COURSE_DATA_DIR`: where datasets are installed
  (default `~/.cache/transfer-learning-course/data`).
- `COURSE_DATA_MIRROR`: a local folder holding copies of the datasets, the
  pretrained weights and the TF-Hub model, tried before any download (a
  teacher's lab kit, see `labkit.py`, or a shared drive).
- `COURSE_BUILD_DIR`: where results, figures and executed notebooks go
  (default `build/` at the root of the course checkout).
- `COURSE_WEIGHTS_VGG16`, `COURSE_WEIGHTS_VGG19`: `imagenet` (default), `none`
  or the path of a local `.weights.h5` file.
- `COURSE_SEED`: the random seed (default 42).
- `COURSE_REHEARSAL`: `1` (or yes/true/on) rehearses the profile: its configuration with every
  training and data pass capped to a few steps (see `REHEARSAL_CAPS`).
- `COURSE_DETERMINISTIC`: `1` (or `true`, `yes`, `on`) for TensorFlow's op
  determinism (see `session.deterministic_ops`); off by default.
- `COURSE_RUN_ID`: set by the course runner for its notebooks, so that every
  result names the run that produced it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from .errors import SettingError

SEED = 42
MAX_SEED = 2**32 - 1  # NumPy's seed range

# One entry per profile. "*" holds the defaults; a notebook's own entry
# overrides them. `None` for a per-class count means "every image".
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    # Seconds to a minute per notebook on a 2-core CPU: what CI runs.
    "smoke": {
        "*": {
            "image_size": 64,
            "batch_size": 16,
            "train_per_class": 24,
            "val_per_class": 8,
            "test_per_class": 8,
            "samples_per_dataset": 8,
        },
        # Notebooks 01 and 02 run quick's optimiser, so that CI runs the code a learner's CPU runs.
        "01_scratch_cnn_baseline": {"image_size": 64, "epochs": 1, "optimizer": "adam", "learning_rate": 1e-3},
        "02_data_augmentation": {"image_size": 64, "epochs": 2, "optimizer": "adam", "learning_rate": 1e-3},
        "03_vgg_feature_extraction": {"image_size": 64, "slow_images": 4, "head_epochs": 2, "end_to_end_epochs": 1,
                                      "head_learning_rate": 2e-5, "conv_head_epochs": 1, "other_bases": [],
                                      "conv_head_learning_rate": 1e-4, "end_to_end_learning_rate": 2e-5},
        "04_head_swap": {"image_size": 64, "head_epochs": 2, "head_learning_rate": 1e-3,
                         "train_per_class": 8, "val_per_class": 4, "test_per_class": 4,
                         "fine_tune_epochs": 1, "fine_tune_learning_rate": 1e-5,
                         "inception_epochs": 0, "inception_learning_rate": 1e-3},
        # 05's phase one trains 03's dense head on 03's features: 03's head rate, in every profile.
        "05_unfreezing_block5": {"image_size": 64, "head_epochs": 2, "fine_tune_epochs": 1, "head_learning_rate": 2e-5,
                                 "fine_tune_learning_rate": 1e-5, "large_rate_epochs": 1, "large_rate_learning_rate": 1e-3,
                                 "bn_demo_size": 32, "bn_demo_steps": 2, "bn_demo_learning_rate": 1e-5},
        "06_tfhub_mobilenet_cifar10": {"image_size": 64, "head_epochs": 1, "head_learning_rate": 1e-3,
                                       "fine_tune_epochs": 1, "fine_tune_learning_rate": 1e-5,
                                       "scratch_learning_rate": 1e-3, "keras_fine_tune_epochs": 1, "keras_fine_tune_learning_rate": 1e-5,
                                       "train_per_class": 24, "val_per_class": 8, "test_per_class": 8},
        "07_visualizing_filters_and_activations": {"filter_size": 48, "filters": 8, "steps": 5,
                                                   "study_filters": 8, "grad_cam_images": 4,
                                                   "scratch_epochs": 2, "scratch_learning_rate": 1e-4,
                                                   "head_epochs": 3, "head_learning_rate": 2e-5},
    },
    # A laptop CPU: each notebook at most 9 minutes on the course's 2-core build machine, the whole course at
    # most 30 (benchmarks/lessons.py); which lessons' effects show at this size: docs/reports.md, *What a verdict says*.
    "quick": {
        "*": {
            "image_size": 128,
            "batch_size": 32,
            "train_per_class": 1000,
            "val_per_class": 250,
            "test_per_class": 250,
            "samples_per_dataset": 16,
        },
        # 01 and 02, measured on the 2-core build machine (settings chosen on validation accuracy).
        # At 128x128 with full's RMSprop at 1e-4, 02 took 14 s an epoch and after 60 epochs its best
        # validation accuracy (0.770) barely passed 01's (0.760): too slow to show augmentation's effect.
        # At 96x96 with Adam at 1e-3, 02's 65 epochs took 10 minutes and beat 01 by +3.2 and +1.2 points in two runs.
        # At 64x64 an epoch costs about half as much: 120 epochs, in a tuning run (seed 1) 02 kept epoch 107 and
        # tested 0.794, against 01's 0.708 (seed 1) and 0.652 (seed 2). On 2026-11-30 (seed 42) 02 kept epoch 118 and
        # tested 0.772 against 01's 0.710 (McNemar p = 0.013); with 100 epochs it kept 74 and tested 0.754 (p = 0.080).
        # So 120: 02 took 536 s (8.9 minutes) on the build machine, seed 42, with nothing else running.
        # Tried and dropped: a cosine decay of the rate (02's best validation 0.784 after 65 epochs, lower),
        # and mixed bfloat16, which halves the epoch time on this CPU but broke training (benchmarks/precision.py).
        "01_scratch_cnn_baseline": {"image_size": 64, "epochs": 30, "optimizer": "adam", "learning_rate": 1e-3},
        "02_data_augmentation": {"image_size": 64, "epochs": 120, "optimizer": "adam", "learning_rate": 1e-3},
        # 03-05 at 96x96: at 128 (seed 42, 2026-11-30) VGG16's passes took 415 of 03's 478 s, 302 of 04's 361 and 374
        # of 05's 436; at 96, 03 took 253 s, 04 205, 05 235. With the stand-in weights 03's pretrained features lost
        # their lead at 96 (0.668 against 0.668 for random weights; at 128, 0.742 against 0.632); not measured with
        # ImageNet weights. The end-to-end variant runs the whole base every step: too slow on a CPU.
        # The dense head on the stand-in VGG16 features, measured here: RMSprop at full's 2e-5 (Chollet's) was
        # still climbing at its 30th epoch (best validation 0.760 there); at 1e-4 it reached 0.760 by epoch 27.
        "03_vgg_feature_extraction": {"image_size": 96, "slow_images": 16, "head_epochs": 30,
                                      "end_to_end_epochs": 0, "head_learning_rate": 1e-4,
                                      "end_to_end_learning_rate": 2e-5,  # Chollet's, as in full
                                      # The face tutorial's convolutional head: its claim names 3-5 epochs.
                                      "conv_head_epochs": 5, "conv_head_learning_rate": 1e-4, "other_bases": []},
        # 17 flowers: 60 / 10 / 10 images per class, all of them.
        "04_head_swap": {"image_size": 96, "head_epochs": 30, "head_learning_rate": 1e-3,
                         "train_per_class": None, "val_per_class": None, "test_per_class": None,
                         # Phase two: block 5 and the head on the cached block4_pool features.
                         "fine_tune_epochs": 2, "fine_tune_learning_rate": 1e-5,
                         # InceptionV3 at 96x96 from random weights: a dry run only on a CPU.
                         "inception_epochs": 0, "inception_learning_rate": 1e-3},
        # Both phases on block4_pool maps cached once (blocks 1-4 frozen). Phase two at 1e-5 does not show against phase
        # one (issue 31; 2026-12-07, ImageNet VGG16 = the mirror's converted copy: 0.896 against 0.898 via the whole base,
        # seed 42): the lesson compares its rate, 1e-5 against 1e-3 from the same phase-one weights, 3 epochs each.
        # Measured 2026-12-07, that copy, seed 42 (benchmarks/lessons.py): 0.912 at 1e-5 against 0.500 at 1e-3 (best
        # validation 0.500: chance), McNemar p < 0.001; phase one 0.906 (p = 0.607 for phase two on it); 05 took 658 s, idle
        # (commit f7cad31); seeds 43, 44: 0.924 / 0.914 against 0.500 / 0.508. Phase one: 03's head rate (an under-trained one flatters phase 2).
        "05_unfreezing_block5": {"image_size": 96, "head_epochs": 30, "fine_tune_epochs": 3, "head_learning_rate": 1e-4,
                                 "fine_tune_learning_rate": 1e-5, "large_rate_epochs": 3, "large_rate_learning_rate": 1e-3,
                                 # ResNet50 (random weights), a few eager steps: the BatchNormalization lesson.
                                 "bn_demo_size": 64, "bn_demo_steps": 3, "bn_demo_learning_rate": 1e-5},
        # CIFAR-10 at 96x96, 200 training and 200 test images per class: with all 10,000 test images (2026-11-30,
        # seed 42, commit 6428d0b, offline with the VGG16 stand-in, about 15.5 G multiply-adds an image at 224x224
        # to MobileNetV2's 0.3 G, as their papers give them), predicting them took 706 of 06's 820 s.
        "06_tfhub_mobilenet_cifar10": {"image_size": 96, "head_epochs": 1, "head_learning_rate": 1e-3,
                                       "fine_tune_epochs": 0, "fine_tune_learning_rate": 1e-5,
                                       "scratch_learning_rate": 1e-3, "keras_fine_tune_epochs": 1, "keras_fine_tune_learning_rate": 1e-5,
                                       "train_per_class": 200, "val_per_class": 50, "test_per_class": 200},
        # Stand-ins trained only if 01's or 05's saved model is missing; the study: 16 filters (32 took 289 s, 2026-12-07).
        "07_visualizing_filters_and_activations": {"filter_size": 64, "filters": 64, "steps": 20,
                                                   "study_filters": 16, "grad_cam_images": 6,
                                                   "scratch_epochs": 2, "scratch_learning_rate": 1e-4,
                                                   "head_epochs": 3, "head_learning_rate": 2e-5},
    },
    # A GPU: every image, at the original material's image sizes; epochs and rates as noted (material or Chollet).
    "full": {
        "*": {
            "image_size": 150,
            "batch_size": 32,
            "train_per_class": None,
            "val_per_class": None,
            "test_per_class": None,
            "samples_per_dataset": 16,
        },
        # Chollet's (Deep Learning with Python, 5.2): RMSprop 1e-4, 30 and 100 epochs; the material: 1e-4 and 1e-5.
        "01_scratch_cnn_baseline": {"image_size": 150, "epochs": 30, "optimizer": "rmsprop", "learning_rate": 1e-4},
        "02_data_augmentation": {"image_size": 150, "epochs": 100, "optimizer": "rmsprop", "learning_rate": 1e-4},
        "03_vgg_feature_extraction": {"image_size": 150, "slow_images": 32, "head_epochs": 30, "end_to_end_epochs": 50,
                                      "head_learning_rate": 2e-5,  # Chollet's (5.3.1); the material's VGG19 head: 1e-5
                                      "end_to_end_learning_rate": 2e-5,
                                      # VGG19 too: the original 88.4 % was measured with it (one more feature pass).
                                      "conv_head_epochs": 5, "conv_head_learning_rate": 1e-4, "other_bases": ["vgg19"]},
        "04_head_swap": {"image_size": 224, "head_epochs": 50, "head_learning_rate": 1e-3,
                         "train_per_class": None, "val_per_class": None, "test_per_class": None,
                         "fine_tune_epochs": 20, "fine_tune_learning_rate": 1e-5,
                         "inception_epochs": 10, "inception_learning_rate": 1e-3},
        "05_unfreezing_block5": {"image_size": 150, "head_epochs": 30, "fine_tune_epochs": 50,
                                 "head_learning_rate": 2e-5,  # 03's (Chollet's)
                                 "fine_tune_learning_rate": 1e-5,  # the material's and Chollet's
                                 "large_rate_epochs": 50, "large_rate_learning_rate": 1e-3,  # quick's, not measured here
                                 "bn_demo_size": 150, "bn_demo_steps": 10, "bn_demo_learning_rate": 1e-5},
        # The original lesson: 224x224, one epoch; here the whole training set, then fine-tuning.
        "06_tfhub_mobilenet_cifar10": {"image_size": 224, "head_epochs": 1, "head_learning_rate": 1e-3,
                                       "fine_tune_epochs": 1, "fine_tune_learning_rate": 1e-5,
                                       "scratch_learning_rate": 1e-3, "keras_fine_tune_epochs": 1, "keras_fine_tune_learning_rate": 1e-5,
                                       "train_per_class": None, "val_per_class": None, "test_per_class": None},
        "07_visualizing_filters_and_activations": {"filter_size": 128, "filters": 64, "steps": 40,
                                                   "study_filters": 64, "grad_cam_images": 8,
                                                   "scratch_epochs": 2, "scratch_learning_rate": 1e-4,
                                                   "head_epochs": 3, "head_learning_rate": 2e-5},
    },
}


# A rehearsal runs a profile's configuration (image sizes, networks, split rules, every branch and
# cell) with every training and every long data pass capped to a few steps, so that a CPU can
# execute every line the full profile executes before a GPU spends hours on it. Its profile is named
# `<profile>-rehearsal`: its records, models and caches are never taken for the real profile's, and
# the report shows none of its numbers as results.
REHEARSAL_SUFFIX = "-rehearsal"
REHEARSAL_CAPS = {
    "per_class": 2,     # images per class in each split: a batch or two per pass over the data
    "epochs": 2,        # every *epochs setting that is not 0: two, so that a second epoch and a best epoch exist
    "steps": 2,         # gradient-ascent and BatchNormalization-demo steps
    "slow_images": 4,   # 03's image-by-image prediction
    "filters": 8,       # 07's filters ascended at once (`filters`, `study_filters`)
}


class ProfileError(SettingError):
    """An unknown profile name."""


def _gpu_visible() -> bool:
    from .compat import import_tensorflow

    tf = import_tensorflow()
    return bool(tf.config.list_physical_devices("GPU"))


def resolve_profile(name: str | None = None) -> str:
    """Return the profile to use: `name`, else `$COURSE_PROFILE`, else by device; with
    `COURSE_REHEARSAL` on, its rehearsal (`full-rehearsal`).

    Raises `ProfileError` naming the valid profiles for an unknown name.
    Used by `setup()` and by the course runner.
    """
    return choose_profile(name)[0]


def choose_profile(name: str | None = None) -> tuple[str, str]:
    """The profile to use and why, as `resolve_profile` picks it: ("full", "TensorFlow sees a GPU")."""
    if name:
        why = "chosen in setup()"
    elif os.environ.get("COURSE_PROFILE"):
        name, why = os.environ["COURSE_PROFILE"], "from COURSE_PROFILE"
    elif _gpu_visible():
        name, why = "full", "TensorFlow sees a GPU"
    else:
        name, why = "quick", "no GPU: sized for a CPU"
    name = name.strip().lower()
    if name.removesuffix(REHEARSAL_SUFFIX) not in PROFILES:
        valid = ", ".join(PROFILES)
        raise ProfileError(
            f"unknown profile {name!r}: choose one of {valid} "
            "(set COURSE_PROFILE or pass --profile)"
        )
    if flag_setting("COURSE_REHEARSAL") and not name.endswith(REHEARSAL_SUFFIX):
        name += REHEARSAL_SUFFIX
    if name.endswith(REHEARSAL_SUFFIX):
        why += "; REHEARSAL: every training and data pass capped to a few steps, no results"
    return name, why


def is_rehearsal(profile: str) -> bool:
    """Whether `profile` is a rehearsal (`full-rehearsal`): its numbers are not results."""
    return profile.endswith(REHEARSAL_SUFFIX)


def profile_settings(notebook: str, profile: str) -> dict[str, Any]:
    """The settings of `notebook` in `profile`: the profile's defaults, then its own; for a
    rehearsal, those of the profile it rehearses, capped by `REHEARSAL_CAPS`."""
    name = resolve_profile(profile)
    table = PROFILES[name.removesuffix(REHEARSAL_SUFFIX)]
    settings = {**table["*"], **table.get(notebook, {})}
    if is_rehearsal(name):
        for key, value in settings.items():
            cap = next((cap for suffix, cap in REHEARSAL_CAPS.items() if key.endswith(suffix)), None)
            if cap is not None and value != 0:
                settings[key] = cap if value is None else min(value, cap)
    return settings


def course_root() -> Path | None:
    """The course checkout containing the current folder (it has `notebooks/`
    and `pyproject.toml`), or None when run from elsewhere."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (folder / "pyproject.toml").is_file():
            return folder
    return None


def data_dir() -> Path:
    """Where datasets are installed: `$COURSE_DATA_DIR` or the default cache."""
    default = Path.home() / ".cache" / "transfer-learning-course" / "data"
    return Path(os.environ.get("COURSE_DATA_DIR") or default).expanduser()


def mirror_dir() -> Path | None:
    """The local mirror folder from `$COURSE_DATA_MIRROR`, if one is set."""
    value = os.environ.get("COURSE_DATA_MIRROR")
    return Path(value).expanduser() if value else None


def build_dir() -> Path:
    """Where results, figures and executed notebooks go: `$COURSE_BUILD_DIR`, else `build/` at the
    root of the course checkout (`build/rehearsal/` for a rehearsal, which thus never replaces a
    real run's figures)."""
    value = os.environ.get("COURSE_BUILD_DIR")
    if value:
        return Path(value).expanduser()
    folder = "build/rehearsal" if flag_setting("COURSE_REHEARSAL") else "build"  # a build folder of its own
    return (course_root() or Path.cwd()) / folder


# What lives under build/, by kind. Models and feature caches are keyed by profile (and by
# the caller, by weights): a run never opens one made in another profile or with other weights.
ARTIFACT_KINDS = {"results", "histories", "notebooks", "logs", "report", "figures", "models", "features", "runs",
                  "hub", "exercises"}
KEYED_BY_PROFILE = {"models", "features"}


def artifact_path(where: str | Path, kind: str, name: str = "", key: str = "", *, profile: str | None = None) -> Path:
    """Where an artefact of `kind` named `name` lives under the build folder: the one
    place that knows the layout of `build/` (its folder is created).

    `where` is a build folder, with `profile` for the kinds kept per profile, or a
    profile name (the build folder is then `build_dir()`); a notebook's session
    has its own `Settings.artifact_path`. Models and feature caches go to
    `<kind>/<profile>/<key>/`, where `key` names what else they depend on (the
    pretrained weights' fingerprint); figures go to `report/figures/`; every
    other kind to `<kind>/`. Returns the file's path, or the folder's when
    `name` is empty.
    """
    if kind not in ARTIFACT_KINDS:
        raise ValueError(f"unknown artefact kind {kind!r}: one of {', '.join(sorted(ARTIFACT_KINDS))}")
    if isinstance(where, str):
        build, profile = build_dir(), where
    else:
        build = Path(where)
    folder = build / "report" / "figures" if kind == "figures" else build / kind
    if kind in KEYED_BY_PROFILE:
        if profile is None:
            raise ValueError(f"{kind} are kept per profile: pass the profile with the build folder")
        folder = folder / profile / key if key else folder / profile
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name if name else folder


def seed_setting() -> int:
    """The seed from `$COURSE_SEED` (default 42).

    Raises `SettingError` naming the variable and the valid range for anything else.
    """
    value = os.environ.get("COURSE_SEED", "").strip()
    if not value:
        return SEED
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_SEED:
        raise SettingError(f"COURSE_SEED={value!r} is not a seed: use a whole number from 0 to {MAX_SEED}, "
                           f"e.g. export COURSE_SEED={SEED} (or unset it for the default, {SEED})")
    return int(value)


YES, NO = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def flag_setting(name: str) -> bool:
    """Whether the yes-or-no environment variable `name` is set to yes (unset or empty: no).

    Takes the usual spellings in any case (`YES`, `NO`). Raises `SettingError` naming the
    variable, its value and the accepted values for anything else: a typo must not
    silently mean no.
    """
    value = os.environ.get(name, "").strip()
    if value.lower() in YES:
        return True
    if not value or value.lower() in NO:
        return False
    raise SettingError(f"{name}={value!r} is neither yes nor no: use {', '.join(YES)} to turn it on, or "
                       f"{', '.join(NO)} (or unset it) to leave it off, e.g. export {name}=1")


def new_run_id() -> str:
    """A fresh run id: the start time and the process id, e.g. `20261124-142501-8123`."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"


class ReadOnlySetting(SettingError, AttributeError):
    """An assignment to a session's setting or identity: they are read-only."""


class Settings:
    """One notebook's run as `setup()` opened it, read-only: its profile's settings as attributes
    (`settings.image_size`, `settings.head_epochs`: those of `PROFILES` for this notebook and
    profile, see `profile_settings`) and its identity below. What the loaders, the feature cache
    and the trainings read; the notebook's session (`results.Session`) adds its actions."""

    notebook: str
    profile: str
    seed: int
    run_id: str  # the course runner's (COURSE_RUN_ID), or a new one for a notebook opened by hand
    started: float  # time.time() at setup(): wall times are counted from it
    device: str
    data_dir: Path
    build_dir: Path
    weights: Mapping[str, str]  # a label for each pretrained network's weights, by network name

    def __init__(self, settings: Mapping[str, Any], *, notebook: str, profile: str, seed: int = SEED,
                 run_id: str | None = None, started: float | None = None, device: str = "",
                 data_dir: Path | None = None, build_dir: Path | None = None,
                 weights: Mapping[str, str] | None = None) -> None:
        identity = {"notebook": notebook, "profile": profile, "seed": seed, "run_id": run_id or new_run_id(),
                    "started": time.time() if started is None else started, "device": device,
                    "data_dir": Path(data_dir) if data_dir else _data_dir(),
                    "build_dir": Path(build_dir) if build_dir else _build_dir(),
                    "weights": MappingProxyType(dict(weights or {})), "_settings": MappingProxyType(dict(settings))}
        for name, value in identity.items():
            object.__setattr__(self, name, value)

    @property
    def settings(self) -> Mapping[str, Any]:
        """The profile's settings for this notebook, by name (read-only)."""
        return self._settings

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # never looked up in the settings (copying, pickling)
            raise AttributeError(name)
        try:
            return self._settings[name]
        except KeyError:
            raise AttributeError(f"{self.notebook} has no setting {name!r} in the {self.profile} profile; "
                                 f"its settings: {', '.join(self._settings)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise ReadOnlySetting(f"session.{name} cannot be changed: the settings come from PROFILES in "
                              "course_utils/config.py, for the profile that COURSE_PROFILE (or setup(..., "
                              "profile=...)) picks, and the run's identity from setup(). To try another value, "
                              f"use a variable of your own: {name} = {value!r}")

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, "...")

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={value!r}" for name, value in self._settings.items())
        return f"<{type(self).__name__} {self.notebook}, profile {self.profile}, seed {self.seed}: {settings}>"

    def artifact_path(self, kind: str, name: str = "", key: str = "") -> Path:
        """Where this run's artefact of `kind` named `name` lives (see `artifact_path`)."""
        return artifact_path(self.build_dir, kind, name, key, profile=self.profile)


_data_dir, _build_dir = data_dir, build_dir  # the defaults of `Settings`, whose parameters take these names
