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


# Functions are mangled as x_<name>, methods as xǁ<Class>ǁ<name>.
LINE = re.compile(r"\s*(?P<name>(?P<module>[\w.]+?)\.x[_ǁ]\w+__mutmut_\d+): (?P<status>.+)")
NOT_RUN = ("not checked", "skipped")


def checked(c: Counter) -> int:
    return sum(n for s, n in c.items() if s not in NOT_RUN)


def main() -> int:
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    by_module: dict[str, Counter] = defaultdict(Counter)
    not_killed = []
    for line in out.splitlines():
        m = LINE.fullmatch(line)
        if not m:
            continue
        by_module[m["module"]][m["status"]] += 1
        if m["status"] not in ("killed", *NOT_RUN):
            not_killed.append((m["name"], m["status"]))
    # A reason names its mutant in backticks: `..._mutmut_1` must not pass for `..._mutmut_15`.
    reasons = set(re.findall(r"`([\w.]+__mutmut_\d+)`", REASONS.read_text())) if REASONS.exists() else set()
    total: Counter = Counter()
    print(f"{'module':28} {'killed':>7} {'checked':>8} {'score':>6}")
    for module, c in sorted(by_module.items()):
        total.update(c)
        if checked(c):
            print(f"{module:28} {c['killed']:7} {checked(c):8} {c['killed'] / checked(c):6.1%}")
    if checked(total):
        print(f"{'all checked':28} {total['killed']:7} {checked(total):8} {total['killed'] / checked(total):6.1%}")
    print(f"not checked in this run: {total['not checked']}")
    for name, status in not_killed:
        print(f"  {status:10} {name}{'' if name in reasons else '  (no reason in tests/mutation-survivors.md)'}")
    return 1 if any(name not in reasons for name, _ in not_killed) else 0


if __name__ == "__main__":
    sys.exit(main())
