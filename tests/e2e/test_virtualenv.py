"""The stack's program runs in Pulumi.yaml's virtualenv (.venv), whatever `python` is first on
PATH: the toolchain's Python host reads it from the run request (scripts/langhost)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import Stack, seed_config


def test_preview_runs_in_the_project_virtualenv_without_it_on_path(make_stack):
    stack: Stack = make_stack("venv", seed_config())
    venv_bin = str(Path(sys.executable).parent)
    stack.env["PATH"] = os.pathsep.join(p for p in stack.env["PATH"].split(os.pathsep) if p != venv_bin)
    # The pythons now first on PATH lack the SDK, so only the virtualenv can run the program. The
    # host would try python3 first, then python: both are probed.
    for name in ("python3", "python"):
        try:
            probe = subprocess.run([name, "-c", "import pulumi"], env=stack.env, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            continue  # not on PATH at all: it cannot run the program either
        assert probe.returncode != 0, f"the {name} on PATH has pulumi installed; this test would prove nothing"
    proc = stack.pulumi("preview", "--diff")
    assert "es-logging-daemonset-es-logging-master" in proc.stdout, proc.stdout
