"""Re-ranking on the gallery's neighbour graph: k-reciprocal neighbours and diffusion.

Database-side augmentation and alpha query expansion
(:mod:`aesearch_utils.search.reranking`) look only at a query's few nearest
gallery items. Two better-known methods use the whole gallery's k-nearest-
neighbour graph, which issue 15 named as directions worth measuring:

- *k-reciprocal re-ranking* (Zhong, Zheng, Cao and Li, "Re-ranking person
  re-identification with k-reciprocal encoding", CVPR 2017), in a simplified
  form: two images are close when their k-reciprocal neighbour sets (the
  neighbours that have them among their own ``k`` nearest, too) overlap. Each
  query's first results are re-ordered by a mix of that set distance (a
  weighted Jaccard distance) and the cosine distance.
- *Diffusion* (Zhou et al., "Ranking on data manifolds", NIPS 2003; Iscen,
  Tolias, Avrithis, Furon and Chum, CVPR 2017): the query's similarities to
  its nearest gallery items spread along the gallery's mutual neighbour graph,
  and the gallery is ranked by what arrives, so an image reached through a
  chain of close images can rank above one that is merely near in cosine.

``benchmarks/graph_reranking.py`` measures both on each registered winner's
validation split beside the winner's own re-ranking; neither is a pipeline
step. Both work on unit vectors under cosine distance and hold sparse graphs
and blocks of queries, never a gallery x gallery matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sparse

from aesearch_utils.batching import row_blocks
from aesearch_utils.errors import InvalidInputError
from aesearch_utils.search.neighbours import MAX_BLOCK_VALUES
from aesearch_utils.search.reranking import gallery_neighbours


@dataclass(frozen=True)
class NeighbourGraph:
    """Each gallery vector's ``k`` nearest other gallery vectors under cosine distance."""

    rows: np.ndarray
    """``(n, k)`` gallery row numbers, nearest first."""
    distances: np.ndarray
    """``(n, k)`` their cosine distances."""

    @classmethod
    def of(cls, gallery: np.ndarray, k: int) -> NeighbourGraph:
        return cls(*gallery_neighbours(gallery, k))

    @property
    def size(self) -> int:
        return len(self.rows)

    def edges(self, k: int, weights: np.ndarray) -> sparse.csr_matrix:
        """The sparse ``(n, n)`` matrix with ``weights[:, :k]`` on each vector's first ``k``
        neighbours."""
        _check_depth("the graph depth", k, self.rows.shape[1])
        n = self.size
        return sparse.csr_matrix(
            (weights[:, :k].ravel(), self.rows[:, :k].ravel(), np.arange(0, n * k + 1, k)),
            shape=(n, n),
        )


def _check_depth(what: str, k: int, largest: int) -> None:
    if not 1 <= k <= largest:
        raise InvalidInputError(f"{what} must be between 1 and {largest}, got {k}")


def _first_results(rows: np.ndarray, distances: np.ndarray, graph: NeighbourGraph) -> None:
    if rows.shape != distances.shape or rows.ndim != 2:
        raise InvalidInputError(
            f"rows and distances must be two (queries, k) arrays, got {rows.shape} and "
            f"{distances.shape}"
        )
    if rows.size and not (rows.min() >= 0 and rows.max() < graph.size):
        raise InvalidInputError(f"rows must be gallery rows of the graph (0 to {graph.size - 1})")


