"""Images: which files the course can train on.

`check_image` decodes a file with the decoder training uses and returns why
it cannot be used (or None); `scan_images` sorts a list of files into usable
and skipped ones; `class_folders` reads a folder of class sub-folders;
`exif_orientation` says which way up a photo is meant to be seen; `shown` writes
a path for a message, also one whose name is not UTF-8.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

from PIL import BmpImagePlugin, GifImagePlugin, Image, JpegImagePlugin, PngImagePlugin

from .errors import DataError
from .files import size_label

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
# The largest image file the course reads, checked before a byte of it is read: well above any real
# photo (a 100-megapixel camera's JPEG is about 50 MB, its PNG about 150 MB), and far below what
# would fill a lab machine's memory once read and handed to TensorFlow (a 2 GB file of zeros named
# .jpg took 2.8 GB; with a JPEG header in front, 11 GB). A larger file is skipped, named.
MAX_FILE_BYTES = 200_000_000
# How much of a file's start `check_image` reads to tell its format and size (its header) before
# reading the rest: a JPEG's EXIF, colour profile and frame header come well within it.
HEADER_BYTES = 1 << 20


def natural_key(path: Path) -> list:
    """Sort cat.2.jpg before cat.10.jpg."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def check_image(path: Path) -> str | None:
    """Why `path` cannot be used as a training image, or None when it can.

    Decodes the file with TensorFlow's own decoder, the one the loaders use,
    so that what passes here is exactly what trains: a truncated or corrupt
    image is caught here rather than mid-epoch. JPEGs are decoded at an
    eighth of their size (`ratio=8`): the whole compressed stream is still
    read and checked, at a fraction of the time. Before any of the file is
    read, its name must be UTF-8 (TensorFlow takes paths as UTF-8 text and stops
    training at any other, naming no file) and its size at most `MAX_FILE_BYTES`;
    before the body is read, the header's format and size are checked against
    `MAX_PIXELS`: a tiny file can decode to gigabytes, and a huge one named
    `.jpg` would fill the memory just by being read. Grayscale, CMYK and
    palette images are fine: the loaders convert every image to RGB. Returns
    the reason as text rather than raising, so a caller can skip and list files.
    """
    import tensorflow as tf

    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return "not an image file"
    if not is_utf8(path):
        which = "its name" if not is_utf8(path.name) else "the name of a folder it is in"
        return f"{which} is not UTF-8 text, which TensorFlow cannot open: rename it (letters, digits, - _ . only)"
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return (f"too large for an image file: {size_label(size)}, over the course's limit of "
                    f"{size_label(MAX_FILE_BYTES)} (far above any real photo); not read. Is it an image at all?")
        with open(path, "rb") as stream:
            head = stream.read(HEADER_BYTES)
            image_format = next((name for magic, name in MAGIC.items() if head.startswith(magic)), None)
            if image_format is None:
                return "unreadable image (not a JPEG, PNG, GIF or BMP file)"
            bits = int.from_bytes(head[28:30], "little") if image_format == "BMP" else None
            if bits is not None and bits not in (24, 32):
                # TensorFlow reads an 8-bit BMP's palette indices as grey levels (wrong
                # colours) and refuses 1- and 4-bit ones.
                return f"{bits}-bit BMP: TensorFlow reads only 24- and 32-bit BMPs correctly (save it as PNG or JPEG)"
            too_large = _too_large(head, image_format)
            if too_large:
                return too_large
            stream.seek(0)
            raw = stream.read()  # the whole file, only now that its size and header have passed
    except OSError as error:
        return f"unreadable file ({error.strerror})"
    try:
        if image_format == "JPEG":
            tf.io.decode_jpeg(raw, channels=3, ratio=8)
        else:
            tf.io.decode_image(raw, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
        message = error.message.split("}} ")[-1].split(" [Op:")[0].strip()
        return f"unreadable image ({message})"
    return None


def is_utf8(path: Path | str) -> bool:
    """Whether `path` is UTF-8 text. A name made of other bytes (`bad\\xff.jpg`, written by an
    old camera or another system's archive) is read by Python with its bytes kept as stand-ins,
    which TensorFlow refuses to convert."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(path: Path | str) -> str:
    """`path` for a message: as it is, or with the bytes of a name that is not UTF-8 written
    out (`bad\\xff\\xfename.jpg`), which a print to a UTF-8 terminal or log could not show."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _too_large(head: bytes, image_format: str) -> str | None:
    """Why an image whose header (in `head`, the file's first bytes) says it has more than
    `MAX_PIXELS` pixels is refused, or None.

    A header Pillow cannot read is left to TensorFlow's decoder, which says what is wrong with it.
    """
    try:
        width, height = HEADER_READERS[image_format](io.BytesIO(head)).size
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
    print(f"Skipped {len(bad)} file(s) in {shown(where)} that are not usable images:")
    for path, reason in bad[:limit]:
        print(f"  {shown(path)}: {reason}")
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
