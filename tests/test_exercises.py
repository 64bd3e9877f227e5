"""The exercises: every solution passes, every starter is "not answered yet", typical wrong answers get
their own message, bad input gives one sentence; the student and teacher editions, and stamping.

The notebooks' own variables (`base`, `splits`, `size`, ...) are given small stand-ins here: VGG16 with
weights=None at 64x64, random arrays. A check never depends on weights, so none is downloaded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import types
from pathlib import Path

import keras
import nbformat
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from course_utils import compat, config, editions, exercises, visualize
from course_utils.errors import CourseError
from course_utils.exercise_checks import NOT_ANSWERED, PASSED, WRONG, Outcome

SIZE = 64


def small_cnn(size: int = SIZE):
    stack = [keras.Input(shape=(size, size, 3)), layers.Rescaling(1.0 / 255)]
    for filters in (32, 64, 128, 128):
        stack += [layers.Conv2D(filters, 3, activation="relu"), layers.MaxPooling2D(2)]
    return keras.Sequential(stack + [layers.Flatten(), layers.Dense(512, activation="relu"),
                                     layers.Dense(1, activation="sigmoid")])


def vgg():
    return keras.applications.VGG16(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))


def bn_base():
    inputs = keras.Input(shape=(16, 16, 3))
    x = layers.BatchNormalization(name="bn_a")(layers.Conv2D(4, 3, name="conv_a")(inputs))
    return keras.Model(inputs, x, name="resnet_stand_in")


def given(names) -> dict:
    """Stand-ins for the notebook variables `names`, plus the modules the exercise cells import."""
    images = np.random.default_rng(1).uniform(0, 255, (4, SIZE, SIZE, 3)).astype("float32")
    labels = np.array([0, 1, 0, 1])
    namespace = {"keras": keras, "layers": layers, "np": np, "tf": tf, "visualize": visualize, "session": None,
                 "models": types.SimpleNamespace(cut_at=lambda m, n: keras.Model(m.input, m.get_layer(n).output)),
                 "size": SIZE, "images": images, "cat": images[0]}
    makers = {
        "model": small_cnn, "small": small_cnn, "resnet": bn_base,
        "augment": lambda: keras.Sequential([layers.RandomRotation(0.1, fill_mode="nearest"),
                                             layers.RandomTranslation(0.2, 0.2, fill_mode="nearest"),
                                             layers.RandomZoom(0.2, fill_mode="nearest"), compat.random_shear(0.2),
                                             layers.RandomFlip("horizontal")]),
        "splits": lambda: types.SimpleNamespace(train=tf.data.Dataset.from_tensor_slices((images, labels)).batch(2)),
        "x_train": lambda: np.random.default_rng(2).uniform(0, 5, (6, 2, 2, 512)).astype("float32"),
        "conv_head": lambda: keras.Sequential([keras.Input((2, 2, 512)), layers.Flatten(), layers.Dense(1)]),
        "prepare": lambda: (lambda x: keras.applications.vgg16.preprocess_input(x.copy() if isinstance(x, np.ndarray) else x)),
        "base": vgg,
        "head": lambda: keras.Sequential([keras.Input((2, 2, 512)), layers.Flatten(), layers.Dense(1, activation="sigmoid")]),
    }
    for name in names:
        if name in makers:
            namespace[name] = makers[name]()
    return namespace


def run(exercise_id: str, code: str, check_cell: str | None = None) -> Outcome:
    """Run `code` as an exercise cell among the notebook's stand-ins, then the exercise's check: the
    source of an edition's check cell when given (it must leave its outcome in `outcome`)."""
    exercise = exercises.get(exercise_id)
    namespace = given(exercise.uses)
    exec(code, namespace)
    if check_cell is None:
        return exercise.outcome({name: namespace.get(name) for name in exercise.names})
    exec(check_cell, namespace)
    return namespace["outcome"]


ALL = list(exercises.EXERCISES)

# At least one typical wrong answer per exercise, with a piece of the message it must get.
THREE = ("three_blocks = keras.Sequential([keras.Input(shape=(size, size, 3)), layers.Rescaling(1 / 255), {}, "
         "layers.Flatten(), layers.Dense(512, activation='relu'), layers.Dense(1, activation='sigmoid')])")
