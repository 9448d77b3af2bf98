# The two commands of the README. Both set everything up first (idempotent, fast when done).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench clean-state chromium bench-tools

$(BIN)/kgrec: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev]"
	touch $(BIN)/kgrec

db/target/lib: db/pom.xml
	mvn -q -B -f db/pom.xml dependency:copy-dependencies -DoutputDirectory=target/lib
	touch db/target/lib

setup: $(BIN)/kgrec db/target/lib

demo: setup
	$(BIN)/kgrec demo

# Lint, format check and types first (seconds), then every test: fast unit tests and the ones
# marked neo4j, which run against the project's own test server (stopped again at the end).
test: setup chromium lint
	$(BIN)/pytest -q

# The explorer's browser test (tests/web, marker `browser`) drives Debian's headless chromium through
# Selenium and chromedriver. Missing ones are installed when we are root with apt-get (CI); otherwise
# this says so and the test skips with the same reason.
chromium:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium and chromium-driver for the browser test (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium chromium-driver fonts-liberation >/dev/null; \
	else echo "chromium or chromedriver missing and not root: the browser test will skip" \
	  "(as root: apt-get install chromium chromium-driver)"; fi

# The HTTP latency benchmark (bench/latency_http.py) loads the server with wrk, a load generator in C
# (a Python client on the same two cores would take a core of its own). Installed as root with apt-get.
bench-tools:
	@if command -v wrk >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing wrk for the HTTP latency benchmark (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; \
	else echo "wrk missing and not root: as root, apt-get install wrk"; exit 1; fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/vulture

clean-state:
	-$(BIN)/kgrec db stop
	rm -rf .kgrec
