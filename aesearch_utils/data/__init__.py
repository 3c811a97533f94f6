"""Datasets: loading (offline first, Keras download as fallback), caching, preprocessing."""

from aesearch_utils.data.dataset import DATASETS, Dataset, DatasetSpec, dataset_spec
from aesearch_utils.data.image_folder import load_image_folder
from aesearch_utils.data.loading import load_dataset
from aesearch_utils.data.noise import NOISE_KINDS, add_noise
from aesearch_utils.data.preprocessing import (
    as_float_images,
    sample_indices,
    stretch_levels,
    subset,
    to_float32,
    train_validation_split,
)
from aesearch_utils.data.statistics import channel_mean_std, class_counts, pixel_histogram

__all__ = [
    "DATASETS",
    "NOISE_KINDS",
    "Dataset",
    "DatasetSpec",
    "add_noise",
    "as_float_images",
    "channel_mean_std",
    "class_counts",
    "dataset_spec",
    "load_dataset",
    "load_image_folder",
    "pixel_histogram",
    "sample_indices",
    "stretch_levels",
    "subset",
    "to_float32",
    "train_validation_split",
]
