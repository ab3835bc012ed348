"""Your own CA (security.caCertificate, security.caKey set with `pulumi config set --secret`),
through the real CLI, providers and API server on kwok nodes: it issues the node certificate
the nodes mount and is the CA they trust and the stack exports; its key is in no Kubernetes
object, and neither in the state nor in the CLI's output in plaintext; a CA change on the running
cluster previews as the first step of a rotation; a CA that does not fit its key is refused at
preview. Nothing here runs the
engine: the node certificate's use by real nodes is test_modern_engines.py's (the same Secret,
the same mounts), and the CA that signs it changes nothing there."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from es_cluster import tls

from .conftest import PREBUILT_IMAGE, Kube, Stack
from .test_modern_engines import kwok_config

NAME = "corp"


def corp_ca() -> tuple[str, str]:
    key = tls.new_key()
    return tls.cert_pem(tls.new_ca("Corp Root", key, dt.datetime.now(dt.UTC))), tls.key_pem(key)


@pytest.fixture(scope="module")
def ca() -> tuple[str, str]:
    return corp_ca()


@pytest.fixture(scope="module")
def stack(make_stack, ca) -> Stack:
    config = kwok_config("es8", "unused")
    config.update(namespace="e2e-own-ca", clusterName=NAME, image={"reference": PREBUILT_IMAGE})
    config["security"] = {"caCertificate": ca[0]}
    s = make_stack("own-ca", config)
    s.pulumi("config", "set", "--secret", "--path", "es-cluster:security.caKey", "--", ca[1])
    s.last_up = s.up()  # type: ignore[attr-defined]
    s.up()  # the second up empties the bootstrap list, as every 7+ stack's does
    return s


def key_body(pem: str) -> str:
    """A stretch of a PEM's base64 that is this key's own (past the prefix every RSA key's
    PKCS#8 form shares): what a plaintext copy anywhere would contain."""
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))[100:]


def test_your_ca_issues_the_node_certificate_and_is_the_one_the_nodes_trust_and_the_stack_exports(stack: Stack, kube: Kube, ca):
    data = kube.get("secret", f"{NAME}-certs", "-n", "e2e-own-ca")["data"]
    files = {k: base64.b64decode(v).decode() for k, v in data.items()}
    assert set(files) == {"ca.crt", "tls.crt", "tls.key"}, "no CA key in the Secret the nodes mount"
    given = tls.load_cert(ca[0])
    assert tls.load_cert(files["ca.crt"]) == given
    tls.load_cert(files["tls.crt"]).verify_directly_issued_by(given)
    assert tls.load_cert(stack.outputs()["caCertificate"]) == given


def test_your_ca_key_is_in_no_kubernetes_object_nor_in_plaintext_in_the_state_or_the_cli_output(stack: Stack, kube: Kube, ca):
    body = key_body(ca[1])
    secrets = kube.run("get", "secrets", "-n", "e2e-own-ca", "-o", "json").stdout
    assert body[:64] not in secrets.replace("\\n", "")
    decoded = [base64.b64decode(v).decode() for item in json.loads(secrets)["items"] for v in (item.get("data") or {}).values()]
    assert decoded and not any(body[:64] in d.replace("\n", "") for d in decoded)
    # The check sees a key that is there: the node's own, in the Secret the nodes mount.
    node_key = base64.b64decode(kube.get("secret", f"{NAME}-certs", "-n", "e2e-own-ca")["data"]["tls.key"]).decode()
    assert any(key_body(node_key)[:64] in d.replace("\n", "") for d in decoded)
    state = stack.pulumi("stack", "export").stdout
    assert body[:64] not in state.replace("\\n", "")
    assert body[:64] not in (stack.last_up.stdout + stack.last_up.stderr).replace("\n", "")  # type: ignore[attr-defined]
    stack_file = (stack.dir / "Pulumi.own-ca.yaml").read_text()
    assert "secure:" in stack_file and body[:64] not in stack_file.replace("\n", "")


def test_another_ca_for_the_running_cluster_previews_as_the_first_step_of_a_rotation(stack: Stack):
    """Its nodes must trust the new CA beside the old before any presents a certificate of it
    (the steps on running nodes: test_modern_engines.py)."""
    other = corp_ca()
    saved = (stack.dir / "Pulumi.own-ca.yaml").read_text()
    try:
        stack.pulumi("config", "set", "--path", "es-cluster:security.caCertificate", "--", other[0])
        stack.pulumi("config", "set", "--secret", "--path", "es-cluster:security.caKey", "--", other[1])
        steps = {
            s["urn"].rsplit("::", 1)[1]: s["op"] for s in stack.preview_steps() if not s["urn"].split("::")[2].startswith("pulumi:pulumi:")
        }
        proc = stack.pulumi("preview", "--diff", check=False)
    finally:
        (stack.dir / "Pulumi.own-ca.yaml").write_text(saved)
    # The credentials and the Secret with ca.crt (which the provider replaces, as it does a
    # Secret whose data changes; a preview may not know the other Secrets' new values yet, and
    # lists them too), and nothing else: no workload restarts for it.
    assert steps[f"{NAME}-credentials"] == "update" and f"{NAME}-secret-{NAME}-certs" in steps, steps
    secrets = {f"{NAME}-secret-{NAME}-{s}" for s in ("certs", "file-realm", "elastic-user")}
    assert set(steps) <= {f"{NAME}-credentials", *secrets}, steps
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and key_body(other[1])[:64] not in out.replace("\n", ""), out


def test_a_key_that_is_not_the_cas_is_refused_at_preview_without_showing_it(stack: Stack):
    wrong = tls.key_pem(tls.new_key())
    saved = (stack.dir / "Pulumi.own-ca.yaml").read_text()
    try:
        stack.pulumi("config", "set", "--secret", "--path", "es-cluster:security.caKey", "--", wrong)
        proc = stack.pulumi("preview", check=False)
    finally:
        (stack.dir / "Pulumi.own-ca.yaml").write_text(saved)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "security.caKey: is not the key of security.caCertificate" in out, out
    assert key_body(wrong)[:64] not in out.replace("\n", "")
