import numpy as np
import pytest

from aesearch_utils.errors import InvalidInputError
from aesearch_utils.search.graph_reranking import (
    NeighbourGraph,
    diffusion_ranking,
    k_reciprocal_reranking,
)
from aesearch_utils.search.neighbours import nearest_neighbours, unit_vectors


def angles(*degrees: float) -> np.ndarray:
    """Unit vectors on a circle: cosine distance grows with the angle between them."""
    radians = np.radians(degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1).astype("float32")


def test_neighbour_graph_leaves_each_vector_out_of_its_own_neighbours():
    graph = NeighbourGraph.of(angles(0, 10, 30, 100), k=2)
    np.testing.assert_array_equal(graph.rows, [[1, 2], [0, 2], [1, 0], [2, 1]])
    np.testing.assert_allclose(graph.distances[0], 1 - np.cos(np.radians([10, 30])), atol=1e-6)
    with pytest.raises(InvalidInputError, match="k must be between 1 and 3"):
        NeighbourGraph.of(angles(0, 10, 30, 100), k=4)


def test_k_reciprocal_by_hand():
    # two tight pairs, far apart: 0-1 and 2-3; the query sits between 1 and 2, a bit nearer 2
    gallery = angles(0, 20, 60, 80)
    graph = NeighbourGraph.of(gallery, k=3)
    query = angles(41)
    rows, distances = nearest_neighbours(query, gallery, 4, "cosine")
    assert rows[0].tolist() == [2, 1, 3, 0]
    reranked, mixed = k_reciprocal_reranking(graph, rows, distances, k=1, cosine_weight=0.0)
    # k=1: each gallery item's set is itself and its mutual nearest (0-1, 2-3), weighted 1 and
    # exp(-distance) and scaled to sum to one; only item 2 has the query nearer than its own
    # nearest neighbour 3 (19 < 20 degrees), so the query's set is {2: 1}
    partner = np.exp(-(1 - np.cos(np.radians(20))))
    own, other = 1 / (1 + partner), partner / (1 + partner)
    expected = [1 - own / (2 - own), 1 - other / (2 - other), 1, 1]
    np.testing.assert_allclose(mixed[0], expected, atol=1e-6)
    assert reranked[0].tolist() == [2, 3, 1, 0]  # the tie at 1 keeps the cosine order
    # weight 1 is plain cosine order
    same, cosine = k_reciprocal_reranking(graph, rows, distances, k=1, cosine_weight=1.0)
    np.testing.assert_array_equal(same, rows)
    np.testing.assert_allclose(cosine, distances)


def test_k_reciprocal_without_reciprocal_neighbours_keeps_the_cosine_order():
    gallery = angles(0, 5, 10, 15)
    graph = NeighbourGraph.of(gallery, k=2)
    query = angles(170)  # farther from every item than its own neighbours are
    rows, distances = nearest_neighbours(query, gallery, 4, "cosine")
    reranked, _ = k_reciprocal_reranking(graph, rows, distances, k=2, cosine_weight=0.3)
    np.testing.assert_array_equal(reranked, rows)


def test_diffusion_reaches_along_a_chain():
    # a chain of close items 0-1-2-3-4 bending away from the query, and a lone item 5 that is
    # nearer the query in cosine than the chain's far end but nobody's mutual neighbour
    gallery = angles(0, 10, 20, 30, 40, -45)
    graph = NeighbourGraph.of(gallery, k=2)
    query = angles(-5)
    rows, distances = nearest_neighbours(query, gallery, 6, "cosine")
    assert rows[0, -2:].tolist() == [5, 4]
    ranked, scores = diffusion_ranking(graph, rows[:, :2], distances[:, :2], k=2, alpha=0.9, top=6)
    assert ranked[0, 5] == 5 and scores[0, 5] == 0  # nothing reaches the lone item
    along = dict(zip(ranked[0].tolist(), scores[0].tolist(), strict=True))
    assert along[2] > along[3] > along[4] > 0 and np.all(np.diff(scores[0]) <= 0)


def test_graph_reranking_rejects_bad_arguments():
    gallery = unit_vectors(np.random.default_rng(0).normal(size=(20, 3)).astype("float32"))
    graph = NeighbourGraph.of(gallery, k=5)
    rows, distances = nearest_neighbours(gallery[:2], gallery, 6, "cosine")
    with pytest.raises(InvalidInputError, match="k must be between 1 and 5"):
        k_reciprocal_reranking(graph, rows, distances, k=6)
    with pytest.raises(InvalidInputError, match="cosine_weight"):
        k_reciprocal_reranking(graph, rows, distances, k=2, cosine_weight=2)
    with pytest.raises(InvalidInputError, match="two \\(queries, k\\) arrays"):
        k_reciprocal_reranking(graph, rows, distances[:, :2], k=2)
    with pytest.raises(InvalidInputError, match="gallery rows of the graph"):
        diffusion_ranking(graph, rows + 20, distances, k=2)
    with pytest.raises(InvalidInputError, match="alpha"):
        diffusion_ranking(graph, rows, distances, k=2, alpha=1.0, top=10)
    with pytest.raises(InvalidInputError, match="top must be between 1 and 20"):
        diffusion_ranking(graph, rows, distances, k=2, top=21)
