"""images/modern/probe.sh, the modern pods' preStop hook and readiness probe, run for real (sh,
curl) against an HTTP(S) server of this test's own that answers like an engine: the cluster's
health and persistent settings, over TLS from the cluster's CA, only to the superuser. The real
engines run it in tests/e2e/test_upgrades.py, where the harness acts as the kubelet."""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from es_cluster import tls

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "images" / "modern" / "probe.sh"
IP = "127.0.0.78"
# A password with the characters curl's config quoting must escape.
PASSWORD = 'p"w\\' + "x9" * 8


class FakeEngine:
    """Health and persistent settings an engine would report, and every request it got."""

    def __init__(self, tmp: Path, secured: bool):
        self.secured = secured
        self.health: dict[str, Any] = {"status": "green", "number_of_nodes": 6, "initializing_shards": 0, "relocating_shards": 0}
        self.settings: dict[str, Any] = {}
        self.requests: list[tuple[str, str, Any]] = []
        # The superuser's password in force (OpenSearch's security index).
        self.password = PASSWORD
        engine = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self, code: int, body: Any = None) -> None:
                data = json.dumps(body or {}, separators=(",", ":")).encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                expected = "Basic " + base64.b64encode(f"elastic:{engine.password}".encode()).decode()
                if engine.secured and self.headers.get("Authorization") != expected:
                    return self.answer(401)
                engine.requests.append((self.command, self.path, body))
                path = self.path.split("?")[0]
                if path == "/_cluster/health":
                    return self.answer(200, {"cluster_name": "logs", **engine.health})
                if path == "/_cluster/settings" and self.command == "GET":
                    return self.answer(200, {"persistent": engine.settings, "transient": {}})
                if path == "/_cluster/settings" and self.command == "PUT":
                    for k, v in body["persistent"].items():
                        if v is None:
                            engine.settings.pop(k, None)
                        else:
                            engine.settings[k] = v
                    return self.answer(200, {"acknowledged": True})
                if path == "/_flush":
                    return self.answer(200, {"_shards": {"failed": 0}})
                if path == "/_plugins/_security/api/account" and self.command == "PUT":
                    if body["current_password"] != engine.password:
                        return self.answer(400, {"message": "Could not validate your current password."})
                    engine.password = body["password"]
                    return self.answer(200, {"status": "OK"})
                return self.answer(404)

            do_GET = do_PUT = do_POST = handle_any  # noqa: N815 - the base class's names

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((IP, 0), Handler)
        self.port = self.server.server_address[1]
        self.home = tmp / "home"
        (self.home / "config" / "certs").mkdir(parents=True)
        if secured:
            now = dt.datetime.now(dt.UTC)
            ca_key, key = tls.new_key(), tls.new_key()
            ca = tls.new_ca("logs", ca_key, now)
            # The node certificate names localhost, and not the address: the probe asks for it by name.
            (tmp / "node.crt").write_text(tls.cert_pem(tls.new_node_cert("logs", ["localhost"], key, ca, ca_key, now)))
            (tmp / "node.key").write_text(tls.key_pem(key))
            (self.home / "config" / "certs" / "ca.crt").write_text(tls.cert_pem(ca))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tmp / "node.crt", tmp / "node.key")
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        (tmp / "credentials").mkdir()
        (tmp / "credentials" / "elastic").write_text(PASSWORD)
        (tmp / "bootstrap").mkdir()
        (tmp / "bootstrap" / "nodes").write_text("6")
        (tmp / "state").mkdir()
        self.tmp = tmp

    def run(self, command: str, roles: str = "data", **env: str) -> subprocess.CompletedProcess:
        flags = {"ES_CLUSTER_SECURITY": "true", "ES_CLUSTER_HTTP_TLS": "true"} if self.secured else {}
        base = {
            "PATH": "/usr/bin:/bin",
            "ES_CLUSTER_HOME": str(self.home),
            "ES_CLUSTER_HTTP_PORT": str(self.port),
            "POD_IP": IP,
            "NODE_ROLES": roles,
            "ES_CLUSTER_USER": "elastic",
            "ES_CLUSTER_CREDENTIALS_DIR": str(self.tmp / "credentials"),
            "ES_CLUSTER_CONFIG_DIR": str(self.tmp / "bootstrap"),
            "ES_CLUSTER_STATE_DIR": str(self.tmp / "state"),
            "ES_CLUSTER_LOG": str(self.tmp / "pod.log"),
            **flags,
        }
        return subprocess.run(["sh", str(PROBE), command], env={**base, **env}, capture_output=True, text=True, timeout=30, check=False)

    def writes(self) -> list[tuple[str, str, Any]]:
        return [r for r in self.requests if r[0] != "GET"]


