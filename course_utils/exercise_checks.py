"""What an exercise is, and how its check answers: one sentence, never a traceback.

An `Exercise` holds everything about one exercise in one place (its task, starter, solution,
hints, what a learner typically gets wrong, and its check), so that the notebooks' student and
teacher editions (`editions`) and the unit tests read the same source. Its `check` inspects what
the learner built (output shapes, outputs on probe inputs, what is trainable, a function's result
against Keras' own), never an accuracy, so no weights, profile or seed can change its verdict. Where
a lesson allows several forms (Sequential or functional, an activation as an argument or as a layer,
any random layer), the check compares behaviour rather than class names and layer order: the
learner's weights are copied into a reference model (`copy_weights`) and the two are compared stage
by stage (`first_difference`), so that every right answer passes and the message still says where a
wrong one goes wrong. The definitions live in `exercises_01_03` and `exercises_04_07`; the
learner's entry point is `exercises.get(id)`.
"""

from __future__ import annotations

import datetime
import inspect
import json
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .files import append_line

PASSED, NOT_ANSWERED, WRONG = "passed", "not answered", "wrong"
OUTCOMES_FILE = "exercises.jsonl"  # `record`'s file when no notebook is named: one outcome per line
# The longest a check may run, in seconds. The slowest check builds and calls a few small models in
# a few seconds; an answer that runs much longer loops forever (and the runner would wait an hour).
CHECK_SECONDS = 60


class Wrong(Exception):
    """Raised by a check function: the learner's answer is wrong, and the message says what, in their terms."""


class TimeUp(BaseException):
    """Raised inside a check that has run `CHECK_SECONDS`. Not an `Exception`, so that the learner's
    own `except Exception:` inside a loop does not swallow it."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise `TimeUp` inside the block once it has run `seconds`, where that can be done.

    A timer signal (SIGALRM), because the learner's code must run on the notebook's own thread:
    Keras keeps settings per thread (the dtype policy, name scopes), so a check run on a worker
    thread could judge another model than the notebook builds, and a worker thread left looping
    when its time is up cannot be stopped: it would go on using the kernel's CPU. The signal's
    handler runs on the main thread between two steps of the loop and stops it where it is.
    Jupyter runs cells on the main thread on Linux and macOS (and in Colab). Where there is no
    SIGALRM (Windows) or off the main thread, the block runs unbounded, as before; the kernel's
    Interrupt (Ctrl-C) stops it there, and everywhere: `KeyboardInterrupt` is never caught. Python
    3.10 does not look at signals in a loop whose try block is bare arithmetic (`while True: try:
    n += 1 ...`): neither the timer nor the Interrupt stops that one there; any call in it does.
    """
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def ring(signum, frame):
        raise TimeUp

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)  # first: nothing rings after this line
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Outcome:
    """What one check found: `status` is "passed", "not answered" or "wrong"; `message` is one sentence."""

    id: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def __str__(self) -> str:
        mark = {PASSED: "Correct", NOT_ANSWERED: "Not answered yet", WRONG: "Not yet"}[self.status]
        return f"{mark} ({self.id}): {self.message}"

    def _repr_pretty_(self, printer, cycle) -> None:
        # A check cell's last line shows the sentence, not the dataclass's fields.
        printer.text(str(self))


