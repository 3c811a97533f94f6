"""``load_dataset``: find a named dataset on disk, or download it with Keras, and cache it.

Where :func:`load_dataset` looks, in order (``DATA`` is ``AESEARCH_DATA_DIR``,
default ``data/``):

1. the dataset's own folders (``DATA/mnist``, ``DATA/fashion-mnist``,
   ``DATA/cifar10``, ...) and then ``DATA`` itself, for the formats its catalogue
   entry lists: IDX files (gzip or not), the CIFAR-10 python batches (folder or
   ``cifar-10-python.tar.gz``), Keras' ``<name>.npz``, or an image-folder tree
   ``train/<class>/*`` + ``test/<class>/*`` (folder or archive; in the dataset's
   own folders only, so one dataset's archive is never taken for another's);
2. failing all of those, ``keras.datasets.<name>.load_data()``, which downloads
   into ``~/.keras/datasets``.

Decoded arrays are cached under ``AESEARCH_CACHE_DIR`` (default ``data/cache``).
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aesearch_utils import config
from aesearch_utils.data.cache import cache_path, fingerprint, read_cached, write_cached
from aesearch_utils.data.cifar_batches import ARCHIVE_NAME, BATCHES_FOLDER, read_cifar_batches
from aesearch_utils.data.dataset import Dataset, DatasetSpec, dataset_spec
from aesearch_utils.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from aesearch_utils.data.image_folder import SPLITS, is_archive, load_image_folder
from aesearch_utils.errors import CorruptDataError, DataNotFoundError

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
IMAGE_FOLDER_ORDER_SEED = 0

IDX_FILES = {
    "x_train": ("train-images-idx3-ubyte", IMAGES_MAGIC),
    "y_train": ("train-labels-idx1-ubyte", LABELS_MAGIC),
    "x_test": ("t10k-images-idx3-ubyte", IMAGES_MAGIC),
    "y_test": ("t10k-labels-idx1-ubyte", LABELS_MAGIC),
}


@dataclass(frozen=True)
class LocalSource:
    """Files on disk that hold a dataset, and how to read them."""

    description: str
    files: tuple[Path, ...]
    read: Callable[[], Arrays]


def load_dataset(
    name: str,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool | None = None,
    use_cache: bool = True,
) -> Dataset:
    """Load ``mnist``, ``fashion_mnist`` or ``cifar10`` with uint8 images and int labels.

    Args:
        name: the dataset's name; an unknown one raises an error listing the known ones.
        data_dir: where to look for files (default: ``AESEARCH_DATA_DIR`` or ``data/``).
        cache_dir: where decoded arrays are cached (default: ``AESEARCH_CACHE_DIR``
            or ``data/cache``).
        download: whether Keras may download a dataset not found on disk
            (default: yes, unless ``AESEARCH_OFFLINE=1``).
        use_cache: read and write the decoded-array cache.

    Raises:
        UnknownNameError: for an unknown name.
        DataNotFoundError: nothing on disk and no download possible; the message
            lists the folders and files looked for.
        CorruptDataError: a file that exists but cannot be read, named.
    """
    spec = dataset_spec(name)
    data_dir = Path(data_dir) if data_dir is not None else config.data_dir()
    cache_dir = Path(cache_dir) if cache_dir is not None else config.cache_dir()
    download = config.downloads_allowed() if download is None else download

    source, looked_for = find_local_source(spec, data_dir)
    key = fingerprint(source.files, source.description) if source else "keras-download"
    cached_file = cache_path(cache_dir, spec.name, key)
    if use_cache and (cached := read_cached(cached_file)) is not None:
        return cached

    if source is not None:
        dataset = _as_dataset(spec, source.read(), source.description)
    else:
        dataset = _as_dataset(spec, _download(spec, data_dir, looked_for, download), "Keras")
    if use_cache:
        try:
            write_cached(cached_file, dataset)
        except OSError as error:
            warnings.warn(f"could not cache {spec.name} in {cache_dir}: {error}", stacklevel=2)
    return dataset


def find_local_source(spec: DatasetSpec, data_dir: Path) -> tuple[LocalSource | None, list[str]]:
    """The first readable source of ``spec`` under ``data_dir``, and everything looked for."""
    own_folders = [data_dir / folder for folder in spec.folder_names]
    looked_for: list[str] = []
    for folder in [*own_folders, data_dir]:
        is_own_folder = folder in own_folders
        for file_format in spec.file_formats:
            finder = _FINDERS[file_format]
            if file_format in _OWN_FOLDER_ONLY and not is_own_folder:
                continue
            source = finder(spec, folder, looked_for)
            if source is not None:
                return source, looked_for
    return None, looked_for


def _find_idx(spec: DatasetSpec, folder: Path, looked_for: list[str]) -> LocalSource | None:
    names = ", ".join(f"{stem}[.gz]" for stem, _ in IDX_FILES.values())
    looked_for.append(f"{folder}/: {names}")
    paths = {}
    for role, (stem, _) in IDX_FILES.items():
        candidates = [folder / f"{stem}.gz", folder / stem]
        paths[role] = next((path for path in candidates if path.is_file()), None)
    if not all(paths.values()):
        return None

    def read() -> Arrays:
        x_train, y_train, x_test, y_test = (
            read_idx(paths[role], magic) for role, (_, magic) in IDX_FILES.items()
        )
        return x_train, y_train, x_test, y_test

    return LocalSource(f"IDX files in {folder}", tuple(p for p in paths.values() if p), read)


def _find_npz(spec: DatasetSpec, folder: Path, looked_for: list[str]) -> LocalSource | None:
    path = folder / f"{spec.name}.npz"
    looked_for.append(str(path))
    if not path.is_file():
        return None
    return LocalSource(f"{path}", (path,), lambda: _read_npz(path))


def _find_cifar_batches(
    spec: DatasetSpec, folder: Path, looked_for: list[str]
) -> LocalSource | None:
    batches, archive = folder / BATCHES_FOLDER, folder / ARCHIVE_NAME
    looked_for.extend([f"{batches}/", str(archive)])
    path = next((path for path in (batches, archive) if path.exists()), None)
    if path is None:
        return None
    files = tuple(sorted(path.iterdir())) if path.is_dir() else (path,)
    return LocalSource(f"CIFAR-10 batches in {path}", files, lambda: read_cifar_batches(path))


def _find_image_folder(
    spec: DatasetSpec, folder: Path, looked_for: list[str]
) -> LocalSource | None:
    looked_for.append(f"{folder}/{{train,test}}/<class>/*.jpg|png or {folder}/*.tar.gz")
    if not folder.is_dir():
        return None
    if all((folder / split).is_dir() for split in SPLITS):
        tree = folder
        files = tuple(sorted(path for split in SPLITS for path in (folder / split).rglob("*")))
    else:
        archives = sorted(
            path for path in folder.iterdir() if is_archive(path) and path.name != ARCHIVE_NAME
        )
        if not archives:
            return None
        tree, files = archives[0], (archives[0],)

    def read() -> Arrays:
        dataset = load_image_folder(tree, class_names=spec.class_names, name=spec.name)
        if dataset.y_train is None or dataset.y_test is None:
            raise CorruptDataError(
                f"{tree}: {spec.name} images must sit in train/<class>/ and test/<class>/ "
                f"folders named {', '.join(spec.class_names)}"
            )
        # Folders list images class by class. Mix them once, with a fixed seed, as
        # the original files are mixed: Keras' validation_split takes the *last*
        # images, which would otherwise all be of the last class.
        rng = np.random.default_rng(IMAGE_FOLDER_ORDER_SEED)
        train_order = rng.permutation(len(dataset.x_train))
        test_order = rng.permutation(len(dataset.x_test))
        return (
            dataset.x_train[train_order],
            dataset.y_train[train_order],
            dataset.x_test[test_order],
            dataset.y_test[test_order],
        )

    return LocalSource(f"image files in {tree}", files, read)


_FINDERS = {
    "idx": _find_idx,
    "npz": _find_npz,
    "cifar_batches": _find_cifar_batches,
    "image_folder": _find_image_folder,
}
_OWN_FOLDER_ONLY = {"idx", "image_folder"}


def _read_npz(path: Path) -> Arrays:
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        with np.load(path, allow_pickle=False) as stored:
            missing = [key for key in keys if key not in stored.files]
            if missing:
                raise CorruptDataError(
                    f"{path}: missing array(s) {', '.join(missing)}; a dataset .npz holds "
                    f"{', '.join(keys)}"
                )
            x_train, y_train, x_test, y_test = (stored[key] for key in keys)
            return x_train, y_train, x_test, y_test
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as error:
        raise CorruptDataError(f"{path}: not a readable .npz file ({error})") from None


def _download(spec: DatasetSpec, data_dir: Path, looked_for: list[str], allowed: bool) -> Arrays:
    where = "\n  ".join(looked_for)
    help_text = (
        f"No {spec.name} files were found. Looked for:\n  {where}\n"
        f"To fix it, put the files in {data_dir / spec.folder_names[0]}, or point "
        f"{config.DATA_DIR_VARIABLE} at a folder that holds them "
        f"(for example: export {config.DATA_DIR_VARIABLE}=../shared/datasets)"
    )
    if not allowed:
        raise DataNotFoundError(
            f"{help_text}, or allow downloads (unset {config.OFFLINE_VARIABLE})."
        )
    from aesearch_utils.backend import keras

    try:
        (x_train, y_train), (x_test, y_test) = getattr(
            keras.datasets, spec.keras_module
        ).load_data()
    except Exception as error:  # Keras wraps network failures in a bare Exception
        raise DataNotFoundError(
            f"{help_text}, or connect to the internet: the download with "
            f"keras.datasets.{spec.keras_module} failed ({error})."
        ) from error
    return x_train, y_train, x_test, y_test


def _as_dataset(spec: DatasetSpec, loaded: Arrays, source: str) -> Dataset:
    x_train, y_train, x_test, y_test = loaded
    x_train, x_test = (images[..., np.newaxis] if images.ndim == 3 else images
                       for images in (x_train, x_test))  # fmt: skip
    for split, images in (("train", x_train), ("test", x_test)):
        if images.dtype != np.uint8:
            raise CorruptDataError(
                f"{source}: {split} images are {images.dtype}; expected uint8 pixels in 0..255"
            )
        if images.shape[1:] != spec.image_shape:
            raise CorruptDataError(
                f"{source}: {split} images have shape {images.shape[1:]}, but {spec.name} "
                f"images are {spec.image_shape}: is this the right dataset?"
            )
    return Dataset(
        name=spec.name,
        x_train=x_train,
        y_train=np.asarray(y_train, dtype=np.int64).reshape(-1),
        x_test=x_test,
        y_test=np.asarray(y_test, dtype=np.int64).reshape(-1),
        class_names=spec.class_names,
        source=source,
    )
