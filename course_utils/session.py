"""The notebook session: `setup()`, the call that opens every notebook.

It checks the TensorFlow and Keras versions, picks the profile, seeds
everything and prints the banner (profile, versions, device, data, measured times, this machine's
estimate when notebook 00 has probed it, weights),
then returns the notebook's session (`results.Session`): its settings, read-only,
the run's identity, and the notebook's actions.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from . import compat

tf = compat.import_tensorflow()  # before Keras imports it: its start-up messages held to the log level
import keras  # noqa: E402
from .config import (Settings, build_dir, choose_profile, data_dir, flag_setting, mirror_dir, new_run_id,
                     profile_settings, seed_setting)
from .mirror import problem as mirror_problem

# Checked before the modules below build on Keras 3's classes: a Keras 2 era TensorFlow stops
# here with one message naming the versions, not with an AttributeError from deep inside.
compat.check_versions(tf.__version__, keras.__version__)

from . import estimate, hub, pretrained  # noqa: E402  (after the version check, on purpose)
from .results import Session  # noqa: E402


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and Keras (and through Keras, TensorFlow)."""
    keras.utils.set_random_seed(seed)


def enable_memory_growth() -> list[str]:
    """Let processes share the GPUs: memory growth on every visible GPU; returns banner lines.

    By default TensorFlow reserves nearly all of a GPU's memory in the first
    process that uses it, and the next one (an nbval kernel after pytest's own
    process, a second JupyterLab kernel) runs out of memory. With growth, each
    process takes what it uses. TensorFlow accepts the setting only before it
    initialises the GPU; after that (TensorFlow ran before `setup()` in this
    kernel), the banner says so instead of failing. No GPU: nothing to do.
    """
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # "Physical devices cannot be modified after being initialized"
            return ["  gpu memory  all reserved by this process: TensorFlow had already initialised the GPU "
                    "before setup(), so other kernels cannot share it (restart the kernel, run this cell first)"]
    return ["  gpu memory  taken as needed (memory growth): other kernels can share the GPU"] if gpus else []


def deterministic_ops() -> list[str]:
    """With `COURSE_DETERMINISTIC=1` (or true, yes, on), enable TensorFlow's op determinism; returns
    banner lines. Another value than yes or no is a `SettingError` (`config.flag_setting`).

    Ops then use only deterministic algorithms (on a GPU, no floating-point
    atomic adds and none of cuDNN's nondeterministic convolution algorithms) and
    raise an error where they have none; Keras compiles without XLA then. Slower;
    see docs/reports.md, "Reproducible runs on a GPU". Call it before anything runs.
    """
    if not flag_setting("COURSE_DETERMINISTIC"):
        return []
    tf.config.experimental.enable_op_determinism()
    setting = f"COURSE_DETERMINISTIC={os.environ['COURSE_DETERMINISTIC'].strip()}"
    if compat.xla_with_determinism():
        return [f"  determinism on ({setting}): TensorFlow op determinism; slower. Keras "
                f"{keras.__version__} still compiles with XLA on a GPU (3.7 and newer do not), so runs may vary slightly"]
    return [f"  determinism on ({setting}): TensorFlow op determinism, no XLA; slower"]


