"""Load a folder (or ``.tar.gz`` archive) of ordinary image files as a :class:`Dataset`.

Accepted layouts, below the folder or the archive's single top-level folder:

* ``train/<class>/*`` and ``test/<class>/*``: both splits, labelled;
* ``<class>/*``: one labelled gallery (everything goes to the train split);
* ``*``: one unlabelled gallery.

JPEG, PNG, BMP, GIF and WebP files are read (through Pillow); other files
and hidden files are ignored. 16-bit images are scaled to 8 bits (65535 ->
255), not clipped. Transparent images (RGBA, grey + alpha, palettes with a
transparent colour) are composited onto a plain ``background`` (black by
default, the background of MNIST and Fashion-MNIST) and a warning says how
many were: dropping the alpha channel would keep whatever colour happens to
sit under the transparent pixels.
"""

from __future__ import annotations

import io
import re
import tarfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, UnidentifiedImageError

from aesearch_utils.data.dataset import Dataset
from aesearch_utils.errors import CorruptDataError, DataNotFoundError, InvalidInputError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"})
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
SPLITS = ("train", "test")


@dataclass(frozen=True)
class _ImageFile:
    parts: tuple[str, ...]
    """Path components below the root, the file name last."""
    data: bytes
    where: str


def is_archive(path: Path) -> bool:
    """True for the archive names :func:`load_image_folder` accepts."""
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def load_image_folder(
    path: str | Path,
    image_size: tuple[int, int] | None = None,
    grayscale: bool = False,
    class_names: Sequence[str] | None = None,
    name: str | None = None,
    background: int = 0,
) -> Dataset:
    """Read every image below ``path`` into a :class:`Dataset`.

    Args:
        path: a folder or a ``.tar.gz``/``.tgz``/``.tar`` archive.
        image_size: ``(height, width)`` to resize every image to; required when the
            images differ in size.
        grayscale: convert to one channel (else three, RGB).
        class_names: the classes in label order; by default the sorted
            sub-folder names. A folder outside this list is an error.
        name: the dataset's name (default: the folder's name).
        background: the grey level (0-255) that transparent pixels are composited onto.
    """
    if not 0 <= background <= 255:
        raise InvalidInputError(f"background is a grey level from 0 to 255, got {background}")
    path = Path(path)
    files = list(_iter_archive(path) if is_archive(path) else _iter_folder(path))
    if not files:
        raise DataNotFoundError(
            f"no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) found in {path}"
        )
    files = _strip_common_top_folder(files)
    by_split = _split_files(files, path)

    labelled = {len(file.parts) > 1 for split_files in by_split.values() for file in split_files}
    if labelled == {True, False}:
        raise InvalidInputError(
            f"{path}: some images sit in class sub-folders and some directly in the folder; "
            "put every image in a class folder, or none"
        )
    is_labelled = labelled == {True}
    if is_labelled:
        found = sorted({file.parts[0] for files in by_split.values() for file in files})
        classes = tuple(class_names) if class_names is not None else tuple(found)
        unknown = sorted(set(found) - set(classes))
        if unknown:
            raise InvalidInputError(
                f"{path}: class folders {unknown} are not among the expected classes {classes}"
            )
    else:
        classes = ()

    arrays = {}
    for split in SPLITS:
        split_files = sorted(by_split.get(split, []), key=lambda file: _natural_key(file.parts))
        images = _decode_all(split_files, image_size, grayscale, background)
        labels = (
            np.array([classes.index(file.parts[0]) for file in split_files], dtype=np.int64)
            if is_labelled
            else None
        )
        arrays[split] = (images, labels)
    if not len(arrays["train"][0]):
        raise InvalidInputError(f"{path}: there are test/ images but no train/ images")
    if not len(arrays["test"][0]):
        channels = 1 if grayscale else 3
        shape = arrays["train"][0].shape[1:3]
        arrays["test"] = (
            np.empty((0, *shape, channels), np.uint8),
            np.empty(0, np.int64) if is_labelled else None,
        )
    return Dataset(
        name=name or _stem(path),
        x_train=arrays["train"][0],
        y_train=arrays["train"][1],
        x_test=arrays["test"][0],
        y_test=arrays["test"][1],
        class_names=classes,
        source=f"image files in {path}",
    )


def _iter_folder(root: Path) -> Iterator[_ImageFile]:
    if not root.is_dir():
        raise DataNotFoundError(f"{root} is neither a folder nor a .tar.gz/.tgz/.tar archive")
    for file in root.rglob("*"):
        relative = file.relative_to(root)
        if file.is_file() and _is_image_name(PurePosixPath(relative.as_posix())):
            yield _ImageFile(relative.parts, file.read_bytes(), str(file))


def _iter_archive(archive_path: Path) -> Iterator[_ImageFile]:
    try:
        with tarfile.open(archive_path, "r:*") as archive:
            for member in archive:
                member_path = PurePosixPath(member.name)
                if member.isfile() and _is_image_name(member_path):
                    handle = archive.extractfile(member)
                    assert handle is not None  # regular files always have a handle
                    yield _ImageFile(
                        member_path.parts, handle.read(), f"{archive_path}:{member.name}"
                    )
    except (tarfile.TarError, EOFError, OSError) as error:
        raise CorruptDataError(
            f"{archive_path}: cannot read the archive ({error}); it is truncated or not a "
            "tar archive: replace it with a fresh copy"
        ) from None


