# The two commands a newcomer runs: `make demo` and `make test`.
# The venv's interpreter: the system's python3 when it is 3.11 or newer and can make a venv, else the first python3
# on PATH; `make clean && make PY=python3.12 demo` picks another. Distributions build theirs with profile-guided and
# link-time optimisation (Debian's ran the console's start-up 10-15 % faster here than a default pyenv build, which
# has neither), and it is the one glances, bench/terminal.py's reference, runs on.
SYSTEM_PY := /usr/bin/python3
PY ?= $(shell $(SYSTEM_PY) -c 'import ensurepip, sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && echo $(SYSTEM_PY) || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV := $(VENV)/.installed-dev

.PHONY: demo test test-fast sim bench clean

# the demo needs only the package; the tests add the dev extras (moto, hypothesis, import-linter, ...)
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $(STAMP)

$(DEV): $(STAMP)
	$(BIN)/pip install -q -e '.[dev]'
	touch $(DEV)

demo: $(STAMP)
	$(BIN)/opsconsole demo $(ARGS)

sim: $(STAMP)
	$(BIN)/opsconsole sim $(ARGS)

# the suite waits on loopback HTTP and virtual clocks more than it computes: 3 workers on 2 cores
test: $(DEV)
	$(BIN)/python -m pytest -q -n 3 $(ARGS)

# the inner loop: everything but the tests that start a real prometheus, promtool, alertmanager or moto
test-fast: $(DEV)
	$(BIN)/python -m pytest -q -n 3 -m "not external" $(ARGS)

bench: $(DEV)
	$(BIN)/python bench/aggregator.py
	$(BIN)/python bench/terminal.py
	$(BIN)/python bench/prometheus_vs_local.py
	$(BIN)/python bench/replay.py

clean:
	rm -rf $(VENV) build *.egg-info
