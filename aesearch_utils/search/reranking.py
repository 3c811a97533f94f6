"""Re-ranking with the gallery's own neighbourhoods (no labels involved).

Two cheap, well-known steps from image retrieval (Radenović, Tolias and
Chum, "Fine-tuning CNN image retrieval with no human annotation", 2018):

- *Database-side augmentation* (DBA), once, offline: every gallery vector is
  replaced by a similarity-weighted mean of itself and its ``k`` nearest
  gallery neighbours, which pulls each class's gallery items together.
- *alpha query expansion* (alpha-QE), per query: search, then search again
  with the mean of the query and its top ``k`` results, weighted by
  ``similarity ** alpha``. A query gets the support of the images it most
  resembles. It costs a second search, so a query takes about twice as long.

Both work on unit vectors under cosine similarity and find neighbours through
a vector index (:mod:`~aesearch_utils.search.vector_index`): the pipeline's,
a gallery's, or one made over the gallery for DBA (exact by default; HNSW
for a million vectors), a block of vectors at a time: nothing of size
gallery x gallery is built. The pipeline and the gallery both call these two
functions, so an image added to a gallery is augmented as the ones it was
built with.
"""

from __future__ import annotations

import numpy as np

from aesearch_utils.batching import row_blocks
from aesearch_utils.errors import InvalidInputError
from aesearch_utils.search.neighbours import unit_vectors
from aesearch_utils.search.vector_index import VectorIndex, make_index


def _check(k: int, alpha: float, gallery_size: int | None) -> None:
    """``gallery_size``: ``None`` where a ``k`` above it is allowed (query expansion)."""
    if gallery_size is None and k < 1:
        raise InvalidInputError(f"k must be at least 1, got {k}")
    if gallery_size is not None and not 1 <= k < gallery_size:
        raise InvalidInputError(f"k must be between 1 and {gallery_size - 1}, got {k}")
    if alpha < 0:
        raise InvalidInputError(f"alpha must be non-negative, got {alpha}")


def _weighted_means(
    anchors: np.ndarray, neighbours: np.ndarray, similarities: np.ndarray, alpha: float
) -> np.ndarray:
    weights = np.clip(similarities, 0, None) ** alpha
    return unit_vectors(anchors + np.einsum("qk,qkd->qd", weights, neighbours))


def gallery_neighbours(
    gallery: np.ndarray, k: int, index_kind: str = "exact"
) -> tuple[np.ndarray, np.ndarray]:
    """Each gallery vector's ``k`` nearest other gallery vectors: ``(rows, cosine distances)``,
    found through an index of ``index_kind`` over the gallery."""
    gallery = np.asarray(gallery, dtype=np.float32)
    _check(k, 0.0, len(gallery))
    index = make_index(index_kind, gallery.shape[1], "cosine")
    index.add(np.arange(len(gallery)), gallery)
    rows, distances = index.search(gallery, k + 1)  # FAISS compares blocks of queries itself
    index.close()
    # the nearest is usually the vector itself; drop it by position, duplicates stay
    return rows[:, 1:], distances[:, 1:]


def database_side_augmentation(
    gallery: np.ndarray, k: int, alpha: float = 3.0, index_kind: str = "exact"
) -> np.ndarray:
    """The gallery, each vector averaged with its ``k`` nearest neighbours (unit vectors)."""
    gallery = unit_vectors(np.asarray(gallery, dtype=np.float32))
    _check(k, alpha, len(gallery))
    neighbours, distances = gallery_neighbours(gallery, k, index_kind)
    augmented = np.empty_like(gallery)
    for rows in row_blocks(len(gallery)):
        augmented[rows] = _weighted_means(
            gallery[rows], gallery[neighbours[rows]], 1 - distances[rows], alpha
        )
    return augmented


def expanded_queries(
    index: VectorIndex, queries: np.ndarray, k: int, alpha: float = 3.0, breadth: int | None = None
) -> np.ndarray:
    """Alpha query expansion: each query (made a unit vector) averaged with its ``k`` nearest
    vectors in ``index`` (a cosine index), weighted by ``similarity ** alpha``; unit vectors.
    ``breadth``: an approximate index's search breadth for this search (its own by default).

    For a gallery's new items this is database-side augmentation against the items already
    there: the same weighted mean, with the item as the query. Where the index holds fewer
    than ``k`` vectors, the missing neighbours add nothing.
    """
    queries = unit_vectors(np.asarray(queries, dtype=np.float32))
    _check(k, alpha, None)
    _, distances, neighbours = index.search_with_vectors(queries, k, breadth)
    return _weighted_means(queries, neighbours, 1 - distances, alpha)