C, P = "layers.Conv2D({}, 3, activation='relu')", "layers.MaxPooling2D(2)"
WRONG_ANSWERS = {
    "01.no_fourth_block": [
        (THREE.format(", ".join([C.format(32), P, C.format(64), P, C.format(128), P, P])), "followed by its MaxPooling2D"),
        (THREE.format(", ".join([C.format(32), P, C.format(128), P, C.format(128), P])), "not the first three blocks"),
        (THREE.format(", ".join([C.format(32), P, C.format(64), P, C.format(128), P, C.format(128), P])),
         "has 4 convolution layers")],
    "01.block_output_size": [("block_output_size = lambda n: n // 2", "gives 75, Keras gives 74x74"),
                             ("block_output_size = lambda n: (n - 2) / 2", "gives 17.5")],
    "02.augment_in_range": [
        ("augment_plus = keras.Sequential([*augment.layers, layers.RandomBrightness(0.2, value_range=(0, 1))])",
         "squeezed the pixel range"),
        ("augment_plus = keras.Sequential([*augment.layers, layers.GaussianNoise(0.5)])", "goes down to"),
        ("augment_plus = keras.Sequential([*augment.layers, layers.Rescaling(1.0)])", "no new random transformation"),
        ("augment_plus = keras.Sequential([*augment.layers, layers.RandomContrast(0.2), layers.Rescaling(0.5)])",
         "with training=False it changes the images")],
    "02.augment_batch": [("def augment_batch(images, labels):\n    return augment(images, training=False), labels", "unchanged"),
                         ("def augment_batch(images, labels):\n    return augment(images, training=True)",
                          "does not return two values")],
    "03.conv_head": [
        ("gap_conv_head = keras.Sequential([keras.Input(x_train.shape[1:]), layers.Conv2D(8, 1), layers.Flatten(), "
         "layers.Dense(1, activation='sigmoid')])", "still flattens"),
        ("gap_conv_head = keras.Sequential([keras.Input((64, 64, 3)), layers.Conv2D(8, 3), "
         "layers.GlobalAveragePooling2D(), layers.Dense(1, activation='sigmoid')])", "the cached features are"),
        ("gap_conv_head = keras.Sequential([keras.Input(x_train.shape[1:]), layers.Dense(8), "
         "layers.GlobalAveragePooling2D(), layers.Dense(1, activation='sigmoid')])", "starts with a Conv2D")],
    "03.frozen_base_in_model": [
        ("vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(64, 64, 3))\n"
         "inputs = keras.Input((64, 64, 3))\nx = vgg(prepare(layers.RandomFlip()(inputs)))\n"
         "end_to_end = keras.Model(inputs, layers.Dense(1, activation='sigmoid')(layers.Flatten()(x)))",
         "block1_conv1 is still trainable"),
        ("vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(64, 64, 3))\n"
         "vgg.trainable = False\ninputs = keras.Input((64, 64, 3))\nx = layers.RandomFlip()(vgg(prepare(inputs)))\n"
         "end_to_end = keras.Model(inputs, layers.Dense(1, activation='sigmoid')(layers.Flatten()(x)))",
         "comes after the base")],
    "04.cut_block3": [
        ("for layer in base.layers:\n    layer.trainable = layer.name.startswith('block3')\n"
         "cut3 = keras.Model(base.input, base.get_layer('block3_pool').output)\ncut3_trainable = cut3.count_params()",
         "frozen ones included"),
        ("cut3 = keras.Model(base.input, base.get_layer('block3_conv3').output)\ncut3_trainable = 0",
         "ends at block3_conv3"),
        ("cut3 = keras.Model(base.input, base.get_layer('block3_pool').output)\n"
         "cut3_trainable = len(cut3.trainable_weights)", "weight tensors")],
    "04.gap_head": [
        ("gap_head = keras.Sequential([keras.Input(base.output.shape[1:]), layers.Flatten(), "
         "layers.Dense(17, activation='softmax')])", "still has a Flatten"),
        ("gap_head = keras.Sequential([keras.Input(base.output.shape[1:]), layers.GlobalAveragePooling2D(), "
         "layers.Dense(1, activation='sigmoid')])", "17 flowers")],
    "05.unfreeze_block4": [
        ("for layer in base.layers:\n    layer.trainable = layer.name.startswith(('block4', 'block5'))\n"
         "base.trainable = False\ntrainable_now = 0", "`base` itself is frozen"),
        ("base.trainable = True\ntrainable_now = base.count_params()", "block3_conv3 is trainable"),
        ("for layer in base.layers:\n    layer.trainable = layer.name.startswith(('block4', 'block5'))\n"
         "trainable_now = sum(l.count_params() for l in base.layers if l.name.startswith('block5'))",
         "block 5 alone")],
    "05.freeze_bn": [
        ("def unfreeze_except_bn(model):\n    for layer in model.layers:\n"
         "        if isinstance(layer, keras.layers.BatchNormalization):\n            layer.trainable = False\n"
         "    model.trainable = True", "conv1_bn (BatchNormalization) is trainable"),
        ("def unfreeze_except_bn(model):\n    pass", "still frozen")],
    "06.resize_in_model": [
        ("resize_layers = keras.Sequential([keras.Input((32, 32, 3)), layers.Resizing(size, size)])", "reaches"),
        ("resize_layers = keras.Sequential([keras.Input((32, 32, 3)), layers.Resizing(size, size), "
         "layers.Rescaling(1 / 127.5, offset=-1)])", "goes down to"),
        ("resize_layers = keras.Sequential([keras.Input((32, 32, 3)), layers.Resizing(size, size, "
         "interpolation='nearest'), layers.Rescaling(1 / 255)])", "other pixel values"),
        ("resize_layers = keras.Sequential([keras.Input((32, 32, 3)), layers.Rescaling(1 / 255)])", "outputs 32x32")],
    "06.mobilenet_applications": [
        ("m = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(size, size, 3), pooling='avg')\n"
         "m.trainable = False\nmobilenet_model = keras.Sequential([keras.Input((size, size, 3)), m, "
         "layers.Dense(10, activation='softmax')])", "receives pixels in [0"),
        ("m = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(size, size, 3), pooling='avg')\n"
         "mobilenet_model = keras.Sequential([keras.Input((size, size, 3)), layers.Rescaling(2.0, offset=-1.0), m, "
         "layers.Dense(10, activation='softmax')])", "Conv1 is trainable"),
        ("m = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(size, size, 3))\n"
         "m.trainable = False\nmobilenet_model = keras.Sequential([keras.Input((size, size, 3)), m, layers.Flatten(), "
         "layers.Dense(10, activation='softmax')])", "gives maps")],
    "07.conv_activations": [
        ("conv_activations = keras.Model(small.inputs, [l.output for l in small.layers "
         "if isinstance(l, (layers.Conv2D, layers.MaxPooling2D))])", "has 8 output(s)"),
        ("other = keras.models.clone_model(small)\nconv_activations = keras.Model(other.inputs, "
         "[l.output for l in other.layers if isinstance(l, layers.Conv2D)])", "differ from `small`'s own")],
    "07.grad_cam_layer": [
        ("inputs = keras.Input((size, size, 3))\nconv_model_b4 = keras.Model(inputs, models.cut_at(base, 'block4_conv3')(inputs))\n"
         "classifier_model_b4 = conv_model_b4", "are they prepared first"),
        ("inputs = keras.Input((size, size, 3))\n"
         "conv_model_b4 = keras.Model(inputs, models.cut_at(base, 'block4_pool')(prepare(inputs)))\n"
         "classifier_model_b4 = conv_model_b4", "block4_conv3's are")],
}


