"""Your own certificates (security.certificateSecret): a Secret made before the stack, in
cert-manager's kubernetes.io/tls layout (ca.crt, tls.crt, tls.key), signed by a CA the component
never sees. Deployed through the real CLI (A, as in test_modern_engines.py), then the engine
for real on them (B, that module's harness, which mounts the Secret as a kubelet would):

- the component issues nothing: no <name>-certs Secret, no caCertificate output, no
  credentials' certificate in the state, and the workloads mount your Secret;
- the nodes form green over HTTPS that a client verifies with your CA alone, and present your
  certificate on HTTP and on transport;
- OpenSearch knows its nodes by security.certificateSubject (plugins.security.nodes_dn): a node
  whose certificate your CA signed for another subject does not join, so the setting is what
  lets yours in.

One cluster per distribution of three master-eligible data nodes (no coordinating group): what
is proven is the certificates on both layers, which takes nodes that talk to each other, not the
layout, which test_modern_engines.py proves."""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from es_cluster import tls

from .test_modern_engines import (
    ALONE_SOON,
    KWOK_MASTERS,
    REFUSED_HANDSHAKE,
    SELECTED,
    TRANSPORT_BASE,
    UNSECURED,
    Engine,
    Node,
    green_throughout_with_no_restart,
    presented_serial,
    refused_preview,
    wait_green,
    wait_presented,
    wait_until,
)

SECRET = "logs-tls"  # not the component's <name>-certs: the name given is the one mounted
# The subject your certificate carries, as RFC 4514 writes it (most specific first), which is
# how `openssl x509 -noout -subject -nameopt RFC2253` prints it.
SUBJECT = "CN=logs-node,OU=Logging,O=Example Corp"
HERE = [s for s in SELECTED if s not in UNSECURED]
# What OpenSearch's security plugin (2.19.4) logs of a transport request from a certificate
# whose subject is not in nodes_dn, naming that subject.
NOT_A_NODE = "Node presenting certificate with SSL Principal {{{}}} could not securely connect to the cluster"


def _name(subject: str) -> x509.Name:
    """`subject` (RFC 4514, most specific first) as a certificate's Name (least specific first)."""
    oids = {"CN": NameOID.COMMON_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "O": NameOID.ORGANIZATION_NAME}
    parts = [p.split("=", 1) for p in subject.split(",")]
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in reversed(parts)])


def your_certificate(subject: str, ca: x509.Certificate, ca_key, names: list[str], days: int = 30) -> tuple[x509.Certificate, Any]:
    """A node certificate as your own PKI would issue it: written here, not by es_cluster.tls."""
    key = tls.new_key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    assert cert.subject.rfc4514_string() == subject
    return cert, key


class OwnCertificates(Engine):
    """A stack whose nodes run on a Secret you made: three master-eligible data nodes."""

    workload_kinds = (("DaemonSet", "master"),)

    def __init__(self, stack: str, make_stack, docker_env, kube, tmp: Path):
        super().__init__(stack, make_stack, docker_env, kube, tmp)
        self.stack_name = f"own-certs-{stack}"  # the containers' names: none of the modern module's
        master = self.config["nodeGroups"]["master"]
        master["roles"] = ["master", "data"]
        self.config["nodeGroups"] = {"master": master}
        self.ns = self.config["namespace"] = f"e2e-own-certs-{stack}"
        self.config["createNamespace"] = False  # yours, since your Secret is in it
        self.config["security"] = {"certificateSecret": SECRET}
        if self.distribution == "opensearch":
            self.config["security"]["certificateSubject"] = SUBJECT
        self.stack.write_config(self.config)
        ca_key = tls.new_key()
        self.ca = tls.new_ca("Example Corp Root", ca_key, dt.datetime.now(dt.UTC))
        self.ca_key = ca_key
        # The names a client checks: localhost (the harness's), and the pods' under the headless Service.
        self.names = ["localhost", f"*.{self.name}-transport.{self.ns}.svc"]
        self.cert, key = your_certificate(SUBJECT, self.ca, ca_key, self.names)
        kube.run("create", "namespace", self.ns)
        files = tmp / "yours"
        files.mkdir()
        (files / "ca.crt").write_text(tls.cert_pem(self.ca))
        (files / "tls.crt").write_text(tls.cert_pem(self.cert))
        (files / "tls.key").write_text(tls.key_pem(key))
        kube.run(
            "create", "secret", "generic", SECRET, "-n", self.ns, "--type", "kubernetes.io/tls",
            *(f"--from-file={f.name}={f}" for f in sorted(files.iterdir())),
        )  # fmt: skip

    def certificates_dir(self) -> Path:
        return self.secret_dirs[SECRET]

    def tls_context(self) -> ssl.SSLContext:
        """A client that knows your CA and nothing else."""
        return ssl.create_default_context(cadata=tls.cert_pem(self.ca))

    def start_nodes(self) -> None:
        image = self.stack.outputs()["imageRef"]
        masters = [TRANSPORT_BASE + i for i in range(len(KWOK_MASTERS))]
        for index, node_name in enumerate(KWOK_MASTERS):
            env = self.container_env("DaemonSet", "master", node_name, node_name)
            self.nodes[node_name] = Node(self, index, env, image, "master", masters, self.secret_mounts("DaemonSet", "master"))
        self.sync_secrets()
        for node in self.nodes.values():
            node.start(self.first_list)

    def client(self) -> Node:
        return self.masters()[0]


