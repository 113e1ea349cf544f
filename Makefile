# Two commands do everything on a fresh machine (Python 3.11 and Java 17 present):
#   make demo   - create .venv, fetch Delta's jars, generate sample data, run every zone, print counts
#   make test   - the test suite (what .ci/run runs)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SCALE  ?= 1
SAMPLE := data/sample/stedi

.PHONY: setup demo test bench clean

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[spark,aws,test]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/lakehouse generate-sample --scale $(SCALE) --out $(SAMPLE)
	STEDI_LANDING_ROOT=$(SAMPLE) $(BIN)/lakehouse run --pipeline all
	$(BIN)/lakehouse counts

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/bench.py --scale $(SCALE)

clean:
	rm -rf .lake data reports build dist *.egg-info
