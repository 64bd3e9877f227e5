"""Every module of the package imports, in whichever environment the tests run (Colab's, the oldest
TensorFlow on Python 3.10, the course's own): this Python's syntax, this TensorFlow's and Keras' names.
The environment stages of CI run only some test files (conftest.py, ENVIRONMENT_TESTS); this keeps every
module, also one only the other files exercise, imported in each."""

import importlib
import pkgutil

import course_utils


def test_every_module_of_the_package_imports():
    names = sorted(m.name for m in pkgutil.iter_modules(course_utils.__path__) if m.name != "__main__")
    assert len(names) > 20, names  # the package's own folder, not an empty namespace
    for name in names:
        importlib.import_module(f"course_utils.{name}")
