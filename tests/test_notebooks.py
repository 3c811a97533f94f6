"""The source notebooks are clean, and every one of them runs headless in the smoke profile."""

import ast

import nbformat
import pytest

from aesearch_utils import config
from aesearch_utils.course import profiles, run

NOTEBOOKS = run.discover_notebooks(config.notebooks_dir())


def parameters_cell(notebook):
    cells = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(cells) == 1, "a notebook needs exactly one cell tagged 'parameters'"
    return cells[0]


def assigned_names(source):
    return {
        target.id
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no numbered notebooks in {config.notebooks_dir()}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_source_notebook_is_clean_and_parameterised(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == run.KERNEL_NAME
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"outputs in {cell.id}"
    names = assigned_names(parameters_cell(notebook).source)
    assert {"PROFILE", "OUTPUT_DIR"} <= names
    assert set(profiles.SMOKE_OVERRIDES.get(path.stem, {})) <= names
    for variant in profiles.FULL_VARIANTS.get(path.stem, []):
        assert set(variant) <= names


def test_profiles_name_existing_notebooks():
    stems = {path.stem for path in NOTEBOOKS}
    assert set(profiles.SMOKE_OVERRIDES) <= stems and set(profiles.FULL_VARIANTS) <= stems


@pytest.mark.notebooks
def test_every_notebook_runs_in_the_smoke_profile():
    """Executes into build/smoke/, where nbval then checks that the outputs reproduce."""
    times = run.run("smoke")
    assert list(times) == [path.stem for path in NOTEBOOKS]
    figures = profiles.output_dirs("smoke").figures
    assert (figures / "01_class_distribution.png").stat().st_size > 10_000
