from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from aesearch_utils.course import ablation
from aesearch_utils.course.ablation import (
    ROBUSTNESS_FILE,
    chosen_settings,
    examined_pipelines,
    robustness_study,
    target_verdict,
    with_margins,
)
from aesearch_utils.course.robustness import robustness_table, robustness_verdict
from aesearch_utils.data.dataset import Dataset
from aesearch_utils.data.perturbations import PERTURBATIONS, perturb
from aesearch_utils.errors import DataNotFoundError, UnknownNameError
from aesearch_utils.search.encoders import PixelEncoder
from aesearch_utils.search.pipeline import SearchPipeline


def _blobs(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Bright squares whose corner says the class: searchable by pixels."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 2
    images = rng.integers(0, 40, (count, 16, 16, 1)).astype(np.uint8)
    for image, label in zip(images, labels, strict=True):
        image[2:8, 2:8] = image[8:14, 8:14] = 0
        image[(2, 8)[label] : (8, 14)[label], (2, 8)[label] : (8, 14)[label]] = 220
    return images, labels


def test_every_change_keeps_the_shape_and_dtype_and_changes_the_image():
    images, _ = _blobs(4)
    for change in PERTURBATIONS:
        changed = perturb(images, change)
        assert changed.shape == images.shape and changed.dtype == np.uint8
        assert not np.array_equal(changed, images), change
    floats = images / np.float32(255)
    np.testing.assert_allclose(perturb(floats, "darker"), floats * 0.7, atol=1e-6)
    assert perturb(floats, "contrast").max() < floats.max()
    shifted = perturb(images, "shift")
    np.testing.assert_array_equal(shifted[:, 4:, 4:], images[:, 2:-2, 2:-2])
    np.testing.assert_array_equal(perturb(images, "noise", seed=3), perturb(images, "noise", 3))
    with pytest.raises(UnknownNameError, match="blur, darker"):
        perturb(images, "sepia")


def test_the_robustness_table_scores_every_pipeline_under_every_change():
    images, labels = _blobs(60)
    data = Dataset("toy", images[:40], labels[:40], images[40:], labels[40:], ("a", "b"))
    pixels = SearchPipeline(PixelEncoder((16, 16, 1))).fit(data.x_train, data.y_train)
    whitened = SearchPipeline(PixelEncoder((16, 16, 1)), whiten_dims=4)
    whitened.fit(data.x_train, data.y_train)
    table, per_query = robustness_table({"pixels": pixels, "whitened": whitened}, data, k=5)
    assert len(table) == 2 * (1 + len(PERTURBATIONS))
    assert list(dict.fromkeys(table["change"])) == ["none", *PERTURBATIONS]
    clean = table[table["change"] == "none"].set_index("pipeline")["precision_at_5"]
    assert clean["pixels"] == 1.0
    assert (table["precision_at_5_low"] <= table["precision_at_5"]).all()
    lines = robustness_verdict(per_query, "whitened", "pixels")
    assert len(lines) == 1 + len(PERTURBATIONS) and lines[0].startswith("none ")


def test_a_lead_is_a_win_only_when_its_interval_is_above_zero():
    rng = np.random.default_rng(0)
    winner = (rng.random(2000) < 0.9).astype(float)
    close = np.roll(winner, 1)  # as precise, right on other queries
    far = (rng.random(2000) < 0.6).astype(float)

    def row(name, kind, values):
        return {"dataset": "mnist", "pipeline": name, "kind": kind,
                "precision_at_10": values.mean(), "precision_at_10_low": values.mean() - 0.01,
                "precision_at_10_high": values.mean() + 0.01,
                "map_at_100_retrieved": values.mean(), "map_at_100_retrieved_low": 0.0,
                "map_at_100_retrieved_high": 1.0}, {"precision_at_10": values}  # fmt: skip

    final = with_margins(
        [row("mnist-best", "autoencoder", winner), row("close", "baseline", close),
         row("far", "baseline", far)]
    )  # fmt: skip
    assert np.isnan(final.loc[0, "margin"])
    assert final.loc[2, "margin_low"] > 0.25
    assert (
        final.loc[1, "margin"] == 0 and final.loc[1, "margin_low"] < 0 < final.loc[1, "margin_high"]
    )
    lines = target_verdict(final)
    assert lines[2].startswith("mnist lead over the best baseline pipeline (close")
    assert "within noise, not a win" in lines[2] and "target margin +0.01 missed" in lines[2]
    assert "target 0.985 missed" in lines[0]


def validation_rows(clean: dict[str, float]) -> pd.DataFrame:
    """Ablation rows, one per features, plain cosine search, with these clean precisions."""
    return pd.DataFrame(
        [
            {"features": features, "whiten_dims": 0, "whiten_power": 0.0, "expansion_k": 0,
             "precision_at_10": score, "map_at_100": score}
            for features, score in clean.items()
        ]
    )  # fmt: skip


def robustness_rows(changed: dict[str, float]) -> pd.DataFrame:
    """Validation robustness rows: each features scores the same under every change."""
    return pd.DataFrame(
        [
            {"dataset": "toy", "features": features, "whiten_dims": 0, "whiten_power": 0.0,
             "expansion_k": 0, "change": change, "precision_at_10": score}
            for features, score in changed.items()
            for change in PERTURBATIONS
        ]
    )  # fmt: skip


CLEAN_SCORES = {"raw": 0.80, "a:latent": 0.95, "b:latent": 0.93}


def test_the_rule_passes_over_a_pipeline_less_robust_than_raw_pixels():
    robustness = robustness_rows({"raw": 0.70, "a:latent": 0.60, "b:latent": 0.75})
    chosen, baseline = chosen_settings(validation_rows(CLEAN_SCORES), robustness)
    assert (chosen["features"], baseline["features"]) == ("b:latent", "raw")


def test_the_examined_pipelines_are_listed_in_the_rules_order():
    robustness = robustness_rows({"raw": 0.70, "a:latent": 0.60, "b:latent": 0.75})
    shown = examined_pipelines(validation_rows(CLEAN_SCORES), robustness)
    assert shown["features"].tolist() == ["raw", "a:latent", "b:latent"]
    assert shown["at least raw's"].tolist() == [True, False, True]
    assert shown["none"].tolist() == [0.80, 0.95, 0.93]


def test_when_none_is_as_robust_as_raw_pixels_the_smallest_shortfall_wins():
    robustness = robustness_rows({"raw": 0.70, "a:latent": 0.60, "b:latent": 0.65})
    chosen, _ = chosen_settings(validation_rows(CLEAN_SCORES), robustness)
    assert chosen["features"] == "b:latent"


def test_a_choice_without_its_robustness_record_says_what_to_run():
    robustness = robustness_rows({"raw": 0.70, "a:latent": 0.60})
    with pytest.raises(DataNotFoundError, match="robustness_study"):
        chosen_settings(validation_rows(CLEAN_SCORES), robustness)


def test_the_registered_study_measures_only_what_its_record_lacks(tmp_path, monkeypatch):
    robustness_rows({"raw": 0.70, "a:latent": 0.60}).to_csv(tmp_path / ROBUSTNESS_FILE, index=False)
    measured = []

    def measure(row, data, split, epochs, seed):
        measured.append(row["features"])
        return robustness_rows({row["features"]: 0.75}).to_dict("records")

    monkeypatch.setattr(ablation, "robustness_rows", measure)
    toy = SimpleNamespace(name="toy")  # the measurement, the only user of the images, is faked
    rows = robustness_study("registered", validation_rows(CLEAN_SCORES), toy, None, tmp_path)
    assert measured == ["b:latent"]
    assert set(pd.read_csv(tmp_path / ROBUSTNESS_FILE)["features"]) == set(rows["features"])
    chosen, _ = chosen_settings(validation_rows(CLEAN_SCORES), rows)
    assert chosen["features"] == "b:latent"
