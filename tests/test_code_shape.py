"""The shape rules `make test` enforces besides ruff and import-linter: small modules."""

from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "hpopt"
MAX_LINES = 400


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"split these modules (one idea each): {long}"


def test_the_public_api_resolves_and_import_hpopt_stays_light():
    import subprocess
    import sys

    code = ("import sys, hpopt; assert 'tensorflow' not in sys.modules; "
            "names = [getattr(hpopt, n) for n in hpopt.__all__ if n != '__version__']; "
            "print(len(names), sorted(hpopt.__all__))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=SRC.parent, check=True).stdout
    assert out.startswith("9 ") and "run_optimization" in out and "run_trial" in out
