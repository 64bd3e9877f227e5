"""The course runner on tiny notebooks it writes itself."""

import json

import pytest

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from course_utils import cli, execute, runner
from course_utils.errors import CourseError


def _write(folder, name, *sources):
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources],
                                metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}),
                   folder / name)


# The notebooks of these tests are not the course's: each registers its one result key, as a new notebook would
# in results.KEYS.
_OWN_KEY = "from course_utils import results\nresults.KEYS['m'] = (session.notebook, 'test_accuracy')"


def test_runs_in_order_and_collects_results(data_home, tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    setup = "import course_utils\nsession = course_utils.setup('{}')"
    record = (f"{_OWN_KEY}\nsession.using(None, network='vgg16')\n"
              "session.record('m', {}, method='m')")
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


def test_failing_cell_is_named_and_numbered_as_the_progress_line_numbers_it(tmp_path, monkeypatch, capsys):
    notebooks = tmp_path / "notebooks"
    _write(notebooks, "01_bad.ipynb", "x = 1", "raise ValueError('broken on purpose')")
    monkeypatch.setattr("course_utils.data.DATASETS", {})
    monkeypatch.setattr(execute.Progress, "EVERY", 0)  # a progress line for every cell
    code = cli.main(["run", "--profile", "smoke", "--notebooks", str(notebooks), "--build-dir", str(tmp_path / "b")])
    out, err = capsys.readouterr()
    assert code == 2
    # Counted from 1 in both, as a learner counts (and as the Ctrl-C line counts, below).
    assert "[1/1] 01_bad  cell 2/2" in out and "cell 3/2" not in out
    assert "01_bad.ipynb failed in cell 2/2 (\"raise ValueError" in err and "broken on purpose" in err
    assert "[1/1] 01_bad failed after 0:" in out and "done in" not in out  # the progress line's last word
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
    monkeypatch.setattr(execute.Progress, "EVERY", 0)  # a line for every update (the output is not a terminal)
    runner.run_course("smoke", notebooks, build=tmp_path / "build")
    out = capsys.readouterr().out
    assert "[1/2] 01_a  cell 2/2" in out and "epoch 3/7" in out
    assert "[1/2] 01_a done in" in out and "[2/2] 02_b done in" in out
    assert "start-up noise" not in out
    assert "start-up noise" in (tmp_path / "build" / "logs" / "01_a.log").read_text()


def test_a_rerun_reports_only_its_own_results_and_older_ones_apart(data_home, tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    setup = "import course_utils\nsession = course_utils.setup('{}')"
    record = (f"{_OWN_KEY}\nsession.using(None, network='small_cnn')\n"
              "session.record('m', {}, method='m')")
    figure = ("import matplotlib.pyplot as plt\n"
              "session.save_figure(plt.figure(), 'curves', caption='c')")
    _write(notebooks, "01_a.ipynb", setup.format("01_a"), record.format(0.5), figure)
    # 02_b records a first number, then dies before it finishes: its results are partial.
    _write(notebooks, "02_b.ipynb", setup.format("02_b"), record.format(0.25), figure,
           "raise KeyboardInterrupt('stopped midway')")
    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    monkeypatch.setattr("course_utils.data.DATASETS", {})
    build = tmp_path / "build"
    with pytest.raises(runner.NotebookFailed, match="KeyboardInterrupt"):
        runner.run_course("smoke", notebooks, build=build)
    first_run = json.loads((build / "results" / "02_b.jsonl").read_text())["run_id"]

    report = runner.run_course("smoke", notebooks, only=["01_a"], build=build)
    records = json.loads((report.parent / "results.json").read_text())
    assert [(r["notebook"], r["value"]) for r in records] == [("01_a", 0.5)]
    assert records[0]["run_id"] != first_run
    text = report.read_text()
    this_run, older = text.split("## Older results, not from this run")
    assert "| 02_b |" not in this_run and "02_b__curves" not in this_run
    assert "01_a__curves" in this_run
    assert f"run {first_run}, failed: partial results" in older and "| 02_b | m | test_accuracy | 0.2500 |" in older
    assert "figures/02_b__curves.png (" in older
    assert "02_b" not in (report.parent / "report.html").read_text().split("Older results")[0]


def test_failed_notebook_summary_gives_the_exception_type_and_message(tmp_path, monkeypatch, capsys):
    notebooks = tmp_path / "notebooks"
    # Keras' weight-loading errors end with a list of layers: the last line alone says nothing.
    _write(notebooks, "01_bad.ipynb", "raise ValueError('Layer count mismatch when loading weights.\\n"
                                      "[<Conv2D name=block1_conv1>, <Conv2D name=block1_conv2>]')")
    monkeypatch.setattr("course_utils.data.DATASETS", {})
    code = cli.main(["run", "--profile", "smoke", "--notebooks", str(notebooks), "--build-dir", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "failed in cell 1/1 (\"raise ValueError" in err
    assert "ValueError: Layer count mismatch when loading weights." in err


def test_bad_seed_stops_the_run_with_the_variable_and_range(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_SEED", "abc")
    monkeypatch.setattr("course_utils.data.DATASETS", {})
    _write(tmp_path / "notebooks", "01_a.ipynb", "x = 1")
    code = cli.main(["run", "--profile", "smoke", "--notebooks", str(tmp_path / "notebooks"),
                     "--build-dir", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "COURSE_SEED='abc' is not a seed: use a whole number from 0 to 4294967295" in err
    assert not (tmp_path / "b" / "notebooks").exists()  # stopped before any notebook ran


@pytest.mark.parametrize("setting", [("COURSE_SEED", "²", "COURSE_SEED='²' is not a seed: use a whole number"),
                                     ("COURSE_DETERMINISTIC", "maybe", "COURSE_DETERMINISTIC='maybe' is neither yes nor no: "
                                      "use 1, true, yes, on to turn it on")])
def test_a_bad_setting_stops_the_run_by_name_before_any_notebook(tmp_path, monkeypatch, capsys, setting):
    name, value, message = setting
    monkeypatch.setenv(name, value)
    monkeypatch.setattr("course_utils.data.DATASETS", {})
    _write(tmp_path / "notebooks", "01_a.ipynb", "x = 1")
    code = cli.main(["run", "--profile", "smoke", "--notebooks", str(tmp_path / "notebooks"),
                     "--build-dir", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and message in err
    assert not (tmp_path / "b" / "notebooks").exists()  # stopped before any notebook ran


def test_a_run_killed_midway_then_rerun_needs_no_cleanup(data_home, tmp_path, monkeypatch):
    import os
    import signal
    import subprocess
    import sys
    import time

    notebooks, build = tmp_path / "notebooks", tmp_path / "build"
    setup = "import course_utils\nsession = course_utils.setup('{}')"
    record = (f"{_OWN_KEY}\nsession.using(None, network='small_cnn')\n"
              "session.record('m', {}, method='m')")
    _write(notebooks, "01_a.ipynb", setup.format("01_a"), record.format(0.5))
    _write(notebooks, "02_b.ipynb", setup.format("02_b"), record.format(0.25), "import time\ntime.sleep(120)")
    script = ("import sys\nfrom course_utils import data, runner\ndata.DATASETS.clear()\n"
              "runner.run_course('smoke', sys.argv[1], build=sys.argv[2])\n")
    env = dict(os.environ, COURSE_WEIGHTS_VGG16="none")
    run = subprocess.Popen([sys.executable, "-c", script, str(notebooks), str(build)], env=env,
                           start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = build / "results" / "02_b.jsonl"
    deadline = time.time() + 120
    while not partial.is_file() and time.time() < deadline and run.poll() is None:
        time.sleep(0.5)
    os.killpg(run.pid, signal.SIGKILL)  # the whole run, its kernel included, mid-notebook
    run.wait()
    assert partial.is_file(), "the first run never got as far as notebook 02_b"

    monkeypatch.setenv("COURSE_WEIGHTS_VGG16", "none")
    monkeypatch.setattr("course_utils.data.DATASETS", {})
    report = runner.run_course("smoke", notebooks, only=["01_a"], build=build)
    this_run, older = report.read_text().split("## Older results, not from this run")
    assert "| 01_a | m | test_accuracy | 0.5000 |" in this_run and "02_b" not in this_run
    assert "interrupted: partial results" in older and "| 02_b |" in older
    assert [r["notebook"] for r in json.loads((report.parent / "results.json").read_text())] == ["01_a"]


def test_progress_line_estimates_the_time_left_at_the_pace_of_the_epochs_done(monkeypatch):
    import io

    now = [1000.0]
    monkeypatch.setattr(runner.time, "time", lambda: now[0])
    out = io.StringIO()
    progress = execute.Progress("02_data_augmentation", "3/8", 20, stream=out)
    progress.EVERY = 0
    progress.update(cell=7)
    progress.update(text="Epoch 1/10\n")
    assert out.getvalue().splitlines()[-1].endswith("epoch 1/10")  # no pace yet
    now[0] += 10
    progress.update(text="63/63 - 10s - loss: 0.6\nEpoch 2/10\n")
    assert out.getvalue().splitlines()[-1].endswith("epoch 2/10, about 1:30 left")  # 9 epochs at 10 s
    now[0] += 30
    progress.update(text="Epoch 4/10\n")  # 3 epochs in 40 s
    assert out.getvalue().splitlines()[-1].endswith("epoch 4/10, about 1:33 left")
    progress.update(text="Epoch 1/3\n")  # a new training in the same cell starts its own count
    assert out.getvalue().splitlines()[-1].endswith("epoch 1/3")


# Two real processes. Notebooks that record a result without importing TensorFlow (what `setup()`
# would do), so that each kernel starts in a second or two.
_RECORD = ("import os\nfrom course_utils import results\n"
           "session = results.Session({}, notebook='{notebook}', profile='smoke', seed=1, device='CPU',\n"
           "                          build_dir=os.environ['COURSE_BUILD_DIR'],\n"
           "                          run_id=os.environ.get('COURSE_RUN_ID', 'by hand'))\n"
           "results.KEYS['m'] = ('{notebook}', 'test_accuracy')  # a notebook of these tests' own: its key\n"
           "session.using(None, network='small_cnn')\n"
           "session.record('m', {value}, method='{method}')")
_CLI = "import sys\nfrom course_utils import cli, data\ndata.DATASETS.clear()\nsys.exit(cli.main(sys.argv[1:]))"


def _record_source(notebook, value, method="m"):
    return _RECORD.replace("{notebook}", notebook).replace("{value}", str(value)).replace("{method}", method)


def _start_run(notebooks, build, **popen):
    """`python -m course_utils run` (with no dataset to fetch) as a separate process."""
    import os
    import subprocess
    import sys

    command = [sys.executable, "-c", _CLI, "run", "--profile", "smoke", "--notebooks", str(notebooks),
               "--build-dir", str(build)]
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_RUN_ID", "COURSE_BUILD_DIR")}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _wait_for(test, process, seconds=60):
    import time

    deadline = time.time() + seconds
    while not test() and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    return test()


def _still_running(processes) -> list[int]:
    """The ids of those psutil `processes` that still run (neither gone nor a zombie)."""
    import psutil

    running = []
    for process in processes:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                running.append(process.pid)
        except psutil.NoSuchProcess:
            pass
    return running


def test_a_second_run_on_the_same_build_folder_stops_and_leaves_the_first_run_whole(tmp_path):
    import subprocess

    notebooks, build, release = tmp_path / "notebooks", tmp_path / "build", tmp_path / "release"
    # The first run records its result, then stays mid-notebook until the test releases it.
    wait = (f"import pathlib, time\nstop = time.time() + 60\n"
            f"while not pathlib.Path({str(release)!r}).exists() and time.time() < stop:\n    time.sleep(0.1)")
    _write(notebooks, "01_a.ipynb", _record_source("01_a", 0.5), wait)
    results = build / "results" / "01_a.jsonl"
    first = _start_run(notebooks, build)
    try:
        assert _wait_for(results.is_file, first), "the first run never recorded its result"
        first_run = json.loads(results.read_text())["run_id"]

        second = _start_run(notebooks, build)
        try:
            code = second.wait(timeout=20)
        except subprocess.TimeoutExpired:  # it did not stop: it is running the notebook too
            release.touch()
            code = second.wait(timeout=60)
        out, err = second.communicate()
        assert code == 2, f"a second run on the same build folder did not stop (exit code {code}): {out}{err}"
        assert err.count("\n") == 1 and "Traceback" not in err
        assert err.startswith(f"error: another course run is using the build folder {build.resolve()}: "
                              f"run {first_run} (process {first.pid}), started ")
        assert "Wait for it to finish, or run in another build folder: COURSE_BUILD_DIR=" in err
        assert not out  # it ran nothing
    finally:
        release.touch()
        out, err = first.communicate(timeout=90)
    assert first.returncode == 0, err
    assert [json.loads(line)["run_id"] for line in results.read_text().splitlines()] == [first_run]
    report = (build / "report" / "report.md").read_text()
    assert "No notebook recorded a result" not in report and "| 01_a | m | test_accuracy | 0.5000 |" in report


def test_a_run_deletes_no_record_that_another_process_made(data_home, tmp_path, monkeypatch):
    """A learner ran notebook 01_a by hand (JupyterLab: another process, another run id); then
    the course runner executes 01_a. The learner's record stays; the report shows the run's."""
    import os
    import subprocess
    import sys

    notebooks, build = tmp_path / "notebooks", tmp_path / "build"
    _write(notebooks, "01_a.ipynb", _record_source("01_a", 0.5, method="by the runner"))
    by_hand = _record_source("01_a", 0.75, method="by hand")
    env = dict(os.environ, COURSE_BUILD_DIR=str(build))
    env.pop("COURSE_RUN_ID", None)
    subprocess.run([sys.executable, "-c", by_hand], env=env, check=True, timeout=60)

    monkeypatch.setattr("course_utils.data.DATASETS", {})
    report = runner.run_course("smoke", notebooks, build=build)
    kept = [json.loads(line)["method"] for line in (build / "results" / "01_a.jsonl").read_text().splitlines()]
    assert kept == ["by hand", "by the runner"]
    assert [r["method"] for r in json.loads((report.parent / "results.json").read_text())] == ["by the runner"]
    assert "by hand" not in report.read_text()  # an earlier run of a notebook this run executed: replaced


def test_ctrl_c_ends_with_one_line_exit_130_and_no_kernel_left(tmp_path):
    import os
    import signal

    import psutil

    notebooks, build, started = tmp_path / "notebooks", tmp_path / "build", tmp_path / "started"
    _write(notebooks, "01_a.ipynb", "x = 1")
    _write(notebooks, "02_b.ipynb", "x = 2", f"import pathlib, time\npathlib.Path({str(started)!r}).touch()\n"
                                             "time.sleep(120)", "y = 3")
    run = _start_run(notebooks, build, start_new_session=True)  # its own process group, as in a terminal
    try:
        assert _wait_for(started.is_file, run), "the run never reached notebook 02_b's second cell"
        kernels = psutil.Process(run.pid).children(recursive=True)
        assert kernels, "no kernel process found"
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C sends
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 130
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
    assert err.count("\n") == 1
    assert err.startswith("Interrupted in 02_b, cell 2/3; its kernel was stopped and nothing half-written was kept. "
                          "Results so far: 01_a (in ")
    assert err.strip().endswith(f"to run the rest: python -m course_utils run --profile smoke "
                                f"--notebooks {notebooks} --only 02_b")
    assert "[2/2] 02_b interrupted after 0:" in out
    left = _still_running(kernels)
    assert not left, f"kernel process(es) {left} still running"
    status = json.loads(next((build / "runs").glob("*.json")).read_text())
    assert status["notebooks"] == {"01_a": "done", "02_b": "interrupted"} and status["state"] == "interrupted"


def test_sigterm_ends_with_the_ctrl_c_line_exit_143_and_no_kernel_left(tmp_path):
    import os
    import signal

    import psutil

    notebooks, build, started = tmp_path / "notebooks", tmp_path / "build", tmp_path / "started"
    _write(notebooks, "01_a.ipynb", "x = 1")
    _write(notebooks, "02_b.ipynb", "x = 2", f"import pathlib, time\npathlib.Path({str(started)!r}).touch()\n"
                                             "time.sleep(120)", "y = 3")
    run = _start_run(notebooks, build, start_new_session=True)
    try:
        assert _wait_for(started.is_file, run), "the run never reached notebook 02_b's second cell"
        kernels = psutil.Process(run.pid).children(recursive=True)
        assert kernels, "no kernel process found"
        os.kill(run.pid, signal.SIGTERM)  # `kill PID`, a job's time limit: the runner alone, not its kernel
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 143, err
    assert "Traceback" not in out + err and err.count("\n") == 1
    assert err.startswith("Interrupted in 02_b, cell 2/3; its kernel was stopped and nothing half-written was kept. "
                          "Results so far: 01_a (in ")  # the line Ctrl-C gives
    assert err.strip().endswith(f"--notebooks {notebooks} --only 02_b")
    assert "[2/2] 02_b interrupted after 0:" in out
    left = _still_running(kernels)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"kernel process(es) {left} still running"
    status = json.loads(next((build / "runs").glob("*.json")).read_text())
    assert status["notebooks"] == {"01_a": "done", "02_b": "interrupted"} and status["state"] == "interrupted"


def test_ctrl_c_while_a_kernel_starts_leaves_no_kernel(tmp_path, monkeypatch):
    """Ctrl-C before nbclient has a kernel client (its own clean-up does not cover that time)."""
    import os
    import signal

    import psutil

    notebooks, build, starting = tmp_path / "notebooks", tmp_path / "build", tmp_path / "starting"
    _write(notebooks, "01_a.ipynb", "x = 1")
    # IPython runs its start-up files before the kernel answers: this kernel takes a minute to be ready.
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-slow.py").write_text(f"import pathlib, time\npathlib.Path({str(starting)!r}).touch()\n"
                                        "time.sleep(60)\n")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    run = _start_run(notebooks, build, start_new_session=True)
    try:
        assert _wait_for(starting.is_file, run), "the kernel never started"
        kernels = psutil.Process(run.pid).children(recursive=True)
        os.killpg(run.pid, signal.SIGINT)
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 130 and "Traceback" not in out + err, (run.returncode, out[-2000:], err[-3000:])
    assert err.startswith("Interrupted in 01_a, while its kernel was starting; its kernel was stopped")
    alive = _still_running(kernels)
    for pid in alive:  # do not leave it to sleep on
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"kernel process(es) {alive} still running"


def test_ctrl_c_outside_a_notebook_is_one_line_and_exit_130(monkeypatch, capsys):
    def fetching(*args):  # Ctrl-C while the run fetches the data, before any notebook
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run_course", fetching)
    assert cli.main(["run", "--profile", "smoke"]) == 130
    out, err = capsys.readouterr()
    assert err == "Interrupted (Ctrl-C) during `run`; run it again to carry on.\n" and not out


def test_a_prepared_run_holds_its_build_folder_and_records_each_notebook_it_runs(data_home, tmp_path, monkeypatch):
    """The runner's two steps one at a time: preparing a run, then running one notebook of it."""
    import os

    for name in ("COURSE_PROFILE", "COURSE_BUILD_DIR", "COURSE_RUN_ID"):  # preparing sets them for the kernels
        monkeypatch.setenv(name, os.environ.get(name, ""))  # restored after the test
    notebooks, build = tmp_path / "notebooks", tmp_path / "build"
    _write(notebooks, "01_a.ipynb", "x = 1")
    seen = tmp_path / "run_id_seen"
    _write(notebooks, "02_b.ipynb",
           f"import os, pathlib\npathlib.Path({str(seen)!r}).write_text(os.environ['COURSE_RUN_ID'])")
    ids = iter(["run-1", "run-2", "run-3"])  # one second apart or not, each run its own id
    monkeypatch.setattr(runner, "new_run_id", lambda: next(ids))
    monkeypatch.setattr("course_utils.data.DATASETS", {})
    with runner.prepared_run("smoke", notebooks, build=build) as run:
        status = build / "runs" / f"{run.run_id}.json"
        assert [p.name for p in run.notebooks] == ["01_a.ipynb", "02_b.ipynb"]
        assert json.loads(status.read_text())["notebooks"] == {"01_a": "not run yet", "02_b": "not run yet"}
        with pytest.raises(CourseError, match=f"another course run is using the build folder .*run {run.run_id}"):
            with runner.prepared_run("smoke", notebooks, build=build):
                pass
        assert os.environ["COURSE_RUN_ID"] == run.run_id  # the kernels still record as this run
        seconds = runner.run_notebook(run, run.notebooks[1])
        assert seen.read_text() == "run-1"  # what its records would carry
    state = json.loads(status.read_text())
    assert state["notebooks"] == {"01_a": "not run yet", "02_b": "done"}
    assert state["seconds"] == {"02_b": round(seconds, 1)}
    assert (build / "notebooks" / "02_b.ipynb").is_file() and not (build / "notebooks" / "01_a.ipynb").exists()
    with runner.prepared_run("smoke", notebooks, only=["01_a"], build=build) as again:  # the lock is free again
        assert [p.stem for p in again.notebooks] == ["01_a"]


def test_selecting_no_notebook_is_one_message_naming_the_folder(tmp_path):
    with pytest.raises(CourseError, match=f"no course notebooks to run in {tmp_path}"):
        runner.select_notebooks(tmp_path, ["01_missing"])


@pytest.mark.parametrize("argv, command", [(["run"], "run"), (["data", "list"], "data_list"),
                                           (["data", "verify"], "data_verify"), (["data", "fetch"], "data_fetch"),
                                           (["data", "import", "cifar10", "x"], "data_import"),
                                           (["hub", "export-stand-in", "x"], "hub_export"), (["lab-kit"], "lab_kit"),
                                           (["badges"], "badges"), (["report"], "report")])
def test_each_command_line_goes_to_its_own_function(argv, command):
    assert cli.parser().parse_args(argv).func is getattr(cli, command)


def test_a_full_disk_is_the_build_folder_s_only_for_a_file_in_it_or_naming_none(tmp_path):
    import errno

    build = tmp_path / "build"
    failed = "01_a.ipynb failed in cell 2/2 ('x'): OSError: [Errno 28] No space left on device"
    assert runner.out_of_space(runner.NotebookFailed(f"{failed}: '{build / 'big.bin'}'"), build)
    assert runner.out_of_space(runner.NotebookFailed(  # h5py's words: no file named
        "OSError: [Errno 28] Unable to synchronously create file (file write failed: errno = 28, error message = "
        "'No space left on device')"), build)
    assert not runner.out_of_space(runner.NotebookFailed(f"{failed}: '{tmp_path / 'keras' / 'w.h5'}'"), build)
    assert not runner.out_of_space(runner.NotebookFailed("01_a.ipynb failed in cell 1/1 ('x'): ValueError: x"), build)
    assert runner.out_of_space(OSError(errno.ENOSPC, "No space left on device", str(build / "runs" / "r.json")), build)
    assert not runner.out_of_space(OSError(errno.EACCES, "Permission denied", str(build / "runs" / "r.json")), build)
