"""VICReg's terms and the two-view training of an autoencoder (training/invariance.py)."""

import numpy as np
import pytest

from aesearch_utils.errors import InvalidInputError, UnknownNameError
from aesearch_utils.training import benchmark_config, invariance, recipe_names
from aesearch_utils.training.loop import PerturbedBatches, TrainingConfig, train_autoencoder
from aesearch_utils.training.recipes import OBJECTIVE_BUDGET_S

RNG = np.random.default_rng(3)
IMAGES = RNG.integers(0, 256, (96, 8, 8, 1), dtype=np.uint8)
LABELS = np.arange(96) % 4
CONFIG = TrainingConfig("dense", 4, options={"hidden_units": (16,)}, epochs=2, batch_size=32,
                        invariance_weight=1.0)  # fmt: skip


def terms(a, b) -> dict[str, float]:
    computed = invariance.vicreg_terms(a.astype("float32"), b.astype("float32"))
    return {name: float(value) for name, value in computed.items()}


def test_vicreg_terms_are_zero_for_equal_spread_out_uncorrelated_codes():
    codes = RNG.standard_normal((4096, 8)) * 1.2
    measured = terms(codes, codes)
    assert measured["invariance"] == 0
    assert measured["variance"] == 0  # every dimension spreads wider than 1
    assert measured["covariance"] < 0.05


def test_vicreg_terms_punish_collapse_to_a_point_and_to_a_line():
    constant = np.ones((64, 8))
    assert terms(constant, constant)["variance"] == pytest.approx(2 * (1 - 0.01), abs=1e-3)
    line = np.repeat(RNG.standard_normal((64, 1)) * 3, 8, axis=1)
    assert terms(line, line)["covariance"] > 10
    shifted = terms(constant, constant + 0.5)["invariance"]
    assert shifted == pytest.approx(0.25)


def test_two_view_batches_hold_the_clean_image_and_two_different_views():
    (clean, view_a, view_b), target = PerturbedBatches(IMAGES / 255.0, 32, 0, views=2)[0]
    assert clean.shape == view_a.shape == view_b.shape == target.shape == (32, 8, 8, 1)
    assert np.array_equal(clean, target)
    assert not np.allclose(view_a, view_b) and not np.allclose(view_a, clean)


@pytest.mark.parametrize(
    "change", [{}, {"reconstruct_from": "views"}, {"reconstruction_weight": 0.0}]
)
def test_two_view_training_logs_each_term_and_trains_the_saved_encoder(change):
    config = TrainingConfig(**{**CONFIG.__dict__, **change})
    trained = train_autoencoder(config, IMAGES, LABELS, use_cache=False)
    for name in ("reconstruction", "invariance", "variance", "covariance"):
        assert len(trained.history[name]) == len(trained.history[f"val_{name}"]) == 2
    codes = trained.model.encoder.predict(IMAGES / 255.0, verbose=0)
    assert codes.shape == (96, 4) and np.isfinite(codes).all()
    decoded = trained.model.autoencoder.predict(IMAGES / 255.0, verbose=0)
    assert decoded.shape == (96, 8, 8, 1)


def test_a_time_budget_stops_training_before_its_epochs():
    config = TrainingConfig(**{**CONFIG.__dict__, "epochs": 1000, "time_budget_s": 1.0})
    trained = train_autoencoder(config, IMAGES, LABELS, use_cache=False)
    assert trained.epochs_run < 1000


def test_an_unknown_reconstruction_source_lists_the_valid_ones():
    config = TrainingConfig(**{**CONFIG.__dict__, "reconstruct_from": "noisy"})
    with pytest.raises(UnknownNameError, match="known reconstruction sources: clean, views"):
        train_autoencoder(config, IMAGES, LABELS, use_cache=False)


def test_a_vae_gets_no_invariance_term():
    config = TrainingConfig("vae_dense", 2, epochs=1, invariance_weight=1.0)
    with pytest.raises(InvalidInputError, match="VAE"):
        train_autoencoder(config, IMAGES, LABELS, use_cache=False)


def test_objective_recipes_train_from_scratch_on_one_budget():
    configs = {
        suffix: benchmark_config(f"conv_fc_transpose{suffix}", (28, 28, 1))
        for suffix in ("_invariant", "_augmented_invariant", "_vicreg")
    }
    for config in configs.values():
        assert config.model == "conv_fc_transpose" and config.start_from is None
        assert config.time_budget_s == OBJECTIVE_BUDGET_S and config.invariance_weight > 0
    assert configs["_invariant"].reconstruct_from == "clean"
    assert configs["_augmented_invariant"].reconstruct_from == "views"
    assert configs["_vicreg"].reconstruction_weight == 0
    assert "conv_deep_vicreg" in recipe_names() and "conv_bn_vicreg" not in recipe_names()
