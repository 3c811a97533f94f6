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

Both work on unit vectors under cosine similarity and use the exact search,
a block of vectors at a time: nothing of size gallery x gallery is built.
"""

from __future__ import annotations

import numpy as np

from aesearch_utils.batching import row_blocks
from aesearch_utils.errors import InvalidInputError
from aesearch_utils.search.neighbours import nearest_neighbours, unit_vectors


def _check(k: int, alpha: float, gallery_size: int) -> None:
    if not 1 <= k < gallery_size:
        raise InvalidInputError(f"k must be between 1 and {gallery_size - 1}, got {k}")
    if alpha < 0:
        raise InvalidInputError(f"alpha must be non-negative, got {alpha}")


def _weighted_means(
    anchors: np.ndarray, neighbours: np.ndarray, similarities: np.ndarray, alpha: float
) -> np.ndarray:
    weights = np.clip(similarities, 0, None) ** alpha
    return unit_vectors(anchors + np.einsum("qk,qkd->qd", weights, neighbours))


def gallery_neighbours(gallery: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each gallery vector's ``k`` nearest other gallery vectors: ``(rows, cosine distances)``."""
    gallery = np.asarray(gallery, dtype=np.float32)
    _check(k, 0.0, len(gallery))
    rows, distances = nearest_neighbours(gallery, gallery, k + 1, "cosine")
    # the nearest is usually the vector itself; drop it by position, duplicates stay
    return rows[:, 1:], distances[:, 1:]


def database_side_augmentation(gallery: np.ndarray, k: int, alpha: float = 3.0) -> np.ndarray:
    """The gallery, each vector averaged with its ``k`` nearest neighbours (unit vectors)."""
    gallery = unit_vectors(np.asarray(gallery, dtype=np.float32))
    _check(k, alpha, len(gallery))
    neighbours, distances = gallery_neighbours(gallery, k)
    augmented = np.empty_like(gallery)
    for rows in row_blocks(len(gallery)):
        augmented[rows] = _weighted_means(
            gallery[rows], gallery[neighbours[rows]], 1 - distances[rows], alpha
        )
    return augmented


def alpha_query_expansion(
    queries: np.ndarray, gallery: np.ndarray, rows: np.ndarray, distances: np.ndarray,
    alpha: float = 3.0,
) -> np.ndarray:  # fmt: skip
    """Expanded queries (unit vectors) from a first cosine search's ``rows`` and ``distances``.

    ``rows``/``distances`` are the first search's top ``k`` per query (gallery
    row numbers); their width is the expansion's ``k``.
    """
    queries = unit_vectors(np.asarray(queries, dtype=np.float32))
    _check(rows.shape[1], alpha, len(gallery) + 1)
    return _weighted_means(queries, unit_vectors(gallery[rows]), 1 - distances, alpha)
