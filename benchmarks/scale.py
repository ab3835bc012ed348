"""At scale, by simulation: the field report's layout on N kwok nodes (3 labelled master, 80% data,
the rest unlabelled; a client Deployment of N/10), deployed by es-cluster's `pulumi up` and by
the floor, `kubectl apply` of the same rendered objects plus `kubectl rollout status`. Prints
figures and their ratios from the same run; asserts nothing about time.

    make bench-scale                   # 500 nodes
    make bench-scale NODES=60          # the size CI runs (tests/e2e/test_bench_scale.py)
    .venv/bin/python benchmarks/scale.py --nodes 60 --json figures.json

The cluster has its own state folder and ports (.state/bench-scale, 16480 up), no real nodes,
and is stopped at the end. Each image roll also samples the data DaemonSet's
status.numberUnavailable, to show how many pods the controller really took down at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from es_cluster import parse_stack_config, validate  # noqa: E402
from es_cluster.render import render, write  # noqa: E402
from es_cluster.stack import config_from_file  # noqa: E402
from tests.e2e.conftest import Stack, run, toolchain_env, wait_until  # noqa: E402

# ES_BENCH_STATE and ES_BENCH_PORT_BASE let two runs share a machine.
STATE = Path(os.environ.get("ES_BENCH_STATE", ROOT / ".state" / "bench-scale"))
PORT_BASE = os.environ.get("ES_BENCH_PORT_BASE", "16480")
NAMESPACE = "es-bench"
IMAGES = ["localhost:5000/es-kubernetes@sha256:" + c * 64 for c in "abcd"]
MASTERS = 3


def layout(nodes: int) -> dict[str, int]:
    data = round(nodes * 0.8)
    return {"masters": MASTERS, "data": data, "clients": max(2, round(nodes / 10)), "unlabelled": nodes - MASTERS - data}


def stack_config(shape: dict[str, int], image: str, data_max_unavailable: int | str = 1) -> dict[str, Any]:
    """Pulumi.local.yaml (the field report's layout) sized for the simulated cluster."""
    config = config_from_file(ROOT / "Pulumi.local.yaml")
    config["namespace"] = NAMESPACE
    config["image"] = {"reference": image}
    config["nodeGroups"]["data"]["replicas"] = shape["data"]
    config["nodeGroups"]["data"]["maxUnavailable"] = data_max_unavailable
    config["nodeGroups"]["client"]["replicas"] = shape["clients"]
    return config


class Figures(dict):
    """The figures so far: each one is printed to stderr as it is measured, and written to the
    JSON file at once, so a long run that is stopped still leaves what it measured."""

    def __init__(self, path: Path | None, **initial: Any):
        super().__init__(**initial)
        self.path = path

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        print(
            f"bench-scale: {key} = {value:.2f}" if isinstance(value, float) else f"bench-scale: {key} = {value}",
            file=sys.stderr,
            flush=True,
        )
        if self.path is not None:
            self.path.write_text(json.dumps(self, indent=2))


def timed(fn, *args, **kwargs) -> tuple[float, Any]:
    start = time.monotonic()
    result = fn(*args, **kwargs)
    return time.monotonic() - start, result


class Cluster:
    def __init__(self, env: dict[str, str], nodes: int, shape: dict[str, int]):
        self.env = {
            **env,
            "ES_CLUSTER_STATE": str(STATE),
            "ES_CLUSTER_PORT_BASE": PORT_BASE,
            "KWOK_NODES": str(nodes),
            "KWOK_MASTER_NODES": str(shape["masters"]),
            "KWOK_DATA_NODES": str(shape["data"]),
            "REAL_NODES": "0",
            "KUBECONFIG": str(STATE / "kubeconfig"),
        }

    def script(self, action: str) -> None:
        run([str(ROOT / "scripts" / "cluster.sh"), action], env=self.env, timeout=1800)

    def kubectl(self, *args: str, check: bool = True, timeout: int = 3600) -> subprocess.CompletedProcess:
        return run(["kubectl", *args], env=self.env, check=check, timeout=timeout)

    def pid(self, component: str) -> int:
        return int((STATE / "cluster" / f"{component}.pid").read_text())

    def reset_peaks(self) -> None:
        for c in ("kube-apiserver", "etcd", "kwok"):
            Path(f"/proc/{self.pid(c)}/clear_refs").write_text("5")  # resets VmHWM to the current RSS

    def peaks_mib(self) -> dict[str, float]:
        peaks = {}
        for c in ("kube-apiserver", "etcd", "kwok"):
            for line in Path(f"/proc/{self.pid(c)}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[c] = int(line.split()[1]) / 1024
        return peaks

    def workloads_ready(self, shape: dict[str, int], image: str) -> bool:
        """Every workload at its size, every pod on `image`, updated and ready."""
        ds = {d["metadata"]["name"]: d for d in json.loads(self.kubectl("get", "ds", "-n", NAMESPACE, "-o", "json").stdout)["items"]}
        deploys = json.loads(self.kubectl("get", "deploy", "-n", NAMESPACE, "-o", "json").stdout)["items"]
        want = {"es-logging-master": shape["masters"], "es-logging-data": shape["data"]}
        for name, count in want.items():
            s = ds.get(name, {}).get("status", {})
            if (s.get("desiredNumberScheduled"), s.get("updatedNumberScheduled"), s.get("numberReady")) != (count, count, count):
                return False
            if ds[name]["spec"]["template"]["spec"]["containers"][0]["image"] != image:
                return False
        if len(deploys) != 1:
            return False
        s = deploys[0]["status"]
        return (s.get("updatedReplicas"), s.get("readyReplicas"), s.get("replicas")) == (shape["clients"],) * 3 and deploys[0]["spec"][
            "template"
        ]["spec"]["containers"][0]["image"] == image

    def wait_ready(self, shape: dict[str, int], image: str) -> None:
        wait_until("every workload ready on " + image, lambda: self.workloads_ready(shape, image), timeout=3600, interval=0.5)


class UnavailableSampler:
    """The most data pods the DaemonSet controller had unavailable at once during a roll."""

    def __init__(self, cluster: Cluster):
        self.cluster, self.peak, self._stop = cluster, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            out = self.cluster.kubectl(
                "get", "ds", "es-logging-data", "-n", NAMESPACE, "-o", "jsonpath={.status.numberUnavailable}", check=False
            ).stdout
            if out.strip().isdigit():
                self.peak = max(self.peak, int(out))
            self._stop.wait(0.2)

    def __enter__(self) -> UnavailableSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def render_dir(config: dict[str, Any], out: Path) -> float:
    """Write the objects of `config` to `out`; the seconds validation and the specs took."""
    start = time.perf_counter()
    manifests = render(validate(parse_stack_config(config)))
    elapsed = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.yaml"):
        old.unlink()
    write(manifests, out)
    return elapsed


def floor(cluster: Cluster, shape: dict[str, int], work: Path, figures: dict[str, Any], roll_1: bool = True) -> None:
    """kubectl apply + rollout status of the same objects: what any tool must at least spend."""
    out = work / "floor"

    def apply_and_wait(config: dict[str, Any], image: str, key: str, sample: bool = False) -> None:
        render_dir(config, out)
        start = time.monotonic()
        with UnavailableSampler(cluster) if sample else contextlib.nullcontext() as sampler:
            cluster.kubectl("apply", "-f", str(out))
            cluster.wait_ready(shape, image)
        figures[f"floor_{key}_s"] = time.monotonic() - start
        if sampler is not None:
            figures[f"floor_{key}_peak_unavailable"] = sampler.peak

    cluster.reset_peaks()
    apply_and_wait(stack_config(shape, IMAGES[0]), IMAGES[0], "up")
    # `out` still holds what was just applied: diffing it is a no-op preview.
    figures["floor_noop_preview_s"] = statistics.median(timed(cluster.kubectl, "diff", "-f", str(out), check=False)[0] for _ in range(3))
    if roll_1:
        apply_and_wait(stack_config(shape, IMAGES[1]), IMAGES[1], "roll_1", sample=True)
    apply_and_wait(stack_config(shape, IMAGES[2], "10%"), IMAGES[2], "roll_10pct", sample=True)
    figures["floor_peak_mib"] = cluster.peaks_mib()
    t, _ = timed(cluster.kubectl, "delete", "namespace", NAMESPACE, "--wait=true", "--timeout=1800s")
    figures["floor_delete_s"] = t


def with_pulumi(cluster: Cluster, shape: dict[str, int], work: Path, figures: dict[str, Any], roll_1: bool = True) -> None:
    cluster.reset_peaks()
    (work / "stack").mkdir()
    stack = Stack(work / "stack", cluster.env, "bench", stack_config(shape, IMAGES[0]))

    def up_and_wait(image: str) -> subprocess.CompletedProcess:
        proc = stack.up()
        cluster.wait_ready(shape, image)
        return proc

    figures["pulumi_up_s"], _ = timed(up_and_wait, IMAGES[0])
    figures["pulumi_noop_preview_s"] = statistics.median(timed(stack.pulumi, "preview", "--expect-no-changes")[0] for _ in range(3))
    changed = stack_config(shape, IMAGES[0])
    changed["nodeGroups"]["client"]["heapSize"] = "128m"
    stack.write_config(changed)
    figures["pulumi_one_setting_preview_s"], _ = timed(stack.pulumi, "preview")
    if roll_1:
        stack.write_config(stack_config(shape, IMAGES[1]))
        with UnavailableSampler(cluster) as sampler:
            figures["pulumi_roll_1_s"], _ = timed(up_and_wait, IMAGES[1])
        figures["pulumi_roll_1_peak_unavailable"] = sampler.peak
    stack.write_config(stack_config(shape, IMAGES[2], "10%"))
    with UnavailableSampler(cluster) as sampler:
        figures["pulumi_roll_10pct_s"], _ = timed(up_and_wait, IMAGES[2])
    figures["pulumi_roll_10pct_peak_unavailable"] = sampler.peak
    figures["pulumi_peak_mib"] = cluster.peaks_mib()

    # Scaling out by labelling a node, without changing replicas: the next `up --refresh` reads
    # the DaemonSet's new node count and says what is wrong with the planned one.
    spare = f"kwok-node-{MASTERS + shape['data']}"
    cluster.kubectl("label", "node", spare, "kube-system/es-data-node=true")
    wait_until(
        "the data DaemonSet on the labelled node",
        lambda: (
            cluster.kubectl("get", "ds", "es-logging-data", "-n", NAMESPACE, "-o", "jsonpath={.status.numberReady}").stdout
            == str(shape["data"] + 1)
        ),
        timeout=300,
        interval=0.5,
    )
    proc = stack.pulumi("up", "--yes", "--skip-preview", "--refresh")
    figures["drift_warning"] = next((line.strip() for line in proc.stdout.splitlines() if "node(s) match the nodeSelector" in line), None)
    figures["pulumi_destroy_s"], _ = timed(stack.pulumi, "destroy", "--yes", "--skip-preview")


def report(figures: dict[str, Any]) -> str:
    rows = [
        ("deploy until every workload is ready", "pulumi_up_s", "floor_up_s"),
        ("no-op preview (floor: kubectl diff)", "pulumi_noop_preview_s", "floor_noop_preview_s"),
        ("preview after changing one setting", "pulumi_one_setting_preview_s", None),
        ("image roll, maxUnavailable 1", "pulumi_roll_1_s", "floor_roll_1_s"),
        ("image roll, data maxUnavailable 10%", "pulumi_roll_10pct_s", "floor_roll_10pct_s"),
        ("destroy (floor: delete the namespace)", "pulumi_destroy_s", "floor_delete_s"),
    ]
    shape = figures["shape"]
    lines = [
        f"bench-scale: {figures['nodes']} kwok nodes ({shape['masters']} master, {shape['data']} data, {shape['unlabelled']} unlabelled), "
        f"{shape['masters'] + shape['data'] + shape['clients']} pods; {figures['machine']}",
        f"{'figure':42} {'es-cluster':>11} {'floor':>9} {'ratio':>7}",
    ]
    for label, ours, theirs in rows:
        a = figures.get(ours)
        b = figures.get(theirs) if theirs else None
        ratio = f"{a / b:.2f}x" if a is not None and b else "-"
        lines.append(
            f"{label:42} {(f'{a:.1f}s' if a is not None else 'skipped'):>11} {(f'{b:.1f}s' if b is not None else '-'):>9} {ratio:>7}"
        )
    lines.append(f"{'render (validate + specs), in process':42} {figures['render_ms']:>9.1f}ms")
    for who in ("pulumi", "floor"):
        peaks = figures[f"{who}_peak_mib"]
        lines.append(f"peak RSS during the {who} phase: " + ", ".join(f"{k} {v:.0f} MiB" for k, v in peaks.items()))
    lines.append(
        "data pods unavailable at once (most seen): "
        f"maxUnavailable 1: {figures.get('pulumi_roll_1_peak_unavailable', 'skipped')} (floor {figures.get('floor_roll_1_peak_unavailable', 'skipped')}); "
        f"10%: {figures['pulumi_roll_10pct_peak_unavailable']} (floor {figures['floor_roll_10pct_peak_unavailable']})"
    )
    lines.append(f"after labelling one more data node: {figures['drift_warning']}")
    return "\n".join(lines)


def machine() -> str:
    cpus = os.cpu_count()
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    return f"{cpus} cores, {mem / 2**20:.0f} GiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--no-roll-1",
        dest="roll_1",
        action="store_false",
        help="skip both image rolls with maxUnavailable 1 (at 500 nodes, some 20 minutes each); the 10%% rolls still run",
    )
    args = parser.parse_args()
    if args.nodes < 10:
        parser.error("--nodes must be at least 10")
    shape = layout(args.nodes)
    env = toolchain_env("es-cluster-bench")
    env.pop("KUBECONFIG", None)

    figures = Figures(args.json, nodes=args.nodes, shape=shape, machine=machine())
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        figures["render_ms"] = statistics.median(render_dir(stack_config(shape, IMAGES[0]), work / "render") for _ in range(5)) * 1000
        cluster = Cluster(env, args.nodes, shape)
        cluster.script("down")
        try:
            figures["cluster_up_s"], _ = timed(cluster.script, "up")
            floor(cluster, shape, work, figures, args.roll_1)
            with_pulumi(cluster, shape, work, figures, args.roll_1)
        finally:
            cluster.script("down")
    print(report(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