def setup(notebook: str, profile: str | None = None, seed: int | None = None) -> Session:
    """Open a notebook: pick the profile, seed everything, print a banner.

    Returns the notebook's session: its settings (see `PROFILES`) as read-only
    attributes, and `notebook`, `profile`, `seed`, `data_dir`, `build_dir`,
    `device`, `weights` (a label for each pretrained network's weights), `run_id`
    (the course runner's, or a new one for a notebook opened by hand) and `started`
    (for wall times). Every notebook's first code cell calls it.
    """
    version_warnings = (compat.check_python(tuple(sys.version_info[:3]))
                        + compat.check_versions(tf.__version__, keras.__version__))
    # Our pipelines shuffle themselves; Keras' reminder about it is noise here.
    warnings.filterwarnings("ignore", message=".*shuffle=True` was passed")
    started = time.time()
    profile, why = choose_profile(profile)
    seed = seed_setting() if seed is None else seed
    # Before anything runs on a GPU: TensorFlow takes these settings only until it initialises one.
    device_lines = enable_memory_growth() + deterministic_ops()
    seed_everything(seed)
    gpus = tf.config.list_physical_devices("GPU")
    device = estimate.device_label()
    session = Session(profile_settings(notebook, profile), notebook=notebook, profile=profile, seed=seed,
                      run_id=os.environ.get("COURSE_RUN_ID") or new_run_id(), started=started, device=device,
                      data_dir=data_dir(), build_dir=build_dir(),
                      weights={**{name: pretrained.weights_label(name) for name in pretrained.PRETRAINED},
                               hub.HUB_NETWORK: hub.hub_label()})
    mirror = mirror_dir()
    lines = [
        f"Transfer learning with Keras: {notebook}",
        f"  profile     {profile}  ({why}; seed {seed}; change it with setup(..., profile=\"quick\") "
        "or COURSE_PROFILE)",
        f"  versions    TensorFlow {tf.__version__}, Keras {keras.__version__}, Python {platform.python_version()}",
        f"  device      {device}",
        f"  data        {session.data_dir}" + (f"  (mirror: {mirror})" if mirror else ""),
    ]
    lines += [f"  time        {line}" for line in notebook_time(notebook)]
    # Read, never measured here: the probe costs about 20 s, and notebook 00 (or ensure_probe) takes it once.
    try:
        probe, problem = estimate.read_probe(estimate.probe_path(session.build_dir), device, tf.__version__)
    except OSError as error:  # a build folder that cannot be made: no estimate, the notebook still opens
        probe, problem = None, f"cannot read the build folder: {error.strerror}"
    lines.append(f"  estimate    {estimate.banner_line(notebook, probe, problem, measured_times())}")
    lines += [f"  weights     {name}: {label}" for name, label in session.weights.items()]
    # A bad weights setting stops only the notebooks that load those weights (03-07): here, a warning.
    lines += [f"  warning     {name}'s weights cannot be used (see above): the notebooks that load them stop"
              for name, label in session.weights.items() if label.startswith(pretrained.UNUSABLE)]
    lines += [f"  warning     {text}" for text in version_warnings + compat.compatibility_notes()]
    lines += [f"  warning     {text}" for text in [mirror_problem()] if text]
    lines += device_lines
    if profile == "full" and not gpus:
        lines.append("  note        the full profile is sized for a GPU and TensorFlow sees none: expect it to be "
                     "very slow here (the quick profile is sized for a CPU; on Linux with an NVIDIA GPU, "
                     "install with `make install EXTRAS=gpu`)")
    print("\n".join(lines))
    return session


# Each notebook's wall time in a profile, as measured and recorded by `benchmarks/lessons.py --save-times`.
TIMINGS = Path(__file__).with_name("timings.json")


def measured_times() -> dict[str, Any]:
    """Returns the recorded measurements: for each measured profile, its date, machine, how it was
    measured, and each notebook's wall time in seconds."""
    return json.loads(TIMINGS.read_text())


def notebook_time(notebook: str) -> list[str]:
    """Returns the banner's time lines for one notebook: its measured wall time in each profile that the
    course measured, and which profiles it did not (full: no GPU on the build machine)."""
    measured = measured_times()
    lines = []
    for profile in ("quick", "full"):
        run = measured.get(profile, {})
        if notebook in run.get("seconds", {}):
            lines.append(f"{profile:<6}{run['seconds'][notebook] / 60:.1f} min for this notebook, measured "
                         f"{run['measured']} on {run['machine']} ({run['by']}); yours will differ")
        elif run:
            lines.append(f"{profile:<6}this notebook not measured yet (benchmarks/lessons.py --save-times)")
        else:
            lines.append(f"{profile:<6}not measured (no GPU on the course's build machine)")
    return lines + [f"{'smoke':<6}not timed: tiny subsets and one epoch, for the automated tests"]


def time_plan(settings: Settings) -> None:
    """Print how long each notebook took where the course measured it, profile by profile, and
    what is not measured (the full profile on a GPU), so that a learner can choose a profile that
    fits a session (a Colab session, a 90-minute lab)."""
    measured = measured_times()
    for profile in ("quick", "full"):
        if profile not in measured:
            print(f"{profile}: not measured by the course (no GPU on its build machine); every notebook prints an "
                  "estimate of the time left once a training's first epoch is done")
            continue
        run = measured[profile]
        seconds = run["seconds"]
        changed = run.get("changed_since", {})  # notebooks changed after the measurement: not in their time
        print(f"{profile}: measured {run['measured']} on {run['machine']} ({run['by']})")
        for notebook, value in seconds.items():
            note = f"  before {changed[notebook]}" if notebook in changed else ""
            print(f"  {notebook:<42} {value / 60:5.1f} min{note}")
        print(f"  {'all notebooks':<42} {sum(seconds.values()) / 60:5.1f} min{'  before those changes' if changed else ''}")
    print(f"your profile: {settings.profile}, on {settings.device}")
