"""The search core: encoders, nearest-neighbour search, post-processing, pipelines.

What a program reuses to search by image, without the course around it:

- :mod:`~aesearch_utils.search.encoders`: images to vectors (autoencoder layers, pixels, PCA);
- :mod:`~aesearch_utils.search.vector_index`: the one mutable, id-keyed vector index (exact,
  HNSW, KD-tree, Milvus); :mod:`~aesearch_utils.search.neighbours`: exact search over an
  array; :mod:`~aesearch_utils.search.index`: ``ImageIndex``;
- :mod:`~aesearch_utils.search.whitening` and :mod:`~aesearch_utils.search.reranking`:
  PCA whitening, database-side augmentation and query expansion;
- :mod:`~aesearch_utils.search.pipeline`: ``SearchPipeline``, saved and reopened;
- :mod:`~aesearch_utils.search.registry`: the registered recipes, ``build_pipeline``;
- :mod:`~aesearch_utils.search.metrics`: precision, recall and mAP at k.

Nothing here imports the course machinery or the figures, and importing it
loads neither Keras nor pandas nor matplotlib (a test checks): a saved
pipeline opens in a fresh process within a second or two.
"""

from aesearch_utils.search.encoders import (
    ConcatenatedEncoder,
    Encoder,
    LayerEncoder,
    PCAEncoder,
    PixelEncoder,
    encode_images,
)
from aesearch_utils.search.feature_spec import parse_features
from aesearch_utils.search.index import ImageIndex, SearchResult
from aesearch_utils.search.neighbours import METRICS, nearest_neighbours, unit_vectors
from aesearch_utils.search.pipeline import SearchPipeline
from aesearch_utils.search.registry import build_pipeline, pipeline_names, pipeline_recipe

__all__ = [
    "METRICS",
    "ConcatenatedEncoder",
    "Encoder",
    "ImageIndex",
    "LayerEncoder",
    "PCAEncoder",
    "PixelEncoder",
    "SearchPipeline",
    "SearchResult",
    "build_pipeline",
    "encode_images",
    "nearest_neighbours",
    "parse_features",
    "pipeline_names",
    "pipeline_recipe",
    "unit_vectors",
]
