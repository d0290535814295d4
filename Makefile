# The two commands of the README: `make run` and `make test`.
# Each creates .venv with the Python it finds (3.11+) and installs what it needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
# The suite spends most of its time waiting on servers and timers (CPU ~3.5 of 8.5 minutes in one
# process), so three workers on 2 cores halve it; each worker has its own embedded Postgres.
# One worker against an external NATS (NATS_URL): the tests reset its streams.
TEST_WORKERS ?= $(if $(NATS_URL),1,3)

.PHONY: run test browser fuzz

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/autoadvance dev

# Types first (config in pyproject.toml; cached in .mypy_cache), then the suite.
test: $(STAMP) browser
	$(VENV)/bin/python -m mypy
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) $(PYTEST_ARGS)

# The browser tests (tests/browser) drive the system Chromium. As root with apt (CI on a fresh Debian
# machine) it is installed when missing; elsewhere, without one, those tests are skipped with the reason.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || test -n "$$BROWSER_EXECUTABLE" || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium with apt-get: the browser tests will be skipped"; \
	  else echo "no chromium (install the Debian package chromium): the browser tests will be skipped"; fi; }

# The API fuzzer for longer than CI's 45 s: FUZZ_SECONDS=600 make fuzz (docs/runbooks/fuzz.md).
FUZZ_SECONDS ?= 300
fuzz: $(STAMP)
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(VENV)/bin/python -m pytest -q -p no:cacheprovider tests/integration/test_fuzz_api.py
