"""The source notebooks are clean, and every one of them runs headless in the smoke profile."""

import ast
import json

import nbformat
import pandas as pd
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
    for variant in profiles.EXTENDED_VARIANTS.get(path.stem, []):
        assert set(variant) <= names
    assert set(profiles.EXTENDED_OVERRIDES.get(path.stem, {})) <= names


def test_profiles_name_existing_notebooks():
    stems = {path.stem for path in NOTEBOOKS}
    named = {*profiles.SMOKE_OVERRIDES, *profiles.EXTENDED_VARIANTS, *profiles.EXTENDED_OVERRIDES}
    assert named <= stems


@pytest.mark.notebooks
def test_every_notebook_runs_in_the_smoke_profile():
    """Executes into build/smoke/, where nbval then checks that the outputs reproduce."""
    times = run.run("smoke")
    assert list(times) == [path.stem for path in NOTEBOOKS]
    output = profiles.output_dirs("smoke")
    for path in NOTEBOOKS:  # every notebook draws something, and every picture has content
        number = path.stem.split("_", 1)[0]
        drawn = list(output.figures.glob(f"{number}_*.png"))
        assert drawn, f"{path.stem} saved no figure"
        assert all(figure.stat().st_size > 5_000 for figure in drawn), drawn
    # and the results files the README's tables are made from, with plausible rows
    models = pd.read_csv(output.results / "autoencoders.csv")
    assert {"dense", "conv_bn", "vae_gru", "conv_deep"} <= set(models["model"])
    assert models["precision_at_10"].between(0, 1).all()
    benchmark = pd.read_csv(output.results / "benchmark.csv")
    assert set(benchmark["kind"]) == {"autoencoder", "baseline"}
    assert "hog" in set(benchmark["features"])
    best = pd.read_csv(output.results / "12_best_pipelines.csv").set_index("pipeline")
    assert best.loc["mnist-best", "precision_at_10"] > 0.5  # 2,000 MNIST images: about 0.9
    assert best.loc["mnist-best", "precision_at_10_low"] < best.loc["mnist-best", "precision_at_10"]
    assert "hog, validation's best" in best.index and best["margin"].notna().sum() >= 3
    changed = pd.read_csv(output.results / "12_robustness.csv")
    assert set(changed["change"]) == {"none", "blur", "darker", "contrast", "shift", "rotation",
                                      "noise"}  # fmt: skip
    assert changed["precision_at_10"].between(0, 1).all()
    ablation = pd.read_csv(output.results / "12_ablation.csv")
    assert len(ablation) > 20 and ablation["map_at_100"].between(0, 1).all()
    vae = json.loads((output.results / "07_vae_mnist.json").read_text(encoding="utf-8"))
    assert set(vae["precision_at_10"]) == {"VAE", "autoencoder"}
