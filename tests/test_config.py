from aesearch_utils import config


def test_relative_data_and_cache_dirs_are_relative_to_the_project_root(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # as a kernel started in notebooks/ would be
    monkeypatch.setenv("AESEARCH_DATA_DIR", "../shared/datasets")
    monkeypatch.setenv("AESEARCH_CACHE_DIR", "scratch/cache")
    root = config.project_root()
    assert config.data_dir() == (root / ".." / "shared" / "datasets").resolve()
    assert config.cache_dir() == root / "scratch" / "cache"


def test_defaults_and_absolute_paths(monkeypatch, tmp_path):
    monkeypatch.delenv("AESEARCH_DATA_DIR", raising=False)
    monkeypatch.delenv("AESEARCH_CACHE_DIR", raising=False)
    assert config.data_dir() == config.project_root() / "data"
    assert config.cache_dir() == config.project_root() / "data" / "cache"
    monkeypatch.setenv("AESEARCH_DATA_DIR", str(tmp_path))
    assert config.data_dir() == tmp_path


def test_offline_switch(monkeypatch):
    monkeypatch.setenv("AESEARCH_OFFLINE", "1")
    assert not config.downloads_allowed()
    monkeypatch.setenv("AESEARCH_OFFLINE", "")
    assert config.downloads_allowed()
