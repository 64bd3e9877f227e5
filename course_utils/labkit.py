"""A teacher's lab kit: one folder holding everything the course downloads at run time.

On a machine with internet:

    python -m course_utils lab-kit PATH            # build the kit, or complete and repair it
    python -m course_utils lab-kit --verify PATH   # re-check it, e.g. after copying it to a USB stick

On every lab machine, one setting: `COURSE_DATA_MIRROR=PATH` (see `mirror.py` for how the
course takes the kit's items, and refuses damaged ones). `lab-kit --status` shows, for each
dataset, the weights and the hub model, what the course would use, from where, and its label.

Each item is downloaded under `PATH/.incoming/`, checked (the datasets file by file against the
course's sha256 lists, CIFAR-10 and the VGG weights against the hashes Keras publishes,
MobileNetV2's weights, which have none, by their layers' shapes, the TF-Hub model as a SavedModel), then renamed into place, and only then entered into
`PATH/MANIFEST.json` (file, size, sha256, source URL). An interrupted run therefore leaves at
most an unlisted item, which the next run fetches again and a lab machine does not take for
whole; a re-run skips every listed item whose files still match the manifest.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from . import archives, compat, hub, install, pretrained
from . import mirror as kit
from .config import data_dir, mirror_dir
from .errors import DataError
from .files import atomic_path, file_hash
from .networks import KERAS_APPLICATION, NETWORKS
from .registry import ARCHIVE, DATASETS, SETTING, Source, checksums

INCOMING = ".incoming"


class KitError(DataError):
    """A lab kit that cannot be built, or an item that failed its checks."""


def items() -> dict[str, dict[str, str]]:
    """The kit's items, every dataset of `registry.DATASETS` then every network of
    `networks.NETWORKS` (Keras' weights files, and the TF-Hub model notebook 06 runs):
    kind ("dataset", "weights" or "hub"), path in the kit, source URL."""
    table = {name: {"kind": "dataset", "path": spec["archive"], "url": spec["url"]} for name, spec in DATASETS.items()}
    for name, network in NETWORKS.items():
        table[name] = {"kind": "weights" if network.kind == KERAS_APPLICATION else "hub",
                       "path": network.kit_path, "url": network.source}
    return table


# --------------------------------------------------------------------------- building


def _fetch(item: dict[str, str], staged: Path) -> None:
    """Download one item to `staged` (archives.download shows progress and keeps partial bytes
    under a `.part` name); the TF-Hub model through tensorflow_hub, then copied."""
    if item["kind"] != "hub":
        archives.download(item["url"], staged)
        return
    tensorflow_hub = compat.import_tensorflow_hub()  # HubUnavailable names the fix
    try:
        resolved = tensorflow_hub.resolve(item["url"])  # into the TF-Hub cache, with its progress
    except Exception as error:  # URLError offline; tensorflow_hub wraps others
        raise KitError(f"could not download {item['url']}: {error}") from error
    shutil.copytree(resolved, staged)


def _check(name: str, item: dict[str, str], staged: Path) -> str:
    """Check a fetched item against its published checks; returns its label for the manifest.
    Raises `KitError` (or `ChecksumError`) naming what differs."""
    if item["kind"] == "dataset" and DATASETS[name]["kind"] == ARCHIVE:
        expected = checksums(name)
        with tempfile.TemporaryDirectory(dir=staged.parent) as work:
            archives.extract(staged, Path(work) / "extracted")
            root = archives.find_root(Path(work) / "extracted", next(iter(expected)))
            if root is None:
                raise KitError(f"{item['url']} does not hold {name} in its official layout")
            install.copy_checked(root, expected, Path(work) / "checked", name)
        return f"{name}: official archive, every file matches the course's sha256 list"
    if item["kind"] == "dataset":  # a Keras dataset: the archive Keras downloads
        if file_hash(staged) != DATASETS[name]["sha256"]:
            raise KitError(f"{item['url']}: sha256 differs from the one Keras publishes for {name}")
        return f"{name}: official archive (Keras' published sha256)"
    if item["kind"] == "weights" and NETWORKS[name].md5:
        if file_hash(staged, "md5") != NETWORKS[name].md5:
            raise KitError(f"{item['url']}: md5 differs from the one Keras publishes for {name}")
        return f"{name}: imagenet no-top weights (Keras' published md5)"
    if item["kind"] == "weights":  # Keras publishes no hash (MobileNetV2): the file must hold the network's layers
        title = NETWORKS[name].title
        try:
            fits = pretrained.file_tensors(staged).shapes == NETWORKS[name].shapes
        except (OSError, KeyError, ValueError, TypeError):  # no HDF5 file, or not a weights layout
            fits = False
        if not fits:
            raise KitError(f"{item['url']}: the file does not hold {title}'s no-top layers")
        return f"{name}: no-top weights from Keras' address (no published hash: checked to hold {title}'s layers)"
    import tensorflow as tf  # the hub model

    if not tf.saved_model.contains_saved_model(str(staged)):
        raise KitError(f"{item['url']} did not resolve to a SavedModel folder")
    return hub.hub_label(str(staged)) if (staged / hub.STAND_IN_MARKER).is_file() else \
        f"{NETWORKS[name].label}, resolved from {item['url']}"


def _records(staged: Path, relative: str, url: str) -> list[dict[str, Any]]:
    """One manifest record (file, size, sha256, url) per file of a staged item."""
    files = sorted(p for p in staged.rglob("*") if p.is_file()) if staged.is_dir() else [staged]
    return [{"file": str(Path(relative) / p.relative_to(staged)) if staged.is_dir() else relative,
             "size": p.stat().st_size, "sha256": file_hash(p), "url": url} for p in files]


def _write_atomically(path: Path, text: str) -> None:
    """Replace the file at `path` by `text` in one step: a reader sees the old file or the new one."""
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def _set_entry(folder: Path, name: str, entry: dict[str, Any] | None) -> None:
    """Put item `name` into the kit's manifest as `entry`, or take it out (None)."""
    manifest = kit.read_manifest(folder)
    manifest.setdefault("kit", "Transfer learning with Keras: lab kit (python -m course_utils lab-kit)")
    if entry is None:
        manifest["items"].pop(name, None)
    else:
        manifest["items"][name] = entry
    _write_atomically(folder / kit.MANIFEST, json.dumps(manifest, indent=1))


def _build_item(folder: Path, name: str, item: dict[str, str]) -> None:
    """Fetch, check and place one item, then list it. Raises what `_fetch` and `_check` raise."""
    staged = folder / INCOMING / name / Path(item["path"]).name
    staged.parent.mkdir(parents=True, exist_ok=True)
    _fetch(item, staged)
    label = _check(name, item, staged)
    entry = {"kind": item["kind"], "path": item["path"], "source": item["url"], "label": label,
             "added": time.strftime("%Y-%m-%dT%H:%M:%S"), "files": _records(staged, item["path"], item["url"])}
    # Out of the manifest before its old copy goes, back in only once the new one is in place:
    # a run killed in between leaves an unlisted item (fetched again next time), never a wrong entry.
    _set_entry(folder, name, None)
    final = folder / item["path"]
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.is_dir():
        shutil.rmtree(final)
    staged.replace(final)
    _set_entry(folder, name, entry)


def build_kit(folder: Path | str) -> list[str]:
    """Fill `folder` with every item the course downloads, skipping listed items that still
    verify. Returns the items that failed (each with why); they are retried on the next run.
    Raises `KitError` when `folder` cannot be written."""
    folder = Path(folder).expanduser().resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(folder / INCOMING, ignore_errors=True)  # an interrupted run's leftovers: never resumed
        (folder / INCOMING).mkdir()
    except OSError as error:
        raise KitError(f"cannot write the lab kit at {folder} ({error}): build it in a writable folder, "
                       "then copy it (a read-only copy works on the lab machines)") from error
    failed = []
    table = items()
    for number, (name, item) in enumerate(table.items(), 1):
        entry = kit.read_manifest(folder)["items"].get(name)
        step = f"[{number}/{len(table)}] {name}"
        if entry and not kit.item_problems(folder, entry):
            print(f"{step}: complete and verified, skipped")
            continue
        print(f"{step}: fetching {item['url']}")
        try:
            _build_item(folder, name, item)
            print(f"{step}: added as {item['path']}")
        except (DataError, OSError) as error:
            failed.append(f"{name}: {error}")
            print(f"{step}: FAILED, not added ({error}); run the command again to retry it")
    shutil.rmtree(folder / INCOMING, ignore_errors=True)
    _write_atomically(folder / "README.md", readme(folder))
    return failed


def verify_kit(folder: Path | str) -> dict[str, list[str]]:
    """Re-check every item of the kit at `folder` against its manifest; returns the problems
    of each item (an empty list: intact), including items the kit lacks."""
    folder = Path(folder).expanduser().resolve()
    listed = kit.read_manifest(folder)["items"]
    return {name: kit.item_problems(folder, listed[name]) if name in listed else ["not in the kit"]
            for name in items()}


def readme(folder: Path) -> str:
    """The kit's short README: what it holds, how a lab uses and checks it."""
    listed = kit.read_manifest(folder)["items"]
    rows = "\n".join(f"| {name} | `{item['path']}` | "
                     f"{listed[name]['label'] if name in listed else 'MISSING: run lab-kit again'} |"
                     for name, item in items().items())
    return f"""# Lab kit for "Transfer learning with Keras"

Everything the course downloads at run time, checked when it was fetched. `MANIFEST.json` lists
every file with its size, sha256 and source URL.

| item | file | label |
| --- | --- | --- |
{rows}

On each lab machine (the folder may be read-only, a shared drive or a USB stick):

    export COURSE_DATA_MIRROR=/path/to/this/folder

Check a copy: `python -m course_utils lab-kit --verify /path/to/this/folder`. Complete or repair
the kit (on a machine with internet): `python -m course_utils lab-kit /path/to/this/folder`.
"""


# --------------------------------------------------------------------------- status


def sources() -> dict[str, Source]:
    """Where each kit item comes from in this run (`Source`), as the loaders look it up
    (`install.dataset_source`, `pretrained.weights_source`, `hub.hub_source`). A weights
    setting that cannot be used is shown, with why, rather than stopping the view."""
    found = {}
    for name, item in items().items():
        if item["kind"] == "dataset":
            found[name] = install.dataset_source(name)
        elif item["kind"] == "weights":
            try:
                found[name] = pretrained.weights_source(name)
            except pretrained.WeightsError as error:
                found[name] = Source(SETTING, f"{pretrained.UNUSABLE} {error}", note=f"COURSE_WEIGHTS_{name.upper()}")
        else:
            found[name] = hub.hub_source()
    return found


def status() -> list[dict[str, str]]:
    """One row per item the course fetches: item, kind, where it would come from (and a note
    saying more), its label."""
    kinds = {name: item["kind"] for name, item in items().items()}
    return [{"item": name, "kind": kinds[name], "where": source.where, "note": source.note, "label": source.label}
            for name, source in sources().items()]


def command(path: Path | None, verify: bool, show_status: bool) -> int:
    """`python -m course_utils lab-kit`: build, verify or show; returns the exit status."""
    if path is None and not show_status:
        raise KitError("name the kit's folder: `python -m course_utils lab-kit PATH` (or --verify PATH, --status)")
    if show_status:
        print(f"Data folder: {data_dir()}\nMirror: {mirror_dir() or 'none (COURSE_DATA_MIRROR is not set)'}"
              + (f"\n  warning: {kit.problem()}" if kit.problem() else ""))
        for row in status():
            where = row["where"] + (f" ({row['note']})" if row["note"] else "")
            print(f"  {row['item']:<13} {row['kind']:<8} {where}\n  {'':<22} {row['label']}")
        return 0
    if verify:
        problems = verify_kit(path)
        for name, found in problems.items():
            print(f"{name}: " + ("intact" if not found else "; ".join(found[:5])))
        bad = [name for name, found in problems.items() if found]
        if bad:
            print(f"{len(bad)} item(s) missing or damaged: repair with `{kit.REPAIR} {path}`")
        return 1 if bad else 0
    failed = build_kit(path)
    print(f"Lab kit at {Path(path).resolve()}: " + (
        "complete. On the lab machines: export COURSE_DATA_MIRROR=<the kit's folder>" if not failed else
        f"{len(failed)} item(s) failed; run the same command again to retry them"))
    return 1 if failed else 0
