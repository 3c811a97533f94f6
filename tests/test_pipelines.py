import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from aesearch_utils.course.ablation import (
    ABLATION_FILE,
    CANDIDATES,
    ablation_table,
    encode_split,
    recheck,
    validation_split,
    validation_study,
)
from aesearch_utils.data.dataset import Dataset
from aesearch_utils.errors import DataNotFoundError, InvalidInputError, UnknownNameError
from aesearch_utils.models import build_autoencoder
from aesearch_utils.search.encoders import ConcatenatedEncoder, LayerEncoder, PixelEncoder
from aesearch_utils.search.neighbours import nearest_neighbours, unit_vectors
from aesearch_utils.search.pipeline import SearchPipeline
from aesearch_utils.search.registry import (
    build_pipeline,
    features_encoder,
    pipeline_names,
    pipeline_recipe,
)
from aesearch_utils.search.reranking import database_side_augmentation, expanded_queries
from aesearch_utils.search.vector_index import FlatIndex
from aesearch_utils.search.whitening import Whitening

RNG = np.random.default_rng(0)


def clustered(count: int, dim: int = 8, classes: int = 3, spread: float = 0.3, seed: int = 0):
    """Points around one centre per class: neighbours should share a label."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 3
    labels = np.arange(count) % classes
    return (centres[labels] + rng.normal(size=(count, dim)) * spread).astype("float32"), labels


def test_full_whitening_gives_uncorrelated_unit_variance_axes():
    mixing = RNG.normal(size=(5, 5))
    vectors = RNG.normal(size=(4000, 5)) * [10, 5, 1, 0.5, 0.1] @ mixing + 7
    whitened = Whitening(dims=3, power=1.0).fit(vectors).transform(vectors)
    assert whitened.shape == (4000, 3)
    np.testing.assert_allclose(whitened.mean(axis=0), 0, atol=1e-3)
    covariance = np.cov(whitened, rowvar=False)
    # power 1 leaves every kept axis with the same variance (rescaled by the mean variance)
    np.testing.assert_allclose(
        covariance, np.eye(3) * covariance[0, 0], atol=1e-3 * covariance[0, 0]
    )


def test_whitening_power_zero_is_pca():
    vectors = RNG.normal(size=(500, 4)) * [3, 2, 1, 0.5]
    projected = Whitening(dims=2, power=0.0).fit(vectors).transform(vectors)
    variances = np.var(projected, axis=0)
    assert variances[0] > variances[1] > 1  # the two largest axes, unscaled


def test_whitening_rejects_bad_settings_and_inputs():
    with pytest.raises(InvalidInputError, match="at least 1 dimension"):
        Whitening(dims=0)
    with pytest.raises(InvalidInputError, match="between 0 and 1"):
        Whitening(power=2)
    with pytest.raises(InvalidInputError, match="fit the whitening"):
        Whitening().transform(np.ones((2, 3)))
    with pytest.raises(InvalidInputError, match="cannot keep 9"):
        Whitening(dims=9).fit(np.ones((10, 3)))
    fitted = Whitening(dims=2).fit(RNG.normal(size=(10, 3)))
    with pytest.raises(InvalidInputError, match="fitted on 3-D"):
        fitted.transform(np.ones((2, 4)))


def test_database_side_augmentation_by_hand():
    gallery = np.array([[1, 0], [0.8, 0.6], [0, 1]], dtype="float32")
    augmented = database_side_augmentation(gallery, k=1, alpha=1.0)
    # row 0's nearest other row is row 1 (similarity 0.8): 1 * row0 + 0.8 * row1, normalised
    np.testing.assert_allclose(augmented[0], unit_vectors(gallery[0] + 0.8 * gallery[1]), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(augmented, axis=1), 1, atol=1e-6)
    with pytest.raises(InvalidInputError, match="k must be between 1 and 2"):
        database_side_augmentation(gallery, k=3)


def test_query_expansion_moves_the_query_towards_its_results():
    gallery = unit_vectors(RNG.normal(size=(50, 4)).astype("float32"))
    query = gallery[:1] + 0.5 * gallery[1:2]
    rows, _ = nearest_neighbours(query, gallery, 2, "cosine")
    index = FlatIndex(4, "cosine")
    index.add(np.arange(50) * 10, gallery)  # ids need not be rows
    expanded = expanded_queries(index, query, 2, alpha=0.0)
    # alpha 0: plain sum of the query and its two results
    np.testing.assert_allclose(
        expanded[0], unit_vectors(unit_vectors(query[0]) + gallery[rows[0]].sum(0)), atol=1e-6
    )
    with pytest.raises(InvalidInputError, match="alpha"):
        expanded_queries(index, query, 2, alpha=-1)
    with pytest.raises(InvalidInputError, match="k must be at least 1"):
        expanded_queries(index, query, 0)
    # a k above the index's size: every vector, the missing neighbours adding nothing
    np.testing.assert_allclose(
        expanded_queries(index, query, 60, alpha=0.0),
        unit_vectors(unit_vectors(query) + gallery.sum(0)),
        atol=1e-5,
    )


def test_search_pipeline_finds_the_same_cluster_and_reranking_helps_on_noisy_data():
    vectors, labels = clustered(600, spread=2.0)
    gallery, queries = vectors[:500], vectors[500:]
    encoder = _VectorEncoder(8)
    scores = {}
    for k in (0, 10):
        pipeline = SearchPipeline(encoder, whiten_dims=8, whiten_power=1.0, expansion_k=k)
        pipeline.fit_features(gallery, labels[:500], (8,))
        result = pipeline.query_features(queries, 10)
        assert result.ids.shape == (100, 10)
        scores[k] = np.mean(result.labels == labels[500:, None])
    assert scores[0] > 0.8 and scores[10] >= scores[0]
    assert "dba+qe10" in pipeline.steps and "whiten8" in pipeline.steps


def test_search_pipeline_on_images_and_its_errors():
    images = RNG.integers(0, 256, (40, 4, 4, 1), dtype=np.uint8)
    pipeline = SearchPipeline(PixelEncoder((4, 4, 1)), whiten_dims=6)
    with pytest.raises(InvalidInputError, match="fit the pipeline"):
        pipeline.query(images[:1])
    pipeline.fit(images, np.arange(40) % 2)
    assert pipeline.query(images[3], k=1).ids[0, 0] == 3  # one image, itself first
    with pytest.raises(InvalidInputError, match=r"the gallery.s are \(4, 4, 1\)"):
        pipeline.query(np.zeros((1, 5, 5, 1), dtype=np.uint8))
    with pytest.raises(InvalidInputError, match="expansion_k"):
        SearchPipeline(PixelEncoder((4, 4, 1)), expansion_k=-1)


def test_layer_encoder_takes_pooled_features_and_averages_mirror_images():
    model = _small_model()
    pooled = LayerEncoder.from_autoencoder(model, "pool2")
    images = RNG.integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    assert pooled.encode(images).shape == (3, pooled.output_dim) == (3, 7 * 7 * 32)
    latent = LayerEncoder.from_autoencoder(model)
    assert latent.output_dim == 32 and latent.name == "conv_fc_transpose"
    flipped = LayerEncoder.from_autoencoder(model, "pool1", flip_average=True)
    assert flipped.name == "conv_fc_transpose:pool1+flip"
    mirrored = images[:, :, ::-1]
    np.testing.assert_allclose(
        flipped.encode(images), flipped.encode(mirrored), rtol=1e-4, atol=1e-5
    )
    with pytest.raises(InvalidInputError, match=re.escape("'pool1' ... 'pool2'")):
        LayerEncoder.from_autoencoder(model, "pool3")


def test_root_takes_the_signed_square_root_of_each_feature_before_unit_length():
    model = _small_model()
    images = RNG.integers(0, 256, (4, 28, 28, 1), dtype=np.uint8)
    plain = LayerEncoder.from_autoencoder(model).encode(images)
    assert (plain < 0).any()  # a latent has negative features: the root keeps their signs
    rooted = LayerEncoder.from_autoencoder(model, square_root=True)
    assert rooted.name == "conv_fc_transpose+root"
    np.testing.assert_allclose(rooted.encode(images), np.sign(plain) * np.sqrt(np.abs(plain)))
    both = LayerEncoder.from_autoencoder(model, "pool1", square_root=True, unit_length=True)
    assert both.name == "conv_fc_transpose:pool1+root+unit"
    pooled = LayerEncoder.from_autoencoder(model, "pool1").encode(images)
    np.testing.assert_allclose(
        both.encode(images), unit_vectors(np.sqrt(pooled)), rtol=1e-5, atol=1e-6
    )


def test_a_trained_models_file_names_its_encodings(tmp_path):
    model_file = tmp_path / "model.keras"
    trained = SimpleNamespace(model=_small_model(), path=model_file)
    assert LayerEncoder.from_trained(trained).cache_identity() is None  # no file: never kept
    model_file.write_bytes(b"weights")
    pooled = LayerEncoder.from_trained(trained, "pool1", flip_average=True)
    assert pooled.name == "conv_fc_transpose:pool1+flip"
    assert "model.keras:7:" in pooled.cache_identity()
    model_file.write_bytes(b"retrained")  # another model: other encodings
    assert LayerEncoder.from_trained(trained, "pool1", flip_average=True).cache_identity() != (
        pooled.cache_identity()
    )


def test_registered_pipelines_and_their_errors():
    assert set(pipeline_names()) == {"mnist-best", "fashion_mnist-best", "cifar10-best"}
    for name in pipeline_names():
        recipe = pipeline_recipe(name)
        assert recipe.dataset == name.removesuffix("-best")
        assert str(recipe.features) in CANDIDATES[recipe.dataset]
    with pytest.raises(UnknownNameError, match="mnist-best"):
        pipeline_recipe("mnist-fastest")
    toy = Dataset(
        "toy", *(np.zeros((4, 28, 28, 1), np.uint8), np.arange(4)) * 2, ("a", "b", "c", "d")
    )
    with pytest.raises(InvalidInputError, match="made for mnist"):
        build_pipeline("mnist-best", toy)


def test_ablation_table_rows_for_each_encoder_and_setting():
    vectors, labels = clustered(300, dim=4)
    images = (np.clip(vectors - vectors.min(), 0, None) / np.ptp(vectors) * 255).astype(np.uint8)
    images = images.reshape(300, 2, 2, 1)
    data = Dataset("toy", images, labels, images[:10], labels[:10], ("a", "b", "c"))
    split = validation_split(data)
    assert len(split.queries) == 30 and len(split.gallery) == 270
    encoded = encode_split(PixelEncoder((2, 2, 1)), split)
    table = ablation_table(
        [encoded], [{}, {"whiten_dims": 2}, {"whiten_dims": 8}], split, k=5, map_k=10
    )
    assert list(table["whiten_dims"]) == [0, 2]  # 8 > 4 dimensions is skipped
    assert table["precision_at_5"].min() > 0.9


def test_the_registered_grid_reads_the_recorded_study_and_its_row_reproduces(tmp_path):
    vectors, labels = clustered(300, dim=4)
    images = (np.clip(vectors - vectors.min(), 0, None) / np.ptp(vectors) * 255).astype(np.uint8)
    data = Dataset("toy", images.reshape(300, 2, 2, 1), labels, images[:10].reshape(10, 2, 2, 1),
                   labels[:10], ("a", "b", "c"))  # fmt: skip
    split = validation_split(data)
    with pytest.raises(DataNotFoundError, match=r"no validation study of toy.*VALIDATION_GRID"):
        validation_study("registered", data, split, tmp_path)
    with pytest.raises(UnknownNameError, match="known validation grids: all, registered"):
        validation_study("some", data, split, tmp_path)
    encoded = encode_split(features_encoder("raw", data, split.gallery), split)
    settings = [{}, {"whiten_dims": 2}, {"whiten_dims": 2, "expansion_k": 3}]
    recorded = ablation_table([encoded], settings, split).assign(dataset="toy")
    recorded.to_csv(tmp_path / ABLATION_FILE, index=False)
    whitening, reranking = validation_study("registered", data, split, tmp_path)
    assert list(whitening["whiten_dims"]) == [0, 2] and list(reranking["expansion_k"]) == [3]
    check = recheck(reranking.iloc[0], data, split)
    assert check.loc["precision_at_10", "recorded"] > 0.9
    assert np.allclose(check["difference"], 0)


class _VectorEncoder:
    """Stands in for an encoder when the features are given directly."""

    def __init__(self, dim: int) -> None:
        self.name, self.dim = "vectors", dim

    @property
    def output_dim(self) -> int:
        return self.dim

    def encode(self, images):
        return np.asarray(images, dtype=np.float32).reshape(len(images), -1)


def _small_model():
    return build_autoencoder("conv_fc_transpose", (28, 28, 1), 32)


def _toy_dataset(count: int = 60) -> Dataset:
    images = RNG.integers(0, 256, (count, 4, 4, 1), dtype=np.uint8)
    labels = np.arange(count) % 3
    return Dataset("toy", images, labels, images[:10], labels[:10], ("a", "b", "c"))


def test_feature_specs_name_their_encoders():
    data = _toy_dataset()
    raw = features_encoder("raw", data, data.x_train)
    pca = features_encoder("pca:5", data, data.x_train)
    assert (raw.name, raw.output_dim, pca.name, pca.output_dim) == ("raw", 16, "pca:5", 5)
    with pytest.raises(InvalidInputError, match="'pca:N'"):
        features_encoder("pca:many", data, data.x_train)
    with pytest.raises(UnknownNameError, match="conv_fc_transpose"):
        features_encoder("convnet:pool1", data, data.x_train)
    with pytest.raises(InvalidInputError, match="SPEC@DIMS"):
        features_encoder("raw + pca:5", data, data.x_train)


def test_a_concatenation_whitens_each_part_and_joins_unit_vectors():
    data = _toy_dataset()
    joined = features_encoder("raw@8^0.5 + pca:5@4^1", data, data.x_train)
    assert joined.name == "raw@8^0.5 + pca:5@4^1" and joined.output_dim == 12
    vectors = joined.encode(data.x_test)
    assert vectors.shape == (10, 12)
    np.testing.assert_allclose(np.linalg.norm(vectors[:, :8], axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors[:, 8:], axis=1), 1, atol=1e-5)
    with pytest.raises(InvalidInputError, match="fit the whitening"):
        ConcatenatedEncoder([(PixelEncoder((4, 4, 1)), Whitening(4))] * 2).encode(data.x_test)
    with pytest.raises(InvalidInputError, match="at least two"):
        ConcatenatedEncoder([(PixelEncoder((4, 4, 1)), Whitening(4))])


def test_the_whole_grid_starts_without_a_record_and_the_registered_grid_fills_gaps(
    tmp_path, monkeypatch
):
    vectors, labels = clustered(300, dim=4)
    images = (np.clip(vectors - vectors.min(), 0, None) / np.ptp(vectors) * 255).astype(np.uint8)
    data = Dataset("toy", images.reshape(300, 2, 2, 1), labels, images[:10].reshape(10, 2, 2, 1),
                   labels[:10], ("a", "b", "c"))  # fmt: skip
    split = validation_split(data)
    monkeypatch.setitem(CANDIDATES, "toy", ("raw",))
    whitening, reranking = validation_study("all", data, split, tmp_path)  # no file yet
    assert set(whitening["features"]) == {"raw"} and len(reranking) == 3
    monkeypatch.setitem(CANDIDATES, "toy", ("raw", "pca:2"))
    whitening, _ = validation_study("registered", data, split, tmp_path)
    assert set(whitening["features"]) == {"raw", "pca:2"}  # the missing candidate, measured
    recorded = pd.read_csv(tmp_path / ABLATION_FILE)
    assert set(recorded["features"]) == {"raw", "pca:2"}
