#!/usr/bin/env python3
"""Print the mutation score from `mutmut results --all true`: per module, killed / checked, and
every mutant that was not killed, so each can be killed by a test or given a reason in
tests/mutation-survivors.md. Exit 1 when a surviving mutant has no reason there."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REASONS = ROOT / "tests" / "mutation-survivors.md"


def main() -> int:
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    by_module: dict[str, Counter] = defaultdict(Counter)
    not_killed = []
    for line in out.splitlines():
        m = re.fullmatch(r"\s*([\w.]+)__mutmut_\d+: (.+)", line)
        if not m:
            continue
        name, status = line.strip().split(": ", 1)
        module = m.group(1).rsplit(".x_", 1)[0]
        by_module[module][status] += 1
        if status not in ("killed", "not checked", "skipped"):
            not_killed.append((name, status))
    reasons = REASONS.read_text() if REASONS.exists() else ""
    total = Counter()
    print(f"{'module':28} {'killed':>7} {'checked':>8} {'score':>6}")
    for module, c in sorted(by_module.items()):
        checked = sum(n for s, n in c.items() if s not in ("not checked", "skipped"))
        total.update(c)
        if checked:
            print(f"{module:28} {c['killed']:7} {checked:8} {c['killed'] / checked:6.1%}")
    checked = sum(n for s, n in total.items() if s not in ("not checked", "skipped"))
    if checked:
        print(f"{'all checked':28} {total['killed']:7} {checked:8} {total['killed'] / checked:6.1%}")
    print(f"not checked in this run: {total['not checked']}")
    unexplained = [(n, s) for n, s in not_killed if n not in reasons]
    for name, status in not_killed:
        print(f"  {status:10} {name}{'' if name in reasons else '  (no reason in tests/mutation-survivors.md)'}")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
