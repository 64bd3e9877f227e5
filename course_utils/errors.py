"""The one parent of every error a user can fix.

A `CourseError`'s message names the problem and ends with the command or
setting that fixes it. The command line and the course runner print such a
message without a traceback; any other exception is a bug in the course and
keeps its traceback. This module imports nothing, so every other module,
however low, can raise these.
"""

from __future__ import annotations


class CourseError(Exception):
    """A problem the user can fix (bad data, a setting, a failed notebook)."""


class SettingError(CourseError, ValueError):
    """An environment variable or option whose value cannot be used."""


class DataError(CourseError):
    """Data that cannot be used as it is: the message says why and what to do."""


class DataNotAvailable(DataError):
    """No copy of a dataset in the data folder, the mirror or online."""


class ChecksumError(DataError):
    """Files whose sha256 differs from the official list: they are not used."""


class BuildFolderError(CourseError):
    """A build folder that cannot take what a run writes (read-only, not a folder, a full disk):
    the message names the folder and the setting that moves it (COURSE_BUILD_DIR)."""


def first_line(error: BaseException) -> str:
    """The first non-blank line of an exception's message, for a one-line error that quotes its cause;
    the exception's type when it has no message (an empty `OSError()`, say) or cannot give one."""
    try:
        text = str(error)
    except Exception:  # an exception class whose own __str__ fails
        text = ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
