# One virtual environment for everything; torch is pinned to the CPU build by constraints.txt.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: setup demo test clean

$(BIN)/ganforge: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

setup: $(BIN)/ganforge

# The offline default: a small DCGAN on built-in procedural pizzas (about 2-3 minutes on 2 CPU cores).
demo: setup
	$(BIN)/ganforge train --out runs/demo --force

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) runs .pytest_cache
