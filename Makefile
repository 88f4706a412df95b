# Two commands do all set-up: `make run` (demo optimization) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# Test processes: each test module runs whole in one of them (module fixtures are shared);
# the suite waits on subprocesses (servers, jobs, workers) much of the time, so 2 overlap well on 2 cores.
TEST_WORKERS ?= 2
DEMO_ARGS ?= dataset=digits trials=8 min_epochs_per_trial=2 max_epochs_per_trial=6 n_startup_trials=3 n_warmup_steps=1

.PHONY: install run test lock bench bench-autokeras-venv clean

# requirements.txt: what the package needs at run time (pyproject.toml reads it);
# requirements-dev.txt: that plus the test, lint and lock tools.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	HYPEROPT_OFFLINE=1 $(PY) src/optimizer.py $(DEMO_ARGS)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	PYTHONPATH=src $(VENV)/bin/lint-imports
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

# Lock files of exact versions for the two Docker images (uv pip compile, for each image's
# Python and platform). The API image installs the GPU build of TensorFlow
# (tensorflow[and-cuda], requirements.txt's range) in place of tensorflow-cpu; the GPU worker's
# base image already holds TensorFlow, so its lock is solved with that very version.
IMAGE_PYTHON ?= 3.12
GPU_PROXY_PYTHON ?= 3.11
LOCK_PLATFORM ?= x86_64-manylinux_2_28
UV_COMPILE = UV_PYTHON_DOWNLOADS=never $(VENV)/bin/uv pip compile --quiet --custom-compile-command 'make lock' --python-platform $(LOCK_PLATFORM)
lock: $(STAMP)
	sed -E -e 's/^tensorflow-cpu([^;]*);.*$$/tensorflow[and-cuda]\1/' -e '/^tensorflow[<>=!~ ]/d' \
	    requirements.txt > .lock-image.in
	$(UV_COMPILE) --python-version $(IMAGE_PYTHON) .lock-image.in -o requirements.lock
	{ cat gpu-proxy/requirements.txt; \
	  sed -n -E 's|^ARG BASE_IMAGE=tensorflow/tensorflow:([0-9.]+).*|tensorflow==\1|p' gpu-proxy/Dockerfile; } > .lock-gpu-proxy.in
	$(UV_COMPILE) --python-version $(GPU_PROXY_PYTHON) .lock-gpu-proxy.in -o gpu-proxy/requirements.lock
	rm -f .lock-image.in .lock-gpu-proxy.in

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
