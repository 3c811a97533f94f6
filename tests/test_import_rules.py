"""The layout's rule: the core below the service (data, search, store) never loads the course,
the figures, the service, or the heavy libraries they bring. Checked in a fresh interpreter,
where nothing is imported yet."""

import json
import subprocess
import sys

import pytest

CORE = [
    "aesearch_utils.data",
    "aesearch_utils.search",
    "aesearch_utils.search.registry",
    "aesearch_utils.search.pipeline",
    "aesearch_utils.store",
]
FORBIDDEN = (
    "aesearch_utils.course",
    "aesearch_utils.viz",
    "aesearch_utils.service",  # serving depends on the store and the index, never the reverse
    "fastapi",
    "pandas",
    "matplotlib",
    "keras",
)


def loaded_after_import(module: str) -> list[str]:
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


SERVICE = ["aesearch_utils.service.app", "aesearch_utils.service.cli"]
"""The service may load FastAPI and the store, but not the course, the figures or Keras."""


def offending(loaded: list[str], forbidden: tuple[str, ...]) -> list[str]:
    return [
        name
        for name in loaded
        if any(name == bad or name.startswith(bad + ".") for bad in forbidden)
    ]


@pytest.mark.parametrize("module", SERVICE)
def test_the_service_loads_neither_course_nor_figures_nor_keras(module):
    forbidden = tuple(bad for bad in FORBIDDEN if bad not in ("aesearch_utils.service", "fastapi"))
    assert not offending(loaded_after_import(module), forbidden)


@pytest.mark.parametrize("module", CORE)
def test_the_core_loads_neither_course_nor_figures_nor_their_libraries(module):
    found = offending(loaded_after_import(module), FORBIDDEN)
    assert not found, f"importing {module} loads {found[:8]}"
