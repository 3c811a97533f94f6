import pytest

from aesearch_utils import config, profiles
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


def test_parameters_carry_the_profile_and_its_overrides():
    notebook = next(iter(profiles.SMOKE_OVERRIDES))
    smoke = profiles.notebook_parameters(notebook, "smoke")
    assert (
        smoke["PROFILE"] == "smoke" and smoke.items() >= profiles.SMOKE_OVERRIDES[notebook].items()
    )
    assert profiles.notebook_parameters(notebook, "full") == {"PROFILE": "full", "OUTPUT_DIR": ""}


def test_unknown_profile():
    with pytest.raises(
        UnknownNameError, match="unknown profile 'fast'; known profiles: full, smoke"
    ):
        profiles.output_dirs("fast")
