# Two commands matter: `make run` and `make test`. Each sets up everything it needs from a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
# Debian packages the tests drive as real peers: Alertmanager, Prometheus (promtool), wrk for load;
# podman (with runc) and debootstrap build and run the image (tests/e2e/test_image.py);
# chromium and chromium-driver run the web page's browser tests (tests/support/browser.py).
DEB_PACKAGES := prometheus-alertmanager prometheus wrk podman runc debootstrap chromium chromium-driver
DEB_BINARIES := /usr/bin/prometheus-alertmanager /usr/bin/promtool /usr/bin/wrk /usr/bin/podman /usr/sbin/runc /usr/sbin/debootstrap /usr/bin/chromium /usr/bin/chromedriver
# `make run` needs only the two peers the launcher starts, not what the tests drive.
RUN_DEB_PACKAGES := prometheus prometheus-alertmanager
RUN_DEB_BINARIES := /usr/bin/prometheus /usr/bin/prometheus-alertmanager
# kubectl checks the fake Kubernetes API: any kubectl on PATH will do, else Debian's kubernetes-client.
# The PostgreSQL the storage tests run against (the same suite runs on SQLite too). A local
# server with trust auth is the expected set-up; point it elsewhere by setting the variable.
FIREBREAK_TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
export FIREBREAK_TEST_POSTGRES_URL
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint typecheck contracts pytest deps debs run-debs venv migrate bench clean

# The whole loop on loopback: the bot, the LNN service, Prometheus and Alertmanager (see
# launcher/). The launcher migrates its database itself, so the URL it migrates is the one
# it serves (.firebreak/firebreak.db unless FIREBREAK_DATABASE_URL is set).
run: run-debs venv
	$(BIN)/python -m launcher

test: deps lint typecheck contracts pytest

deps: debs venv

# $(call apt_install,BINARIES,PACKAGES): apt-get install PACKAGES when one of BINARIES is missing.
define apt_install
@missing=""; for b in $(1); do [ -x "$$b" ] || missing="yes"; done; \
if [ -n "$$missing" ]; then \
  echo "installing Debian packages: $(2)"; \
  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(2); \
fi
endef

run-debs:
	$(call apt_install,$(RUN_DEB_BINARIES),$(RUN_DEB_PACKAGES))

debs:
	$(call apt_install,$(DEB_BINARIES),$(DEB_PACKAGES))
	@if ! command -v kubectl >/dev/null; then \
	  echo "installing Debian package: kubernetes-client (kubectl)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends kubernetes-client; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*; touch $@

migrate: venv
	$(BIN)/firebreak db upgrade

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

contracts: venv
	$(BIN)/lint-imports

pytest: venv
	$(BIN)/pytest

bench: venv
	$(BIN)/python -m bench.ingest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache firebreak.db*
