"""Run a function of a test file in a fresh interpreter (the fuzz tests' crash harness).

A crash -- a segfault, an abort -- in the child shows as its exit status and the Python
stack ``PYTHONFAULTHANDLER`` prints, not as a dead test session.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = (
    "import importlib.util, os, sys\n"
    "sys.path.insert(0, os.path.dirname(sys.argv[1]))\n"  # the test file imports this module
    "name = '_child_of_' + os.path.basename(sys.argv[1])[:-3]\n"
    "spec = importlib.util.spec_from_file_location(name, sys.argv[1])\n"
    "mod = sys.modules[spec.name] = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(mod)\n"
    "sys.exit(getattr(mod, sys.argv[2])(*sys.argv[3:]))\n"
)


def run_child(test_file: str, function: str, *args: str, env=None, timeout: float = 600.0):
    """Run ``function(*args)`` of ``test_file`` in a fresh interpreter; return
    ``(CompletedProcess, report)``, the report holding the exit status, the time and the
    output (stderr shortened around its middle: a fault's stack comes first, then a long
    list of modules). A child killed by ``timeout`` exits -9 with what it wrote until then."""
    env = dict(os.environ if env is None else env)
    env["PYTHONFAULTHANDLER"] = "1"  # a segfault prints the Python stack
    start = time.perf_counter()
    command = [sys.executable, "-c", _CHILD, test_file, function, *args]
    try:
        out = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:

        def text(b):
            return b.decode(errors="replace") if isinstance(b, bytes) else b or ""

        out = subprocess.CompletedProcess(command, -9, text(exc.stdout), text(exc.stderr))
    elapsed = time.perf_counter() - start
    err = out.stderr
    if len(err) > 8000:
        err = err[:6000] + "\n[...]\n" + err[-2000:]
    report = (
        f"child {function}{args} exited {out.returncode} after {elapsed:.1f} s\n"
        f"--- stdout ---\n{out.stdout[-12000:]}\n--- stderr ---\n{err}"
    )
    return out, report
