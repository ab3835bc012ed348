"""scripts/mutation-score.py, which `make mutation` and `make mutation-ci` end with: the score
per module, and a failing exit while a surviving mutant has no written reason or a written
reason names a mutant that is now killed."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from .conftest import SLOW_FILES

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("mutation_score", ROOT / "scripts" / "mutation-score.py")
score = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(score)

RESULTS = """
    es_cluster.k8s.x_scaled__mutmut_1: killed
    es_cluster.k8s.x_scaled__mutmut_2: killed
    es_cluster.k8s.x_scaled__mutmut_3: killed
    es_cluster.k8s.x_scaled__mutmut_4: survived
    es_cluster.component.xǁEsClusterǁ__init____mutmut_1: killed
    es_cluster.component.xǁEsClusterǁ__init____mutmut_2: timeout
    policy.__main__.x__workloads__mutmut_1: not checked
"""


def test_scores_per_module_and_the_unrun_are_counted_apart():
    lines, _ = score.report(RESULTS, "")
    assert lines[:5] == [
        "module                        killed  checked  score",
        "es_cluster.component               1        2  50.0%",
        "es_cluster.k8s                     3        4  75.0%",
        "all checked                        4        6  66.7%",
        "not checked in this run: 1",
    ]


def test_a_survivor_or_timeout_without_a_reason_fails_and_is_named():
    lines, code = score.report(RESULTS, "- `es_cluster.k8s.x_scaled__mutmut_4`: equivalent")
    assert code == 1
    assert lines[5:] == [
        "  survived   es_cluster.k8s.x_scaled__mutmut_4",
        "  timeout    es_cluster.component.xǁEsClusterǁ__init____mutmut_2  (no reason in tests/mutation-survivors.md)",
    ]


def test_every_survivor_with_a_reason_passes():
    reasons = "`es_cluster.k8s.x_scaled__mutmut_4`, `es_cluster.component.xǁEsClusterǁ__init____mutmut_2`: why"
    assert score.report(RESULTS, reasons)[1] == 0


def test_a_reason_names_its_mutant_exactly():
    # `..._mutmut_4` is not a reason for `..._mutmut_41`, nor the other way round.
    results = "    es_cluster.k8s.x_scaled__mutmut_41: survived\n"
    assert score.report(results, "`es_cluster.k8s.x_scaled__mutmut_4`")[1] == 1


def test_a_reason_for_a_mutant_now_killed_is_stale_and_fails():
    reasons = (
        "`es_cluster.k8s.x_scaled__mutmut_4`, `es_cluster.component.xǁEsClusterǁ__init____mutmut_2`, `es_cluster.k8s.x_scaled__mutmut_1`"
    )
    lines, code = score.report(RESULTS, reasons)
    assert code == 1
    assert lines[-1] == "  killed     es_cluster.k8s.x_scaled__mutmut_1  (stale: its reason in tests/mutation-survivors.md no longer holds)"


def test_a_reason_for_a_mutant_this_run_did_not_check_is_kept():
    # CI's share runs three modules: the reasons for the others are not stale.
    reasons = "`es_cluster.k8s.x_scaled__mutmut_4`, `es_cluster.component.xǁEsClusterǁ__init____mutmut_2`, `policy.__main__.x__workloads__mutmut_1`"
    assert score.report(RESULTS, reasons)[1] == 0


def collected_files(mutant: str) -> list[str]:
    """The unit test files in the order pytest would run them with MUTANT_UNDER_TEST set."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/unit"],
        cwd=ROOT,
        env={**os.environ, "MUTANT_UNDER_TEST": mutant},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    files: list[str] = []
    for line in out.splitlines():
        name = line.split("::")[0].rsplit("/", 1)[-1]
        if "::" in line and name not in files:
            files.append(name)
    return files


def test_under_mutmut_the_mutated_modules_exact_tests_run_first_and_the_slow_files_last():
    order = collected_files("es_cluster.impact.x_compare__mutmut_1")
    assert order[:2] == ["test_impact_exact.py", "test_impact.py"]
    assert set(order[-len(SLOW_FILES) :]) == set(SLOW_FILES)


def test_outside_mutmut_pytest_keeps_its_own_order():
    order = collected_files("")
    assert order == sorted(order)