def k_reciprocal_reranking(
    graph: NeighbourGraph,
    rows: np.ndarray,
    distances: np.ndarray,
    k: int = 20,
    cosine_weight: float = 0.3,
) -> tuple[np.ndarray, np.ndarray]:
    """Each query's first results re-ordered by k-reciprocal set distance mixed with cosine.

    ``rows``/``distances``: a first cosine search's results per query (all of
    them are re-ordered, none added; at least ``k`` each). A gallery vector's
    set is itself and its k-reciprocal neighbours, weighted by
    ``exp(-distance)``; a query's set is the results among its first ``k``
    that would count the query among their own ``k`` nearest. The new distance
    is ``(1 - cosine_weight) * jaccard + cosine_weight * cosine``; it is
    returned with the re-ordered rows.
    """
    _first_results(rows, distances, graph)
    _check_depth("k", k, min(graph.rows.shape[1], rows.shape[1]))
    if not 0 <= cosine_weight <= 1:
        raise InvalidInputError(f"cosine_weight must be between 0 and 1, got {cosine_weight}")
    n, width = graph.size, rows.shape[1]
    nearest = graph.edges(k, np.ones_like(graph.distances))
    reciprocal = graph.edges(k, np.exp(-graph.distances)).multiply(nearest.T)
    gallery_sets = _rows_summing_to_one((reciprocal + sparse.identity(n, format="csr")).tocsr())

    reranked_rows, reranked = np.empty_like(rows), np.empty_like(distances)
    for block in row_blocks(len(rows), max(1, MAX_BLOCK_VALUES // (width * (k + 1)))):
        block_rows, block_distances = rows[block], distances[block]
        jaccard = _jaccard_distances(gallery_sets, graph, block_rows, block_distances, k)
        mixed = (1 - cosine_weight) * jaccard + cosine_weight * block_distances
        order = np.argsort(mixed, axis=1, kind="stable")
        reranked_rows[block] = np.take_along_axis(block_rows, order, axis=1)
        reranked[block] = np.take_along_axis(mixed, order, axis=1)
    return reranked_rows, reranked


def _rows_summing_to_one(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    totals = np.asarray(matrix.sum(axis=1)).ravel()
    return sparse.diags(1 / np.maximum(totals, np.finfo(np.float32).tiny)) @ matrix


def _jaccard_distances(
    gallery_sets: sparse.csr_matrix,
    graph: NeighbourGraph,
    rows: np.ndarray,
    distances: np.ndarray,
    k: int,
) -> np.ndarray:
    """Weighted Jaccard distance between each query's set and each of its results' sets."""
    queries, width = rows.shape
    n = graph.size
    # a query is a k-reciprocal neighbour of a result when it is nearer than the result's k-th
    would_count = distances[:, :k] <= graph.distances[rows[:, :k], k - 1]
    query_index, position = np.nonzero(would_count)
    query_weights = np.exp(-distances[query_index, position])
    totals = np.bincount(query_index, query_weights, minlength=queries)
    query_weights /= totals[query_index]
    # sorted keys (query, gallery row) let each result's set look the query's set up at once
    keys = query_index * n + rows[query_index, position]
    order = np.argsort(keys)
    keys, query_weights = keys[order], query_weights[order]

    result_sets = gallery_sets[rows.ravel()]
    counts = np.diff(result_sets.indptr)
    owner = np.repeat(np.arange(queries * width), counts)
    wanted = (owner // width) * n + result_sets.indices
    found = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    shared = np.zeros(len(wanted), dtype=np.float64)
    if len(keys):
        hit = keys[found] == wanted
        shared[hit] = np.minimum(result_sets.data[hit], query_weights[found[hit]])
    overlap = np.bincount(owner, shared, minlength=queries * width).reshape(queries, width)
    has_set = (totals > 0)[:, None]
    union = np.where(has_set, 2.0, 1.0) - overlap  # both sets sum to one (or the query's is empty)
    return (1 - overlap / union).astype(np.float32)


def diffusion_ranking(
    graph: NeighbourGraph,
    rows: np.ndarray,
    distances: np.ndarray,
    k: int = 20,
    alpha: float = 0.9,
    top: int = 100,
    iterations: int = 20,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` gallery rows per query ranked by diffusion, with their scores (highest first).

    The graph: mutual ``k``-nearest neighbours weighted by ``similarity ** 3``,
    normalised symmetrically. Each query starts from its first results
    (``rows``/``distances``, weighted the same way); ``iterations`` steps of
    ``f = alpha * S f + y`` spread it (``alpha`` < 1 makes the series converge).
    """
    _first_results(rows, distances, graph)
    _check_depth("top", top, graph.size)
    if not 0 < alpha < 1:
        raise InvalidInputError(f"alpha must be between 0 and 1 (both excluded), got {alpha}")
    n, width = graph.size, rows.shape[1]
    weights = graph.edges(k, np.clip(1 - graph.distances, 0, None) ** 3)
    mutual = weights.minimum(weights.T).tocsr()
    degrees = np.asarray(mutual.sum(axis=1)).ravel()
    scale = sparse.diags(1 / np.sqrt(np.maximum(degrees, np.finfo(np.float32).tiny)))
    spread = (scale @ mutual @ scale).astype(np.float32).tocsr()
    seeds = np.clip(1 - distances, 0, None).astype(np.float32) ** 3

    ranked_rows = np.empty((len(rows), top), dtype=np.int64)
    scores = np.empty((len(rows), top), dtype=np.float32)
    for block in row_blocks(len(rows), max(1, MAX_BLOCK_VALUES // n)):
        count = block.stop - block.start
        start = sparse.csr_matrix(
            (seeds[block].ravel(), rows[block].ravel(), np.arange(0, count * width + 1, width)),
            shape=(count, n),
        ).T.toarray()
        arrived = start.copy()
        for _ in range(iterations):
            arrived = alpha * (spread @ arrived) + start
        arrived = arrived.T
        best = np.argpartition(-arrived, top - 1, axis=1)[:, :top]
        best_scores = np.take_along_axis(arrived, best, axis=1)
        order = np.argsort(-best_scores, axis=1, kind="stable")
        ranked_rows[block] = np.take_along_axis(best, order, axis=1)
        scores[block] = np.take_along_axis(best_scores, order, axis=1)
    return ranked_rows, scores
