"""The course's exercises, by id: what a notebook's check cell calls.

    from course_utils import exercises
    exercises.get("01.no_fourth_block").check()   # then .hint(), then .solution(), if you need them

`check()` reads the learner's variables from the notebook (or takes them as arguments), shows one
sentence (right, not answered yet, or what is wrong) and returns it as an `Outcome`; with
`check(session=session)` the outcome is recorded (`record`, a JSON-lines file per notebook under
`<build>/exercises/`), so that the course report lists which exercises were answered and passed
(`latest_outcomes`). Each exercise is defined once, in `exercises_01_03` or `exercises_04_07`.
"""

from __future__ import annotations

from . import exercises_01_03, exercises_04_07
from .errors import CourseError
from .exercise_checks import NOT_ANSWERED, OUTCOMES_FILE, PASSED, WRONG, Exercise, Outcome, latest_outcomes, record

__all__ = ["EXERCISES", "Exercise", "Outcome", "UnknownExercise", "for_notebook", "get", "record", "latest_outcomes",
           "PASSED", "NOT_ANSWERED", "WRONG", "OUTCOMES_FILE"]

EXERCISES: dict[str, Exercise] = {exercise.id: exercise
                                  for exercise in (*exercises_01_03.EXERCISES, *exercises_04_07.EXERCISES)}


class UnknownExercise(CourseError, KeyError):
    """An exercise id that no definition has."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


def get(exercise_id: str) -> Exercise:
    """The exercise `exercise_id` ("01.no_fourth_block"); raises `UnknownExercise` listing the ids."""
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        raise UnknownExercise(f"no exercise {exercise_id!r}; the course's exercises: {', '.join(EXERCISES)}") from None


def for_notebook(notebook: str) -> list[Exercise]:
    """The exercises of `notebook` ("01_scratch_cnn_baseline"), in their order."""
    return [exercise for exercise in EXERCISES.values() if exercise.notebook == notebook]
