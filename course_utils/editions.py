"""The student and teacher editions of the notebooks, from one source.

A notebook's exercise cells carry the exercise's id in their metadata,
`{"course_exercise": "01.no_fourth_block", "course_exercise_part": "task" | "code" | "check"}`;
their text comes from the exercise's definition (`exercises`), never from the notebook, so the two
editions cannot drift apart:

- student: the task, the starter code (the answer left as None), and a check cell that says
  "not answered yet" rather than stopping the notebook;
- teacher: the task with what learners typically get wrong, the solution between nbgrader's
  `### BEGIN SOLUTION` / `### END SOLUTION` markers in a solution cell, and the check as an nbgrader
  autograder cell that fails when the check does. The teacher's note sits between nbgrader's
  `BEGIN MARK SCHEME` / `END MARK SCHEME` markers, so `nbgrader generate_assignment` leaves it
  out of the students' copies.

`stamp` puts an exercise's three cells into a notebook (the student's version), idempotently;
`write_editions` writes both editions of every `NN_*.ipynb` in a folder. From the command line:
`python -m course_utils.editions write OUT [--notebooks notebooks]`, `... stamp NOTEBOOK ...`.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

from .errors import CourseError
from .exercises import Exercise, UnknownExercise, for_notebook, get
from .files import atomic_path

KEY, PART = "course_exercise", "course_exercise_part"
PARTS = ("task", "code", "check")
EDITIONS = ("student", "teacher")


def grade_id(exercise: Exercise, part: str) -> str:
    """nbgrader's id of a cell (letters, digits, `_` and `-` only): "01-no_fourth_block-code"."""
    return f"{exercise.id.replace('.', '-')}-{part}"


def _nbgrader(exercise: Exercise, part: str) -> dict:
    kind = {"task": {"task": True, "grade": False, "solution": False, "locked": True, "points": 0},
            "code": {"task": False, "grade": False, "solution": True, "locked": False},
            "check": {"task": False, "grade": True, "solution": False, "locked": True, "points": 1}}[part]
    return {**kind, "grade_id": grade_id(exercise, part), "schema_version": 3}


def source(exercise: Exercise, part: str, edition: str) -> str:
    """The text of one exercise cell in one edition."""
    call = f'exercises.get("{exercise.id}").check(session=session)'
    if part == "task":
        text = (f"### Exercise: {exercise.title}\n\n{exercise.task.strip()}\n\nWrite your answer in the cell below "
                "and run it, then run the check under it. Stuck? Add `.hint()`, then `.solution()`, to the "
                "exercise in the check cell.")
        if edition == "teacher":
            text += (f"\n\n=== BEGIN MARK SCHEME ===\n\n**For the teacher: what learners typically get wrong.** "
                     f"{exercise.mistakes.strip()}\n\n=== END MARK SCHEME ===")
        return text
    if part == "code":
        if edition == "teacher":
            return f"### BEGIN SOLUTION\n{exercise.solution_code.strip()}\n### END SOLUTION"
        return exercise.starter.strip()
    if edition == "teacher":
        return (f"from course_utils import exercises\n\noutcome = {call}\nprint(outcome)\n"
                "assert outcome.passed, outcome.message  # nbgrader's autograder: a failed check scores 0")
    return f"from course_utils import exercises\n\n{call}  # stuck? exercises.get(...).hint(), then .solution()"


def cell(exercise: Exercise, part: str, edition: str) -> dict:
    """One exercise cell (an nbformat 4.5 dict) of `edition`, with its metadata."""
    metadata = {KEY: exercise.id, PART: part}
    if edition == "teacher":
        metadata["nbgrader"] = _nbgrader(exercise, part)
    made = {"cell_type": "markdown" if part == "task" else "code", "id": grade_id(exercise, part),
            "metadata": metadata, "source": source(exercise, part, edition)}
    if part != "task":
        made.update(execution_count=None, outputs=[])
    return made


def _exercise_of(found: dict, where: str) -> Exercise:
    try:
        return get(found["metadata"][KEY])
    except UnknownExercise as error:
        raise CourseError(f"{where}: {error}. Correct the cell's `{KEY}` metadata.") from None


