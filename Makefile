# The README's two commands are `make run` and `make test`; each creates .venv when missing.
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= full
NOTEBOOKS ?=
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
SMOKE_NOTEBOOKS := build/smoke/notebooks

.PHONY: install run test lint readme bench lab serve clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(INSTALLED)

# Execute the notebooks headless: PROFILE=full (default) or smoke; NOTEBOOKS="01 03" picks some.
run: $(INSTALLED)
	$(BIN)/python -m aesearch_utils.course.run --profile $(PROFILE) $(NOTEBOOKS)
	if [ "$(PROFILE)" = full ]; then $(BIN)/python -m aesearch_utils.course.report; fi

# Lint, unit tests, every notebook in the smoke profile, then nbval over the executed notebooks.
test: $(INSTALLED) lint
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest -p no:cacheprovider --nbval-lax \
		--nbval-sanitize-with tests/nbval_sanitize.cfg $(SMOKE_NOTEBOOKS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

readme: $(INSTALLED)
	$(BIN)/python -m aesearch_utils.course.report

bench: $(INSTALLED)
	$(BIN)/python benchmarks/data_loading.py
	$(BIN)/python benchmarks/search_speed.py
	$(BIN)/python benchmarks/pipeline_reopen.py
	$(BIN)/python benchmarks/service_load.py
	$(BIN)/python benchmarks/store_scale.py

# The search service on 127.0.0.1:8000 (builds the mnist-best gallery on first use).
serve: $(INSTALLED)
	$(BIN)/aesearch serve

lab: $(INSTALLED)
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf build .pytest_cache .ruff_cache
