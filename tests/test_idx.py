import gzip

import numpy as np
import pytest
from conftest import write_idx

from aesearch_utils.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from aesearch_utils.errors import CorruptDataError


@pytest.mark.parametrize("compress", [True, False])
def test_round_trip_of_images_and_labels(tmp_path, compress):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    labels = np.array([7, 3], dtype=np.uint8)
    image_file = write_idx(tmp_path / "images", images, compress)
    label_file = write_idx(tmp_path / "labels", labels, compress)

    np.testing.assert_array_equal(read_idx(image_file, IMAGES_MAGIC), images)
    np.testing.assert_array_equal(read_idx(label_file, LABELS_MAGIC), labels)
    assert read_idx(image_file).flags.writeable


def test_wrong_magic_names_the_file_and_both_numbers(tmp_path):
    labels_file = write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    with pytest.raises(CorruptDataError, match=r"train-labels.*wrong IDX magic number 2049.*2051"):
        read_idx(labels_file, IMAGES_MAGIC)


def test_truncated_payload_is_a_size_mismatch(tmp_path):
    path = write_idx(tmp_path / "images", np.zeros((4, 5, 5), np.uint8), compress=False)
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(
        CorruptDataError, match=r"shape \(4, 5, 5\).*100 bytes.*93 bytes.*truncated"
    ):
        read_idx(path)


def test_truncated_gzip_names_the_file(tmp_path):
    path = write_idx(tmp_path / "images.gz", np.zeros((50, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(CorruptDataError, match=r"images\.gz: cannot be decompressed"):
        read_idx(path)


def test_a_file_that_is_not_idx(tmp_path):
    path = tmp_path / "notes.gz"
    path.write_bytes(gzip.compress(b"hello, world"))
    with pytest.raises(CorruptDataError, match="not an IDX file"):
        read_idx(path)
