# Two commands on a fresh clone:  `make run`  and  `make test`.
# Both create .venv from a lockfile on first use (and again whenever it changes):
# `make run` only what serving needs (requirements/serve.txt: the runtime, uvicorn, and what
# installing this checkout takes), `make test` everything (requirements/dev.txt, a superset
# with the same pins).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SERVE_STAMP := $(VENV)/.installed-serve
NODE_STAMP := node_modules/.installed

.PHONY: run test check lint typecheck pytest browser lock clean

run: $(SERVE_STAMP)  ## make run [PORT=8001] [HOST=0.0.0.0]
	$(BIN)/orchestrator serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

test: $(STAMP) $(NODE_STAMP) lint typecheck pytest  ## ruff, import layers, mypy, the suite

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy orchestrator

pytest: $(STAMP) $(NODE_STAMP) browser
	$(BIN)/pytest

# Debian's Chromium, for the test that renders /docs offline (Playwright drives it; its own
# browser download is not used). Installed when missing and running as root, as CI does;
# otherwise a note, and that one test skips (it fails instead when CI=true).
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium (apt-get) for the /docs browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "note: chromium is not installed, so the /docs browser test will skip;" \
			"install it with: sudo apt-get install chromium" >&2; \
	fi

# The development venv: everything (tests, linters, type checker) and this checkout, editable.
$(STAMP): requirements/dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation --editable .
	@touch $@

# Serving only: the runtime, uvicorn and the build backend for the editable install, no
# development tool. In a venv `make test` already filled this is a quick no-op check.
$(SERVE_STAMP): requirements/serve.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/serve.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation --editable .
	@touch $@

# Contract-test data (Discord's and GitHub's OpenAPI descriptions, GitHub's webhook examples)
# from the npm lockfile.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Maintainers only: re-resolve the lockfiles (needs `uv`: pip install uv). Serve takes its
# pins from dev (and dev from runtime), so every venv agrees on every version.
lock:
	uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --no-header -q -o requirements/runtime.txt
	uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --extra serve --group dev -c requirements/runtime.txt --no-header -q -o requirements/dev.txt
	uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --extra serve --group build -c requirements/runtime.txt -c requirements/dev.txt --no-header -q -o requirements/serve.txt
	npm install --package-lock-only --no-audit --no-fund

clean:
	rm -rf $(VENV) node_modules build .aws-sam .mypy_cache .ruff_cache .pytest_cache

# The Lambda artifact (see docs/deploy.md). `sam build` runs build-OrchestratorFunction
# (template.yaml: BuildMethod makefile) with ARTIFACTS_DIR set; the *contents* of that
# folder become /var/task. `make build` writes the same artifact to build/lambda(.zip).
# LAMBDA_ARCH must match the template's Architecture parameter; BUILD_SHA overrides the
# commit (default: $GITHUB_SHA, else git HEAD).
.PHONY: build build-OrchestratorFunction
LAMBDA_ARCH   ?= x86_64
LAMBDA_PYTHON ?= 3.12
BUILD_PYTHON  ?= $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON))
BUILD_ARGS     = --python $(LAMBDA_PYTHON) --arch $(LAMBDA_ARCH) --strict $(if $(BUILD_SHA),--sha $(BUILD_SHA))

build: $(STAMP)
	$(BIN)/python -m orchestrator.cli.build $(BUILD_ARGS) --out build/lambda --zip

build-OrchestratorFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 2; }
	$(BUILD_PYTHON) -m orchestrator.cli.build $(BUILD_ARGS) --out "$(ARTIFACTS_DIR)"

# Benchmarks: this app vs the floor and the PyPI peers, end to end in one run (< 5 min on
# 2 cores). Writes docs/benchmarks.md and docs/benchmarks.json; peers install into
# throwaway venvs under build/bench/, never into .venv.
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m bench --clean
