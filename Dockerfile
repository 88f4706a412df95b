# hpopt API server image: CUDA + cuDNN base -> Python dependencies -> code.
# Build with ./docker_build_script.sh (true = full rebuild and push, quick = code layer only).
# Run:  docker run --gpus all -p 8000:8000 -e HYPEROPT_API_KEY=... \
#         -v hpopt_results:/app/optimization_results <user>/<image>
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04

# Stage 1: the CUDA + cuDNN runtime with Python in a virtual environment.
FROM ${CUDA_IMAGE} AS base
ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv

# Stage 2: dependencies (cached until requirements.lock changes): the exact versions that
# `make lock` solved from requirements.txt for this image's Python 3.12, with the GPU build of
# TensorFlow (tensorflow[and-cuda], same range) in place of the CPU wheel. --no-deps: the lock
# lists every package, so two builds of one commit install the same set.
FROM base AS deps
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock

# Stage 3: the code; `docker_build_script.sh quick` rebuilds only this layer.
FROM deps AS app
WORKDIR /app
COPY src/ ./src/
COPY optimize_runpod.py ./
ENV HYPEROPT_HOST=0.0.0.0 \
    HYPEROPT_PORT=8000 \
    HYPEROPT_RESULTS_DIR=/app/optimization_results \
    TF_CPP_MIN_LOG_LEVEL=2
VOLUME ["/app/optimization_results"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
CMD ["python", "src/api_server.py"]