def _is_image_name(path: PurePosixPath) -> bool:
    hidden = any(part.startswith(".") or part == "__MACOSX" for part in path.parts)
    return not hidden and path.suffix.lower() in IMAGE_SUFFIXES


def _strip_common_top_folder(files: list[_ImageFile]) -> list[_ImageFile]:
    """Drop a single top-level folder shared by all files (as archives usually have)."""
    while True:
        tops = {file.parts[0] for file in files}
        if len(tops) != 1 or any(len(file.parts) < 3 for file in files) or tops <= set(SPLITS):
            return files
        files = [_ImageFile(file.parts[1:], file.data, file.where) for file in files]


def _split_files(files: list[_ImageFile], root: Path) -> dict[str, list[_ImageFile]]:
    in_split = [file.parts[0] in SPLITS and len(file.parts) > 1 for file in files]
    if not any(in_split):
        return {"train": files}
    if not all(in_split):
        outside = next(
            file.where for file, inside in zip(files, in_split, strict=True) if not inside
        )
        raise InvalidInputError(
            f"{root}: images must all be below train/ and test/, or none of them; {outside} is not"
        )
    split_files: dict[str, list[_ImageFile]] = {split: [] for split in SPLITS}
    for file in files:
        split_files[file.parts[0]].append(_ImageFile(file.parts[1:], file.data, file.where))
    return split_files


def _decode_all(
    files: list[_ImageFile], image_size: tuple[int, int] | None, grayscale: bool, background: int
) -> np.ndarray:
    if not files:
        return np.empty((0, 0, 0, 1 if grayscale else 3), np.uint8)
    decoded = [_decode(file, image_size, grayscale, background) for file in files]
    images = [image for image, _ in decoded]
    transparent = [file.where for file, (_, alpha) in zip(files, decoded, strict=True) if alpha]
    if transparent:
        warnings.warn(
            f"{len(transparent)} image(s) have transparency (first: {transparent[0]}); their "
            f"transparent pixels were composited onto grey level {background} "
            "(load_image_folder(..., background=...) chooses another)",
            stacklevel=3,
        )
    sizes = {image.shape for image in images}
    if len(sizes) > 1:
        first = files[0].where
        other = next(
            f.where for f, im in zip(files, images, strict=True) if im.shape != images[0].shape
        )
        raise InvalidInputError(
            f"images differ in size ({first} is {images[0].shape[1]}x{images[0].shape[0]}, "
            f"{other} is not): pass image_size=(height, width) to resize them all"
        )
    return np.stack(images)


def _decode(
    file: _ImageFile, image_size: tuple[int, int] | None, grayscale: bool, background: int
) -> tuple[np.ndarray, bool]:
    """The image as uint8 ``(H, W, C)``, and whether it had transparency."""
    try:
        with Image.open(io.BytesIO(file.data)) as image:
            return image_to_array(image, image_size, grayscale, background)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise CorruptDataError(f"{file.where}: unreadable image ({error})") from None


def image_to_array(
    image: Image.Image, image_size: tuple[int, int] | None, grayscale: bool, background: int = 0
) -> tuple[np.ndarray, bool]:
    """A decoded Pillow image as uint8 ``(H, W, C)`` (C = 1 for ``grayscale``, else 3), resized
    to ``image_size`` when given, and whether it had transparency (composited onto the grey
    level ``background``). The one conversion for image folders and for uploaded images."""
    image = _eight_bit(image)
    transparent = image.has_transparency_data
    if transparent:
        canvas = Image.new("RGBA", image.size, (background,) * 3 + (255,))
        image = Image.alpha_composite(canvas, image.convert("RGBA"))
    image = image.convert("L" if grayscale else "RGB")
    if image_size is not None:
        height, width = image_size
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)
    return (array[..., np.newaxis] if grayscale else array), transparent


def _eight_bit(image: Image.Image) -> Image.Image:
    """A 16- or 32-bit grey image scaled to 8 bits (Pillow's ``convert`` would clip at 255)."""
    # "I" (32-bit integers) is how some Pillow versions decode PNG's 16-bit grey
    if image.mode.startswith("I;16") or image.mode == "I":
        levels = np.asarray(image, dtype=np.float64) / 257  # 65535 -> 255
    elif image.mode == "F":
        levels = np.asarray(image, dtype=np.float64) * 255  # floats in [0, 1]
    else:
        return image
    return Image.fromarray(np.clip(np.round(levels), 0, 255).astype(np.uint8), "L")


def _natural_key(parts: tuple[str, ...]) -> list[tuple[int, str]]:
    """Sort ``img2`` before ``img10``; file numbers usually mean an order."""
    key = []
    for part in parts:
        for token in re.split(r"(\d+)", part):
            key.append((int(token), "") if token.isdigit() else (-1, token))
    return key


def _stem(path: Path) -> str:
    name = path.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name
