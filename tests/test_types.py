"""The package is typed (it ships ``py.typed``): mypy finds no error in it or in the twistd plugin.

Libraries without type information of their own (txamqp, for one) are taken as untyped rather than
failing the check; what the package's own annotations claim is what is checked.
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_finds_no_error_in_the_package(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mypy", "--ignore-missing-imports", "--cache-dir",
                             str(tmp_path / "mypy-cache"), "wampchat", "twisted/plugins"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