@pytest.fixture(params=[True, False], ids=["secured", "plain"])
def engine(request, tmp_path):
    e = FakeEngine(tmp_path, request.param)
    yield e
    e.server.shutdown()


HOLD = ("PUT", "/_cluster/settings", {"persistent": {"cluster.routing.allocation.enable": "primaries"}})
RELEASE = ("PUT", "/_cluster/settings", {"persistent": {"cluster.routing.allocation.enable": None}})


def test_pre_stop_on_a_data_node_holds_replica_allocation_then_flushes(engine):
    assert engine.run("pre-stop", roles="data").returncode == 0
    assert engine.writes() == [HOLD, ("POST", "/_flush", None)]
    assert engine.settings == {"cluster.routing.allocation.enable": "primaries"}


@pytest.mark.parametrize("roles", ["master", "", "master,ingest"])
def test_pre_stop_on_a_node_without_data_does_nothing(engine, roles):
    assert engine.run("pre-stop", roles=roles).returncode == 0
    assert engine.requests == []


def test_pre_stop_never_blocks_the_stop_when_the_node_does_not_answer(engine):
    engine.server.shutdown()
    engine.server.server_close()
    proc = engine.run("pre-stop")
    assert proc.returncode == 0 and "could not hold allocation" in proc.stderr
    # The kubelet drops a hook's output when it succeeds: the pod's log has it.
    assert "could not hold allocation" in (engine.tmp / "pod.log").read_text()


def test_a_starting_node_is_ready_when_the_cluster_is_green_and_stays_ready_while_it_answers(engine):
    engine.health["status"] = "yellow"
    assert engine.run("ready").returncode == 1
    engine.health["status"] = "green"
    assert engine.run("ready").returncode == 0
    # Once ready, a yellow or red cluster takes no node out of its Services.
    engine.health["status"] = "red"
    assert engine.run("ready").returncode == 0
    engine.server.shutdown()
    engine.server.server_close()
    assert engine.run("ready").returncode == 1


def test_a_starting_node_in_a_cluster_that_cannot_be_green_is_ready_after_the_wait_with_nothing_moving(engine):
    engine.health.update(status="yellow", initializing_shards=1)
    assert engine.run("ready", ES_CLUSTER_YELLOW_AFTER="0").returncode == 1
    engine.health.update(initializing_shards=0, relocating_shards=2)
    assert engine.run("ready", ES_CLUSTER_YELLOW_AFTER="0").returncode == 1
    engine.health.update(relocating_shards=0)
    assert engine.run("ready", ES_CLUSTER_YELLOW_AFTER="300").returncode == 1
    assert engine.run("ready", ES_CLUSTER_YELLOW_AFTER="0").returncode == 0
    engine.health["status"] = "red"
    (engine.tmp / "state" / "es-cluster-ready").unlink()
    assert engine.run("ready", ES_CLUSTER_YELLOW_AFTER="0").returncode == 1


def test_held_allocation_is_released_only_once_every_planned_node_has_been_in_for_the_hold(engine):
    engine.settings["cluster.routing.allocation.enable"] = "primaries"
    # A node is away (5 of 6): held, however long.
    engine.health["number_of_nodes"] = 5
    engine.run("ready", ES_CLUSTER_HELD_FOR="0")
    assert engine.writes() == []
    # All in, but only just: a node that ran pre-stop may not have left yet.
    engine.health["number_of_nodes"] = 6
    engine.run("ready", ES_CLUSTER_HELD_FOR="30")
    assert engine.writes() == []
    engine.run("ready", ES_CLUSTER_HELD_FOR="0")
    assert engine.writes() == [RELEASE]
    assert engine.settings == {}


