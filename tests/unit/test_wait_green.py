"""scripts/wait-green.sh, the check `make up` ends with, run for real (bash, curl) against an
HTTPS server of this test's own that answers like a secured cluster: green only to the
superuser's password, over TLS from the stack's CA, for the Service's DNS name. Only pulumi and
kubectl are stand-ins (scripts on PATH printing the stack outputs and the cluster IP): the modern
engines cannot go green on the local cluster's real nodes (issue #28, docs/engines.md)."""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import os
import shlex
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from es_cluster import tls

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "wait-green.sh"
# A loopback address of its own, so the Service's port 9200 is free whatever else runs here.
IP = "127.0.0.77"
HOST = "logs-http.ns.svc"
PASSWORD = "pw-" + "x9" * 10


def serve(tmp: Path, secured: bool, password: str = PASSWORD):
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the base class's name
            expected = "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()
            if secured and self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.end_headers()
                return
            body = json.dumps({"cluster_name": "logs", "status": "green"}, indent=2).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer((IP, 9200), Health)
    ca_pem = ""
    if secured:
        now = dt.datetime.now(dt.UTC)
        ca_key, key = tls.new_key(), tls.new_key()
        ca = tls.new_ca("logs", ca_key, now)
        (tmp / "node.crt").write_text(tls.cert_pem(tls.new_node_cert("logs", [HOST], key, ca, ca_key, now)))
        (tmp / "node.key").write_text(tls.key_pem(key))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp / "node.crt", tmp / "node.key")
        server.socket = context.wrap_socket(server.socket, server_side=True)
        ca_pem = tls.cert_pem(ca)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, ca_pem


def stand_ins(tmp: Path, outputs: dict[str, str]) -> dict[str, str]:
    """pulumi and kubectl on PATH: `pulumi stack output NAME [--show-secrets]` prints NAME's value
    (the password only with --show-secrets) and fails for an output the stack lacks."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    (tmp / "outputs.json").write_text(json.dumps(outputs))
    (bin_dir / "pulumi").write_text(
        "#!/usr/bin/env python3\n"
        "import json, sys\n"
        f"outs = json.load(open({str(tmp / 'outputs.json')!r}))\n"
        "[name] = [a for a in sys.argv[3:] if not a.startswith('--')][:1]\n"
        "if name not in outs: sys.exit('error: current stack does not have output property ' + name)\n"
        "print('[secret]' if name == 'elasticPassword' and '--show-secrets' not in sys.argv else outs[name])\n"
    )
    (bin_dir / "kubectl").write_text(f"#!/bin/sh\necho {IP}\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STATE_DIR": str(tmp / "state")}


def wait_green(env: dict[str, str], secs: str = "20") -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), "es8", secs], check=False, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def secured(tmp_path):
    server, ca = serve(tmp_path, secured=True)
    yield tmp_path, ca
    server.shutdown()
    server.server_close()


def test_a_secured_stack_is_asked_over_https_with_its_ca_and_password_and_the_printed_command_works(secured):
    tmp, ca = secured
    env = stand_ins(
        tmp, {"namespace": "ns", "httpService": "logs-http", "superuser": "admin", "caCertificate": ca, "elasticPassword": PASSWORD}
    )
    proc = wait_green(env)
    assert proc.returncode == 0, proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr
    command = proc.stdout.splitlines()[-1].strip()
    assert command.startswith(f"curl --cacert {tmp}/state/es8-ca.crt --resolve {HOST}:9200:{IP} -u ")
    assert f"'https://{HOST}:9200/_cluster/health?pretty'" in command
    assert (tmp / "state" / "es8-ca.crt").read_text() == ca + "\n"
    shown = subprocess.run(["bash", "-c", command], check=False, env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(shown.stdout)["status"] == "green", shown.stderr
    assert shlex.split(command)[6].startswith("admin:$(pulumi stack output --show-secrets elasticPassword")


def test_a_wrong_password_or_another_ca_never_counts_as_green(secured):
    tmp, ca = secured
    outputs = {
        "namespace": "ns",
        "httpService": "logs-http",
        "superuser": "admin",
        "caCertificate": ca,
        "elasticPassword": "wrong-password",
    }
    proc = wait_green(stand_ins(tmp, outputs), "3")
    assert proc.returncode == 1 and "not green after 3s" in proc.stderr
    assert "wrong-password" not in proc.stdout + proc.stderr
    other = tls.cert_pem(tls.new_ca("other", tls.new_key(), dt.datetime.now(dt.UTC)))
    (tmp / "bin").rename(tmp / "bin-1")
    proc = wait_green(stand_ins(tmp, {**outputs, "caCertificate": other, "elasticPassword": PASSWORD}), "3")
    assert proc.returncode == 1 and "not green after 3s" in proc.stderr


def test_an_unsecured_stack_is_asked_over_plain_http(tmp_path):
    server, _ = serve(tmp_path, secured=False)
    try:
        proc = wait_green(stand_ins(tmp_path, {"namespace": "ns", "httpService": "logs-http"}))
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].strip() == f"curl 'http://{IP}:9200/_cluster/health?pretty'"
