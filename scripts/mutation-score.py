#!/usr/bin/env python3
"""Print the mutation score from `mutmut results --all true`: per module, killed / checked, and
every mutant that was not killed, so each can be killed by a test or given a reason in
tests/mutation-survivors.md. Exit 1 when a surviving mutant has no reason there, or when a
mutant with a reason there was killed (the reason is stale)."""

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


def report(results: str, reasons_text: str) -> tuple[list[str], int]:
    """The score table and the verdict from `mutmut results --all true` and the reasons file."""
    by_module: dict[str, Counter] = defaultdict(Counter)
    not_killed = []
    killed = set()
    for line in results.splitlines():
        m = LINE.fullmatch(line)
        if not m:
            continue
        by_module[m["module"]][m["status"]] += 1
        if m["status"] == "killed":
            killed.add(m["name"])
        elif m["status"] not in NOT_RUN:
            not_killed.append((m["name"], m["status"]))
    # A reason names its mutant in backticks: `..._mutmut_1` must not pass for `..._mutmut_15`.
    reasons = set(re.findall(r"`([\w.]+__mutmut_\d+)`", reasons_text))
    total: Counter = Counter()
    lines = [f"{'module':28} {'killed':>7} {'checked':>8} {'score':>6}"]
    for module, c in sorted(by_module.items()):
        total.update(c)
        if checked(c):
            lines.append(f"{module:28} {c['killed']:7} {checked(c):8} {c['killed'] / checked(c):6.1%}")
    if checked(total):
        lines.append(f"{'all checked':28} {total['killed']:7} {checked(total):8} {total['killed'] / checked(total):6.1%}")
    lines.append(f"not checked in this run: {total['not checked']}")
    for name, status in not_killed:
        lines.append(f"  {status:10} {name}{'' if name in reasons else '  (no reason in tests/mutation-survivors.md)'}")
    # A reason for a mutant this run killed is stale: the code or the tests moved on.
    stale = sorted(reasons & killed)
    for name in stale:
        lines.append(f"  killed     {name}  (stale: its reason in tests/mutation-survivors.md no longer holds)")
    return lines, 1 if stale or any(name not in reasons for name, _ in not_killed) else 0


def main() -> int:
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    lines, code = report(out, REASONS.read_text() if REASONS.exists() else "")
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
