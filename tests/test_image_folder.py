import numpy as np
import pytest
from conftest import make_tar_gz, png_bytes, write_image_tree
from PIL import Image

from aesearch_utils.data import load_image_folder
from aesearch_utils.errors import CorruptDataError, DataNotFoundError, InvalidInputError


def test_train_and_test_class_folders(tmp_path):
    write_image_tree(tmp_path / "pets", ["dog", "cat"], per_class=2, size=(8, 6))
    dataset = load_image_folder(tmp_path / "pets")
    assert dataset.name == "pets" and dataset.class_names == ("cat", "dog")
    assert dataset.x_train.shape == (4, 8, 6, 3) and dataset.x_test.shape == (4, 8, 6, 3)
    np.testing.assert_array_equal(dataset.x_train[:, 0, 0, 0], [10, 10, 0, 0])
    np.testing.assert_array_equal(dataset.y_train, [0, 0, 1, 1])


def test_class_folders_without_splits_become_a_labelled_gallery(tmp_path):
    write_image_tree(tmp_path / "shop", ["a", "b", "c"], per_class=2, splits=False)
    dataset = load_image_folder(tmp_path / "shop")
    assert len(dataset.x_train) == 6 and len(dataset.x_test) == 0
    assert dataset.x_test.shape[1:] == dataset.x_train.shape[1:]
    assert dataset.y_train.tolist() == [0, 0, 1, 1, 2, 2]


def test_a_flat_folder_is_an_unlabelled_gallery_in_natural_order(tmp_path):
    for number in (10, 2, 1):
        image = np.full((5, 5, 3), number, np.uint8)
        (tmp_path / f"img{number}.png").write_bytes(png_bytes(image))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(b"junk")

    dataset = load_image_folder(tmp_path)

    assert dataset.y_train is None and dataset.class_names == () and not dataset.is_labelled
    assert dataset.x_train[:, 0, 0, 0].tolist() == [1, 2, 10]


def test_resizing_and_grayscale(tmp_path):
    (tmp_path / "big.png").write_bytes(png_bytes(np.full((40, 30, 3), 200, np.uint8)))
    (tmp_path / "small.png").write_bytes(png_bytes(np.full((10, 10, 3), 100, np.uint8)))
    dataset = load_image_folder(tmp_path, image_size=(28, 28), grayscale=True)
    assert dataset.x_train.shape == (2, 28, 28, 1)


def test_images_of_different_sizes_need_image_size(tmp_path):
    (tmp_path / "big.png").write_bytes(png_bytes(np.zeros((40, 30, 3), np.uint8)))
    (tmp_path / "small.png").write_bytes(png_bytes(np.zeros((10, 10, 3), np.uint8)))
    with pytest.raises(InvalidInputError, match=r"differ in size.*pass image_size"):
        load_image_folder(tmp_path)


def test_an_unreadable_image_is_named(tmp_path):
    write_image_tree(tmp_path, ["x"], per_class=2, splits=False)
    (tmp_path / "x" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(CorruptDataError, match=r"broken\.jpg: unreadable image"):
        load_image_folder(tmp_path)


def test_an_archive_with_a_top_folder(tmp_path):
    write_image_tree(tmp_path / "tree", ["a", "b"], per_class=1)
    archive = make_tar_gz(tmp_path / "tree", tmp_path / "photos.tar.gz", "photos")
    dataset = load_image_folder(archive)
    assert dataset.name == "photos" and len(dataset.x_train) == 2 and len(dataset.x_test) == 2


def test_a_truncated_archive_is_named(tmp_path):
    write_image_tree(tmp_path / "tree", ["a", "b"], per_class=3)
    archive = make_tar_gz(tmp_path / "tree", tmp_path / "photos.tar.gz", "photos")
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(CorruptDataError, match=r"photos\.tar\.gz: cannot read the archive"):
        load_image_folder(archive)


def test_mixed_flat_and_class_images_are_refused(tmp_path):
    write_image_tree(tmp_path, ["a"], per_class=1, splits=False)
    (tmp_path / "loose.png").write_bytes(png_bytes(np.zeros((32, 32, 3), np.uint8)))
    with pytest.raises(InvalidInputError, match="some images sit in class sub-folders"):
        load_image_folder(tmp_path)


def test_class_folders_must_be_known_when_classes_are_given(tmp_path):
    write_image_tree(tmp_path, ["cat", "zebra"], per_class=1)
    with pytest.raises(InvalidInputError, match=r"\['zebra'\] are not among the expected"):
        load_image_folder(tmp_path, class_names=["cat", "dog"])


def test_empty_or_missing_folders(tmp_path):
    with pytest.raises(DataNotFoundError, match="no image files"):
        load_image_folder(tmp_path)
    with pytest.raises(DataNotFoundError, match="neither a folder nor"):
        load_image_folder(tmp_path / "nowhere")


def test_sixteen_bit_greys_are_scaled_not_clipped(tmp_path):
    levels = np.array([[0, 257], [32896, 65535]], dtype=np.uint16)  # 0, 1, 128, 255 in 8 bits
    Image.fromarray(levels).save(tmp_path / "deep.png")
    data = load_image_folder(tmp_path, grayscale=True)
    np.testing.assert_array_equal(data.x_train[0, :, :, 0], [[0, 1], [128, 255]])


def test_transparent_pixels_are_composited_onto_the_background_with_a_warning(tmp_path):
    pixels = np.zeros((2, 2, 4), np.uint8)
    pixels[..., 0] = 200  # red everywhere, but only the first pixel is opaque
    pixels[0, 0, 3] = 255
    Image.fromarray(pixels, "RGBA").save(tmp_path / "stroke.png")
    with pytest.warns(UserWarning, match=r"1 image\(s\) have transparency.*grey level 0"):
        data = load_image_folder(tmp_path)
    np.testing.assert_array_equal(data.x_train[0, 0, 0], [200, 0, 0])
    np.testing.assert_array_equal(data.x_train[0, 1, 1], [0, 0, 0])  # not the hidden red
    with pytest.warns(UserWarning, match="grey level 255"):
        white = load_image_folder(tmp_path, background=255)
    np.testing.assert_array_equal(white.x_train[0, 1, 1], [255, 255, 255])
