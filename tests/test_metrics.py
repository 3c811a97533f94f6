import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from aesearch_utils.errors import InvalidInputError, UnknownNameError
from aesearch_utils.search.metrics import (
    AP_NORMALISERS,
    average_precision_per_query,
    bootstrap_interval,
    mean_average_precision_at_k,
    precision_at_k,
    precision_at_k_per_class,
    precision_per_query,
    recall_at_k,
    retrieval_confusion,
    retrieval_scores,
)


def test_precision_at_k_by_hand():
    query_labels = np.array([1, 2])
    retrieved = np.array([[1, 1, 0, 1], [0, 2, 2, 2]])
    assert precision_at_k(query_labels, retrieved, 1) == pytest.approx((1 + 0) / 2)
    assert precision_at_k(query_labels, retrieved, 2) == pytest.approx((2 / 2 + 1 / 2) / 2)
    assert precision_at_k(query_labels, retrieved, 4) == pytest.approx((3 / 4 + 3 / 4) / 2)


def test_precision_at_k_checks_its_input():
    with pytest.raises(InvalidInputError, match="one row per query"):
        precision_at_k(np.array([1, 2]), np.array([[1, 2]]), 1)
    with pytest.raises(InvalidInputError, match="k must be between 1 and 2"):
        precision_at_k(np.array([1]), np.array([[1, 2]]), 3)


def test_recall_and_average_precision_by_hand():
    gallery_labels = np.array([1, 1, 1, 2, 2, 0])  # three 1s, two 2s
    query_labels = np.array([1, 2])
    retrieved = np.array([[1, 0, 1], [2, 2, 1]])
    # query 1: relevant at ranks 1 and 3 of 3 relevant; query 2: ranks 1, 2 of 2 relevant
    assert recall_at_k(query_labels, retrieved, gallery_labels, 3) == pytest.approx((2 / 3 + 1) / 2)
    ap_first = (1 / 1 + 2 / 3) / min(3, 3)
    ap_second = (1 / 1 + 2 / 2) / min(3, 2)
    assert mean_average_precision_at_k(query_labels, retrieved, gallery_labels, 3) == pytest.approx(
        (ap_first + ap_second) / 2
    )


def test_average_precision_normalised_by_the_relevant_items_retrieved():
    gallery_labels = np.array([1, 1, 1, 2, 2, 0])
    query_labels = np.array([1, 2, 0])
    retrieved = np.array([[0, 1, 2], [2, 2, 1], [1, 1, 2]])
    # query 1: one relevant found, at rank 2 -> (1/2) / 1; query 2: (1 + 1) / 2; query 3: none
    expected = (0.5 + 1.0 + 0.0) / 3
    found = mean_average_precision_at_k(query_labels, retrieved, gallery_labels, 3, "retrieved")
    assert found == pytest.approx(expected)
    strict = mean_average_precision_at_k(query_labels, retrieved, gallery_labels, 3)
    assert strict == pytest.approx((0.5 / 3 + 1.0 + 0.0) / 3) and strict <= found
    with pytest.raises(UnknownNameError, match="relevant"):
        mean_average_precision_at_k(query_labels, retrieved, gallery_labels, 3, "found")
    scores = retrieval_scores(query_labels, retrieved, gallery_labels, k=2, map_k=3)
    assert scores == {
        "precision_at_2": round((1 / 2 + 1 + 0) / 3, 4),
        "map_at_3": round(strict, 4),
        "map_at_3_retrieved": round(found, 4),
    }


def test_average_precision_over_the_whole_gallery_equals_scikit_learn():
    rng = np.random.default_rng(0)
    gallery_labels = rng.integers(0, 3, 50)
    scores = rng.random(50)  # higher score = more relevant, as scikit-learn expects
    ranking = np.argsort(-scores)
    query_label = np.array([1])
    ours = mean_average_precision_at_k(
        query_label, gallery_labels[ranking][None], gallery_labels, 50
    )
    assert ours == pytest.approx(average_precision_score(gallery_labels == 1, scores))


def test_per_class_precision_and_retrieval_confusion_by_hand():
    query_labels = np.array([0, 0, 2])
    retrieved = np.array([[0, 1], [0, 0], [1, 2]])
    assert precision_at_k_per_class(query_labels, retrieved, 2) == {0: 0.75, 2: 0.5}
    confusion = retrieval_confusion(query_labels, retrieved, 2, classes=3)
    np.testing.assert_allclose(confusion, [[0.75, 0.25, 0], [0, 0, 0], [0, 0.5, 0.5]])
    # the diagonal, weighted by the queries per class, is precision@k
    weights = np.bincount(query_labels, minlength=3) / len(query_labels)
    assert np.sum(np.diag(confusion) * weights) == pytest.approx(
        precision_at_k(query_labels, retrieved, 2)
    )
    with pytest.raises(InvalidInputError, match="k must be between"):
        retrieval_confusion(query_labels, retrieved, 3, classes=3)


def test_an_empty_query_set_is_an_error_not_nan():
    empty = np.empty((0, 5), dtype=np.int64)
    with pytest.raises(InvalidInputError, match="no queries to score"):
        precision_at_k(np.empty(0, np.int64), empty, 5)
    with pytest.raises(InvalidInputError, match="no queries to score"):
        mean_average_precision_at_k(np.empty(0, np.int64), empty, np.arange(10), 5)


def test_per_query_scores_average_to_the_summary_scores():
    queries = np.array([0, 1, 1])
    retrieved = np.array([[0, 0, 1], [1, 0, 1], [0, 0, 0]])
    gallery = np.array([0, 0, 1, 1, 1])
    per_query = precision_per_query(queries, retrieved, 2)
    np.testing.assert_allclose(per_query, [1, 0.5, 0])
    assert per_query.mean() == precision_at_k(queries, retrieved, 2)
    for normaliser in AP_NORMALISERS:
        values = average_precision_per_query(queries, retrieved, gallery, 3, normaliser)
        assert values.shape == (3,)
        assert values.mean() == mean_average_precision_at_k(
            queries, retrieved, gallery, 3, normaliser
        )


def test_the_bootstrap_interval_holds_the_mean_and_narrows_with_more_queries():
    rng = np.random.default_rng(1)
    few, many = rng.random(100), rng.random(10_000)
    low, high = bootstrap_interval(few)
    assert low < few.mean() < high
    wide, narrow = high - low, np.subtract(*bootstrap_interval(many)[::-1])
    assert narrow < wide / 5  # about sqrt(100) times narrower
    assert bootstrap_interval(few) == (low, high)  # seeded
    assert bootstrap_interval(np.ones(50)) == (1.0, 1.0)
    with pytest.raises(InvalidInputError, match="non-empty 1-D"):
        bootstrap_interval(np.array([]))
    with pytest.raises(InvalidInputError, match="level"):
        bootstrap_interval(few, level=95)
