# The two commands of the README. Both set everything up first (idempotent, fast when done).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test bench clean-state

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

test: setup
	$(BIN)/pytest -q

clean-state:
	-$(BIN)/kgrec db stop
	rm -rf .kgrec