def test_every_exercise_has_wrong_answers_and_every_notebook_two_exercises():
    assert set(WRONG_ANSWERS) == set(ALL)
    for number in range(1, 8):
        assert len([e for e in ALL if e.startswith(f"0{number}.")]) >= 2


@pytest.mark.parametrize("exercise_id", ALL)
def test_the_solution_passes_the_teacher_editions_check_cell(exercise_id):
    exercise = exercises.get(exercise_id)
    outcome = run(exercise_id, editions.source(exercise, "code", "teacher"), editions.source(exercise, "check", "teacher"))
    assert outcome.status == PASSED, outcome.message


@pytest.mark.parametrize("exercise_id", ALL)
def test_the_starter_is_not_answered_yet_in_the_student_editions_check_cell(exercise_id):
    """The student edition's cells, as they run in a notebook: the check reads the cell's variables."""
    exercise = exercises.get(exercise_id)
    check_cell = editions.source(exercise, "check", "student").replace("exercises.get(", "outcome = exercises.get(")
    outcome = run(exercise_id, editions.source(exercise, "code", "student"), check_cell)
    assert outcome.status == NOT_ANSWERED, outcome.message
    assert "still None" in outcome.message


@pytest.mark.parametrize("exercise_id,code,expected",
                         [(e, code, expected) for e, answers in WRONG_ANSWERS.items() for code, expected in answers])
