# The two commands the README promises: `make demo` and `make test`.
# Everything they need is installed here, into .venv and node_modules, from the pins in
# pyproject.toml and package.json, so they work on a fresh machine with Python 3.11+ and Node.js.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
NPM_STAMP := node_modules/.installed-stamp

.PHONY: install test lint typecheck unit clean demo sandbox console-assets

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; set PYTHON=/path/to/python3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# --dist loadscope: each test module runs in one worker, so an e2e module starts its local
# environment once and its tests run in file order.
test: lint typecheck $(NPM_STAMP) console-assets
	$(VENV)/bin/pytest -n 2 --dist loadscope

# Node.js tools pinned in package.json: the CDK CLI and asl-validator (tests/infra).
$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

# The console's JavaScript, vendored from its npm package (pinned in package.json): a build
# product, kept out of git, served by the console itself (no CDN at run time).
CONSOLE_VENDOR := layers/core/python/opayo_fba/console/static/vendor
console-assets: $(CONSOLE_VENDOR)/htmx.min.js

$(CONSOLE_VENDOR)/htmx.min.js: $(NPM_STAMP)
	mkdir -p $(CONSOLE_VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $@

# `make synth [STAGE=prod]`: offline, Docker-free synthesis into cdk.out/ with cdk-nag checks.
.PHONY: synth deploy
CDK_ENV_FLAG = $(if $(STAGE),-c opayo-fba:environment=$(STAGE))
synth: $(STAMP) $(NPM_STAMP)
	node_modules/.bin/cdk synth --quiet $(CDK_ENV_FLAG)

deploy: $(STAMP) $(NPM_STAMP)
	node_modules/.bin/cdk deploy --require-approval broadening $(CDK_ENV_FLAG)

# `make demo`: sample orders through the synthesized app, both sandboxes and the local runtime.
# `make demo DEMO_FLAGS=--keep-up` keeps them and the web console up afterwards (Ctrl-C stops).
DEMO_FLAGS ?=
demo: synth console-assets
	$(PY) -m demo $(DEMO_FLAGS)

# `make sandbox`: the Amazon and Opayo sandboxes in the foreground (Ctrl-C stops both).
sandbox: $(STAMP)
	trap 'kill 0' EXIT; $(PY) -m sandbox.amazon --port 8100 & $(PY) -m sandbox.opayo --port 8200 & wait

clean:
	rm -rf $(VENV) cdk.out node_modules .mypy_cache .pytest_cache .ruff_cache
