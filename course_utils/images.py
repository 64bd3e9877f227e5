"""Images: which files the course can train on.

`check_image` decodes a file with the decoder training uses and returns why
it cannot be used (or None); `scan_images` sorts a list of files into usable
and skipped ones; `class_folders` reads a folder of class sub-folders;
`exif_orientation` says which way up a photo is meant to be seen.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

from PIL import BmpImagePlugin, GifImagePlugin, Image, JpegImagePlugin, PngImagePlugin

from .errors import DataError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif"}
# The formats tf.io.decode_image reads, by the first bytes of the file (as it tells them apart).
MAGIC = {b"\xff\xd8\xff": "JPEG", b"\x89PNG": "PNG", b"GIF8": "GIF", b"BM": "BMP"}
# Pillow's readers of those formats: they read the header (size, EXIF) without decoding the pixels.
HEADER_READERS = {"JPEG": JpegImagePlugin.JpegImageFile, "PNG": PngImagePlugin.PngImageFile,
                  "GIF": GifImagePlugin.GifImageFile, "BMP": BmpImagePlugin.BmpImageFile}
# The most pixels an image may have: Pillow's own MAX_IMAGE_PIXELS default, above which Pillow
# warns of a "decompression bomb" (a small file that decodes to gigabytes: a 249 KB PNG can hold
# 16000x16000 pixels). Decoded, an image at the limit takes 268 MB as 8-bit RGB; the course's
# datasets are far below it (their largest image is 1023x768, under a megapixel).
MAX_PIXELS = 89_478_485


def natural_key(path: Path) -> list:
    """Sort cat.2.jpg before cat.10.jpg."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def check_image(path: Path) -> str | None:
    """Why `path` cannot be used as a training image, or None when it can.

    Decodes the file with TensorFlow's own decoder, the one the loaders use,
    so that what passes here is exactly what trains: a truncated or corrupt
    image is caught here rather than mid-epoch. JPEGs are decoded at an
    eighth of their size (`ratio=8`): the whole compressed stream is still
    read and checked, at a fraction of the time. Before any decoding, the
    header's size is checked against `MAX_PIXELS`: a tiny file can decode to
    gigabytes. Grayscale, CMYK and palette images are fine: the loaders
    convert every image to RGB. Returns the reason as text rather than
    raising, so a caller can skip and list files.
    """
    import tensorflow as tf

    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return "not an image file"
    try:
        raw = path.read_bytes()
    except OSError as error:
        return f"unreadable file ({error.strerror})"
    image_format = next((name for magic, name in MAGIC.items() if raw.startswith(magic)), None)
    if image_format is None:
        return "unreadable image (not a JPEG, PNG, GIF or BMP file)"
    bits = int.from_bytes(raw[28:30], "little") if image_format == "BMP" else None
    if bits is not None and bits not in (24, 32):
        # TensorFlow reads an 8-bit BMP's palette indices as grey levels (wrong
        # colours) and refuses 1- and 4-bit ones.
        return f"{bits}-bit BMP: TensorFlow reads only 24- and 32-bit BMPs correctly (save it as PNG or JPEG)"
    too_large = _too_large(raw, image_format)
    if too_large:
        return too_large
    try:
        if image_format == "JPEG":
            tf.io.decode_jpeg(raw, channels=3, ratio=8)
        else:
            tf.io.decode_image(raw, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
        message = error.message.split("}} ")[-1].split(" [Op:")[0].strip()
        return f"unreadable image ({message})"
    return None


def _too_large(raw: bytes, image_format: str) -> str | None:
    """Why an image whose header says it has more than `MAX_PIXELS` pixels is refused, or None.

    A header Pillow cannot read is left to TensorFlow's decoder, which says what is wrong with it.
    """
    try:
        width, height = HEADER_READERS[image_format](io.BytesIO(raw)).size
    except Image.DecompressionBombError as error:  # a GIF frame beyond twice Pillow's own limit
        return f"too large to train on ({error})"
    except Exception:  # a damaged header: TensorFlow's decoder names the problem
        return None
    if width * height <= MAX_PIXELS:
        return None
    return (f"too large to train on: {width}x{height} is {width * height:,} pixels, over the course's limit "
            f"of {MAX_PIXELS:,} (it would take {width * height * 3 / 1e9:.1f} GB of memory once decoded). "
            "Shrink it, e.g. to 4000x3000 pixels, to use it")


def exif_orientation(path: Path) -> int:
    """The EXIF orientation of the image at `path`: 1 (upright, also when it has none) to 8.

    A phone stores a photo as its sensor saw it and records in EXIF how to turn it
    (6: a quarter turn clockwise). TensorFlow's decoders ignore EXIF, so the loaders turn
    the image themselves (`data.upright`). Reads the header only.
    """
    try:
        with Image.open(path) as image:
            # Only EXIF read with the header: a PNG without it would otherwise be decoded to look for it.
            value = image.getexif().get(0x0112, 1) if "exif" in image.info else 1
    except Exception:  # not readable by Pillow: the image check decides whether it is used
        return 1
    return value if value in range(1, 9) else 1


def scan_images(paths: list[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Split `paths` into the usable images and (path, reason) for the others."""
    good, bad = [], []
    for path in paths:
        reason = check_image(path)
        if reason:
            bad.append((path, reason))
        else:
            good.append(path)
    return good, bad


def report_skipped(bad: list[tuple[Path, str]], where: Path | str, limit: int = 10) -> None:
    """Print the skipped files by name and count (used by imports and loaders)."""
    if not bad:
        return
    print(f"Skipped {len(bad)} file(s) in {where} that are not usable images:")
    for path, reason in bad[:limit]:
        print(f"  {path}: {reason}")
    if len(bad) > limit:
        print(f"  ... and {len(bad) - limit} more")


def class_folders(folder: Path) -> dict[str, list[Path]]:
    """The files of each class sub-folder of `folder`, in natural order.

    Raises `DataError` for a missing folder, a folder without class
    sub-folders (a wrong layout) or an empty class folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"no folder at {folder}")
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        loose = sum(1 for p in folder.iterdir() if p.is_file())
        raise DataError(
            f"wrong layout in {folder}: expected one sub-folder per class "
            f"(for example {folder}/cats/, {folder}/dogs/), found none "
            f"({loose} files directly inside)"
        )
    files = {}
    for class_dir in classes:
        files[class_dir.name] = sorted(
            (p for p in class_dir.iterdir() if p.is_file() and not p.name.startswith(".")),
            key=natural_key,
        )
        if not files[class_dir.name]:
            raise DataError(f"class folder {class_dir} is empty: add images or remove it")
    return files
