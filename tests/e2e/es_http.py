"""Talking to Elasticsearch pods on the real nodes from this machine (pod IPs and Service IPs are
routed to the nodes' bridge), and reading what the discovery plugin logged."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

from .conftest import Kube

# The plugin's line per ping round: "k8s-discovery: endpoints NS/SVC via SOURCE: targets [ip:port, ...]".
TARGETS_LINE = re.compile(r"k8s-discovery: endpoints (\S+) via (.+?): targets \[(.*?)\]")


def es(host: str, path: str, body: bytes | None = None, method: str | None = None, timeout: float = 10) -> Any:
    req = urllib.request.Request(f"http://{host}:9200{path}", data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        text = resp.read().decode()
    return json.loads(text) if text.startswith(("{", "[")) else text


def try_es(host: str, path: str) -> Any:
    try:
        return es(host, path)
    except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
        return None


def master_name(host: str) -> str | None:
    """The elected master as the node at `host` knows it. None only when the node answered (200)
    and named none ("-"); a node that does not answer raises."""
    rows = es(host, "/_cat/master?format=json&local=true")
    name = rows[0]["node"] if rows else None
    return None if name in (None, "-") else name


def last_targets(kube: Kube, namespace: str, pod: str) -> tuple[str, str, list[str]] | None:
    """The last discovery round `pod` logged: (namespace/service, credentials used, targets)."""
    log = kube.run("logs", "-n", namespace, pod, check=False).stdout
    found = TARGETS_LINE.findall(log)
    if not found:
        return None
    service, source, targets = found[-1]
    return service, source, [t.strip() for t in targets.split(",") if t.strip()]


def pod_ips(kube: Kube, namespace: str, selector: str) -> dict[str, str]:
    return {p["metadata"]["name"]: p["status"].get("podIP", "") for p in kube.items("pods", "-n", namespace, "-l", selector)}


def explain(kube: Kube, namespace: str) -> str:
    """Pods, events, Endpoints and each pod's last log lines: what a timeout should show."""
    out = [kube.describe(namespace), kube.run("get", "events", "-n", namespace, "--sort-by=.lastTimestamp", check=False).stdout[-3000:]]
    for p in kube.items("pods", "-n", namespace):
        name = p["metadata"]["name"]
        out.append(f"--- {name}\n" + kube.run("logs", "-n", namespace, name, "--tail=15", check=False).stdout)
    return "\n".join(out)
