import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from aesearch_utils.course import run
from aesearch_utils.errors import UnknownNameError


def write_notebook(path, *sources):
    notebook = new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    parameters = new_code_cell('PROFILE = "full"\nOUTPUT_DIR = ""')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, *(new_code_cell(source) for source in sources)]
    nbformat.write(notebook, path)
    return path


def notebook_folder(tmp_path, cells: dict[str, list[str]]):
    """A folder of notebooks, each a parameters cell and the given code cells."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name, sources in cells.items():
        write_notebook(folder / f"{name}.ipynb", *sources)
    return folder


def test_select_by_number_or_name(tmp_path):
    notebooks = [tmp_path / "01_a.ipynb", tmp_path / "02_b.ipynb", tmp_path / "03_c.ipynb"]
    assert run.select_notebooks(notebooks, []) == notebooks
    assert run.select_notebooks(notebooks, ["03", "01_a"]) == [notebooks[0], notebooks[2]]
    with pytest.raises(UnknownNameError, match=r"unknown notebook '7'.*01_a, 02_b, 03_c"):
        run.select_notebooks(notebooks, ["7"])


def test_runs_in_order_records_times_and_passes_the_profile(tmp_path, capsys):
    notebooks = notebook_folder(
        tmp_path, {"01_first": ["assert PROFILE == 'smoke'"], "02_second": ["print(OUTPUT_DIR)"]}
    )
    output = tmp_path / "out"

    times = run.run("smoke", output_dir=output, notebooks_dir=notebooks)

    assert list(times) == ["01_first", "02_second"]
    record = json.loads((output / "results" / "notebook_times.json").read_text())
    assert record["seconds"].keys() == {"01_first", "02_second"}
    assert record["wall_seconds"] >= sum(record["seconds"].values())
    assert record["machine"]["cpus"] >= 1 and record["machine"]["cpu_model"]
    executed = nbformat.read(output / "notebooks" / "02_second.ipynb", as_version=4)
    assert str(output) in executed.cells[-1].outputs[0].text
    # the kernel imported TensorFlow before the notebook, silently: no output, no history
    assert [cell.execution_count for cell in executed.cells] == [1, 2, 3]
    printed = capsys.readouterr().out
    assert "[1/2] 01_first (smoke)" in printed and "[2/2] 02_second" in printed


def test_a_failing_notebook_names_its_cell_and_stops_the_run(tmp_path, monkeypatch, capsys):
    notebooks = notebook_folder(
        tmp_path, {"01_ok": ["x = 1", "y = x / 0  # the bad line"], "02_never": ["pass"]}
    )
    monkeypatch.setattr(run.config, "notebooks_dir", lambda: notebooks)

    status = run.main(["--profile", "smoke", "--output-dir", str(tmp_path / "out")])

    assert status == 1
    error = capsys.readouterr().err
    # In [4] in the executed copy: papermill's injected-parameters cell runs second
    assert "01_ok failed in cell In [4]" in error
    assert "'y = x / 0  # the bad line'" in error and "ZeroDivisionError" in error
    assert not (tmp_path / "out" / "notebooks" / "02_never.ipynb").exists()


def test_the_plan_and_progress_and_a_partial_run_leaves_the_record_alone(tmp_path, capsys):
    notebooks = notebook_folder(tmp_path, {"01_first": ["pass"], "02_second": ["pass"]})
    output = tmp_path / "out"
    record = output / "results" / "notebook_times.json"
    record.parent.mkdir(parents=True)
    recorded = {"machine": {"cpus": 2}, "seconds": {"01_first": 60.0, "02_second": 120.0}}
    record.write_text(json.dumps(recorded))

    run.run("smoke", ["02"], output_dir=output, notebooks_dir=notebooks)

    printed = capsys.readouterr().out
    assert "plan (smoke profile): 1 notebook run(s)" in printed
    assert "02_second" in printed and "120 s last time" in printed and "about 2 min" in printed
    assert "[1/1] 02_second (smoke)" in printed and "min so far" in printed
    assert json.loads(record.read_text()) == recorded

    run.run("smoke", output_dir=output, notebooks_dir=notebooks)
    printed = capsys.readouterr().out
    assert "about 2 min left" in printed  # after the first, the second's recorded 120 s
    assert json.loads(record.read_text())["seconds"].keys() == {"01_first", "02_second"}
    assert json.loads(record.read_text())["seconds"]["02_second"] < 60  # this whole run's
