"""An invariance term beside reconstruction: two randomly changed views of one image should get
the same code.

Pixel reconstruction rewards codes that keep where each stroke is; a search needs codes that keep
what the object is, wherever it sits. VICReg (Bardes, Ponce and LeCun, ICLR 2022) teaches that
without labels and without negative pairs, so it suits the small batches of a CPU: on a small
projection of the codes of two views of each image, it pulls each pair together (*invariance*),
keeps every dimension's spread across the batch above 1 (*variance*: no collapse to a point), and
decorrelates the dimensions (*covariance*: no collapse to a line). The model stays an autoencoder:
the decoder still reconstructs the clean image, from the clean image itself or from each view.
"""

from __future__ import annotations

from aesearch_utils.backend import keras
from aesearch_utils.errors import UnknownNameError

ops = keras.ops

VICREG_WEIGHTS = {"invariance": 25.0, "variance": 25.0, "covariance": 1.0}
"""The paper's weights of its three terms (lambda, mu, nu)."""
PROJECTOR_UNITS = 256
"""Width of the projector that VICReg's terms see (the paper's is 8192 on ImageNet; the codes
here are 32- to 256-D)."""
RECONSTRUCT_FROM = ("clean", "views")


def vicreg_terms(codes_a, codes_b) -> dict[str, object]:
    """VICReg's three terms for two batches of projected codes, row ``i`` of each from one
    image."""

    def variance(codes):
        spread = ops.sqrt(ops.var(codes, axis=0) + 1e-4)
        return ops.mean(ops.relu(1.0 - spread))

    def covariance(codes):
        count, dims = ops.shape(codes)[0], ops.shape(codes)[1]
        centred = codes - ops.mean(codes, axis=0, keepdims=True)
        matrix = ops.matmul(ops.transpose(centred), centred) / ops.cast(count - 1, codes.dtype)
        off_diagonal = matrix * (1.0 - ops.eye(dims, dtype=codes.dtype))
        return ops.sum(ops.square(off_diagonal)) / ops.cast(dims, codes.dtype)

    return {
        "invariance": ops.mean(ops.square(codes_a - codes_b)),
        "variance": variance(codes_a) + variance(codes_b),
        "covariance": covariance(codes_a) + covariance(codes_b),
    }


class TwoViewAutoencoder(keras.Model):
    """Trains ``encoder`` and ``decoder`` (shared with the autoencoder that is saved) on
    ``(clean, view_a, view_b)`` batches against the clean images:

    ``loss = reconstruction_weight * reconstruction + invariance_weight * vicreg``

    where ``reconstruction`` is the mean squared error of the decoded clean image
    (``reconstruct_from="clean"``) or of each decoded view (``"views"``, the denoising twin), and
    ``vicreg`` is the weighted sum of :func:`vicreg_terms` divided by the invariance weight's 25,
    so that ``invariance_weight`` compares with a pixel error. Each term is logged apart.
    """

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        invariance_weight: float,
        reconstruction_weight: float = 1.0,
        reconstruct_from: str = "clean",
        **kwargs,
    ) -> None:
        if reconstruct_from not in RECONSTRUCT_FROM:
            raise UnknownNameError("reconstruction source", reconstruct_from, RECONSTRUCT_FROM)
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.invariance_weight = invariance_weight
        self.reconstruction_weight = reconstruction_weight
        self.reconstruct_from = reconstruct_from
        self.projector = keras.Sequential(
            # no batch normalisation (the paper's has it): its running statistics would make
            # the validation loss, which early stopping watches, differ from the training one
            [
                keras.layers.Dense(PROJECTOR_UNITS, activation="relu"),
                keras.layers.Dense(PROJECTOR_UNITS),
            ],
            name="projector",
        )
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in ("reconstruction", *VICREG_WEIGHTS)
        }

    def call(self, inputs, training=False):
        clean, view_a, view_b = inputs
        codes_a = self.projector(self.encoder(view_a, training=training), training=training)
        codes_b = self.projector(self.encoder(view_b, training=training), training=training)
        if self.reconstruct_from == "clean":
            decoded = (self.decoder(self.encoder(clean, training=training), training=training),)
        else:
            decoded = (
                self.decoder(self.encoder(view_a, training=training), training=training),
                self.decoder(self.encoder(view_b, training=training), training=training),
            )
        return decoded, codes_a, codes_b

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        decoded, codes_a, codes_b = y_pred
        reconstruction = sum(ops.mean(ops.square(image - y)) for image in decoded) / len(decoded)
        terms = vicreg_terms(codes_a, codes_b)
        vicreg = sum(VICREG_WEIGHTS[name] * value for name, value in terms.items())
        self.trackers["reconstruction"].update_state(reconstruction)
        for name, value in terms.items():
            self.trackers[name].update_state(value)
        scale = VICREG_WEIGHTS["invariance"]
        return self.reconstruction_weight * reconstruction + self.invariance_weight * vicreg / scale
