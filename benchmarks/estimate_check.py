"""Check the time estimates (`course_utils.estimate`) against real runs on this machine, notebook by notebook.

    python benchmarks/estimate_check.py [--only 00_start_here 06_tfhub_mobilenet_cifar10 ...] [--full 01_scratch_cnn_baseline]
    python benchmarks/estimate_check.py --saved

It measures this machine's probe first, then runs each notebook of `--only` alone in the quick
profile (the course runner, a fresh build folder each: nothing cached by an earlier run) and
prints, per notebook: the quick estimate (the build machine's time scaled by the probes' ratio),
the work-count estimate (the method of the full estimate, here with the quick settings and the
probe's quick-size speeds), the measured wall time, and each estimate's error in % of the measured
time. Then the same for each notebook of `--full` in the full profile (its full estimate). Every
row says the load average before and after the run: other work on the machine slows the probe and
the notebooks alike, but not by the same factor if it changes during the run. Long: each notebook
takes its full wall time. `--saved` runs nothing: it checks the work-count method on every notebook
of the quick run saved in `course_utils/timings.json`, at that run's own probe. Not part of the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from course_utils import estimate, runner  # noqa: E402
from course_utils.config import artifact_path, profile_settings  # noqa: E402
from course_utils.session import measured_times  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def measured_seconds(profile: str, notebook: str, build: Path) -> float:
    """Run `notebook` alone in `profile` in `build` (emptied first); returns its wall time."""
    shutil.rmtree(build, ignore_errors=True)
    runner.run_course(profile, ROOT / "notebooks", only=[notebook], build=build)
    status = max(artifact_path(build, "runs").glob("*.json"), key=lambda p: p.stat().st_mtime)
    return float(json.loads(status.read_text())["seconds"][notebook])


def error(estimated: float | None, measured: float) -> str:
    return "     -" if estimated is None else f"{100 * (estimated - measured) / measured:+5.0f}%"


def seconds(value: float | None) -> str:
    return "      -" if value is None else f"{value:7.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["00_start_here"], help="notebooks to run in quick")
    parser.add_argument("--full", nargs="*", default=[], help="notebooks to run in full (long on a CPU)")
    parser.add_argument("--build-dir", type=Path, default=ROOT / "build" / "benchmark-estimate")
    parser.add_argument("--probe", type=Path, help="use this probe file instead of measuring one")
    parser.add_argument("--saved", action="store_true", help="run nothing: the counted estimate of every notebook "
                        "against the saved quick run of course_utils/timings.json, at that run's own probe")
    args = parser.parse_args()
    timings = measured_times()
    if args.saved:
        return saved_run(timings["quick"])
    if args.probe:
        probe = json.loads(args.probe.read_text())
    else:
        probe = estimate.measure()
        args.build_dir.mkdir(parents=True, exist_ok=True)
        (args.build_dir / estimate.PROBE_NAME).write_text(json.dumps(probe, indent=1))  # its exact figures
    print(f"probe: {probe['device']}, TensorFlow {probe['tensorflow']}, measured {probe['measured']} in "
          f"{probe['seconds']} s at load average {probe['load_average']}")
    for profile, parts in probe["rates"].items():
        print(f"  {profile:<6}" + "; ".join(f"{name} at {part['size']}: {part['images_per_second']:.1f} images/s, "
                                            f"{part['macs_per_second'] / 1e9:.2f} G multiply-adds/s"
                                            for name, part in parts.items()))
    reference = timings["quick"]["probe"]
    print(f"build machine's probe: measured {reference['measured']} at load average {reference['load_average']}")
    rows = []
    for profile, notebooks in (("quick", args.only), ("full", args.full)):
        for notebook in notebooks:
            settings = profile_settings(notebook, profile)
            scaled = estimate.quick_estimate(notebook, probe, timings) if profile == "quick" else None
            counted = estimate.work_estimate(notebook, probe["rates"][profile], settings, estimate.probe_macs(probe))
            before = estimate.load_average()
            started = time.strftime("%H:%M", time.gmtime())
            measured = measured_seconds(profile, notebook, args.build_dir / profile / notebook)
            rows.append((profile, notebook, scaled, counted, measured, before, estimate.load_average(), started))
    print(f"\nEstimates against measured wall times on {probe['device']} (seconds; error in % of the measured time)")
    print(f"{'profile':<7} {'notebook':<40} {'scaled':>7} {'error':>6} {'counted':>7} {'error':>6} {'measured':>8}  load (UTC start)")
    for profile, notebook, scaled, counted, measured, before, after, started in rows:
        print(f"{profile:<7} {notebook:<40} {seconds(scaled)} {error(scaled, measured)} {seconds(counted)} "
              f"{error(counted, measured)} {measured:8.0f}  {before} -> {after} ({started})")
    print("scaled: the build machine's time x the probes' speed ratio (the quick estimate); counted: the work "
          "the settings count at the probe's speed (the full estimate's method; none for 00)")


def saved_run(run: dict) -> None:
    """The work-count method (the full estimate's) checked on every notebook of the saved quick run, at its probe."""
    probe = run["probe"]
    print(f"saved quick run: {run['by']}, {run['machine']}, {run['measured']}; its probe at load average "
          f"{probe['load_average']}")
    print(f"{'notebook':<40} {'counted':>7} {'error':>6} {'measured':>8}")
    for notebook, measured in run["seconds"].items():
        counted = estimate.work_estimate(notebook, probe["rates"]["quick"], profile_settings(notebook, "quick"),
                                         estimate.probe_macs(probe))
        print(f"{notebook:<40} {seconds(counted)} {error(counted, measured)} {measured:8.0f}")
    print("counted: the work the quick settings count at the probe's speed (the full estimate's method; none for 00)")


if __name__ == "__main__":
    main()
