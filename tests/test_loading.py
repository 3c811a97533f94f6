import os
import time

import numpy as np
import pytest
from conftest import (
    labelled_images,
    make_tar_gz,
    write_cifar_batches,
    write_idx,
    write_image_tree,
    write_mnist_idx_folder,
)

from aesearch_utils.data import DATASETS, load_dataset
from aesearch_utils.data.dataset import CIFAR10_CLASSES
from aesearch_utils.errors import CorruptDataError, DataNotFoundError, UnknownNameError


def test_idx_folder_loads_with_channel_axis_and_int_labels(data_dir, cache_dir):
    x_train, _, _, y_test = write_mnist_idx_folder(data_dir / "mnist")

    dataset = load_dataset("mnist", data_dir=data_dir, cache_dir=cache_dir)

    assert dataset.x_train.shape == (40, 28, 28, 1) and dataset.x_train.dtype == np.uint8
    assert dataset.y_train.dtype == np.int64
    np.testing.assert_array_equal(dataset.x_train[..., 0], x_train)
    np.testing.assert_array_equal(dataset.y_test, y_test)
    assert dataset.class_names == tuple("0123456789")
    assert "IDX files" in dataset.source


def test_uncompressed_idx_and_the_fashion_folder_name(data_dir, cache_dir):
    write_mnist_idx_folder(data_dir / "fashion-mnist", compress=False)
    dataset = load_dataset("fashion_mnist", data_dir=data_dir, cache_dir=cache_dir)
    assert dataset.class_names[0] == "T-shirt/top" and len(dataset.x_test) == 20


def test_data_dir_comes_from_the_environment(data_dir, cache_dir, monkeypatch):
    write_mnist_idx_folder(data_dir / "mnist")
    monkeypatch.setenv("AESEARCH_DATA_DIR", str(data_dir))
    monkeypatch.setenv("AESEARCH_CACHE_DIR", str(cache_dir))
    assert len(load_dataset("mnist").x_train) == 40
    assert list(cache_dir.glob("mnist-*.npz"))


def test_second_load_comes_from_the_cache(data_dir, cache_dir):
    write_mnist_idx_folder(data_dir / "mnist")
    first = load_dataset("mnist", data_dir=data_dir, cache_dir=cache_dir)
    second = load_dataset("mnist", data_dir=data_dir, cache_dir=cache_dir)
    assert second.source.startswith("cache ")
    np.testing.assert_array_equal(first.x_train, second.x_train)
    np.testing.assert_array_equal(first.y_test, second.y_test)


def test_a_changed_source_file_invalidates_the_cache(data_dir, cache_dir):
    write_mnist_idx_folder(data_dir / "mnist")
    load_dataset("mnist", data_dir=data_dir, cache_dir=cache_dir)
    new_images, _ = labelled_images(20, (28, 28), seed=99)
    image_file = write_idx(data_dir / "mnist" / "t10k-images-idx3-ubyte.gz", new_images)
    later = time.time() + 5
    os.utime(image_file, (later, later))

    reloaded = load_dataset("mnist", data_dir=data_dir, cache_dir=cache_dir)

    assert not reloaded.source.startswith("cache ")
    np.testing.assert_array_equal(reloaded.x_test[..., 0], new_images)


def test_a_corrupt_cache_file_is_rebuilt(data_dir, cache_dir):
    write_mnist_idx_folder(data_dir / "mnist")
    load_dataset("mnist", data_dir=data_dir, cache_dir=cache_dir)
    (cached,) = cache_dir.glob("mnist-*.npz")
    cached.write_bytes(cached.read_bytes()[:1000])

    dataset = load_dataset("mnist", data_dir=data_dir, cache_dir=cache_dir)

    assert len(dataset.x_train) == 40 and not dataset.source.startswith("cache ")
    assert load_dataset("mnist", data_dir=data_dir, cache_dir=cache_dir).source.startswith("cache")


