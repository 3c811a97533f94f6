import json
import os

import numpy as np
import pytest

from aesearch_utils.io import atomic_path, write_json


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half-wri")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [path.name for path in tmp_path.iterdir()] == ["model.keras"]


def test_written_files_get_ordinary_permissions(tmp_path):
    with atomic_path(tmp_path / "figure.png") as temporary:
        temporary.write_bytes(b"png")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "figure.png").stat().st_mode & 0o777 == 0o666 & ~mask


def test_write_json_handles_numpy_and_sorts_keys(tmp_path):
    path = write_json(tmp_path / "out" / "r.json", {"b": np.float32(0.5), "a": np.arange(3)})
    assert json.loads(path.read_text()) == {"a": [0, 1, 2], "b": 0.5}
    assert path.read_text().index('"a"') < path.read_text().index('"b"')
