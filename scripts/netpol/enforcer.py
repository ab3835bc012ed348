#!/usr/bin/env python3
"""es-cluster's NetworkPolicy enforcer for the local cluster's real nodes (ingress only).

The local cluster's pods share one bridge, with bridge-nf-call-iptables on, so every packet
from one pod to another (directly, or through a Service once kube-proxy has translated it)
crosses the host's iptables FORWARD chain. This program keeps one chain there, ES-NETPOL, equal
to what the cluster's NetworkPolicies say about ingress, following the API's documented contract
(https://kubernetes.io/docs/concepts/services-networking/network-policies/):

- a pod is isolated for ingress when some policy of its namespace selects it (spec.podSelector)
  and has Ingress in policyTypes (the default when policyTypes is not set);
- traffic to an isolated pod is allowed when some rule of some policy selecting it allows it:
  a rule without `from` allows every source, without `ports` every port; peers are podSelector
  (pods of the policy's namespace), namespaceSelector (every pod of the matching namespaces),
  both (those pods of those namespaces), or ipBlock (cidr, less except); ports are a protocol
  (TCP by default) and a number, a range up to endPort, or a container port's name;
- replies to allowed connections are allowed (conntrack);
- everything else to an isolated pod is rejected.

Written here because kube-network-policies v0.8.0, which the Go proxy serves, needs the kernel's
nftables queue (CONFIG_NFT_QUEUE), which these machines' kernel lacks (see docs/security.md).
Not for production: it polls the API server every second and rewrites the chain whole (with
iptables-restore, one atomic commit) when the result changes. Egress policies are not enforced.

Usage: enforcer.py --kubeconfig FILE [--kubectl PATH] [--interval SECONDS]
       enforcer.py --cleanup     remove the chain and its jump
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

CHAIN = "ES-NETPOL"
# The packet mark bit an allowing rule sets (kube-proxy uses 0x4000 and 0x8000).
ALLOWED = "0x20000"
ALLOW = f"-j MARK --set-xmark {ALLOWED}/{ALLOWED}"


# --- the policy model, pure -------------------------------------------------------------------


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector: matchLabels and matchExpressions all hold; {} selects everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def pod_ip(pod: Mapping[str, Any]) -> str | None:
    status = pod.get("status") or {}
    if pod.get("spec", {}).get("hostNetwork") or status.get("phase") in ("Succeeded", "Failed"):
        return None
    ip = status.get("podIP")
    return ip if ip and ipaddress.ip_address(ip).version == 4 else None


def _named_ports(pod: Mapping[str, Any]) -> dict[tuple[str, str], int]:
    out = {}
    for container in pod.get("spec", {}).get("containers") or []:
        for p in container.get("ports") or []:
            if p.get("name"):
                out[(p["name"], p.get("protocol", "TCP"))] = p["containerPort"]
    return out


def _ports(rule: Mapping[str, Any], target: Mapping[str, Any]) -> list[tuple[str, str | None]] | None:
    """(protocol, "port" or "first:last" or None for every port) per entry of the rule's ports;
    None when the rule has no ports (all of them). A named port the pod does not have matches
    nothing."""
    if not rule.get("ports"):
        return None
    named = _named_ports(target)
    out = []
    for p in rule["ports"]:
        protocol = p.get("protocol", "TCP")
        port = p.get("port")
        if port is None:
            out.append((protocol, None))
        elif isinstance(port, str) and not port.isdigit():
            if (port, protocol) in named:
                out.append((protocol, str(named[(port, protocol)])))
        elif p.get("endPort"):
            out.append((protocol, f"{int(port)}:{int(p['endPort'])}"))
        else:
            out.append((protocol, str(int(port))))
    return out


def _peer_sources(peer: Mapping[str, Any], policy_ns: str, pods: list[dict], namespaces: Mapping[str, Mapping[str, str]]):
    """("ips", [ip, ...]) for pod peers, or ("block", cidr, [except, ...])."""
    if "ipBlock" in peer:
        return ("block", peer["ipBlock"]["cidr"], list(peer["ipBlock"].get("except") or []))
    ns_selector = peer.get("namespaceSelector")
    if ns_selector is None:
        in_ns = [policy_ns]
    else:
        in_ns = [name for name, labels in namespaces.items() if selects(ns_selector, labels)]
    ips = [
        ip
        for p in pods
        if p["metadata"]["namespace"] in in_ns
        and selects(peer.get("podSelector"), p["metadata"].get("labels") or {})
        and (ip := pod_ip(p)) is not None
    ]
    return ("ips", sorted(set(ips)))


def rules(policies: list[dict], pods: list[dict], namespaces: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The ES-NETPOL chain's rules (iptables-restore lines after `-A ES-NETPOL`), in order."""
    out = [
        "-m conntrack --ctstate ESTABLISHED,RELATED -j RETURN",
        f"-j MARK --set-xmark 0x0/{ALLOWED}",
    ]
    isolated: list[str] = []
    blocks = 0
    for pod in sorted(pods, key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"])):
        ip = pod_ip(pod)
        if ip is None:
            continue
        ns, labels = pod["metadata"]["namespace"], pod["metadata"].get("labels") or {}
        selecting = [
            np
            for np in policies
            if np["metadata"]["namespace"] == ns
            and "Ingress" in (np["spec"].get("policyTypes") or ["Ingress"])
            and selects(np["spec"].get("podSelector"), labels)
        ]
        if not selecting:
            continue
        isolated.append(ip)
        for np in selecting:
            for rule in np["spec"].get("ingress") or []:
                ports = _ports(rule, pod)
                if ports == []:
                    continue  # only named ports this pod does not have
                port_specs = [""] if ports is None else [_port_spec(proto, port) for proto, port in ports]
                peers = rule.get("from")
                sources = [("ips", None)] if not peers else [_peer_sources(p, np["metadata"]["namespace"], pods, namespaces) for p in peers]
                for source in sources:
                    if source[0] == "block":
                        blocks += 1
                        sub = f"{CHAIN}-B{blocks}"
                        out.append(f"-d {ip}/32 -j {sub}")
                        out += [f"@{sub} -s {e} -j RETURN" for e in source[2]]
                        out += [f"@{sub} -s {source[1]}{spec} {ALLOW}" for spec in port_specs]
                        continue
                    ips = source[1]
                    if ips is None:
                        out += [f"-d {ip}/32{spec} {ALLOW}" for spec in port_specs]
                    else:
                        out += [f"-s {src}/32 -d {ip}/32{spec} {ALLOW}" for src in ips for spec in port_specs]
    out += [f"-d {ip}/32 -m mark ! --mark {ALLOWED}/{ALLOWED} -j REJECT" for ip in isolated]
    return out


def _port_spec(protocol: str, port: str | None) -> str:
    proto = f" -p {protocol.lower()}"
    return proto if port is None else f"{proto} -m {protocol.lower()} --dport {port}"


def restore_input(lines: list[str]) -> str:
    """iptables-restore input that replaces ES-NETPOL and its ipBlock chains whole. `@CHAIN ...`
    lines belong to a sub-chain."""
    subs = sorted({line.split()[0][1:] for line in lines if line.startswith("@")})
    text = ["*filter", f":{CHAIN} - [0:0]", *[f":{s} - [0:0]" for s in subs]]
    for line in lines:
        if line.startswith("@"):
            chain, rest = line[1:].split(" ", 1)
            text.append(f"-A {chain} {rest}")
        else:
            text.append(f"-A {CHAIN} {line}")
    return "\n".join([*text, "COMMIT", ""])


# --- the host ---------------------------------------------------------------------------------


def iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["iptables", "-w", *args], capture_output=True, text=True, check=check)


