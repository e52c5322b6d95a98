# The two set-up commands of the README: `make demo` and `make test`. Both install what is missing first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
# Debian packages the kiosk, its tests and its demo need (checked one by one; only missing ones are installed).
# libatomic1: Playwright's driver (node) needs it and a minimal Debian lacks it; faketime: the shifted-clock runs;
# gammu: the command line technicians try a modem with (`gammu -c FILE identify`, docs/sms.md), also run by the tests
# against the virtual modem (the kiosk itself sends through python-gammu).
# postgresql: central's national store, started per test session by tests/support/postgres_server.py (and psql).
# espeak-ng: the display's spoken calls in Vietnamese (kiosk/speech.py; without it the display only chimes).
APT_PACKAGES := mosquitto mosquitto-clients libzbar0 fonts-dejavu-core chromium socat iproute2 systemd cage espeak-ng \
	libatomic1 faketime postgresql gammu
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=
# The suite runs on TEST_WORKERS processes (pytest-xdist), a test file to a worker: most of its time is spent waiting
# on real processes (brokers, kiosks, Chromium), so two workers on CI's two cores halve the wall time.
TEST_WORKERS ?= 2

.PHONY: deps system-deps python-deps axe screens-docs test demo bench clean

deps: system-deps python-deps axe

# axe-core (accessibility checks of the citizen screens, injected into Chromium by the web tests), project-local.
AXE := .cache/node_modules/axe-core/axe.min.js
AXE_VERSION := 4.14.1
axe: $(AXE)

$(AXE):
	@mkdir -p .cache
	npm install --no-audit --no-fund --prefix .cache axe-core@$(AXE_VERSION)

# The screenshots the browser tests leave in test-artifacts/screens/ become the ones docs/screens.md and
# docs/central.md show. Only this target writes into docs/: a test run never changes a tracked file.
screens-docs: deps
	rm -rf test-artifacts/screens
	$(PY) -m pytest tests/web tests/central/test_screens.py tests/security/test_identity_checkin.py -q
	mkdir -p docs/screens && cp test-artifacts/screens/*.png docs/screens/

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if ! $(PYTHON) -c 'import venv, ensurepip' 2>/dev/null; then missing="$$missing python3-venv"; fi; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		echo "==> installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "==> Debian packages present"; fi

python-deps: $(STAMP)

$(STAMP): pyproject.toml
	@echo "==> Python environment in $(VENV)"
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[test]'
	@touch $@

# The date-sensitive tests (marker `dates`) run again under a clock a year ahead and a year back (libfaketime):
# none of them may depend on today's date.
CLOCK_SHIFTS := +365d -365d

test: deps
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)
	@for shift in $(CLOCK_SHIFTS); do \
		echo "==> date-sensitive tests under a clock shifted by $$shift"; \
		faketime -f "$$shift" $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m dates $(PYTEST_ARGS) || exit 1; \
	done

demo: deps
	$(VENV)/bin/vaxkiosk demo

bench: deps
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info .cache
