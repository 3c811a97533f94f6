"""PCA whitening of feature vectors, fitted on the gallery only.

Nearby images differ in a few directions that carry most of the variance
(brightness, stroke thickness, a dominant colour); cosine search on raw
features is ruled by them. Whitening rotates the features onto their
principal axes and divides each axis by a power of its standard deviation,
so that the many small, more telling directions count as well. ``power=1``
is full whitening (every axis gets unit variance), ``power=0`` only rotates
and truncates (plain PCA); values between soften the large axes without
blowing up the noise in the smallest ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aesearch_utils.batching import row_blocks
from aesearch_utils.errors import CorruptDataError, InvalidInputError
from aesearch_utils.search.array_cache import cached_statistics


@dataclass(frozen=True)
class PrincipalAxes:
    """The mean, and the covariance's eigenvectors (columns) by decreasing variance."""

    mean: np.ndarray
    variances: np.ndarray
    axes: np.ndarray


def principal_axes(vectors: np.ndarray) -> PrincipalAxes:
    """The principal axes of ``vectors`` ``(N, D)``.

    The covariance is accumulated a block of rows at a time: ``D x D``
    memory, however large the gallery. A large gallery's axes are kept in the
    :mod:`~aesearch_utils.search.array_cache` (on two cores, the covariance
    of 50,000 4,096-wide vectors and its eigenvectors take about half a minute).
    """
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or len(vectors) < 2:
        raise InvalidInputError(
            f"whitening is fitted on a gallery of at least 2 vectors, got shape {vectors.shape}"
        )
    mean, variances, axes = cached_statistics(
        "principal_axes", vectors, lambda: _principal_axes(vectors)
    )
    return PrincipalAxes(mean, variances, axes)


def _principal_axes(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = vectors.mean(axis=0, dtype=np.float64)
    covariance = np.zeros((vectors.shape[1], vectors.shape[1]))
    for rows in row_blocks(len(vectors)):
        block = vectors[rows] - mean
        covariance += block.T @ block
    variances, axes = np.linalg.eigh(covariance / len(vectors))
    order = np.argsort(variances)[::-1]
    return mean, variances[order], axes[:, order]


class Whitening:
    """``transform(x) = (x - mean) @ axes * scale``: the gallery's top ``dims`` axes."""

    def __init__(self, dims: int | None = None, power: float = 0.5) -> None:
        if dims is not None and dims < 1:
            raise InvalidInputError(f"whitening needs at least 1 dimension, got dims={dims}")
        if not 0 <= power <= 1:
            raise InvalidInputError(f"the whitening power must be between 0 and 1, got {power}")
        self.dims = dims
        self.power = power
        self._mean: np.ndarray | None = None
        self._projection: np.ndarray | None = None

    @property
    def output_dim(self) -> int:
        return self._fitted().shape[1]

    def fit(self, vectors: np.ndarray, axes: PrincipalAxes | None = None) -> Whitening:
        """Fit on the gallery's vectors ``(N, D)`` (never on the queries).

        ``axes``, the gallery's :func:`principal_axes` when already computed,
        saves recomputing them for each setting of an ablation.
        """
        axes = axes if axes is not None else principal_axes(vectors)
        dims = len(axes.variances) if self.dims is None else self.dims
        if dims > len(axes.variances):
            raise InvalidInputError(
                f"cannot keep {dims} whitened dimensions of {len(axes.variances)}-D features"
            )
        variances = np.maximum(axes.variances[:dims], np.finfo(np.float32).tiny)
        # divide by std ** power, then rescale so the average axis keeps its size
        scale = (variances / variances.mean()) ** (-self.power / 2)
        self._mean = axes.mean.astype(np.float32)
        self._projection = (axes.axes[:, :dims] * scale).astype(np.float32)
        return self

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        projection = self._fitted()
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != projection.shape[0]:
            raise InvalidInputError(
                f"whitening was fitted on {projection.shape[0]}-D vectors, got shape "
                f"{vectors.shape}"
            )
        return (vectors - self._mean) @ projection

    def save_state(self, path: Path) -> dict[str, Any]:
        """Write the fitted mean and projection to ``path`` (``.npz``); return the settings."""
        np.savez(path, mean=self._mean, projection=self._fitted())
        return {"dims": self.dims, "power": self.power}

    @classmethod
    def load_state(cls, path: Path, dims: int | None = None, power: float = 0.5) -> Whitening:
        """A whitening saved by :meth:`save_state`."""
        with np.load(path, allow_pickle=False) as stored:
            mean, projection = stored["mean"], stored["projection"]
        if projection.ndim != 2 or mean.shape != (projection.shape[0],):
            raise CorruptDataError(f"{path}: a whitening projection of shape {projection.shape}")
        whitening = cls(dims if dims is not None else projection.shape[1], power)
        whitening._mean, whitening._projection = mean, projection
        return whitening

    def _fitted(self) -> np.ndarray:
        if self._projection is None:
            raise InvalidInputError("fit the whitening on the gallery's vectors first")
        return self._projection