def ensure_jump() -> None:
    if iptables("-C", "FORWARD", "-j", CHAIN, check=False).returncode != 0:
        iptables("-I", "FORWARD", "1", "-j", CHAIN)


def stale_subchains(keep: Iterable[str]) -> list[str]:
    listed = iptables("-S").stdout.splitlines()
    return [line.split()[1] for line in listed if line.startswith(f"-N {CHAIN}-B") and line.split()[1] not in set(keep)]


def apply(lines: list[str]) -> None:
    subprocess.run(["iptables-restore", "-w", "--noflush"], input=restore_input(lines), text=True, check=True, capture_output=True)
    keep = {line.split()[0][1:] for line in lines if line.startswith("@")}
    for chain in stale_subchains(keep):
        iptables("-F", chain, check=False)
        iptables("-X", chain, check=False)
    ensure_jump()


def cleanup() -> None:
    iptables("-D", "FORWARD", "-j", CHAIN, check=False)
    for chain in [CHAIN, *stale_subchains(())]:
        iptables("-F", chain, check=False)
        iptables("-X", chain, check=False)


def fetch(kubectl: str, kubeconfig: str) -> tuple[list[dict], list[dict], dict[str, dict[str, str]]]:
    out = subprocess.run(
        [kubectl, "--kubeconfig", kubeconfig, "get", "pods,networkpolicies,namespaces", "-A", "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    items = json.loads(out)["items"]
    pods = [i for i in items if i["kind"] == "Pod"]
    policies = [i for i in items if i["kind"] == "NetworkPolicy"]
    namespaces = {i["metadata"]["name"]: i["metadata"].get("labels") or {} for i in items if i["kind"] == "Namespace"}
    return policies, pods, namespaces


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig")
    parser.add_argument("--kubectl", default="kubectl")
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--cleanup", action="store_true")
    args = parser.parse_args(argv)
    if args.cleanup:
        cleanup()
        return 0
    if not args.kubeconfig:
        parser.error("--kubeconfig is required")
    last: list[str] | None = None
    while True:
        try:
            current = rules(*fetch(args.kubectl, args.kubeconfig))
            if current != last:
                apply(current)
                print(f"enforcer: {len(current)} rules", flush=True)
                last = current
            else:
                ensure_jump()
        except (subprocess.SubprocessError, OSError, ValueError, KeyError) as e:
            print(f"enforcer: {e!r}", file=sys.stderr, flush=True)
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
