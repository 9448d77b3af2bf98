# The two commands of the README. Both set everything up first (idempotent, fast when done).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench clean-state

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
test: setup lint
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/vulture

clean-state:
	-$(BIN)/kgrec db stop
	rm -rf .kgrec