def test_a_node_leaving_between_two_probes_starts_the_hold_over(engine):
    engine.settings["cluster.routing.allocation.enable"] = "primaries"
    engine.run("ready", ES_CLUSTER_HELD_FOR="30")
    assert (engine.tmp / "state" / "es-cluster-held").exists()
    engine.health["number_of_nodes"] = 5
    engine.run("ready", ES_CLUSTER_HELD_FOR="30")
    assert not (engine.tmp / "state" / "es-cluster-held").exists() and engine.writes() == []


def test_a_plan_that_shrank_releases_the_hold_a_removed_node_left(engine):
    # pre-stop of a node scaled away held allocation; the ConfigMap now plans 5, and 5 are in.
    engine.settings["cluster.routing.allocation.enable"] = "primaries"
    (engine.tmp / "bootstrap" / "nodes").write_text("5")
    engine.health["number_of_nodes"] = 5
    engine.run("ready", ES_CLUSTER_HELD_FOR="0")
    assert engine.writes() == [RELEASE]


def test_a_wrong_password_is_not_ready(engine):
    if not engine.secured:
        pytest.skip("no password on a plain cluster")
    (engine.tmp / "credentials" / "elastic").write_text("wrong")
    assert engine.run("ready").returncode == 1
    assert engine.requests == []


def test_an_unknown_command_says_how_it_is_used(engine):
    proc = engine.run("start")
    assert proc.returncode == 64 and "usage: es-cluster-probe pre-stop|ready" in proc.stderr


# OpenSearch: a password changed in config, mounted with the one it replaced beside it.
NEW_PASSWORD = 'n"ew\\' + "y7" * 8


def secured_only(engine) -> None:
    if not engine.secured:
        pytest.skip("no password on a plain cluster")


def mount(engine, current: str, previous: str | None) -> None:
    (engine.tmp / "credentials" / "elastic").write_text(current)
    if previous is not None:
        (engine.tmp / "credentials" / "elastic.previous").write_text(previous)


def account_changes(engine) -> list[Any]:
    return [b for m, p, b in engine.requests if p == "/_plugins/_security/api/account"]


def test_a_password_changed_in_config_is_set_with_the_previous_one_by_the_first_probe_that_sees_it(engine):
    secured_only(engine)
    (engine.tmp / "state" / "es-cluster-ready").touch()
    mount(engine, NEW_PASSWORD, PASSWORD)
    proc = engine.run("ready")
    assert proc.returncode == 0, proc.stderr
    assert engine.password == NEW_PASSWORD
    assert account_changes(engine) == [{"current_password": PASSWORD, "password": NEW_PASSWORD}]
    assert "password from the stack config is now in force" in (engine.tmp / "pod.log").read_text()
    # In force now: the next probe changes nothing, and a pod that started later is ready.
    (engine.tmp / "state" / "es-cluster-ready").unlink()
    assert engine.run("ready").returncode == 0
    assert len(account_changes(engine)) == 1


def test_a_ready_pod_whose_copy_of_the_secret_is_behind_stays_ready_and_changes_nothing(engine):
    secured_only(engine)
    engine.password = NEW_PASSWORD  # another pod saw the new Secret first
    mount(engine, PASSWORD, None)
    assert engine.run("ready").returncode == 1  # not ready yet: it cannot see the cluster's health
    (engine.tmp / "state" / "es-cluster-ready").touch()
    assert engine.run("ready").returncode == 0  # ready: the node answers, with 401
    assert engine.password == NEW_PASSWORD and engine.requests == []


def test_a_previous_password_that_is_not_in_force_either_changes_nothing_and_says_so(engine):
    secured_only(engine)
    (engine.tmp / "state" / "es-cluster-ready").touch()
    engine.password = "something-else-entirely"
    mount(engine, NEW_PASSWORD, PASSWORD)
    proc = engine.run("ready")
    assert proc.returncode == 0 and engine.password == "something-else-entirely"
    assert "the previous one could not change it" in (engine.tmp / "pod.log").read_text()


def test_a_node_that_does_not_answer_is_not_ready_whatever_the_secret_holds(engine):
    secured_only(engine)
    (engine.tmp / "state" / "es-cluster-ready").touch()
    mount(engine, NEW_PASSWORD, PASSWORD)
    engine.server.shutdown()
    engine.server.server_close()
    assert engine.run("ready").returncode == 1