@pytest.fixture(scope="module", params=HERE)
def own(request, make_stack, docker_env, kube, tmp_path_factory):
    e = OwnCertificates(request.param, make_stack, docker_env, kube, tmp_path_factory.mktemp(f"own-{request.param}"))
    yield e
    e.remove()
    shutil.rmtree(e.tmp, ignore_errors=True)


def test_up_issues_no_certificate_and_the_nodes_mount_yours(own: OwnCertificates):
    own.stack.up()
    own.first_list = own.bootstrap_list()
    assert own.first_list == ",".join(KWOK_MASTERS)
    assert not own.kube.exists("secret", f"{own.name}-certs", "-n", own.ns)
    assert "caCertificate" not in own.stack.outputs()
    spec = own.workload("DaemonSet", "master")["spec"]["template"]["spec"]
    assert [v["secret"]["secretName"] for v in spec["volumes"] if v["name"] == "certs"] == [SECRET]
    # What the credentials resource keeps is the password alone: no certificate of its own.
    [credentials] = [r for r in own.stack.export()["deployment"]["resources"] if r["urn"].endswith(f"::{own.name}-credentials")]
    assert "BEGIN CERTIFICATE" not in str(credentials.get("outputs", {})).replace("\\n", "")


def test_taking_your_certificates_from_the_running_cluster_is_refused_at_preview(own: OwnCertificates):
    """Back to the component's certificates: each restarted node would trust only the
    component's CA, and the others only yours."""

    def drop(config: dict[str, Any]) -> None:
        config["security"] = {}

    out = refused_preview(own, drop)
    assert (
        f"security.certificateSecret: moves the running cluster's nodes from Secret {SECRET}'s certificates to the "
        f"component's (Secret {own.name}-certs)." in out
    ), out
    assert "set es-cluster:allowDisruptive to [quorumLoss] (or true) for this change" in out, out


def test_the_nodes_form_green_on_your_certificates_on_https_and_transport(own: OwnCertificates):
    own.start_nodes()
    wait_green(own, len(own.nodes))
    # Every node, on both layers, presents yours: HTTPS verified by your CA alone.
    presented = {presented_serial(n, False) for n in own.nodes.values()}
    presented |= {presented_serial(n, True) for n in own.nodes.values()}
    assert presented == {own.cert.serial_number}
    names = sorted(r["name"] for r in own.client().get("/_cat/nodes?format=json&h=name"))
    assert names == KWOK_MASTERS


def test_your_secret_renewed_in_place_reaches_the_running_nodes_without_a_restart(own: OwnCertificates):
    """What cert-manager does at renewal: a new certificate in the same Secret. The kubelet's
    update of the mounted Secret reaches the nodes, which reload it: every new connection gets
    it, green at every 1-s poll, and the workload is not changed."""
    # Valid for longer than the first: OpenSearch reloads only a certificate that expires later.
    cert, key = your_certificate(SUBJECT, own.ca, own.ca_key, own.names, days=60)
    with green_throughout_with_no_restart(own, "renewal in your Secret"):
        patch = {"data": {"tls.crt": b64(tls.cert_pem(cert)), "tls.key": b64(tls.key_pem(key))}}
        own.kube.run("patch", "secret", SECRET, "-n", own.ns, "--type", "merge", "-p", json.dumps(patch))
        own.sync_secrets()
        wait_presented(own, cert, "your renewed certificate")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_a_node_with_a_certificate_of_your_ca_for_another_subject_is_no_opensearch_node(own: OwnCertificates, tmp_path):
    """OpenSearch lets in as a node only a certificate whose subject is in nodes_dn (what
    security.certificateSubject sets): the same CA and names for another subject stay out."""
    if own.distribution != "opensearch":
        pytest.skip("Elasticsearch takes any certificate its CA signed as a node's (verification_mode certificate)")
    other = "CN=other-node,OU=Logging,O=Example Corp"
    cert, key = your_certificate(other, own.ca, own.ca_key, own.names)
    folder = tmp_path / "certs"
    folder.mkdir()
    (folder / "ca.crt").write_text(tls.cert_pem(own.ca))
    (folder / "tls.crt").write_text(tls.cert_pem(cert))
    (folder / "tls.key").write_text(tls.key_pem(key))
    for f in folder.iterdir():
        f.chmod(0o644)
    folder.chmod(0o755)
    first = own.masters()[0]
    mounts = [(folder, path) if path.endswith("/certs") else (f, path) for f, path in first.mounts]
    # A data node: it asks to join and could never be elected.
    env = {**first.env, "NODE_NAME": "other-subject", "NODE_ROLES": "data"}
    extra = Node(own, 8, env, first.image, "data", [TRANSPORT_BASE + i for i in range(3)], mounts)
    try:
        extra.start("", None, ALONE_SOON)
        # The cluster's nodes refuse its requests, naming its subject.
        wait_until(
            "the nodes to refuse the other subject's requests as not a node's",
            lambda: all(NOT_A_NODE.format(other) in n.logs() for n in own.nodes.values()),
            150,
            explain=lambda: extra.logs()[-3000:],
        )
        wait_until("the node to start", lambda: "] started" in extra.logs(), 150, explain=lambda: extra.logs()[-3000:])
        assert not any(s in extra.logs() for s in REFUSED_HANDSHAKE), "the handshake itself failed: not the subject's doing"
        names = [r["name"] for r in own.client().get("/_cat/nodes?format=json&h=name")]
        assert extra.name not in names and len(names) == len(own.nodes)
    finally:
        extra.remove()
