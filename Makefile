# The two commands a newcomer runs: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test sim bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/opsconsole demo $(ARGS)

sim: $(STAMP)
	$(BIN)/opsconsole sim $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

bench: $(STAMP)
	$(BIN)/python bench/aggregator.py
	$(BIN)/python bench/terminal.py
	$(BIN)/python bench/prometheus_vs_local.py
	$(BIN)/python bench/replay.py

clean:
	rm -rf $(VENV) build *.egg-info
