"""Command line: `python -m course_utils run`, `report`, `data ...`, `hub ...`, `lab-kit` and `badges`.

Each subcommand is one small function taking the parsed arguments and returning the exit code;
the parser names it (`set_defaults(func=...)`), and `main` only parses, dispatches and turns a
`CourseError`, Ctrl-C or (for `run`) SIGTERM into one message and an exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import colab, data, install
from .config import course_root
from .errors import CourseError
from .execute import RunInterrupted, Terminated, stop_on_sigterm
from .runner import rebuild_report, run_course

INTERRUPTED = 130  # the exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells report it
TERMINATED = 143  # and by SIGTERM (128 + SIGTERM)


def main(argv: list[str] | None = None) -> int:
    """Run the command `argv` (default: the process's arguments); return its exit code: 0, 1
    when a command found problems, 2 for an error the user can fix (its message, no traceback),
    130 for Ctrl-C and 143 for SIGTERM to `run` (one line, the same for both)."""
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except RunInterrupted as stopped:  # Ctrl-C in a notebook: where, and what to run next
        print(stopped, file=sys.stderr)
        return TERMINATED if stopped.terminated else INTERRUPTED
    except CourseError as error:  # a problem the user can fix: its message, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:  # Ctrl-C anywhere else: one line, not a traceback
        how = "SIGTERM" if isinstance(stop, Terminated) else "Ctrl-C"
        print(f"Interrupted ({how}) during `{args.command}`; run it again to carry on.", file=sys.stderr)
        return TERMINATED if isinstance(stop, Terminated) else INTERRUPTED


def run(args: argparse.Namespace) -> int:
    """`run`: execute the notebooks in order and write the report."""
    if args.rehearsal:
        os.environ["COURSE_REHEARSAL"] = "1"  # the kernels inherit it
    stop_on_sigterm()  # `kill`, or a job's time limit: the kernel stopped and one line, as for Ctrl-C
    run_course(args.profile, args.notebooks, args.only, args.build_dir)
    return 0


def report(args: argparse.Namespace) -> int:
    """`report`: write the report again from the recorded results, running no notebook."""
    rebuild_report(args.profile, args.build_dir)
    return 0


def data_list(args: argparse.Namespace) -> int:
    """`data list`: the data folder, and each dataset with its state."""
    print(f"Data folder: {install.checked_data_dir()}")  # a file there: an error, not "not installed"
    for row in data.list_datasets():
        print(f"  {row['name']:<13} {row['state']}\n  {'':<13} {row['title']}")
    return 0


def data_verify(args: argparse.Namespace) -> int:
    """`data verify`: re-check the named (or every installed) dataset; 1 if any has a problem."""
    folder = install.checked_data_dir()
    names = args.names or [n for n in data.DATASETS if (folder / n).exists()]
    if not names:
        print(f"No dataset is installed in {folder}: install them with: python -m course_utils data fetch")
        return 1
    failed = False
    for name in names:
        problems = data.verify_dataset(name)
        failed |= bool(problems)
        print(f"{name}: " + ("intact" if not problems else f"{len(problems)} problem(s)"))
        for problem in problems[:20]:
            print(f"  {problem}")
        if problems and data.installed(name):  # (one not installed says how to install it)
            print(f"  The course does not use altered files; {install.reinstall_hint(name)}")
    return 1 if failed else 0


def data_fetch(args: argparse.Namespace) -> int:
    """`data fetch`: try every named (or every) dataset, report each; 1 if any failed."""
    names, failed = args.names or list(data.DATASETS), []
    for name in names:
        try:
            data.ensure_dataset(name, reinstall=args.reinstall)
            print(f"{name}: {data.describe(name)}")
        except CourseError as error:
            failed.append(name)
            print(f"{name}: FAILED: {error}", file=sys.stderr)
    if failed:
        print(f"error: {len(failed)} of {len(names)} dataset(s) not available: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def data_import(args: argparse.Namespace) -> int:
    """`data import`: check a local copy of a dataset and install it into the data folder."""
    data.import_dataset(args.name, args.path)
    return 0


def hub_export(args: argparse.Namespace) -> int:
    """`hub export-stand-in`: export the stand-in feature-vector model for offline runs of 06."""
    from . import hub  # only here: it loads TensorFlow, which the data commands do not need

    path = hub.export_stand_in(args.path)
    print(f"Exported {hub.hub_label(str(path))}\nto {path}. Use it with: export COURSE_HUB_HANDLE={path}")
    return 0


def lab_kit(args: argparse.Namespace) -> int:
    """`lab-kit`: build, verify or show a teacher's lab kit (see `labkit.command`)."""
    from . import labkit  # only here: through `hub` it loads Keras, which the data commands do not need

    return labkit.command(args.path, args.verify, args.status)


def badges(args: argparse.Namespace) -> int:
    """`badges`: re-stamp every notebook's Colab badge and install cell."""
    changed = colab.stamp_all(course_root() or Path.cwd())
    print(f"{len(changed)} notebook(s) re-stamped" + "".join(f"\n  {path}" for path in changed))
    return 0


def parser() -> argparse.ArgumentParser:
    """The command line's parser: each subcommand sets `func`, the function that runs it."""
    top = argparse.ArgumentParser(prog="python -m course_utils",
                                  description="Transfer learning with Keras: data and course runner.")
    commands = top.add_subparsers(dest="command", required=True)

    run_cmd = commands.add_parser("run", help="execute the notebooks in order and write the report")
    run_cmd.add_argument("--profile", help="smoke, quick or full (default: $COURSE_PROFILE, else by device)")
    run_cmd.add_argument("--only", nargs="+", help="run only these notebooks (names without .ipynb)")
    run_cmd.add_argument("--notebooks", type=Path, default=Path("notebooks"))
    run_cmd.add_argument("--build-dir", type=Path, help="default: $COURSE_BUILD_DIR or ./build (./build/rehearsal "
                         "for a rehearsal)")
    run_cmd.add_argument("--rehearsal", action="store_true", help="rehearse the profile (COURSE_REHEARSAL=1): its "
                         "configuration with every training and data pass capped to a few steps; no results")
    run_cmd.set_defaults(func=run)

    report_cmd = commands.add_parser("report", help="write the report again from the results recorded in the "
                                     "build folder, running no notebook")
    report_cmd.add_argument("--profile", help="the profile whose results to report (default: as for run)")
    report_cmd.add_argument("--build-dir", type=Path, help="default: $COURSE_BUILD_DIR or ./build")
    report_cmd.set_defaults(func=report)

    data_cmd = commands.add_parser("data", help="list, verify, fetch or import the datasets")
    data_sub = data_cmd.add_subparsers(dest="action", required=True)
    data_sub.add_parser("list", help="the course's datasets and whether they are installed").set_defaults(
        func=data_list)
    verify = data_sub.add_parser("verify", help="re-check installed files against their checksums")
    verify.add_argument("names", nargs="*", help="default: every installed dataset")
    verify.set_defaults(func=data_verify)
    fetch = data_sub.add_parser("fetch", help="make datasets available (data folder, mirror, download)")
    fetch.add_argument("names", nargs="*", help="default: every dataset")
    fetch.add_argument("--reinstall", action="store_true",
                       help="install afresh even if installed (repairs a copy whose files changed)")
    fetch.set_defaults(func=data_fetch)
    imp = data_sub.add_parser("import", help="check a local copy and install it into the data folder")
    imp.add_argument("name", choices=list(data.DATASETS))
    imp.add_argument("path", type=Path, help="a folder in the official layout, or the official archive")
    imp.set_defaults(func=data_import)

    hub_cmd = commands.add_parser("hub", help="TF-Hub models offline")
    hub_sub = hub_cmd.add_subparsers(dest="action", required=True)
    export = hub_sub.add_parser("export-stand-in", help="export a stand-in feature-vector SavedModel "
                                "(the configured VGG16 + global pooling) for offline runs of notebook 06")
    export.add_argument("path", type=Path)
    export.set_defaults(func=hub_export)

    kit = commands.add_parser("lab-kit", help="fill a folder with everything the course downloads "
                              "(a teacher's lab kit; the lab then sets COURSE_DATA_MIRROR to it)")
    kit.add_argument("path", type=Path, nargs="?", help="the kit's folder")
    kit.add_argument("--verify", action="store_true", help="re-check the kit at PATH against its manifest")
    kit.add_argument("--status", action="store_true", help="what the course would use, from where, "
                     "and its label: datasets, weights and the hub model")
    kit.set_defaults(func=lab_kit)

    commands.add_parser("badges", help="re-stamp every notebook's Colab badge and install cell from "
                        "[project.urls] Repository in pyproject.toml").set_defaults(func=badges)
    return top
