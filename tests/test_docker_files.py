"""The Dockerfiles and docker_build_script.sh, checked without a Docker engine: both
Dockerfiles are parsed (stages, start command, port, volume, install from the lock file, the
lock pinning every requirement) and the script runs against a stand-in ``docker`` that
records what it was asked to do."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hpopt.api.settings import ApiSettings

REPO = Path(__file__).resolve().parents[1]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


@pytest.fixture(scope="module")
def stages() -> list[dict]:
    """The Dockerfile's stages, each with its FROM arguments and instructions."""
    result: list[dict] = []
    for word, rest in instructions((REPO / "Dockerfile").read_text()):
        if word == "FROM":
            image, _, name = rest.partition(" AS ")
            result.append({"from": image.strip(), "name": name.strip(), "steps": []})
        elif result:
            result[-1]["steps"].append((word, rest))
    return result


def steps(stage: dict, word: str) -> list[str]:
    return [rest for w, rest in stage["steps"] if w == word]


def test_three_stages_cuda_then_dependencies_then_code(stages):
    assert [s["name"] for s in stages] == ["base", "deps", "app"]
    cuda_arg = re.search(r"ARG CUDA_IMAGE=(\S+)", (REPO / "Dockerfile").read_text()).group(1)
    assert stages[0]["from"] == "${CUDA_IMAGE}" and cuda_arg.startswith("nvidia/cuda:") and "cudnn" in cuda_arg
    assert stages[1]["from"] == "base" and stages[2]["from"] == "deps"
    assert steps(stages[1], "COPY") == ["requirements.lock ./"]
    assert any(copy.startswith("src/") for copy in steps(stages[2], "COPY"))
    for stage in stages:
        for copy in steps(stage, "COPY"):
            assert (REPO / copy.split()[0]).exists(), copy


def requirement_names(path: Path) -> set[str]:
    """Normalized project names of a requirements file (markers, extras and ranges dropped)."""
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line).group(0)).lower())
    return names


def pins(lock: Path) -> dict[str, str]:
    """name -> exact version of every ``name==version`` line of a lock file."""
    found = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)", line)
        if match:
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
        elif line.strip() and not line.lstrip().startswith("#"):
            raise AssertionError(f"{lock.name}: not an exact pin: {line!r}")
    return found


def test_api_image_installs_exactly_the_lock(stages):
    install = " ".join(steps(stages[1], "RUN"))
    assert re.search(r"pip install --no-deps -r requirements\.lock\b", install), install
    assert "requirements.txt" not in install
    assert "!requirements.lock" not in (REPO / ".dockerignore").read_text()  # not kept out of the context


def test_api_lock_pins_every_requirement_with_the_gpu_tensorflow_in_range():
    """requirements.txt's tensorflow-cpu becomes tensorflow[and-cuda] in the image (same range)."""
    locked = pins(REPO / "requirements.lock")
    wanted = {"tensorflow" if name == "tensorflow-cpu" else name for name in requirement_names(REPO / "requirements.txt")}
    assert wanted <= set(locked), sorted(wanted - set(locked))
    assert "tensorflow-cpu" not in locked and "nvidia-cudnn-cu12" in locked  # the GPU build and its CUDA wheels
    tf_range = re.search(r"^tensorflow-cpu>=(\S+?),<(\S+?)\s*;", (REPO / "requirements.txt").read_text(), re.M)
    version = tuple(int(part) for part in locked["tensorflow"].split(".")[:2])
    low, high = (tuple(int(p) for p in tf_range.group(i).split(".")[:2]) for i in (1, 2))
    assert low <= version < high
    for dev_tool in ("pytest", "ruff", "schemathesis", "playwright"):  # the image carries runtime packages only
        assert dev_tool not in locked


def test_gpu_proxy_image_installs_its_lock_solved_with_the_base_images_tensorflow():
    dockerfile = (REPO / "gpu-proxy" / "Dockerfile").read_text()
    runs = " ".join(rest for word, rest in instructions(dockerfile) if word == "RUN")
    copies = [rest for word, rest in instructions(dockerfile) if word == "COPY"]
    assert re.search(r"pip install --no-deps -r gpu-proxy/requirements\.lock\b", runs), runs
    assert "gpu-proxy/requirements.lock gpu-proxy/requirements.lock" in copies
    assert "!gpu-proxy/requirements.lock" in (REPO / "gpu-proxy" / "Dockerfile.dockerignore").read_text()
    locked = pins(REPO / "gpu-proxy" / "requirements.lock")
    wanted = requirement_names(REPO / "gpu-proxy" / "requirements.txt")
    assert wanted <= set(locked), sorted(wanted - set(locked))
    base_tf = re.search(r"ARG BASE_IMAGE=tensorflow/tensorflow:([0-9.]+)", dockerfile).group(1)
    assert locked["tensorflow"] == base_tf  # numpy & co. solved to suit the TensorFlow already in the image


