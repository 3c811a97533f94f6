import numpy as np
import pandas as pd

from aesearch_utils import config
from aesearch_utils.course import experiment
from aesearch_utils.data import Dataset
from aesearch_utils.search.array_cache import MIN_CACHED_ROWS
from aesearch_utils.search.encoders import PixelEncoder
from aesearch_utils.training import TrainingConfig, train_autoencoder


def row(model, dataset, test_mse, noise="none"):
    key = {"model": model, "dataset": dataset, "latent_dim": 32, "noise": noise}
    return {**key, "test_mse": test_mse}


def test_record_replaces_the_row_with_the_same_key(tmp_path):
    experiment.record(row("dense", "mnist", 0.5), tmp_path)
    experiment.record(row("dense", "fashion_mnist", 0.4), tmp_path)
    experiment.record(row("dense", "mnist", 0.1, noise="gaussian 0.3"), tmp_path)
    path = experiment.record(row("dense", "mnist", 0.2), tmp_path)

    table = pd.read_csv(path)
    assert len(table) == 3
    plain_mnist = table[(table.dataset == "mnist") & (table.noise == "none")]
    assert plain_mnist.test_mse.tolist() == [0.2]


def test_precision_under_noise_with_raw_pixels():
    # two classes of flat images, dark and bright: clean queries always find their class
    rng = np.random.default_rng(0)
    labels = np.arange(40) % 2
    images = (labels[:, None, None, None] * 200 + rng.integers(0, 20, (40, 4, 4, 1))).astype(
        np.uint8
    )
    data = Dataset("toy", images, labels, images[:10], labels[:10], ("dark", "bright"))
    precision = experiment.precision_under_noise(
        PixelEncoder((4, 4, 1)), data, "gaussian", [0.0, 2.0], seed=0, k=5
    )
    assert precision[0] == 1.0 and precision[1] < 1.0


def test_a_rerun_reads_a_models_reconstruction_error_from_the_array_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AESEARCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("AESEARCH_ARRAY_CACHE", raising=False)
    rows = MIN_CACHED_ROWS + 10
    labels = np.arange(rows) % 2
    images = np.random.default_rng(0).integers(0, 256, (rows, 4, 4, 1), dtype=np.uint8)
    data = Dataset("toy", images, labels, images[:MIN_CACHED_ROWS], labels[:MIN_CACHED_ROWS],
                   ("a", "b"))  # fmt: skip
    config = TrainingConfig("dense", 2, options={"hidden_units": (8,)}, epochs=1, batch_size=512)
    trained = train_autoencoder(config, images, labels, dataset="toy", cache_dir=tmp_path)
    reconstructions = []
    real_mse = experiment.reconstruction_mse
    monkeypatch.setattr(
        experiment, "reconstruction_mse", lambda *a: reconstructions.append(1) or real_mse(*a)
    )

    first, second = experiment.evaluate(trained, data), experiment.evaluate(trained, data)

    assert first == second and len(reconstructions) == 2  # the training and the test split once
    assert first["train_mse"] == round(real_mse(trained.model, images), 5)


def test_the_robustness_verdict_is_written_in_sentences():
    precision = {"VAE": [0.9, 0.5, 0.6], "autoencoder": [0.8, 0.6, 0.5]}
    lines = experiment.noise_robustness_verdict([0.0, 0.2, 0.4], precision, "VAE", "autoencoder")
    assert lines[0] == "noise 0.0: VAE +0.100 against the autoencoder"
    assert lines[-1].endswith("the VAE is ahead only at noise levels 0.0 and 0.4.")
    one = experiment.noise_robustness_verdict([0.0], {"a": [0.9], "b": [0.8]}, "b", "a")
    assert one[-1].endswith("the b is ahead at no noise level.")
    ahead = experiment.noise_robustness_verdict([0.0, 0.2, 0.4], precision, "autoencoder", "VAE")
    assert ahead[-1].endswith("ahead only at noise level 0.2.")


def result_row(model, train_mse, test_mse, precision, dead=0):
    return {"model": model, "dataset": "mnist", "noise": "none", "latent_dim": 32,
            "train_mse": train_mse, "test_mse": test_mse, "dead_latent_dims": dead,
            "precision_at_10": precision}  # fmt: skip


def test_lessons_put_the_measured_numbers_into_sentences():
    generalises = result_row("dense", 0.0200, 0.0204, 0.912, dead=3)
    memorises = result_row("conv_bn", 0.0100, 0.0150, 0.955)
    (line,) = experiment.lessons([generalises])
    assert "reconstructed about as well as the training images" in line
    assert "0.0204 against 0.0200" in line and "3 of its 32 latent numbers" in line
    assert "91.2% of a test query's 10 nearest" in line
    lines = experiment.lessons([generalises, memorises])
    assert "1.50 times worse" in lines[1]
    assert lines[2] == "The lowest test error and the best search are both conv_bn's."
    lower_error_worse_search = result_row("dense", 0.0050, 0.0051, 0.5)
    assert (
        "does not always mean better search"
        in experiment.lessons([lower_error_worse_search, memorises])[-1]
    )


def test_recorded_rows_are_another_chapter_s_rows_of_the_dataset(tmp_path):
    assert experiment.recorded_rows(tmp_path, "mnist", ["conv_upsampling"]) == []
    experiment.record(row("conv_upsampling", "mnist", 0.3), tmp_path)
    experiment.record(row("conv_upsampling", "mnist", 0.1, noise="gaussian 0.3"), tmp_path)
    experiment.record(row("conv_upsampling", "fashion_mnist", 0.2), tmp_path)
    experiment.record(row("dense", "mnist", 0.4), tmp_path)
    (found,) = experiment.recorded_rows(tmp_path, "mnist", ["conv_upsampling"])
    assert found["test_mse"] == 0.3 and found["noise"] == "none"


def test_side_by_side_trains_each_config_on_one_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "models_dir", lambda: tmp_path / "models")
    labels = np.arange(60) % 2
    images = np.random.default_rng(0).integers(0, 256, (60, 4, 4, 1), dtype=np.uint8)
    data = Dataset("toy", images, labels, images[:20], labels[:20], ("a", "b"))
    configs = {
        f"{size}-D": TrainingConfig("dense", size, options={"hidden_units": (8,)}, epochs=1)
        for size in (2, 4)
    }
    table = experiment.side_by_side(configs, data, "toy")
    assert list(table.index) == ["2-D", "4-D"] and (table["epochs_run"] == 1).all()
    assert table["precision_at_10"].between(0, 1).all() and table["parameters"].is_unique
