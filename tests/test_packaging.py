"""`pip install .` gives an `hpopt` command that runs what src/optimizer.py runs.

Installing into a fresh venv downloads TensorFlow (CI does that: .ci/run); here the package is
built from a copy of the checkout without build isolation and installed with --no-deps into
a --target folder, then its `hpopt` script runs a real (tiny) optimization with that folder,
not src/, on the path: the same wheel, the same entry point, this venv's dependencies.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from api_helpers import clean_env

REPO = Path(__file__).resolve().parents[1]
DEV_TOOLS = ("pytest", "ruff", "import-linter", "schemathesis", "playwright", "axe-playwright-python", "uv")


def requirement_names(path: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line.split(">")[0].split("<")[0].split("=")[0].split(";")[0].split("[")[0].strip().lower()
            for line in lines if line and not line.startswith("-")]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The package installed with pip into <tmp>/site; its files and the environment that uses it."""
    root = tmp_path_factory.mktemp("packaging")
    checkout = root / "checkout"
    checkout.mkdir()
    for name in ("pyproject.toml", "README.md", "requirements.txt"):
        shutil.copy(REPO / name, checkout / name)
    shutil.copytree(REPO / "src", checkout / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    site = root / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                          "--no-index", "--target", str(site), str(checkout)],
                         capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    env = clean_env(PYTHONPATH=str(site))
    return {"root": root, "site": site, "env": env, "hpopt": site / "bin" / "hpopt"}


def hpopt(installed: dict, *args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(installed["hpopt"]), *args], cwd=cwd or installed["root"], env=installed["env"],
                          capture_output=True, text=True, timeout=timeout)


def test_the_hpopt_script_imports_the_installed_package_not_src(installed):
    where = subprocess.run([sys.executable, "-c", "import hpopt, hpopt.entry.cli; print(hpopt.__file__)"],
                           cwd=installed["root"], env=installed["env"], capture_output=True, text=True, timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(installed["site"]), where.stdout + where.stderr
    assert installed["hpopt"].exists()


def test_the_dashboard_files_are_installed(installed):
    shipped = {p.name for p in (REPO / "src" / "hpopt" / "api" / "dashboard").iterdir() if p.is_file()}
    assert shipped and shipped <= {p.name for p in (installed["site"] / "hpopt" / "api" / "dashboard").iterdir()}


def test_the_installed_metadata_carries_runtime_requirements_only(installed):
    metadata = next(installed["site"].glob("hpopt-*.dist-info")) / "METADATA"
    requires = [line.split(":", 1)[1].strip().lower() for line in metadata.read_text().splitlines()
                if line.startswith("Requires-Dist:")]
    names = {r.split(">")[0].split("<")[0].split("=")[0].split(";")[0].split("[")[0].strip() for r in requires}
    assert {"optuna", "fastapi", "tensorflow-cpu", "numpy"} <= names
    assert not names & set(DEV_TOOLS)
    assert (installed["site"] / "bin" / "hpopt").read_text().count("hpopt.entry.cli") == 1


def test_requirements_split_runtime_and_dev():
    runtime, dev = requirement_names(REPO / "requirements.txt"), requirement_names(REPO / "requirements-dev.txt")
    assert not set(runtime) & set(DEV_TOOLS)
    assert set(DEV_TOOLS) <= set(dev)
    assert "-r requirements.txt" in (REPO / "requirements-dev.txt").read_text().splitlines()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"hpopt": "hpopt.entry.cli:main"}
    assert project["tool"]["setuptools"]["dynamic"]["dependencies"] == {"file": ["requirements.txt"]}
    makefile = (REPO / "Makefile").read_text()
    assert "$(STAMP): requirements.txt requirements-dev.txt" in makefile and "-r requirements-dev.txt" in makefile


def test_hpopt_help_names_the_commands(installed):
    result = hpopt(installed, "--help", timeout=60)
    assert result.returncode == 0
    for command in ("hpopt run", "hpopt serve", "hpopt predict"):
        assert command in result.stdout
    run_help = hpopt(installed, "run", "--help", timeout=60)
    assert run_help.returncode == 0 and "notify_url" in run_help.stdout and "max_epochs_per_trial" in run_help.stdout
    unknown = hpopt(installed, "fly", timeout=60)
    assert unknown.returncode == 2 and "unknown command 'fly'" in unknown.stderr


def test_hpopt_run_optimizes_digits(installed):
    work = installed["root"] / "work"
    work.mkdir()
    result = hpopt(installed, "run", "dataset=digits", "trials=2", "max_epochs_per_trial=1", "min_epochs_per_trial=1",
                   "results_dir=tmp", cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("results: ")
    run_dir = Path(last.removeprefix("results: "))
    assert run_dir.parent.resolve() == (work / "tmp").resolve() and (run_dir / "summary.json").exists()


def test_predict_and_serve_forward_their_arguments(monkeypatch):
    import hpopt.api.cli
    import hpopt.cli
    from hpopt.entry.cli import main

    calls = []
    monkeypatch.setattr(hpopt.cli, "main", lambda argv: calls.append(("cli", argv)) or 0)
    monkeypatch.setattr(hpopt.api.cli, "main", lambda argv: calls.append(("serve", argv)) or 0)
    assert main(["predict", "run=results/x", "input=a.png"]) == 0
    assert main(["run", "dataset=digits"]) == 0
    assert main(["serve", "port=0"]) == 0
    assert calls == [("cli", ["predict", "run=results/x", "input=a.png"]), ("cli", ["dataset=digits"]),
                     ("serve", ["port=0"])]
