"""A fitted search pipeline saves to one folder, atomically, and reopens without encoding."""

import numpy as np
import pytest

from aesearch_utils.data.dataset import Dataset
from aesearch_utils.errors import CorruptDataError, DataNotFoundError
from aesearch_utils.io import POINTER_FILE, current_snapshot
from aesearch_utils.models import build_autoencoder
from aesearch_utils.search.encoders import LayerEncoder, PixelEncoder
from aesearch_utils.search.pipeline import SearchPipeline
from aesearch_utils.search.registry import features_encoder

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (120, 4, 4, 1), dtype=np.uint8)
LABELS = np.arange(120) % 3
QUERIES = RNG.integers(0, 256, (15, 4, 4, 1), dtype=np.uint8)


def fitted(encoder, **settings) -> SearchPipeline:
    ids = np.arange(len(IMAGES), dtype=np.int64) + 1000
    return SearchPipeline(encoder, **settings).fit(IMAGES, LABELS, ids)


def assert_same_answers(first: SearchPipeline, second: SearchPipeline, queries=QUERIES) -> None:
    one, two = first.query(queries, 10), second.query(queries, 10)
    np.testing.assert_array_equal(one.ids, two.ids)
    np.testing.assert_array_equal(one.labels, two.labels)
    np.testing.assert_allclose(one.distances, two.distances, atol=1e-6)


def test_a_whitened_reranked_pipeline_reopens_with_the_same_answers(tmp_path):
    pipeline = fitted(PixelEncoder((4, 4, 1)), whiten_dims=8, whiten_power=0.75, expansion_k=3)
    pipeline.metadata = {"pipeline": "toy", "class_names": ["a", "b", "c"]}
    pipeline.save(tmp_path / "saved")
    reopened = SearchPipeline.open(tmp_path / "saved")
    assert_same_answers(pipeline, reopened)
    assert reopened.steps == pipeline.steps and reopened.metadata == pipeline.metadata
    assert reopened.query(IMAGES[7], 1).ids[0, 0] == 1007


def test_a_concatenation_of_pixels_and_pca_reopens(tmp_path):
    data = Dataset("toy", IMAGES, LABELS, QUERIES, LABELS[:15], ("a", "b", "c"))
    encoder = features_encoder("raw@8^0.5 + pca:5@4^1", data, IMAGES)
    pipeline = fitted(encoder, expansion_k=2)
    assert_same_answers(pipeline, SearchPipeline.open(pipeline.save(tmp_path / "joined")))


def test_a_keras_layer_encoder_reopens(tmp_path):
    model = build_autoencoder("conv_fc_transpose", (28, 28, 1), 32)
    images = RNG.integers(0, 256, (60, 28, 28, 1), dtype=np.uint8)
    encoder = LayerEncoder.from_autoencoder(
        model, "pool2", stretch_levels=True, flip_average=True, square_root=True, unit_length=True
    )
    pipeline = SearchPipeline(encoder, whiten_dims=16).fit(images, np.arange(60) % 2)
    reopened = SearchPipeline.open(pipeline.save(tmp_path / "conv"))
    assert reopened.encoder.name == "conv_fc_transpose:pool2+levels+flip+root+unit"
    assert (reopened.encoder.square_root, reopened.encoder.unit_length) == (True, True)
    assert_same_answers(pipeline, reopened, images[:5])


def test_a_failed_save_leaves_the_last_good_one(tmp_path, monkeypatch):
    first = fitted(PixelEncoder((4, 4, 1)))
    first.save(tmp_path / "saved")
    second = fitted(PixelEncoder((4, 4, 1)), whiten_dims=4)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(second.index, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        second.save(tmp_path / "saved")
    assert_same_answers(first, SearchPipeline.open(tmp_path / "saved"))
    entries = sorted(path.name for path in (tmp_path / "saved").iterdir())
    assert entries[0] == POINTER_FILE and len(entries) == 2  # no half-written snapshot left


def test_saving_again_replaces_the_snapshot(tmp_path):
    fitted(PixelEncoder((4, 4, 1))).save(tmp_path / "saved")
    old = current_snapshot(tmp_path / "saved")
    fitted(PixelEncoder((4, 4, 1)), whiten_dims=4).save(tmp_path / "saved")
    assert not old.exists() and "whiten4" in SearchPipeline.open(tmp_path / "saved").steps


def test_missing_and_damaged_saves_say_so(tmp_path):
    with pytest.raises(DataNotFoundError, match="nothing saved"):
        SearchPipeline.open(tmp_path / "nowhere")
    folder = fitted(PixelEncoder((4, 4, 1))).save(tmp_path / "saved")
    snapshot = current_snapshot(folder)
    (snapshot / "index.npz").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(CorruptDataError, match="not a readable index file"):
        SearchPipeline.open(folder)
    (folder / POINTER_FILE).write_text("snapshot-gone\n")
    with pytest.raises(CorruptDataError, match="not a snapshot folder"):
        SearchPipeline.open(folder)
