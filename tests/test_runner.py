"""The course runner on tiny notebooks it writes itself."""

import json

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from course_utils import cli, runner


def _write(folder, name, *sources):
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources],
                                metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}),
                   folder / name)


def test_runs_in_order_and_collects_results(data_home, tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    setup = "import course_utils\ncfg = course_utils.setup('{}')"
    record = ("course_utils.record_result(cfg, 'test_accuracy', {}, method='m', "
              "dataset='flowers17', weights=cfg['weights']['vgg16'])")
    _write(notebooks, "02_b.ipynb", setup.format("02_b"), record.format(0.25))
    _write(notebooks, "01_a.ipynb", setup.format("01_a"), record.format(0.5))
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    monkeypatch.setattr("course_utils.data.DATASETS", {})  # nothing to fetch
    report = runner.run_course("smoke", notebooks, build=tmp_path / "build")
    records = json.loads((report.parent / "results.json").read_text())
    assert [(r["notebook"], r["value"]) for r in records] == [("01_a", 0.5), ("02_b", 0.25)]
    assert all(r["weights"] == "none (random initialisation)" for r in records)
    assert "| 01_a | m | test_accuracy | 0.5000 | smoke |" in report.read_text()
    assert (tmp_path / "build" / "notebooks" / "01_a.ipynb").is_file()


def test_failing_cell_is_named(tmp_path, monkeypatch, capsys):
    notebooks = tmp_path / "notebooks"
    _write(notebooks, "01_bad.ipynb", "x = 1", "raise ValueError('broken on purpose')")
    monkeypatch.setattr("course_utils.data.DATASETS", {})
    code = cli.main(["run", "--profile", "smoke", "--notebooks", str(notebooks), "--build-dir", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code == 2
    assert "01_bad.ipynb failed in cell 1" in err and "broken on purpose" in err
    executed = nbformat.read(tmp_path / "b" / "notebooks" / "01_bad.ipynb", as_version=4)
    assert executed.cells[1].outputs[0]["ename"] == "ValueError"


def test_unknown_profile_stops_before_anything_runs(tmp_path, capsys):
    assert cli.main(["run", "--profile", "turbo", "--notebooks", str(tmp_path)]) == 2
    assert "choose one of smoke, quick, full" in capsys.readouterr().err


def test_progress_shows_position_cell_epoch_and_keeps_kernel_noise_in_a_log(data_home, tmp_path, monkeypatch, capsys):
    notebooks = tmp_path / "notebooks"
    _write(notebooks, "01_a.ipynb", "import sys\nprint('start-up noise', file=sys.__stderr__, flush=True)",
           "print('Epoch 3/7')")
    _write(notebooks, "02_b.ipynb", "x = 1")
    monkeypatch.setattr("course_utils.data.DATASETS", {})
    monkeypatch.setattr(runner.Progress, "EVERY", 0)  # a line for every update (the output is not a terminal)
    runner.run_course("smoke", notebooks, build=tmp_path / "build")
    out = capsys.readouterr().out
    assert "[1/2] 01_a  cell 2/2" in out and "epoch 3/7" in out
    assert "[1/2] 01_a done in" in out and "[2/2] 02_b done in" in out
    assert "start-up noise" not in out
    assert "start-up noise" in (tmp_path / "build" / "logs" / "01_a.log").read_text()

