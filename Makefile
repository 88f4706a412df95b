# Two commands do all set-up: `make run` (demo optimization) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# Test processes: each test module runs whole in one of them (module fixtures are shared);
# the suite waits on subprocesses (servers, jobs, workers) much of the time, so 2 overlap well on 2 cores.
TEST_WORKERS ?= 2
DEMO_ARGS ?= dataset=digits trials=8 min_epochs_per_trial=2 max_epochs_per_trial=6 n_startup_trials=3 n_warmup_steps=1

.PHONY: install run test bench bench-autokeras-venv clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	HYPEROPT_OFFLINE=1 $(PY) src/optimizer.py $(DEMO_ARGS)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	PYTHONPATH=src $(VENV)/bin/lint-imports
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

# Benchmarks (bench/README.md): installs requirements-bench.txt, runs the quick start-up
# benchmark and prints the long ones (tens of minutes; run them on a quiet machine).
BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(PY) -m pip install --quiet -r requirements-bench.txt
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) bench/startup.py
	@echo
	@echo "Longer benchmarks (each writes bench/results/<name>.json; see bench/README.md):"
	@echo "  $(PY) bench/search_efficiency.py        # 6 tools x 3 seeds x 240 s: about 80 min"
	@echo "      (its autokeras peer needs 'make bench-autokeras-venv' first; without it, it is skipped)"
	@echo "  $(PY) bench/search_efficiency.py --budget 30 --seeds 1   # smoke run, about 4 min"
	@echo "  $(PY) bench/workers.py                  # workers=1 vs 2 on digits: about 2 min"
	@echo "  $(PY) bench/overhead.py                 # run_trial vs bare model.fit"
	@echo "  $(PY) bench/api_latency.py              # GET /jobs/{id} latency while jobs train"

# AutoKeras 3.0 needs an older keras than .venv carries: the search-efficiency benchmark runs
# its autokeras peer with this venv's python (requirements-autokeras.txt says why each pin).
AK_VENV ?= .venv-autokeras
$(AK_VENV)/.installed-stamp: requirements-autokeras.txt
	test -x $(AK_VENV)/bin/python || $(PYTHON) -m venv $(AK_VENV)
	$(AK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AK_VENV)/bin/python -m pip install --quiet -r requirements-autokeras.txt
	touch $@

bench-autokeras-venv: $(AK_VENV)/.installed-stamp

clean:
	rm -rf $(VENV) .pytest_cache optimization_results logs
