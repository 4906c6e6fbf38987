# The project's two commands: `make demo` and `make test`. Each works alone on a fresh clone.
# Packaging: `make dist` (sdist + wheel in dist/) and `make layer PYTHON=3.12 ARCH=x86_64|arm64` (Lambda layers).
SHELL := /bin/bash
PYTHON ?= python3
# `make layer PYTHON=3.12`: a bare version names the layer's Python; the virtual environment keeps python3
ifneq ($(filter 3.%,$(PYTHON)),)
LAYER_PYTHON := $(PYTHON)
override PYTHON := python3
endif
LAYER_PYTHON ?= 3.12
ARCH ?= x86_64
VENV := .venv
BIN := $(VENV)/bin
DIST := dist
PACKAGING_TOOLS := 'build>=1.2' 'twine>=5' 'hatchling>=1.25'
SAM_CLI_VERSION := 1.170.0
SAM_EVENTS := .cache/sam-events

.PHONY: test demo lint typecheck pytest docs install install-demo node browser bench dist layer clean

test: install node browser $(SAM_EVENTS)/.stamp lint typecheck docs pytest

demo: install-demo
	$(BIN)/streambridge demo

# The demo needs the package and its `testing` extra (LocalAppSync) only; the tests need the dev tools too.
install: $(VENV)/.installed
install-demo: $(VENV)/.installed-demo

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed-demo

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[testing]'
	touch $@

$(VENV)/.installed-packaging: | $(BIN)/python
	$(BIN)/python -m pip install -q $(PACKAGING_TOOLS)
	touch $@

# sdist and wheel, checked as an index would. Built again every time (it takes seconds): never stale.
dist: $(VENV)/.installed-packaging
	rm -f $(DIST)/streambridge-*.tar.gz $(DIST)/streambridge-*.whl
	$(BIN)/python -m build --no-isolation --sdist --wheel --outdir $(DIST) .
	$(BIN)/twine check --strict $(DIST)/streambridge-*.tar.gz $(DIST)/streambridge-*.whl
	@ls -l $(DIST)/streambridge-*.tar.gz $(DIST)/streambridge-*.whl

# Lambda layers (full, and slim without boto3/botocore) for one Python version and architecture.
layer: dist
	$(BIN)/python packaging/build_layer.py --python $(LAYER_PYTHON) --arch $(ARCH) --dist $(DIST)

node: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Headless Chromium for tests/integration/test_browser.py: the distribution's package (no browser download),
# installed where apt-get runs as root (CI); elsewhere the browser tests skip and say why (CHROMIUM=path also works).
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || [ -n "$$CHROMIUM" ] || \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
	      || echo "make browser: apt-get could not install chromium: the browser tests will skip (fail where CI is set)"; \
	  else echo "make browser: no chromium, and apt-get needs root: the browser tests will skip"; fi

# AWS's own sample events, as shipped inside the aws-sam-cli wheel (no one here wrote them).
$(SAM_EVENTS)/.stamp: | install
	mkdir -p .cache
	$(BIN)/python -m pip download -q --no-deps aws-sam-cli==$(SAM_CLI_VERSION) -d .cache/wheels
	$(BIN)/python -c "import zipfile,glob; z=zipfile.ZipFile(glob.glob('.cache/wheels/aws_sam_cli-$(SAM_CLI_VERSION)-*.whl')[0]); \
	  z.extractall('.cache/sam', [n for n in z.namelist() if n.startswith('samcli/lib/generated_sample_events/')])"
	rm -rf $(SAM_EVENTS) && mv .cache/sam/samcli/lib/generated_sample_events $(SAM_EVENTS) && rm -rf .cache/sam
	touch $@

lint: install
	$(BIN)/ruff check src tests examples bench packaging
	$(BIN)/ruff format --check src tests examples bench packaging

typecheck: install
	$(BIN)/mypy

docs: install
	$(BIN)/mkdocs build --strict --quiet

pytest: install node browser $(SAM_EVENTS)/.stamp
	SAM_EVENTS_DIR=$(SAM_EVENTS) $(BIN)/python -m pytest

bench: install
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules .cache .mypy_cache .pytest_cache .ruff_cache $(DIST)