@dataclass
class Exercise:
    """One exercise. `names` are the variables its check reads, the learner's answer first (any of
    them still None means "not answered yet"); `uses` are names the notebook defines earlier that the
    starter and solution code rely on (the tests give them stand-ins). `verify` takes the `names`
    as keyword arguments and returns the sentence for a right answer, or raises `Wrong`."""

    id: str
    notebook: str
    title: str
    task: str
    starter: str
    solution_code: str
    names: tuple[str, ...]
    hints: tuple[str, ...]
    mistakes: str
    verify: Callable[..., str]
    uses: tuple[str, ...] = ()
    _hints_shown: int = field(default=0, repr=False)

    def check(self, *values: Any, session=None, **named: Any) -> Outcome:
        """Check the learner's answer and return the `Outcome` (a notebook cell shows its sentence).

        Values come positionally in the order of `names`, by name, or, for any name not given,
        from the calling cell's variables, as Kaggle Learn's `q1.check()` does: a variable that
        does not exist yet is not answered, not a `NameError`. With the notebook's `session`, the
        outcome is also recorded for the course report (`record`, under `<build>/exercises/`).
        """
        given = dict(zip(self.names, values), **named)
        caller = inspect.currentframe().f_back.f_globals
        for name in self.names:
            if name not in given and name in caller:
                given[name] = caller[name]
        outcome = self.outcome(given)
        if session is not None:
            record(outcome, session.artifact_path("exercises"), notebook=session.notebook,
                   run_id=session.run_id, profile=session.profile)
        return outcome

    def outcome(self, given: dict[str, Any]) -> Outcome:
        """The `Outcome` for the values in `given` (name -> value); never raises."""
        undefined = tuple(name for name in self.names if name not in given)
        if undefined:  # the exercise cell has not run yet (or the variable was renamed)
            return Outcome(self.id, NOT_ANSWERED, f"{_listed(undefined)} {_is(undefined)} not defined yet: run the "
                                                  "exercise cell above, then this one.")
        missing = tuple(name for name in self.names if given[name] is None)
        if missing:
            return Outcome(self.id, NOT_ANSWERED, f"{_listed(missing)} {_is(missing)} still None: write your answer "
                                                  "in the cell above, run it, then run this cell again.")
        answers = tuple(name for name in self.names if name not in self.uses) or self.names
        try:
            with time_limit(CHECK_SECONDS):
                return self._judge(given, answers)
        except TimeUp:
            return Outcome(self.id, WRONG, f"checking {_listed(answers)} took over {CHECK_SECONDS} s, so it was "
                                           "stopped: does it loop forever (a `while` whose condition stays true)?")

    def _judge(self, given: dict[str, Any], answers: tuple[str, ...]) -> Outcome:
        """The `Outcome` of the check on the values in `given`, once they are all there. The learner's
        code can raise anything: an error, `SystemExit` (`exit()`), an error whose message itself fails;
        each is one sentence. Only Ctrl-C (`KeyboardInterrupt`) goes through: it stops the check."""
        try:
            return Outcome(self.id, PASSED, self.verify(**{name: given[name] for name in self.names}))
        except Wrong as wrong:
            return Outcome(self.id, WRONG, str(wrong))
        except (Exception, SystemExit) as error:  # a model that does not build or call: its own error, in one line
            return Outcome(self.id, WRONG, f"{_listed(answers)} could not be used: {one_line(error)}.")

    def hint(self) -> None:
        """Print the next hint (the last one again once all were shown)."""
        index = min(self._hints_shown, len(self.hints) - 1)
        self._hints_shown += 1
        more = f" ({index + 1} of {len(self.hints)}; run hint() again for the next)" if index + 1 < len(self.hints) else ""
        print(f"Hint{more}: {self.hints[index]}")

    def solution(self) -> None:
        """Print the solution code."""
        print(f"Solution ({self.id}):\n\n{self.solution_code.strip()}")


def record(outcome: Outcome, folder: Path, notebook: str = "", run_id: str | None = None,
           profile: str | None = None) -> Path:
    """Append `outcome` as one JSON line (id, status, message, notebook, run id, profile, UTC time)
    to `folder/<notebook>.jsonl` (`exercises.jsonl` without a notebook), whole or not at all
    (`files.append_line`); returns the file's path."""
    path = Path(folder) / (f"{notebook}.jsonl" if notebook else OUTCOMES_FILE)
    line = {"id": outcome.id, "status": outcome.status, "message": outcome.message, "notebook": notebook,
            "run_id": run_id, "profile": profile,
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    append_line(path, json.dumps(line))
    return path


def latest_outcomes(folder: Path, profile: str, run_id: str | None = None) -> dict[str, dict[str, Any]]:
    """The newest recorded outcome of each exercise (id -> its JSON line) in `folder` (a build's
    `exercises/`), of `profile`, and of run `run_id` when given. A line cut short by an
    interrupted run is skipped."""
    latest: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(folder).glob("*.jsonl")):
        for text in filter(str.strip, path.read_text(encoding="utf-8").splitlines()):
            try:
                line = json.loads(text)
            except ValueError:
                continue
            if line.get("profile") == profile and (run_id is None or line.get("run_id") == run_id):
                latest[line["id"]] = line
    return latest


def one_line(error: BaseException) -> str:
    """An exception as one short line: its type and the first line of its message (only its type
    when the message cannot be had: a learner's exception class whose `__str__` itself fails)."""
    try:
        text = str(error)
    except (Exception, SystemExit):
        text = ""
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines() if line.strip()]
    if lines and lines[0].startswith("Exception encountered when calling") and len(lines) > 1:
        lines = lines[1:]  # Keras' wrapper around a layer's own error: the next line is that error
    first = lines[0].rstrip(".") if lines else ""
    return f"{type(error).__name__}: {first[:160]}" if first else type(error).__name__


def _listed(names: tuple[str, ...]) -> str:
    return " and ".join(f"`{name}`" for name in names)


def _is(names: tuple[str, ...]) -> str:
    return "is" if len(names) == 1 else "are"


# Helpers the check functions share.

def model_of(value: Any, name: str):
    """`value` if it is a Keras model with an input (built); raises `Wrong` naming what it is instead."""
    import keras

    if not isinstance(value, keras.Model):
        raise Wrong(f"`{name}` is a {type(value).__name__}, not a Keras model (keras.Sequential or keras.Model).")
    try:
        value.inputs  # noqa: B018  (a Sequential without keras.Input has none)
        value.outputs  # noqa: B018
    except (AttributeError, ValueError):
        raise Wrong(f"`{name}` has no input shape yet: start it with keras.Input(shape=...).") from None
    if not value.inputs:
        raise Wrong(f"`{name}` has no input shape yet: start it with keras.Input(shape=...).")
    return value


