"""course_utils.session: setup(), the call that opens every notebook."""

import random

import numpy as np

from course_utils import config, session


def test_setup_seeds_and_returns_the_settings(data_home, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    cfg = session.setup("00_start_here", seed=3)
    draws = (random.random(), np.random.rand())
    session.setup("00_start_here", seed=3)
    assert (random.random(), np.random.rand()) == draws
    banner = capsys.readouterr().out
    assert "profile     smoke" in banner and "vgg16: none (random initialisation)" in banner
    assert cfg["profile"] == "smoke" and cfg["data_dir"] == data_home
    assert cfg["batch_size"] == config.PROFILES["smoke"]["*"]["batch_size"]