def test_keras_npz_in_the_data_dir(data_dir, cache_dir):
    x_train, y_train = labelled_images(30, (28, 28))
    x_test, y_test = labelled_images(10, (28, 28), seed=3)
    np.savez(data_dir / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    dataset = load_dataset("mnist", data_dir=data_dir, cache_dir=cache_dir)
    assert dataset.x_train.shape == (30, 28, 28, 1)


def test_npz_without_the_expected_arrays(data_dir, cache_dir):
    np.savez(data_dir / "mnist.npz", images=np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(CorruptDataError, match=r"mnist\.npz: missing array\(s\) x_train, y_train"):
        load_dataset("mnist", data_dir=data_dir, cache_dir=cache_dir)


@pytest.mark.parametrize("as_archive", [False, True])
def test_cifar_python_batches(data_dir, cache_dir, as_archive):
    batches = data_dir / "cifar10" / "cifar-10-batches-py"
    write_cifar_batches(batches, per_batch=10)
    if as_archive:
        make_tar_gz(batches, data_dir / "cifar-10-python.tar.gz", "cifar-10-batches-py")
        for file in batches.iterdir():
            file.unlink()
        batches.rmdir()

    dataset = load_dataset("cifar10", data_dir=data_dir, cache_dir=cache_dir)

    assert dataset.x_train.shape == (50, 32, 32, 3) and dataset.x_test.shape == (10, 32, 32, 3)
    # channel-first rows were turned into (H, W, C): the label mark is the first red pixel
    np.testing.assert_array_equal(dataset.x_train[:, 0, 0, 0], dataset.y_train * 10)


def test_cifar_batches_folder_missing_a_batch(data_dir, cache_dir):
    batches = data_dir / "cifar10" / "cifar-10-batches-py"
    write_cifar_batches(batches)
    (batches / "data_batch_3").unlink()
    with pytest.raises(CorruptDataError, match=r"data_batch_3 is missing"):
        load_dataset("cifar10", data_dir=data_dir, cache_dir=cache_dir)


def test_cifar_image_folder_archive_is_mixed_but_keeps_labels(data_dir, cache_dir, tmp_path):
    write_image_tree(tmp_path / "tree", list(CIFAR10_CLASSES), per_class=3)
    make_tar_gz(tmp_path / "tree", data_dir / "cifar10" / "cifar10-jpeg.tar.gz", "cifar10-jpeg")

    dataset = load_dataset("cifar10", data_dir=data_dir, cache_dir=cache_dir)

    assert dataset.x_train.shape == (30, 32, 32, 3) and len(dataset.x_test) == 30
    np.testing.assert_array_equal(dataset.x_train[:, 0, 0, 0], dataset.y_train * 10)
    assert np.bincount(dataset.y_train).tolist() == [3] * 10
    assert not np.all(np.diff(dataset.y_train) >= 0), "classes should not come in blocks"


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match=r"unknown dataset 'mnsit'.*mnist, fashion_mnist"):
        load_dataset("mnsit")
    assert set(DATASETS) == {"mnist", "fashion_mnist", "cifar10"}


def test_missing_data_offline_says_where_it_looked_and_how_to_fix(data_dir, cache_dir):
    with pytest.raises(DataNotFoundError) as caught:
        load_dataset("fashion_mnist", data_dir=data_dir, cache_dir=cache_dir, download=False)
    message = str(caught.value)
    assert str(data_dir / "fashion-mnist") in message
    assert "t10k-labels-idx1-ubyte[.gz]" in message and "fashion_mnist.npz" in message
    assert "AESEARCH_DATA_DIR" in message and "allow downloads" in message


def test_offline_variable_turns_downloads_off(data_dir, cache_dir, monkeypatch):
    monkeypatch.setenv("AESEARCH_OFFLINE", "1")
    with pytest.raises(DataNotFoundError, match="unset AESEARCH_OFFLINE"):
        load_dataset("mnist", data_dir=data_dir, cache_dir=cache_dir)


def test_failed_download_explains_the_network_error(data_dir, cache_dir, monkeypatch):
    from aesearch_utils.backend import keras

    def no_network():
        raise Exception("URL fetch failure on https://example.invalid: no route")

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", no_network)
    with pytest.raises(DataNotFoundError, match=r"connect to the internet.*no route"):
        load_dataset("cifar10", data_dir=data_dir, cache_dir=cache_dir, download=True)


def test_keras_download_is_the_fallback_and_is_cached(data_dir, cache_dir, monkeypatch):
    from aesearch_utils.backend import keras

    x_train, y_train = labelled_images(20, (32, 32, 3))
    x_test, y_test = labelled_images(10, (32, 32, 3), seed=5)
    calls = []

    def fake_download():
        calls.append(1)
        return (x_train, y_train.reshape(-1, 1)), (x_test, y_test.reshape(-1, 1))

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", fake_download)
    dataset = load_dataset("cifar10", data_dir=data_dir, cache_dir=cache_dir, download=True)
    again = load_dataset("cifar10", data_dir=data_dir, cache_dir=cache_dir, download=True)

    assert dataset.y_train.shape == (20,) and dataset.source == "Keras"
    assert again.source.startswith("cache ") and len(calls) == 1


def test_label_count_mismatch_is_a_clear_error(data_dir, cache_dir):
    write_mnist_idx_folder(data_dir / "mnist")
    write_idx(data_dir / "mnist" / "train-labels-idx1-ubyte.gz", np.zeros(39, np.uint8))
    with pytest.raises(CorruptDataError, match=r"40 train images but .*\(39,\).* labels"):
        load_dataset("mnist", data_dir=data_dir, cache_dir=cache_dir)


def test_images_of_the_wrong_size_for_the_dataset(data_dir, cache_dir):
    write_mnist_idx_folder(data_dir / "mnist")
    images, _ = labelled_images(40, (32, 32))
    write_idx(data_dir / "mnist" / "train-images-idx3-ubyte.gz", images)
    with pytest.raises(
        CorruptDataError, match=r"\(32, 32, 1\), but mnist images are \(28, 28, 1\)"
    ):
        load_dataset("mnist", data_dir=data_dir, cache_dir=cache_dir)


def test_labels_outside_the_classes(data_dir, cache_dir):
    write_mnist_idx_folder(data_dir / "mnist")
    write_idx(data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz", np.full(20, 12, np.uint8))
    with pytest.raises(CorruptDataError, match=r"test labels range over 12\.\.12.*only 10 classes"):
        load_dataset("mnist", data_dir=data_dir, cache_dir=cache_dir)


@pytest.mark.parametrize(
    ("name", "train", "test", "shape"),
    [
        ("mnist", 60_000, 10_000, (28, 28, 1)),
        ("fashion_mnist", 60_000, 10_000, (28, 28, 1)),
        ("cifar10", 50_000, 10_000, (32, 32, 3)),
    ],
)
def test_the_real_datasets_load(name, train, test, shape):
    """From AESEARCH_DATA_DIR (CI: the offline copies), or downloaded by Keras."""
    dataset = load_dataset(name)
    assert dataset.x_train.shape == (train, *shape) and dataset.x_test.shape == (test, *shape)
    assert np.bincount(dataset.y_test).min() > 800
