"""The code is ruff clean: ``ruff check`` and ``ruff format --check`` (pyproject's settings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["fastgd", "tests", "bench", "docs"]


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff(command):
    out = subprocess.run(
        [sys.executable, "-m", "ruff", *command, *TARGETS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
