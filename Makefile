# The README's two commands are `make run` and `make test`; each creates .venv when missing.
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= full
NOTEBOOKS ?=
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
SMOKE_NOTEBOOKS := build/smoke/notebooks

.PHONY: install run test lint chromium readme screenshot bench lab serve image clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(INSTALLED)

# Execute the notebooks headless: PROFILE=full (default) or smoke; NOTEBOOKS="01 03" picks some.
run: $(INSTALLED)
	$(BIN)/python -m aesearch_utils.course.run --profile $(PROFILE) $(NOTEBOOKS)
	if [ "$(PROFILE)" != smoke ]; then $(BIN)/python -m aesearch_utils.course.report; fi

# Lint, unit tests, every notebook in the smoke profile, then nbval over the executed notebooks.
test: $(INSTALLED) lint chromium
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest -p no:cacheprovider --nbval-lax \
		--nbval-sanitize-with tests/nbval_sanitize.cfg $(SMOKE_NOTEBOOKS)

# The browser tests drive Debian's Chromium (Playwright cannot download a browser here):
# install it when this user may, or stop with the command that does.
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  as_root=""; [ "$$(id -u)" = 0 ] || as_root="sudo -n"; \
	  { $$as_root apt-get install -y -q chromium >/dev/null 2>&1 \
	    || { $$as_root apt-get update -q >/dev/null 2>&1 \
	         && $$as_root apt-get install -y -q chromium >/dev/null 2>&1; }; } \
	  || { echo "make test needs Chromium for its browser tests; install it with:" >&2; \
	       echo "    sudo apt-get install chromium" >&2; exit 1; }; }

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

readme: $(INSTALLED)
	$(BIN)/python -m aesearch_utils.course.report

# The README's picture of the page: Chromium on the service over the full profile's gallery.
screenshot: $(INSTALLED) chromium
	$(BIN)/python -m aesearch_utils.course.screenshot

bench: $(INSTALLED)
	$(BIN)/python benchmarks/data_loading.py
	$(BIN)/python benchmarks/search_speed.py
	$(BIN)/python benchmarks/pipeline_reopen.py
	$(BIN)/python benchmarks/service_load.py
	$(BIN)/python benchmarks/store_scale.py
	$(BIN)/python benchmarks/gallery_scale.py
	$(BIN)/python benchmarks/container_image.py

# The search service on 127.0.0.1:8000 (builds the mnist-best gallery on first use).
serve: $(INSTALLED)
	$(BIN)/aesearch serve

# The service's container image (Containerfile; compose.yaml starts it beside Milvus). Podman by
# default, CONTAINER=docker works too; BASE_IMAGE: any Debian-slim image with Python >= 3.10.
CONTAINER ?= podman
IMAGE ?= aesearch
BASE_IMAGE ?= python:3.11-slim-bookworm
CONTAINERFILE ?= Containerfile
CONTEXT ?= .
BUILD_FLAGS ?=
# Podman keeps the HEALTHCHECK only in Docker's image format; a machine whose pip needs its own
# settings and certificates (a proxy's) lends them to the build, never to the image.
PODMAN_BUILD := --format docker \
	$(if $(wildcard /etc/pip.conf),-v /etc/pip.conf:/etc/pip.conf:ro -v /etc/ssl/certs:/etc/ssl/certs:ro)
image:
	$(CONTAINER) build --network host $(if $(filter podman,$(notdir $(CONTAINER))),$(PODMAN_BUILD)) \
		$(BUILD_FLAGS) --build-arg BASE=$(BASE_IMAGE) -t $(IMAGE) -f $(CONTAINERFILE) $(CONTEXT)

lab: $(INSTALLED)
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf build .pytest_cache .ruff_cache
