"""A chapter shows the package's own code of its model; the notebooks end with exercises."""

import re

import nbformat
import pytest

from aesearch_utils import config
from aesearch_utils.course import run
from aesearch_utils.course.source import show_source
from aesearch_utils.models import dense, variational

NOTEBOOKS = run.discover_notebooks(config.notebooks_dir())
MODEL_CHAPTERS = ("02", "03", "04", "05", "06", "07", "08", "10")


def test_show_source_is_the_code_that_runs():
    shown = show_source(dense.build_dense_autoencoder, variational.GaussianSample)
    assert shown.data.startswith('@register("dense")\ndef build_dense_autoencoder(')
    assert "class GaussianSample(layers.Layer):" in shown.data and "self.add_loss(" in shown.data
    assert "highlight" in shown._repr_html_()
    with pytest.raises(TypeError, match="at least one"):
        show_source()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_chapter_ends_with_exercises_and_folded_solutions(path):
    cells = nbformat.read(path, as_version=4).cells
    headings = [cell.source.splitlines()[0] for cell in cells if cell.cell_type == "markdown"]
    assert "## Exercises" in headings and "## Solutions" in headings
    exercises = next(cell for cell in cells if cell.source.startswith("## Exercises"))
    count = len(re.findall(r"^\d+\. \*\*", exercises.source, re.MULTILINE))
    assert 2 <= count <= 4
    solutions = [cell for cell in cells if cell.metadata.get("jupyter", {}).get("source_hidden")]
    assert len(solutions) == count and all(cell.cell_type == "code" for cell in solutions)
    if path.stem[:2] in MODEL_CHAPTERS:
        assert any("show_source(" in cell.source for cell in cells), "the model's code is shown"
    prose = "\n".join(cell.source for cell in cells if cell.cell_type == "markdown")
    assert not re.search(r"\bissue \d+", prose, re.IGNORECASE), "no issue numbers in a chapter"
