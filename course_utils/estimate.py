"""How long each notebook will take on this machine: a short probe of the device, and two estimates.

The probe (`measure`, about 20 s on a 2-core CPU) times the course's own work on the device
TensorFlow uses (a GPU where it sees one): a few training steps of notebook 01's small CNN and a
batch through the VGG16 base, at the image sizes of the quick and of the full profile. Its result
is kept in the build folder (`probe_path`), written whole or not at all, with the device and the
TensorFlow version it was measured with; one that is damaged, older than `MAX_AGE_DAYS`, or from
another device or TensorFlow is measured again (`ensure_probe`), never shown as this machine's.

The two estimates:
- quick (`quick_estimate`): the build machine's measured wall time of the notebook
  (`timings.json`) times the ratio of the two machines' speeds, as their probes measured them at
  the quick profile's sizes (the small CNN's for 01 and 02, VGG16's for the notebooks of pretrained
  networks, the mean of both for 00);
- full (`full_estimate`): no run of the full profile to scale from (the build machine has no GPU),
  so it counts the work instead: each pass of images through a network that the notebook makes
  (`work`: epochs, images, from the profile's settings), times the network's multiply-adds at the
  image size (`network_macs`, counted layer by layer on the Keras model), times 3 for a training
  step (forward, and a backward pass of about twice the forward's work), divided by the
  multiply-adds per second the probe measured at the full profile's sizes. Work on cached features
  (the heads), data loading and plotting are left out; docs/learners.md says how close it came.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from .config import PROFILES, artifact_path, profile_settings
from .files import write_json
from .models import small_cnn

PROBE_FORMAT = 1
MAX_AGE_DAYS = 30  # drivers, other programs and the machine itself change: re-measure after this
PROBE_NAME = "machine-probe.json"
TRAIN = 3  # a training step's multiply-adds, in forward passes (forward + backward of about twice)
VGG_BATCH = 8  # images per probe batch through VGG16: about a second on a 2-core CPU at 150x150

# Which part of the probe each notebook's quick time follows (the rest: the mean of both).
FOLLOWS = {"01_scratch_cnn_baseline": "small_cnn", "02_data_augmentation": "small_cnn",
           "03_vgg_feature_extraction": "vgg16", "04_head_swap": "vgg16", "05_unfreezing_block5": "vgg16",
           "06_tfhub_mobilenet_cifar10": "vgg16", "07_visualizing_filters_and_activations": "vgg16"}
# Images per class in each split where the profile takes them all (`None`): the datasets' own counts.
PER_CLASS = {"cats_vs_dogs": (2, {"train": 1000, "val": 250, "test": 250}),
             "flowers17": (17, {"train": 60, "val": 10, "test": 10}),
             "cifar10": (10, {"train": 4500, "val": 500, "test": 1000})}
HOW_QUICK = ("the build machine's measured quick time scaled by the speed ratio of this machine's probe "
             "to the build machine's")
HOW_QUICK_SHORT = "the build machine's quick time x the ratio of the two machines' probe speeds"
HOW_FULL = "the work the profile's settings count (images x epochs x multiply-adds) at the probe's measured speed"


class Pass(NamedTuple):
    """`images` images through `network` at `size` x `size`, each costing `factor` forward passes."""

    network: str
    size: int
    images: int
    factor: float = 1.0


def device_label() -> str:
    """The device TensorFlow will use, as the banner names it: "GPU x1" or "CPU (x86_64, 2 cores)"."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU x{len(gpus)}" if gpus else f"CPU ({platform.machine()}, {os.cpu_count()} cores)"