def flat_layers(model) -> list:
    """The model's layers in order, with nested Sequential models opened up (a base stays one layer
    when it is a functional model, as a pretrained base is)."""
    import keras

    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Sequential):
            out.extend(flat_layers(layer))
        else:
            out.append(layer)
    return out


def kinds(layers: list) -> list[str]:
    """Each layer's type name: ["Rescaling", "Conv2D", ...]."""
    return [type(layer).__name__ for layer in layers]


def shape_of(tensor_shape) -> tuple:
    """A Keras shape as a plain tuple without the batch dimension."""
    return tuple(None if d is None else int(d) for d in tuple(tensor_shape)[1:])


def count(weights) -> int:
    """The number of numbers in a list of weight variables."""
    return sum(int(w.numpy().size) for w in weights)


def activation_name(layer) -> str:
    """A layer's activation as a name ("relu", "sigmoid", "linear"), or "" for a layer without one."""
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", "") if activation is not None else ""


def integer(value: Any, name: str) -> int:
    """`value` as an int; raises `Wrong` for anything else (a float with a fraction, a string, a list)."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real) or int(value) != value:
        raise Wrong(f"`{name}` should be a whole number; it is {value!r}.")
    return int(value)


def probe(shape: tuple, low: float = 0.0, high: float = 255.0, n: int = 2) -> "np.ndarray":
    """`n` random images of `shape` (height, width, channels) in [low, high], the same on every call."""
    import numpy as np

    return np.random.default_rng(0).uniform(low, high, (n, *shape)).astype("float32")


def close(a, b) -> bool:
    """Whether two arrays have one shape and the same values, up to float32 rounding."""
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-4, atol=1e-4 * (float(np.abs(b).max()) + 1e-6)))


def input_reaching(model, layer, inputs, training: bool = False):
    """What reaches `layer` inside `model` for `inputs` (the layers before it in a Sequential, nested
    Sequentials opened up, or the tensor its call received in a functional model), as an array, with
    random layers in training or inference mode as `training` says; None when it cannot be found."""
    import keras
    import numpy as np

    try:
        if isinstance(model, keras.Sequential):
            x = inputs
            for before in flat_layers(model):
                if before is layer:
                    return np.asarray(x)
                x = before(x, training=training)
            return None
        sources = model.inputs[0] if len(model.inputs) == 1 else model.inputs  # one input: no list, no warning
        for node in layer._inbound_nodes:  # a layer called before, in another model, has other nodes first
            try:
                part = keras.Model(sources, node.input_tensors[0])
            except ValueError:  # that call is not in this model's graph
                continue
            return np.asarray(part(inputs, training=training))
        return None
    except Exception:  # an unusual wiring: the other checks still run without this one
        return None


def output_activation(stack: list) -> tuple[Any, str]:
    """The last Dense layer of `stack` (a model's `flat_layers`) and the activation its output goes
    through: its own, or that of an `Activation`, `Softmax` or `ReLU` layer after it, as a learner may
    write it (Dropout in between changes nothing at inference); (None, "") without a Dense layer."""
    from keras import layers

    dense_at = [index for index, layer in enumerate(stack) if isinstance(layer, layers.Dense)]
    if not dense_at:
        return None, ""
    dense = stack[dense_at[-1]]
    applied = [activation_name(dense)]
    for after in stack[dense_at[-1] + 1:]:
        if isinstance(after, layers.Activation):
            applied.append(activation_name(after))
        elif isinstance(after, (layers.Softmax, layers.ReLU)):
            applied.append("softmax" if isinstance(after, layers.Softmax) else "relu")
        elif not isinstance(after, layers.Dropout):
            applied.append(type(after).__name__)
    applied = [name for name in applied if name != "linear"]
    return dense, "+".join(applied) or "linear"


def copy_weights(pairs: list) -> bool:
    """Give each reference layer the weights of the learner's layer paired with it ([(learner's,
    reference), ...]), so that the two models can be compared on the same inputs; False when the
    shapes differ (the learner's layer is not the one the reference has there)."""
    for mine, reference in pairs:
        weights = mine.get_weights()
        if [w.shape for w in weights] != [tuple(w.shape) for w in reference.weights]:
            return False
        reference.set_weights(weights)
    return True


def first_difference(model, reference, stages: list, inputs) -> str | None:
    """Run `inputs` through `model` and `reference` (in inference mode) and compare, stage by stage,
    what reaches each pair of layers ([(learner's layer, reference layer, message), ...]), then the
    outputs (a stage with layer None); the message of the first stage that differs, else None. A
    stage that cannot be read in the learner's wiring is skipped; the outputs are always compared."""
    import numpy as np

    for mine, theirs, message in stages:
        if mine is None:
            got, want = model(inputs, training=False), reference(inputs, training=False)
        else:
            got, want = input_reaching(model, mine, inputs), input_reaching(reference, theirs, inputs)
            if got is None or want is None:
                continue
        if not close(np.asarray(got), np.asarray(want)):
            return message
    return None
