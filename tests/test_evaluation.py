import numpy as np

from aesearch_utils.models import build_autoencoder
from aesearch_utils.training import evaluation

MODEL = build_autoencoder("dense", (6, 6, 1), 3, hidden_units=(8,))
IMAGES = np.random.default_rng(0).integers(0, 256, (9000, 6, 6, 1), dtype=np.uint8)


def test_reconstruction_mse_matches_a_direct_computation():
    scaled = IMAGES.astype("float32") / 255
    direct = np.mean((MODEL.autoencoder.predict(scaled, verbose=0) - scaled) ** 2)
    assert np.isclose(evaluation.reconstruction_mse(MODEL, IMAGES), direct, rtol=1e-5)


def test_encode_in_chunks_equals_one_call_and_takes_float_input():
    chunked = evaluation.encode(MODEL, IMAGES)  # 9000 images: three chunks
    direct = MODEL.encoder.predict(IMAGES.astype("float32") / 255, verbose=0)
    np.testing.assert_allclose(chunked, direct, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(evaluation.encode(MODEL, IMAGES[:5] / 255.0), direct[:5], rtol=1e-5)


def test_dead_dimensions_are_the_constant_ones():
    latents = np.array([[0.0, 1.0, 2.0], [0.0, 3.0, 2.0], [0.0, 5.0, 2.0]])
    assert evaluation.dead_dimensions(latents).tolist() == [True, False, True]
