# The project's two commands: `make demo` and `make test`. Each works alone on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_CLI_VERSION := 1.170.0
SAM_EVENTS := .cache/sam-events

.PHONY: test demo lint typecheck pytest docs install node bench clean

test: install node $(SAM_EVENTS)/.stamp lint typecheck docs pytest

demo: install
	$(BIN)/streambridge demo

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

node: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# AWS's own sample events, as shipped inside the aws-sam-cli wheel (no one here wrote them).
$(SAM_EVENTS)/.stamp: | install
	mkdir -p .cache
	$(BIN)/python -m pip download -q --no-deps aws-sam-cli==$(SAM_CLI_VERSION) -d .cache/wheels
	$(BIN)/python -c "import zipfile,glob; z=zipfile.ZipFile(glob.glob('.cache/wheels/aws_sam_cli-$(SAM_CLI_VERSION)-*.whl')[0]); \
	  z.extractall('.cache/sam', [n for n in z.namelist() if n.startswith('samcli/lib/generated_sample_events/')])"
	rm -rf $(SAM_EVENTS) && mv .cache/sam/samcli/lib/generated_sample_events $(SAM_EVENTS) && rm -rf .cache/sam
	touch $@

lint: install
	$(BIN)/ruff check src tests examples bench
	$(BIN)/ruff format --check src tests examples bench

typecheck: install
	$(BIN)/mypy

docs: install
	$(BIN)/mkdocs build --strict --quiet

pytest: install node $(SAM_EVENTS)/.stamp
	SAM_EVENTS_DIR=$(SAM_EVENTS) $(BIN)/python -m pytest

bench: install
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules .cache .mypy_cache .pytest_cache .ruff_cache
