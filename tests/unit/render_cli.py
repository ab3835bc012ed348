"""`python -m es_cluster render` run in this process (so mutation testing sees what it reaches),
with its exit code and output as a subprocess would give them."""

from __future__ import annotations

import contextlib
import io
import subprocess

from es_cluster.render import main


def render_command(*args: str) -> subprocess.CompletedProcess:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:  # argparse: --help, or a usage error
            code = e.code
    return subprocess.CompletedProcess(["python", "-m", "es_cluster", "render", *args], code, out.getvalue(), err.getvalue())