def test_make_lock_regenerates_both_lock_files_with_uv():
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile[makefile.index("\nlock:"):]
    recipe = recipe[:recipe.index("\n\n")]
    assert "-o requirements.lock" in recipe and "-o gpu-proxy/requirements.lock" in recipe
    assert "uv pip compile" in makefile and re.search(r"^uv[<>=]", (REPO / "requirements-dev.txt").read_text(), re.M)


def test_starts_the_api_server_on_the_exposed_port_with_a_results_volume(stages):
    app = stages[-1]
    assert steps(app, "CMD") == ['["python", "src/api_server.py"]']
    env = " ".join(steps(app, "ENV"))
    port = re.search(r"HYPEROPT_PORT=(\d+)", env).group(1)
    assert steps(app, "EXPOSE") == [port] and int(port) == ApiSettings().port
    assert "HYPEROPT_HOST=0.0.0.0" in env and "HYPEROPT_RESULTS_DIR=/app/optimization_results" in env
    assert steps(app, "VOLUME") == ['["/app/optimization_results"]']
    assert any(f"127.0.0.1:{port}/health" in h for h in steps(app, "HEALTHCHECK"))


def test_dockerignore_keeps_secrets_and_builds_out():
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git", "optimization_results"} <= set(ignored)


@pytest.fixture
def script_dir(tmp_path):
    shutil.copy(REPO / "docker_build_script.sh", tmp_path)
    (tmp_path / ".env").write_text('DOCKER_HUB_USER=alice\nIMAGE_NAME="hpopt-gpu"\nHYPEROPT_TRIALS=5\n')
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    docker = fake_bin / "docker"
    docker.write_text('#!/usr/bin/env bash\necho "docker $*" >> "$DOCKER_LOG"\n')
    docker.chmod(0o755)
    return tmp_path


def run_script(folder: Path, *args: str, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DOCKER_HUB_USER", "DOCKER_HUB_USERNAME", "IMAGE_NAME", "IMAGE_TAG")}
    env.update(extra_env or {})
    env.update(PATH=f"{folder / 'bin'}:{env['PATH']}", DOCKER_LOG=str(folder / "docker.log"))
    return subprocess.run(["bash", str(folder / "docker_build_script.sh"), *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_build_script_full_and_quick(script_dir):
    assert run_script(script_dir, "true").returncode == 0
    assert run_script(script_dir, "quick").returncode == 0
    calls = (script_dir / "docker.log").read_text().splitlines()
    assert calls == [
        "docker build --pull --no-cache --target app -t alice/hpopt-gpu:latest .",
        "docker push alice/hpopt-gpu:latest",
        "docker build --target app -t alice/hpopt-gpu:latest .",
        "docker push alice/hpopt-gpu:latest",
    ]


def test_build_script_refuses_bad_use(script_dir):
    bad = run_script(script_dir, "maybe")
    assert bad.returncode == 2 and "usage" in bad.stderr
    (script_dir / ".env").write_text("IMAGE_NAME=x\n")
    missing = run_script(script_dir, "quick")
    assert missing.returncode == 2 and "DOCKER_HUB_USER" in missing.stderr
    assert not (script_dir / "docker.log").exists()


def test_build_script_takes_the_original_guides_variable_and_image_name(script_dir):
    """The original system's guide: `DOCKER_HUB_USERNAME=... ./docker_build_script.sh true`,
    image `hyperparameter-optimizer`."""
    (script_dir / ".env").write_text("HYPEROPT_TRIALS=5\n")
    assert run_script(script_dir, "true", extra_env={"DOCKER_HUB_USERNAME": "bob"}).returncode == 0
    (script_dir / ".env").write_text("DOCKER_HUB_USERNAME=carol\n")
    assert run_script(script_dir, "quick").returncode == 0
    calls = (script_dir / "docker.log").read_text().splitlines()
    assert calls == [
        "docker build --pull --no-cache --target app -t bob/hyperparameter-optimizer:latest .",
        "docker push bob/hyperparameter-optimizer:latest",
        "docker build --target app -t carol/hyperparameter-optimizer:latest .",
        "docker push carol/hyperparameter-optimizer:latest",
    ]