def test_a_typical_wrong_answer_gets_its_message_and_never_passes(exercise_id, code, expected):
    """A check weakened to always pass fails here: each of these answers must be "wrong"."""
    outcome = run(exercise_id, code)
    assert outcome.status == WRONG, f"{exercise_id} passed a wrong answer: {outcome.message}"
    assert expected in outcome.message


class Raises(layers.Layer):
    """A learner's layer that builds but fails on real images."""

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, x):
        raise RuntimeError("this layer cannot run\nsecond line")


@pytest.mark.parametrize("make,expected", [
    (lambda: "a string", "is a str, not a Keras model"),
    (lambda: keras.Sequential([layers.Resizing(SIZE, SIZE)]), "has no input shape yet"),
    (lambda: keras.Sequential([keras.Input((32, 32, 3)), Raises()]),
     "could not be used: RuntimeError: this layer cannot run."),
], ids=["wrong type", "not built", "raises when called"])
def test_bad_input_gives_one_sentence_and_no_exception(make, expected):
    outcome = exercises.get("06.resize_in_model").check(make(), size=SIZE)
    assert outcome.status == WRONG and expected in outcome.message and "\n" not in outcome.message


def test_a_missing_variable_is_not_answered_and_values_come_from_the_calling_cell(capsys):
    namespace = {"exercises": exercises}
    exec('outcome = exercises.get("01.block_output_size").check()', namespace)  # no such variable yet
    assert namespace["outcome"].status == NOT_ANSWERED
    assert namespace["outcome"].message == ("`block_output_size` is not defined yet: run the exercise cell above, "
                                            "then this one.")
    exec('block_output_size = lambda n: (n - 2) // 2\noutcome = exercises.get("01.block_output_size").check()', namespace)
    assert namespace["outcome"].passed
    assert str(namespace["outcome"]).startswith("Correct (01.block_output_size): ")


def test_hints_come_one_by_one_and_the_solution_prints_the_code(capsys):
    exercise = exercises.get("01.no_fourth_block")
    exercise._hints_shown = 0
    exercise.hint()
    exercise.hint()
    exercise.hint()
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Hint (1 of 2") and out[1].startswith("Hint: ") and out[2] == out[1]
    exercise.solution()
    assert "layers.Conv2D(128, 3" in capsys.readouterr().out


def test_an_unknown_exercise_is_a_course_error_naming_the_ids():
    with pytest.raises(CourseError, match="no exercise 'xx'.*01.no_fourth_block"):
        exercises.get("xx")


def test_outcomes_are_recorded_one_json_line_each(tmp_path):
    path = exercises.record(Outcome("01.a", PASSED, "fine."), tmp_path, notebook="01_x", run_id="r", profile="quick")
    exercises.record(Outcome("01.b", NOT_ANSWERED, "later."), tmp_path, notebook="01_x")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(line["id"], line["status"]) for line in lines] == [("01.a", PASSED), ("01.b", NOT_ANSWERED)]
    assert path.name == "01_x.jsonl" and lines[0]["notebook"] == "01_x"
    assert (lines[0]["run_id"], lines[0]["profile"]) == ("r", "quick")
    assert exercises.record(Outcome("01.c", PASSED, "."), tmp_path).name == exercises.OUTCOMES_FILE