def edition(notebook: dict, kind: str, where: str = "the notebook") -> dict:
    """A copy of `notebook` (an nbformat dict) with every exercise cell in edition `kind`
    ("student" or "teacher"); a cell without a part is taken for the code cell. Raises
    `CourseError` naming `where` and the cell for an id no exercise has."""
    made = copy.deepcopy(notebook)
    for index, found in enumerate(made["cells"]):
        if KEY in found.get("metadata", {}):
            exercise = _exercise_of(found, f"{where}, cell {index}")
            made["cells"][index] = cell(exercise, found["metadata"].get(PART, "code"), kind)
    return made


def stamp(notebook: dict, exercises: list[Exercise]) -> dict:
    """A copy of `notebook` holding, for each exercise, its task, code and check cells (student
    edition): where its cells already are, they are replaced in place; a new exercise goes after
    the notebook's last exercise cell, or else before its "## Summary" cell, or else at the end.
    Stamping twice gives the same notebook."""
    made = copy.deepcopy(notebook)
    cells = made["cells"]
    for exercise in exercises:
        fresh = [cell(exercise, part, "student") for part in PARTS]
        places = [i for i, found in enumerate(cells) if found.get("metadata", {}).get(KEY) == exercise.id]
        if places:
            cells[places[0]:places[-1] + 1] = fresh
            continue
        marked = [i for i, found in enumerate(cells) if KEY in found.get("metadata", {})]
        summary = [i for i, found in enumerate(cells) if "".join(found["source"]).startswith("## Summary")]
        at = marked[-1] + 1 if marked else summary[-1] if summary else len(cells)
        cells[at:at] = fresh
    return made


def _read(path: Path) -> dict:
    import nbformat  # in the `tools` extra, like the runner's notebook libraries

    return nbformat.read(path, as_version=4)


def _text(notebook: dict) -> str:
    import nbformat

    return nbformat.writes(nbformat.from_dict(notebook)) + "\n"


def _write(text: str, path: Path) -> None:
    with atomic_path(path) as temporary:  # an interrupted run leaves the old file, never half of one
        temporary.write_text(text, encoding="utf-8")


def write_editions(notebooks_dir: Path, out_dir: Path) -> dict[str, list[Path]]:
    """Write `out_dir/student/` and `out_dir/teacher/`: every `NN_*.ipynb` of `notebooks_dir` in
    each edition. Returns the paths written, per edition; raises `CourseError` when there is no
    notebook, or a cell names an exercise that does not exist."""
    paths = sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise CourseError(f"no notebooks (NN_*.ipynb) in {notebooks_dir}: pass the course's notebooks folder, "
                          "e.g. --notebooks notebooks")
    written: dict[str, list[Path]] = {kind: [] for kind in EDITIONS}
    for path in paths:
        notebook = _read(path)
        for kind in EDITIONS:
            target = Path(out_dir) / kind / path.name
            _write(_text(edition(notebook, kind, where=path.name)), target)
            written[kind].append(target)
    return written


def stamp_file(path: Path) -> bool:
    """Stamp the exercises of the notebook at `path` (by its name) into it; returns whether it changed."""
    path = Path(path)
    after = _text(stamp(_read(path), for_notebook(path.stem)))
    if after == path.read_text(encoding="utf-8"):
        return False
    _write(after, path)
    return True


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit code (1 with one message for a `CourseError`)."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.editions", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("write", help="write the student and teacher editions into OUT")
    write.add_argument("out", type=Path)
    write.add_argument("--notebooks", type=Path, default=Path("notebooks"))
    stamp_command = commands.add_parser("stamp", help="put each notebook's exercise cells into it")
    stamp_command.add_argument("paths", type=Path, nargs="+")
    args = parser.parse_args(argv)
    try:
        if args.command == "write":
            for kind, paths in write_editions(args.notebooks, args.out).items():
                print(f"{kind}: {len(paths)} notebooks in {args.out / kind}")
        else:
            for path in args.paths:
                print(f"{path}: {'stamped' if stamp_file(path) else 'unchanged'}")
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
