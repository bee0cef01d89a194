"""The README stays true: its Python examples run as written (in a fresh interpreter, in an
empty folder), except the Dask one, which needs a cluster (tests/test_dask.py covers it)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _blocks() -> dict[str, str]:
    """Each ```python block under its section heading (the first one per section)."""
    text = README.read_text()
    out = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        title = section.splitlines()[0].strip()
        m = re.search(r"```python\n(.*?)```", section, flags=re.S)
        if m:
            out[title] = m.group(1)
    return out


def test_the_readme_has_its_examples():
    blocks = _blocks()
    assert {"Example", "Streaming and checkpoints", "Distributed fits on Dask"} <= set(blocks)


@pytest.mark.parametrize("section", ["Example", "Streaming and checkpoints"])
def test_readme_example_runs_as_written(section, tmp_path):
    code = _blocks()[section]
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip()  # each example prints what it shows