# Editions, on a fixture notebook built here (the course's notebooks are not read).

def fixture_notebook(folder, name="01_scratch_cnn_baseline.ipynb"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 01"), nbformat.v4.new_code_cell("size = 64")]
    nb = editions.stamp(nb, exercises.for_notebook("01_scratch_cnn_baseline"))
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.from_dict(nb), folder / name)
    return folder / name


def test_stamping_is_idempotent_and_updates_cells_in_place(tmp_path):
    path = fixture_notebook(tmp_path / "notebooks")
    nb = nbformat.read(path, as_version=4)
    assert len(nb.cells) == 2 + 3 * 2
    assert editions.stamp(nb, exercises.for_notebook("01_scratch_cnn_baseline")) == nb
    assert editions.stamp_file(path) is False
    nb.cells[3].source = "edited by hand"
    nbformat.write(nb, path)
    assert editions.stamp_file(path) is True and editions.stamp_file(path) is False
    assert nbformat.read(path, as_version=4).cells[3].source == exercises.get("01.no_fourth_block").starter.strip()


def test_stamping_puts_new_exercises_before_the_summary_and_after_the_last_exercise():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("size = 64"), nbformat.v4.new_markdown_cell("## Summary\n\n- ...")]
    first, second = exercises.for_notebook("01_scratch_cnn_baseline")
    nb = editions.stamp(editions.stamp(nb, [first]), [second])
    assert [c["metadata"].get("course_exercise") for c in nb.cells] == [None, *[first.id] * 3, *[second.id] * 3, None]
    assert nb.cells[-1]["source"].startswith("## Summary")


def test_student_edition_has_no_solution_and_teacher_edition_has_nbgrader_markers(tmp_path):
    fixture_notebook(tmp_path / "notebooks")
    written = editions.write_editions(tmp_path / "notebooks", tmp_path / "out")
    student = (tmp_path / "out/student/01_scratch_cnn_baseline.ipynb").read_text()
    teacher = nbformat.read(tmp_path / "out/teacher/01_scratch_cnn_baseline.ipynb", as_version=4)
    assert [p.name for p in written["teacher"]] == ["01_scratch_cnn_baseline.ipynb"]
    assert "BEGIN SOLUTION" not in student and "(n - 2) // 2" not in student and "Conv2D(64" not in student
    code = [c for c in teacher.cells if c.metadata.get("course_exercise_part") == "code"]
    assert len(code) == 2
    for found in code:
        exercise = exercises.get(found.metadata["course_exercise"])
        assert found.source.startswith("### BEGIN SOLUTION\n") and found.source.endswith("\n### END SOLUTION")
        assert exercise.solution_code.strip() in found.source
        assert found.metadata["nbgrader"] == {"task": False, "grade": False, "solution": True, "locked": False,
                                              "grade_id": exercise.id.replace(".", "-") + "-code", "schema_version": 3}
    task = next(c for c in teacher.cells if c.metadata.get("course_exercise_part") == "task")
    assert "BEGIN MARK SCHEME" in task.source and "typically get wrong" in task.source
    nbformat.validate(teacher)


def stand_in_session(build, run_id="run-1", profile="smoke"):
    """What a check cell uses of the notebook's session: its folders and the run's identity."""
    return types.SimpleNamespace(notebook="01_scratch_cnn_baseline", run_id=run_id, profile=profile,
                                 artifact_path=lambda kind, name="": config.artifact_path(build, kind, name))


