# The two commands anyone needs: `make run` and `make test`.
# Everything else here is what they depend on, installed on first use;
# `make run ARGS="--listen tcp:9000"` passes options on, `make dist` builds the packages.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
APT_PACKAGES_TEST := rabbitmq-server chromium chromium-driver postgresql
PYTEST_ARGS ?=
ARGS ?=

.PHONY: run test bench dist system-deps system-deps-test web-deps node-test-deps clean

run: $(VENV)/.installed web-deps
	$(BIN)/twistd -n wampchat $(ARGS)

test: system-deps-test $(VENV)/.installed-test web-deps node-test-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-test web-deps
	$(BIN)/python -m benchmarks.run --write-guide

# The sdist and the wheel (with the page and AutobahnJS) in dist/; `build` comes with the test extra,
# so it is installed into the venv here when a plain `make run` venv lacks it.
dist: $(VENV)/.installed web-deps
	@$(BIN)/python -c "import build" 2>/dev/null || $(BIN)/pip install -q "build>=1.0"
	$(BIN)/python -m build --outdir dist .

# Debian packages: python venv support always; broker, browser, node and the reverse proxies for the tests.
system-deps:
	@if ! $(PYTHON) -c "import ensurepip, venv" >/dev/null 2>&1 || ! command -v npm >/dev/null; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv python3-dev nodejs npm; \
	fi

system-deps-test: system-deps
	@missing=""; \
	[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing="$$missing rabbitmq-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	[ -x /usr/lib/postgresql/15/bin/initdb ] || missing="$$missing postgresql"; \
	command -v nginx >/dev/null || missing="$$missing nginx-light"; \
	command -v haproxy >/dev/null || missing="$$missing haproxy"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	if [ -n "$$missing" ]; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel setuptools
	touch $@

$(VENV)/.installed: $(VENV)/.created setup.py
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

web-deps:
	@if [ -f web/package.json ] && [ ! -d web/node_modules ]; then cd web && npm ci --no-audit --no-fund; fi

# Re-run npm ci when package-lock.json changed after the last install (npm keeps its copy in node_modules).
node-test-deps:
	@if [ -f tests/js/package.json ] && { [ ! -d tests/js/node_modules ] || \
	  [ tests/js/package-lock.json -nt tests/js/node_modules/.package-lock.json ]; }; then \
	  cd tests/js && npm ci --no-audit --no-fund; fi

clean:
	rm -rf $(VENV) web/node_modules tests/js/node_modules
