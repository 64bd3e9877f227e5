"""Run the course's notebooks in one profile, then print the lessons table (each lesson's
expected effect, this run's numbers and the verdict) and every notebook's wall time.

    python benchmarks/lessons.py [--profile quick] [--seeds N] [--only 01_scratch_cnn_baseline ...] [--save-times]

Each seed's run has a build folder of its own, emptied first
(`build/benchmark-lessons/<profile>/seed-<seed>`), so that nothing cached by an earlier run
(features, models) shortens the times. Long: the quick profile takes about as long as
`make course` in quick, per seed. Not part of the tests.
With `--seeds N` it runs the course N times, with COURSE_SEED 42, 43, ..., and ends with each
lesson over the N seeds (`lessons.across_seeds`): in how many seeds its effect showed, and the
mean, range and standard deviation of every number it compares. One run's verdict says whether
its difference is beyond what the draw of test images explains; this says how often another
seed repeats it.
With the quick profile, it also says whether the first seed's run kept within the quick
profile's time budget: each notebook at most 9 minutes, the whole course at most 30 (on the build
machine; machines of its kind differ by about 1.5x, which keeps a slower one within 14 and 45). With
`--save-times`, a run of every notebook writes the first seed's wall times, the date, the
commit and the machine into `course_utils/timings.json`, which notebook 00 shows learners
(`session.time_plan`), with the machine's probe (`estimate.measure`), measured just before the
run in the same conditions: the estimates for other machines scale these seconds by it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from course_utils import estimate, lessons, runner  # noqa: E402
from course_utils.config import SEED, artifact_path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUDGET = {"quick": (9 * 60, 30 * 60)}  # seconds: per notebook, whole course


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seeds", type=int, default=1, help="runs of the course, with COURSE_SEED 42, 43, ...")
    parser.add_argument("--only", nargs="+", help="these notebooks only (names without .ipynb)")
    parser.add_argument("--build-dir", type=Path, help="default: build/benchmark-lessons/<profile>; "
                        "each seed's run in its folder seed-<seed>")
    parser.add_argument("--save-times", action="store_true", help="record the wall times in course_utils/timings.json")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds: at least 1")
    folder = (args.build_dir or ROOT / "build" / "benchmark-lessons" / args.profile).resolve()
    # Measured before the notebooks, in the same conditions as their seconds: the estimates' reference.
    probe = estimate.measure() if args.save_times and not args.only else None
    runs = []
    for seed in range(SEED, SEED + args.seeds):
        records, seconds, total = run(args.profile, seed, folder / f"seed-{seed}", args.only)
        runs.append(records)
        if seed == SEED and args.profile in BUDGET and not args.only:
            per_notebook, whole = BUDGET[args.profile]
            slowest = max(seconds, key=seconds.get)
            print(f"\nbudget: slowest notebook {slowest} {seconds[slowest] / 60:.1f} min (limit {per_notebook / 60:.0f}): "
                  f"{'within' if seconds[slowest] <= per_notebook else 'OVER'}; whole run {total / 60:.1f} min "
                  f"(limit {whole / 60:.0f}): {'within' if total <= whole else 'OVER'}")
        if seed == SEED and args.save_times and not args.only:
            save_times(args.profile, seconds, probe)
    if args.seeds > 1:
        print(f"\nLessons over {args.seeds} seeds ({SEED} to {SEED + args.seeds - 1}), profile {args.profile}")
        print(lessons.describe_across_seeds(lessons.across_seeds(runs)))


def run(profile: str, seed: int, build: Path, only: list[str] | None) -> tuple[list[dict], dict[str, float], float]:
    """Run the course with this seed in `build` (emptied first) and print its lessons and wall
    times; returns the run's records, each notebook's wall time and the whole run's."""
    shutil.rmtree(build, ignore_errors=True)
    os.environ["COURSE_SEED"] = str(seed)  # the notebooks' kernels inherit it
    started = time.perf_counter()
    runner.run_course(profile, ROOT / "notebooks", only=only, build=build)
    total = time.perf_counter() - started

    status = max(artifact_path(build, "runs").glob("*.json"), key=lambda p: p.stat().st_mtime)
    seconds = json.loads(status.read_text())["seconds"]
    records = json.loads((artifact_path(build, "report") / "results.json").read_text())
    print(f"\nprofile {profile}, seed {seed}; {platform.machine()}, {os.cpu_count()} cores; build folder {build}")
    print("\nLessons (from this run's records)")
    verdicts = lessons.judge(records)
    for verdict in verdicts:
        print(f"  {verdict.notebook[:2]} {verdict.lesson}\n     measured  {verdict.measured}\n"
              f"     verdict   {verdict.verdict}" + (f": {verdict.reason}" if verdict.reason else ""))
    print(f"  weights: {'; '.join(sorted({v.weights for v in verdicts if v.weights}))}")
    print("\nWall time per notebook")
    for name, value in seconds.items():
        print(f"  {name:<42} {value:7.0f} s  ({value / 60:4.1f} min)")
    print(f"  {'all notebooks':<42} {sum(seconds.values()):7.0f} s  ({sum(seconds.values()) / 60:4.1f} min)")
    print(f"  {'whole run (data check, report included)':<42} {total:7.0f} s  ({total / 60:4.1f} min)")
    return records, seconds, total


def save_times(profile: str, seconds: dict[str, float], probe: dict | None) -> None:
    """Record this run's wall time of every notebook as the profile's measured times, with the
    probe measured before the run (the load average it was measured at is in it)."""
    from course_utils.session import TIMINGS

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    times = json.loads(TIMINGS.read_text())
    times[profile] = {"measured": time.strftime("%Y-%m-%d"),
                      "by": f"benchmarks/lessons.py --profile {profile}, commit {commit or 'unknown'}",
                      "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                      "seconds": {name: round(value) for name, value in seconds.items()},
                      "probe": {**probe, "by": "benchmarks/lessons.py --save-times, just before the run"}}
    TIMINGS.write_text(json.dumps(times, indent=1) + "\n")
    print(f"\nwall times saved to {TIMINGS}")


if __name__ == "__main__":
    main()