def test_the_student_cells_run_say_not_answered_and_record_it_for_the_report(tmp_path, capsys):
    nb = editions.edition(nbformat.read(fixture_notebook(tmp_path), as_version=4), "student")
    namespace = {"session": stand_in_session(tmp_path / "build")}
    for found in nb.cells:
        if found["cell_type"] == "code":
            exec(found["source"], namespace)
    assert namespace["exercises"].get("01.no_fourth_block").check(three_blocks=None).status == NOT_ANSWERED
    latest = exercises.latest_outcomes(tmp_path / "build/exercises", "smoke", "run-1")
    assert {i: line["status"] for i, line in latest.items()} == {"01.no_fourth_block": NOT_ANSWERED,
                                                                 "01.block_output_size": NOT_ANSWERED}
    assert exercises.latest_outcomes(tmp_path / "build/exercises", "smoke", "run-2") == {}
    assert exercises.latest_outcomes(tmp_path / "build/exercises", "quick") == {}


def test_the_newest_outcome_of_a_run_counts_and_a_cut_line_is_skipped(tmp_path):
    session = stand_in_session(tmp_path)
    exercise = exercises.get("01.block_output_size")
    assert exercise.check(block_output_size=lambda n: n, session=session).status == WRONG
    assert exercise.check(block_output_size=lambda n: (n - 2) // 2, session=session).status == PASSED
    path = tmp_path / "exercises/01_scratch_cnn_baseline.jsonl"
    with path.open("a") as file:
        file.write('{"id": "01.block_output_size", "status": "wro')  # a run killed while writing
    assert exercises.latest_outcomes(tmp_path / "exercises", "smoke")["01.block_output_size"]["status"] == PASSED


def test_an_unknown_exercise_in_a_notebook_names_the_cell(tmp_path):
    path = fixture_notebook(tmp_path / "notebooks")
    nb = nbformat.read(path, as_version=4)
    nb.cells[3].metadata["course_exercise"] = "01.nothing"
    nbformat.write(nb, path)
    with pytest.raises(CourseError, match="01_scratch_cnn_baseline.ipynb, cell 3: no exercise '01.nothing'"):
        editions.write_editions(tmp_path / "notebooks", tmp_path / "out")
    assert editions.main(["write", str(tmp_path / "out"), "--notebooks", str(tmp_path / "nowhere")]) == 1


@pytest.mark.skipif(not (os.environ.get("NBGRADER") or shutil.which("nbgrader")), reason="nbgrader is not installed")
def test_nbgrader_generates_the_assignment_from_the_teacher_edition(tmp_path):
    """Set NBGRADER to an nbgrader executable (it is not a dependency of the course)."""
    fixture_notebook(tmp_path / "notebooks")
    editions.write_editions(tmp_path / "notebooks", tmp_path / "out")
    course = tmp_path / "course"
    (course / "source/lab01").mkdir(parents=True)
    shutil.copy(tmp_path / "out/teacher/01_scratch_cnn_baseline.ipynb", course / "source/lab01")
    nbgrader = os.environ.get("NBGRADER") or shutil.which("nbgrader")
    command = [nbgrader, "generate_assignment", "lab01", "--force", "--CourseDirectory.root=" + str(course),
               "--CourseDirectory.db_url=sqlite:///" + str(course / "gb.db")]
    # nbgrader runs `alembic` from PATH: its own environment's bin folder comes first, as when it is activated.
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(nbgrader), os.environ.get("PATH", "")]))
    done = subprocess.run(command, capture_output=True, text=True, cwd=course, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    released = (course / "release/lab01/01_scratch_cnn_baseline.ipynb").read_text()
    assert "BEGIN SOLUTION" not in released and "(n - 2) // 2" not in released
    assert "typically get wrong" not in released and "YOUR CODE HERE" in released


NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("0[1-7]_*.ipynb")), ids=lambda p: p.stem)
def test_every_lesson_notebook_is_the_student_edition_with_at_least_two_exercises(path):
    """The repository's notebooks are the student edition: stamping changes nothing, and the
    student edition written from them is the notebook itself."""
    notebook = nbformat.read(path, as_version=4)
    assert len(exercises.for_notebook(path.stem)) >= 2
    assert editions.stamp(notebook, exercises.for_notebook(path.stem)) == notebook
    assert editions.edition(notebook, "student") == notebook
    ids = {c.metadata.get("course_exercise") for c in notebook.cells} - {None}
    assert ids == {exercise.id for exercise in exercises.for_notebook(path.stem)}