def load_average() -> float | None:
    """The machine's 1-minute load average (None where the system has none): other work slows a probe."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


# ---- counting the work -------------------------------------------------------------------------

def layer_macs(model) -> list[tuple[str, int]]:
    """Each Conv2D, DepthwiseConv2D and Dense layer of a built Keras model (nested models' too),
    with the multiply-adds of one image's forward pass through it; the other layers are small
    beside them."""
    from keras import layers

    counts = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            counts += layer_macs(layer)
            continue
        if not isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense)):
            continue
        positions = 1
        for dim in layer.output.shape[1:-1]:
            positions *= int(dim)
        per_position = 1
        for dim in layer.kernel.shape:  # (kh, kw, in, out), (kh, kw, in, multiplier) or (in, out)
            per_position *= int(dim)
        counts.append((layer.name, positions * per_position))
    return counts


def count_macs(model, prefixes: tuple[str, ...] | None = None) -> int:
    """Multiply-adds of one image's forward pass through a built Keras model (`layer_macs`); with
    `prefixes`, only through the layers whose names start with one."""
    return sum(macs for name, macs in layer_macs(model) if not prefixes or name.startswith(prefixes))


# Networks by name: a Keras constructor (weights=None: the count needs only the shapes), and which
# layers count (a prefix of their names; None: all). "vgg16_block5" is what fine-tuning block 5 trains.
def _build(network: str, size: int):
    import keras

    if network == "small_cnn":
        return small_cnn(size)
    constructors = {"vgg16": keras.applications.VGG16, "vgg19": keras.applications.VGG19,
                    "mobilenet_v2": keras.applications.MobileNetV2, "inception_v3": keras.applications.InceptionV3,
                    "resnet50": keras.applications.ResNet50}
    base = network.split("_block")[0]
    return constructors[base](include_top=False, weights=None, input_shape=(size, size, 3))


PARTS = {"vgg16_block5": ("block5",), "vgg16_block4": ("block1", "block2", "block3", "block4"),
         "vgg16_block3": ("block1", "block2", "block3_conv1")}


@lru_cache(maxsize=None)
def _network_layers(network: str, size: int) -> tuple[tuple[str, int], ...]:
    return tuple(layer_macs(_build(network, size)))


def network_macs(network: str, size: int) -> int:
    """Multiply-adds of one image through `network` (or its part, `PARTS`) at `size` x `size`,
    counted on the Keras model (`layer_macs`; each network built once per size)."""
    prefixes = PARTS.get(network)
    return sum(macs for name, macs in _network_layers(network.split("_block")[0], size)
               if not prefixes or name.startswith(prefixes))


def split_sizes(dataset: str, settings: dict[str, Any]) -> dict[str, int]:
    """Images in each split (train, val, test) of `dataset` with the profile's per-class caps."""
    classes, available = PER_CLASS[dataset]
    return {split: classes * (count if settings.get(f"{split}_per_class") is None
                              else min(count, settings[f"{split}_per_class"]))
            for split, count in available.items()}


def work(notebook: str, settings: dict[str, Any]) -> list[Pass]:
    """The passes of images through networks that `notebook` makes with these settings (its
    profile's): epochs x images, each a forward pass (1) or a training step (`TRAIN`)."""
    s = settings
    size = s.get("image_size", 0)
    if notebook in ("01_scratch_cnn_baseline", "02_data_augmentation"):
        n = split_sizes("cats_vs_dogs", s)
        return [Pass("small_cnn", size, s["epochs"] * n["train"], TRAIN),
                Pass("small_cnn", size, s["epochs"] * n["val"] + 2 * n["test"])]  # validation; evaluate, predict
    if notebook == "03_vgg_feature_extraction":
        n = split_sizes("cats_vs_dogs", s)
        every = sum(n.values())
        return [Pass("vgg16", size, 2 * every + 2 * s["slow_images"]),  # cached features; random-weight base
                *[Pass(other, size, every) for other in s["other_bases"]],
                Pass("vgg16", size, s["end_to_end_epochs"] * (n["train"] + n["val"])
                     + (n["test"] if s["end_to_end_epochs"] else 0))]  # frozen base: forward only
    if notebook == "04_head_swap":
        n = split_sizes("flowers17", s)
        every = sum(n.values())
        return [Pass("vgg16", size, 2 * every + n["test"]),  # cached features, random base; test predictions
                Pass("vgg16_block4", size, every),
                Pass("vgg16_block5", size, s["fine_tune_epochs"] * n["train"], TRAIN),
                Pass("vgg16_block5", size, s["fine_tune_epochs"] * n["val"] + n["test"]),
                Pass("inception_v3", 96, s["inception_epochs"] * n["train"], TRAIN),  # 32x32 upsampled to 96
                Pass("inception_v3", 96, s["inception_epochs"] * n["val"] + (n["test"] if s["inception_epochs"] else 0))]
    if notebook == "05_unfreezing_block5":
        n = split_sizes("cats_vs_dogs", s)
        every, tuned = sum(n.values()), s["fine_tune_epochs"] + s["large_rate_epochs"]  # phase two, at both rates
        return [Pass("vgg16_block4", size, every),  # the cached block4_pool maps
                Pass("vgg16_block5", size, every + tuned * n["val"] + 2 * n["test"]),  # phase one's features
                Pass("vgg16_block5", size, tuned * n["train"], TRAIN),
                Pass("resnet50", s["bn_demo_size"], 3 * s["bn_demo_steps"] * s["batch_size"], TRAIN)]
    if notebook == "06_tfhub_mobilenet_cifar10":
        n = split_sizes("cifar10", s)
        passes = []
        for head, tune in (("head_epochs", "fine_tune_epochs"), ("head_epochs", "keras_fine_tune_epochs")):  # TF-Hub; Keras
            passes += [Pass("mobilenet_v2", size, s[head] * (n["train"] + n["val"]) + n["test"]),
                       Pass("mobilenet_v2", size, s[tune] * n["train"], TRAIN),
                       Pass("mobilenet_v2", size, s[tune] * n["val"] + (n["test"] if s[tune] else 0))]
        return passes  # (its CNN from scratch at 32x32, about 21 M multiply-adds an image, is small beside these)
    if notebook == "07_visualizing_filters_and_activations":
        n = split_sizes("cats_vs_dogs", s)
        ascents = (s["filters"] + 7 * s["study_filters"]) * s["steps"]  # 5 variants, one with 3x the steps
        return [Pass("small_cnn", size, s["scratch_epochs"] * n["train"], TRAIN),  # stand-in: run alone
                Pass("vgg16", size, n["train"]),  # the stand-in head's features
                Pass("vgg16_block3", s["filter_size"], ascents, TRAIN)]
    return []  # 00: data checks and figures, no network


def work_macs(passes: list[Pass], macs=network_macs) -> dict[str, float]:
    """Multiply-adds of these passes, split by the probe part whose speed they run at."""
    totals = {"small_cnn": 0.0, "vgg16": 0.0}
    for p in passes:
        if p.images:
            totals["small_cnn" if p.network == "small_cnn" else "vgg16"] += p.images * p.factor * macs(p.network, p.size)
    return totals


# ---- the probe ---------------------------------------------------------------------------------

def probe_sizes(profile: str) -> dict[str, int]:
    """The image sizes the probe measures at for `profile`: notebook 01's for the small CNN, 03's for VGG16."""
    return {"small_cnn": profile_settings("01_scratch_cnn_baseline", profile)["image_size"],
            "vgg16": profile_settings("03_vgg_feature_extraction", profile)["image_size"]}


def _seconds_per_call(call, minimum: float) -> float:
    """Seconds per call of `call`, after one untimed call (which traces and compiles), over at
    least two calls and `minimum` seconds."""
    call()
    calls, started = 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - started < minimum:
        call()
        calls += 1
    return (time.perf_counter() - started) / calls


def measure(profiles: tuple[str, ...] = ("quick", "full"), minimum: float = 1.5) -> dict[str, Any]:
    """Time this device on the course's work; returns the probe: for each profile, the small
    CNN's training steps and VGG16's forward passes at its sizes, as images and multiply-adds a
    second, with the device, versions, date and load average."""
    import keras
    import numpy as np
    import tensorflow as tf

    started = time.perf_counter()
    load = load_average()
    rng = np.random.default_rng(0)
    rates: dict[str, dict[str, dict[str, float]]] = {}
    for profile in profiles:
        sizes = probe_sizes(profile)
        batch = profile_settings("01_scratch_cnn_baseline", profile)["batch_size"]
        cnn = _build("small_cnn", sizes["small_cnn"])
        cnn.compile(optimizer="adam", loss="binary_crossentropy")
        x = rng.uniform(0, 255, (batch, sizes["small_cnn"], sizes["small_cnn"], 3)).astype("float32")
        y = rng.integers(0, 2, (batch, 1)).astype("float32")
        step = _seconds_per_call(lambda: cnn.train_on_batch(x, y), minimum)
        vgg = _build("vgg16", sizes["vgg16"])
        images = tf.constant(rng.uniform(-100, 150, (VGG_BATCH, sizes["vgg16"], sizes["vgg16"], 3)).astype("float32"))
        forward = tf.function(lambda batch: vgg(batch, training=False), autograph=False)  # no Python control flow
        through = _seconds_per_call(lambda: forward(images).numpy(), minimum)
        rates[profile] = {
            "small_cnn": {"size": sizes["small_cnn"], "images_per_second": batch / step,
                          "macs_per_second": batch * TRAIN * network_macs("small_cnn", sizes["small_cnn"]) / step},
            "vgg16": {"size": sizes["vgg16"], "images_per_second": VGG_BATCH / through,
                      "macs_per_second": VGG_BATCH * network_macs("vgg16", sizes["vgg16"]) / through}}
        keras.backend.clear_session()
    seconds = round(time.perf_counter() - started, 1)
    # Not timed, kept for the tables: counting needs each network built once, seconds apiece on a CPU.
    needed = {(p.network, p.size) for profile in profiles for notebook in PROFILES[profile] if notebook != "*"
              for p in work(notebook, profile_settings(notebook, profile)) if p.images}
    return {"format": PROBE_FORMAT, "measured": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "device": device_label(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "load_average": load, "seconds": seconds, "rates": rates,
            "macs": {f"{network}@{size}": network_macs(network, size) for network, size in sorted(needed)}}


def probe_macs(probe: dict):
    """`network_macs`, answered from the counts the probe kept where it has them."""
    kept = probe.get("macs", {})
    return lambda network, size: kept.get(f"{network}@{size}") or network_macs(network, size)


def probe_path(build: Path) -> Path:
    """Where the build folder keeps this machine's probe."""
    return artifact_path(build, "logs", PROBE_NAME)


def probe_problem(probe: Any, device: str, tensorflow: str, now: datetime.datetime | None = None) -> str | None:
    """Why `probe` (a file's parsed JSON) cannot stand for this machine now, or None when it can."""
    try:
        if probe.get("format") != PROBE_FORMAT:
            return "it is of another format"
        if probe["device"] != device:
            return f"it was measured on another device ({probe['device']})"
        if probe["tensorflow"] != tensorflow:
            return f"it was measured with TensorFlow {probe['tensorflow']}"
        measured = datetime.datetime.fromisoformat(probe["measured"])
        if ((now or datetime.datetime.now(datetime.timezone.utc)) - measured).days > MAX_AGE_DAYS:
            return f"it is older than {MAX_AGE_DAYS} days"
        for part in probe["rates"].values():
            if not all(float(part[name]["macs_per_second"]) > 0 for name in ("small_cnn", "vgg16")):
                return "it is damaged"
    except (AttributeError, KeyError, TypeError, ValueError):
        return "it is damaged"
    return None


def read_probe(path: Path, device: str, tensorflow: str) -> tuple[dict | None, str | None]:
    """This machine's probe from `path`, or None and why not ("none measured yet", "it is damaged", ...)."""
    try:
        probe = json.loads(path.read_text())
    except FileNotFoundError:
        return None, "none measured yet"
    except (OSError, ValueError):
        return None, "it is damaged"
    problem = probe_problem(probe, device, tensorflow)
    return (None, problem) if problem else (probe, None)


def ensure_probe(build: Path) -> dict[str, Any]:
    """The probe kept in `build`, or a new one measured now (and kept) where there is none that
    stands for this device; prints why it measures."""
    import tensorflow as tf

    path = probe_path(build)
    probe, problem = read_probe(path, device_label(), tf.__version__)
    if probe is None:
        print(f"Measuring this machine (about 20 s; the probe at {path}: {problem}) ...")
        probe = measure()
        write_json(path, probe)
    return probe


# ---- the estimates (pure) ----------------------------------------------------------------------

def speed_ratio(notebook: str, probe: dict, reference: dict) -> float:
    """How many times faster the build machine ran this notebook's kind of work than this machine
    does, at the quick profile's sizes (`FOLLOWS`; 00: the mean of both ratios)."""
    def ratio(part):
        return reference["rates"]["quick"][part]["macs_per_second"] / probe["rates"]["quick"][part]["macs_per_second"]
    part = FOLLOWS.get(notebook)
    return ratio(part) if part else (ratio("small_cnn") + ratio("vgg16")) / 2


def quick_estimate(notebook: str, probe: dict, timings: dict) -> float | None:
    """Seconds for `notebook` in quick here: its build-machine time scaled (None: not measured there)."""
    quick = timings.get("quick", {})
    if notebook not in quick.get("seconds", {}) or "probe" not in quick:
        return None
    return quick["seconds"][notebook] * speed_ratio(notebook, probe, quick["probe"])


def work_estimate(notebook: str, rates: dict, settings: dict[str, Any], macs=network_macs) -> float | None:
    """Seconds for the work `notebook` does with `settings` at the speeds `rates` (one profile's
    part of a probe); None for a notebook that runs no network (00)."""
    passes = work(notebook, settings)
    if not passes:
        return None
    return sum(total / rates[part]["macs_per_second"] for part, total in work_macs(passes, macs).items())


def full_estimate(notebook: str, probe: dict, settings: dict[str, Any], timings: dict, macs=network_macs) -> float | None:
    """Seconds for `notebook` in full here, from the work its full settings count (`work`) at the
    probe's full-size speeds; 00, which runs no network, its quick estimate."""
    seconds = work_estimate(notebook, probe["rates"]["full"], settings, macs)
    return quick_estimate(notebook, probe, timings) if seconds is None else seconds


def banner_line(notebook: str, probe: dict | None, problem: str | None, timings: dict) -> str:
    """The banner's one estimate line for `notebook` (quick), or why there is none."""
    if probe is None:
        return (f"no estimate for this machine ({problem}): notebook 00 measures it, about 20 s "
                "(course_utils.estimate.ensure_probe)")
    seconds = quick_estimate(notebook, probe, timings)
    if seconds is None:
        return "no estimate for this notebook: the build machine's quick time or probe is missing"
    return (f"estimate for this notebook on this machine: about {max(seconds / 60, 0.1):.1f} min (quick), measured "
            f"{probe['measured'][:10]}; how: {HOW_QUICK_SHORT} (notebook 00 says more)")


def table(probe: dict, timings: dict, notebooks: list[str] | None = None) -> list[str]:
    """Lines of a table: each notebook's quick and full estimate on the probed machine, labelled
    as estimates, with how each was made and what the probe measured."""
    names = notebooks or list(timings.get("quick", {}).get("seconds", {}))
    lines = [f"Estimates, not measurements, for this machine ({probe['device']}): its probe was measured "
             f"{probe['measured']} in {probe['seconds']:.0f} s at load average {probe['load_average']}",
             f"  {'notebook':<42} {'quick':>9} {'full':>11}"]
    totals = {"quick": 0.0, "full": 0.0}
    for name in names:
        quick = quick_estimate(name, probe, timings)
        full = full_estimate(name, probe, profile_settings(name, "full"), timings, probe_macs(probe))
        totals["quick"] += quick or 0.0
        totals["full"] += full or 0.0
        lines.append(f"  {name:<42} {_minutes(quick):>9} {_minutes(full):>11}")
    lines.append(f"  {'all notebooks':<42} {_minutes(totals['quick']):>9} {_minutes(totals['full']):>11}")
    reference = timings.get("quick", {}).get("probe", {})
    lines.append(f"quick: {HOW_QUICK} (measured {reference.get('measured', '?')[:10]}, load average "
                 f"{reference.get('load_average', '?')})")
    lines.append(f"full: {HOW_FULL}; work on cached features, data loading and plots left out, so a lower bound "
                 "(docs/learners.md, *An estimate for your machine*, says how far below)")
    return lines


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"
