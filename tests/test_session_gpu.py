"""setup() on a GPU: memory growth before anything runs, and op determinism only when asked for.

There is no GPU here: TensorFlow's device listing and memory-growth calls are replaced by
fakes that record what setup() asks of them, and in what order.
"""

import pytest
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from course_utils import compat, session

GPUS = [tf.config.PhysicalDevice(name=f"/physical_device:GPU:{i}", device_type="GPU") for i in range(2)]


@pytest.fixture
def two_gpus(data_home, monkeypatch):
    """Two fake GPUs; returns the log of memory-growth calls and seeding, in order."""
    log = []
    real = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda device_type=None: GPUS if device_type == "GPU" else real(device_type))
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth",
                        lambda device, enable: log.append(("memory growth", device.name, enable)))
    seed = session.seed_everything
    monkeypatch.setattr(session, "seed_everything", lambda value: (log.append(("seed", value)), seed(value)))
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    monkeypatch.delenv("COURSE_DETERMINISTIC", raising=False)
    return log


def test_memory_growth_on_every_gpu_before_anything_runs(two_gpus, capsys):
    session.setup("00_start_here", seed=3)
    assert two_gpus == [("memory growth", "/physical_device:GPU:0", True),
                        ("memory growth", "/physical_device:GPU:1", True), ("seed", 3)]
    banner = capsys.readouterr().out
    assert "device      GPU x2" in banner and "gpu memory  taken as needed (memory growth)" in banner


def test_a_gpu_already_initialised_is_said_not_raised(two_gpus, monkeypatch, capsys):
    def too_late(device, enable):
        raise RuntimeError("Physical devices cannot be modified after being initialized")

    monkeypatch.setattr(tf.config.experimental, "set_memory_growth", too_late)
    opened = session.setup("00_start_here", seed=3)
    assert opened.device == "GPU x2"
    assert "gpu memory  all reserved by this process: TensorFlow had already initialised the GPU" in capsys.readouterr().out


def test_no_gpu_no_memory_line(data_home, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    session.setup("00_start_here", seed=3)
    assert "gpu memory" not in capsys.readouterr().out  # this machine has no GPU


def test_op_determinism_only_when_asked(two_gpus, monkeypatch, capsys):
    session.setup("00_start_here", seed=3)
    assert not tf_config.is_op_determinism_enabled() and "  determinism " not in capsys.readouterr().out
    monkeypatch.setenv("COURSE_DETERMINISTIC", "1")
    try:
        session.setup("00_start_here", seed=3)
        assert tf_config.is_op_determinism_enabled()
    finally:
        tf_config.disable_op_determinism()  # the other tests run without it
    assert "determinism on (COURSE_DETERMINISTIC=1)" in capsys.readouterr().out


def test_keras_compiles_without_xla_under_op_determinism(monkeypatch):
    """What docs/reports.md and the banner say: with op determinism on, Keras 3.7 and newer do not use XLA,
    even on a GPU; an older Keras still does (compat.xla_with_determinism)."""
    import keras

    real = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda device_type=None: real(device_type) + ([GPUS[0]] if device_type in (None, "GPU") else []))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(loss="mse")
    assert model.jit_compile is True
    tf.config.experimental.enable_op_determinism()
    try:
        model.compile(loss="mse")
        assert model.jit_compile is compat.xla_with_determinism()
    finally:
        tf_config.disable_op_determinism()
