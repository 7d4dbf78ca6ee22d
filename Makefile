# KeyLedger: `make serve` starts the server on the embedded default; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: serve test bench clean

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	exec $(VENV)/bin/keyledger serve

test: $(STAMP)
	$(VENV)/bin/pytest tests

bench: $(STAMP)
	$(VENV)/bin/python bench/write_path.py
	$(VENV)/bin/python bench/validate.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
