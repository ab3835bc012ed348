"""images/modern/entrypoint.sh run for real (sh) on a stand-in engine home: bin/<engine> is a
script that prints the arguments it was started with, the config file is the image's template.
What the engines then make of it is proven on the real engines in tests/e2e/test_modern_engines.py;
this pins the branches no e2e stack takes (an OpenSearch image with its plugin and security off,
one without it and security on) and that a restart writes the settings once."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODERN = ROOT / "images" / "modern"
DN = "CN=logs node,O=es-cluster"


def home(tmp: Path, engine: str, plugin: bool) -> Path:
    h = tmp / engine
    (h / "bin").mkdir(parents=True)
    (h / "config").mkdir()
    shutil.copy(MODERN / f"{engine}.yml", h / "config" / f"{engine}.yml")
    start = h / "bin" / engine
    start.write_text('#!/bin/sh\nfor a in "$@"; do echo "ARG $a"; done\n')
    start.chmod(0o755)
    if plugin:
        (h / "plugins" / "opensearch-security").mkdir(parents=True)
        (h / "config" / "opensearch-security").mkdir()
    return h


def start(h: Path, engine: str, **env: str) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "ES_CLUSTER_ENGINE": engine, "ES_CLUSTER_HOME": str(h), "NODE_ROLES": "data"}
    return subprocess.run(
        ["sh", str(MODERN / "entrypoint.sh")], check=False, env={**base, **env}, capture_output=True, text=True, timeout=30
    )


def args(proc: subprocess.CompletedProcess) -> list[str]:
    return [line[4:] for line in proc.stdout.splitlines() if line.startswith("ARG ")]


def settings(h: Path) -> dict:
    return yaml.safe_load((h / "config" / "opensearch.yml").read_text())


def test_a_secured_opensearch_node_gets_the_plugins_settings_once_however_often_it_starts(tmp_path):
    h = home(tmp_path, "opensearch", plugin=True)
    env = {"ES_CLUSTER_SECURITY": "true", "ES_CLUSTER_HTTP_TLS": "true", "ES_CLUSTER_NODES_DN": DN}
    for _ in range(2):  # a restarted container runs it again on the same file
        proc = start(h, "opensearch", **env)
        assert proc.returncode == 0, proc.stderr
    certs = f"{h}/config/certs"
    got = {k: v for k, v in settings(h).items() if k.startswith("plugins.security")}
    assert got == {
        **{f"plugins.security.ssl.{layer}.pemcert_filepath": f"{certs}/tls.crt" for layer in ("transport", "http")},
        **{f"plugins.security.ssl.{layer}.pemkey_filepath": f"{certs}/tls.key" for layer in ("transport", "http")},
        **{f"plugins.security.ssl.{layer}.pemtrustedcas_filepath": f"{certs}/ca.crt" for layer in ("transport", "http")},
        "plugins.security.ssl.transport.enforce_hostname_verification": False,
        "plugins.security.ssl.http.enabled": True,
        "plugins.security.ssl.certificates_hot_reload.enabled": True,
        "plugins.security.nodes_dn": [DN],
        "plugins.security.allow_default_init_securityindex": True,
        "plugins.security.audit.type": "noop",
    }
    users = h / "config" / "opensearch-security" / "internal_users.yml"
    assert users.is_symlink() and str(users.readlink()) == f"{h}/config/es-cluster-file-realm/internal_users.yml"
    text = (h / "config" / "opensearch.yml").read_text()
    assert text.count("plugins.security.nodes_dn") == 1 and text.count("# es-cluster: security settings") == 1
    assert args(proc) == []  # nothing on the command line: a DN's commas would split an -E list
    assert settings(h)["node.roles"] == ["data"]


def test_http_tls_off_turns_only_http_off(tmp_path):
    h = home(tmp_path, "opensearch", plugin=True)
    start(h, "opensearch", ES_CLUSTER_SECURITY="true", ES_CLUSTER_HTTP_TLS="false", ES_CLUSTER_NODES_DN=DN)
    assert settings(h)["plugins.security.ssl.http.enabled"] is False
    assert settings(h)["plugins.security.ssl.transport.pemcert_filepath"].endswith("/certs/tls.crt")


def test_turning_security_off_removes_the_settings_and_disables_the_plugin_the_image_has(tmp_path):
    h = home(tmp_path, "opensearch", plugin=True)
    start(h, "opensearch", ES_CLUSTER_SECURITY="true", ES_CLUSTER_NODES_DN=DN)
    proc = start(h, "opensearch", ES_CLUSTER_SECURITY="false")
    assert proc.returncode == 0, proc.stderr
    assert not [k for k in settings(h) if k.startswith("plugins.security")]
    assert args(proc) == ["-Eplugins.security.disabled=true"]


def test_without_the_plugin_security_off_passes_nothing_and_security_on_stops_saying_why(tmp_path):
    h = home(tmp_path, "opensearch", plugin=False)
    off = start(h, "opensearch", ES_CLUSTER_SECURITY="false")
    assert off.returncode == 0 and args(off) == []
    on = start(h, "opensearch", ES_CLUSTER_SECURITY="true", ES_CLUSTER_NODES_DN=DN)
    assert on.returncode == 78 and "ARG" not in on.stdout
    assert on.stderr.startswith(
        f"es-cluster: security is on (security.enabled), but this image has no OpenSearch security plugin in {h}/plugins/opensearch-security:"
    )


@pytest.mark.parametrize(("http_tls", "http_args"), [("true", 4), ("false", 1)])
def test_elasticsearch_gets_its_settings_on_the_command_line(tmp_path, http_tls, http_args):
    h = home(tmp_path, "elasticsearch", plugin=False)
    proc = start(h, "elasticsearch", ES_CLUSTER_SECURITY="true", ES_CLUSTER_HTTP_TLS=http_tls)
    got = args(proc)
    assert "-Expack.security.transport.ssl.verification_mode=certificate" in got
    assert len([a for a in got if a.startswith("-Expack.security.http.ssl.")]) == http_args
    assert (h / "config" / "users").is_symlink() and (h / "config" / "users_roles").is_symlink()
    assert not [k for k in yaml.safe_load((h / "config" / "elasticsearch.yml").read_text()) if str(k).startswith("plugins.")]
