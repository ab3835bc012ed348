"""`make bench-scale` at a small size (`make test-bench`, outside `make test` for CI's budget): 30 kwok nodes (3 master, 24 data, 3 unlabelled) and a client
Deployment of 3, in a cluster of its own. (At 60 nodes the two one-pod-at-a-time rolls alone took
over five minutes of CI; 30 keeps every behaviour below, with a "10%" batch of 3.) It proves the benchmark runs and prints its figures;
it asserts nothing about time. What it asserts is behaviour the figures rest on: every workload
was ready at each step, the real DaemonSet controller took down at most as many data pods at
once as maxUnavailable allows (and more than one when it allows more), and labelling one more
data node draws the component's warning about the planned count."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODES = 30
pytestmark = pytest.mark.skipif(
    not os.environ.get("ES_CLUSTER_E2E_BENCH"), reason="the benchmark's test runs in `make test-bench` (docs/tests.md says why)"
)


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path_factory.mktemp("bench") / "figures.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--nodes", str(NODES), "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-8000:]}"
    print(proc.stdout)  # the figures, in CI's log
    return proc, json.loads(out.read_text())


def test_it_prints_every_figure_for_both_ways(bench):
    proc, figures = bench
    assert figures["shape"] == {"masters": 3, "data": 24, "clients": 3, "unlabelled": 3}
    for key in ("up", "roll_1", "roll_10pct", "noop_preview"):
        assert figures[f"pulumi_{key}_s"] > 0 and figures[f"floor_{key}_s"] > 0
    assert figures["pulumi_one_setting_preview_s"] > 0 and figures["render_ms"] > 0
    for who in ("pulumi", "floor"):
        assert set(figures[f"{who}_peak_mib"]) == {"kube-apiserver", "etcd", "kwok"}
        assert all(v > 0 for v in figures[f"{who}_peak_mib"].values())
    for label in (
        "deploy until every workload is ready",
        "image roll, maxUnavailable 1",
        "no-op preview",
        "peak RSS during the pulumi phase",
    ):
        assert label in proc.stdout


def test_the_controller_takes_down_what_max_unavailable_allows(bench):
    _, figures = bench
    batch = math.ceil(24 * 10 / 100)  # "10%" of 24, rounded up as the DaemonSet controller does
    for who in ("pulumi", "floor"):
        assert figures[f"{who}_roll_1_peak_unavailable"] <= 1
        assert 1 < figures[f"{who}_roll_10pct_peak_unavailable"] <= batch


def test_labelling_one_more_data_node_draws_the_count_warning(bench):
    _, figures = bench
    assert figures["drift_warning"] is not None
    assert (
        # The data group rolls "10%" (3 of 24) at that point, so its budget is 24 - 3.
        "nodeGroups.data.replicas is 24, but 25 node(s) match the nodeSelector of DaemonSet es-bench/es-logging-data: "
        "its disruption budget (minAvailable 21) lets 4 pod(s) be evicted at once, not 3; "
        "set nodeGroups.data.replicas to 25 and run pulumi up."
    ) in figures["drift_warning"]
