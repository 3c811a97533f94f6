import pytest

from aesearch_utils import config, report
from aesearch_utils.errors import UnknownNameError
from aesearch_utils.io import write_json


def test_readme_tables_match_the_committed_results():
    readme = (config.project_root() / "README.md").read_text(encoding="utf-8")
    assert "<!-- table:" in readme
    assert report.render_readme(readme, config.project_root() / "results") == readme, (
        "README.md tables differ from results/: run `make readme`"
    )


def test_a_marked_table_is_regenerated(tmp_path):
    write_json(tmp_path / "notebook_times.json", {"02_b": 61.2, "01_a": 9.6})
    text = "intro\n<!-- table:notebook_times -->\nold\n<!-- /table -->\nend\n"
    rendered = report.render_readme(text, tmp_path)
    assert rendered.startswith("intro\n<!-- table:notebook_times -->\n| notebook |")
    assert rendered.index("01_a | 10 s") < rendered.index("02_b | 61 s")
    assert rendered.endswith("<!-- /table -->\nend\n") and "old" not in rendered


def test_unknown_table_name(tmp_path):
    with pytest.raises(UnknownNameError, match="unknown README table 'speed'"):
        report.render_readme("<!-- table:speed -->\n<!-- /table -->", tmp_path)
