import pytest

from aesearch_utils import config
from aesearch_utils.course import profiles
from aesearch_utils.errors import UnknownNameError


def test_full_writes_into_the_repository_and_smoke_into_build():
    root = config.project_root()
    assert profiles.output_dirs("full").figures == root / "figures"
    smoke = profiles.output_dirs("smoke")
    assert smoke.figures == root / "build" / "smoke" / "figures"
    assert smoke.results.is_dir()


def test_an_explicit_output_dir_wins(tmp_path):
    dirs = profiles.output_dirs("full", tmp_path / "elsewhere")
    assert dirs.results == tmp_path / "elsewhere" / "results" and dirs.figures.is_dir()


def test_smoke_is_one_run_with_the_overrides():
    notebook = "02_dense_autoencoder"
    (smoke,) = profiles.notebook_runs(notebook, "smoke")
    assert smoke.name == notebook and smoke.parameters["PROFILE"] == "smoke"
    assert smoke.parameters.items() >= profiles.SMOKE_OVERRIDES[notebook].items()


def test_full_runs_each_variant_under_its_own_name():
    runs = profiles.notebook_runs("11_benchmark", "full", "out")
    assert [run.name for run in runs] == [
        "11_benchmark-mnist",
        "11_benchmark-fashion_mnist",
        "11_benchmark-cifar10",
    ]
    expected = {"PROFILE": "full", "OUTPUT_DIR": "out", "DATASET": "fashion_mnist"}
    assert runs[1].parameters == expected
    (single,) = profiles.notebook_runs("01_data_and_sanity_checks", "full")
    assert single.name == "01_data_and_sanity_checks" and single.label == ""


def test_extended_adds_variants_and_the_long_studies_under_the_same_names():
    (full,) = profiles.notebook_runs("02_dense_autoencoder", "full")
    extended = profiles.notebook_runs("02_dense_autoencoder", "extended")
    assert full.name == extended[0].name == "02_dense_autoencoder-mnist"
    assert [run.label for run in extended] == ["mnist", "fashion_mnist"]
    for run in profiles.notebook_runs("12_beating_the_baselines", "extended"):
        assert run.parameters["VALIDATION_GRID"] == "all"
    (recurrent,) = profiles.notebook_runs("08_recurrent_and_attention_autoencoders", "extended")
    assert recurrent.parameters["TRAIN_SIZE"] is None
    assert profiles.output_dirs("extended").results == config.project_root() / "results"


def test_unknown_profile():
    with pytest.raises(
        UnknownNameError, match="unknown profile 'fast'; known profiles: full, extended, smoke"
    ):
        profiles.output_dirs("fast")
