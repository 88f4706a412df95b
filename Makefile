# Two commands do all set-up: `make run` (demo optimization) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_ARGS ?= dataset=digits trials=8 min_epochs_per_trial=2 max_epochs_per_trial=6 n_startup_trials=3 n_warmup_steps=1

.PHONY: install run test bench clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	HYPEROPT_OFFLINE=1 $(PY) src/optimizer.py $(DEMO_ARGS)

test: $(STAMP)
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache optimization_results logs
