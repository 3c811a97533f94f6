"""The path past one machine: the same gallery with its vectors in Milvus (here Milvus Lite,
embedded through a local file URI) answers like the embedded FAISS view."""

import numpy as np
import pytest

from aesearch_utils.search import PixelEncoder, SearchPipeline
from aesearch_utils.store import Gallery

pytest.importorskip("milvus_lite", reason="Milvus Lite is installed with the project")

RNG = np.random.default_rng(1)
IMAGES = RNG.integers(0, 256, (400, 6, 6, 1), dtype=np.uint8)
LABELS = np.arange(400) % 4


def test_milvus_gives_the_same_top_10_as_the_embedded_view(tmp_path):
    pipeline = SearchPipeline(PixelEncoder((6, 6, 1)), whiten_dims=16, expansion_k=3)
    embedded = Gallery.build(tmp_path / "toy", pipeline, IMAGES, LABELS)
    uri = str(tmp_path / "vectors.db")
    queries = RNG.integers(0, 256, (12, 6, 6, 1), dtype=np.uint8)  # small batches: Lite is slow
    expected = embedded.search(queries, 10)
    embedded.close()

    remote = Gallery.open(tmp_path / "toy", vectors_uri=uri)
    found = remote.search(queries, 10)
    np.testing.assert_array_equal(found.ids, expected.ids)
    np.testing.assert_allclose(found.distances, expected.distances, atol=1e-5)

    (added,) = remote.add(queries[:1], [2])
    assert remote.search(queries[:1], 1).ids[0, 0] == added
    remote.delete([added, 0])
    assert len(remote) == 399 and remote._view.count() == 399
    remote.close()

    # a Milvus collection that lags the record (a crash between the two) is refilled
    reopened = Gallery.open(tmp_path / "toy", vectors_uri=uri)
    assert reopened._view.count() == len(reopened) == 399
    reopened.close()
