"""The cluster's credentials as one Pulumi resource: its CA, the node certificate and the
superuser's password, made once and kept in the state as Pulumi secrets, so every later `up`
sees the same ones. No Pulumi TLS or random provider can be had here (docs/security.md says
why), so this is a dynamic provider over tls.py.

What makes it change, and nothing else:
- the names the certificate must carry (a renamed Service or namespace), or its validity
  (security.certificateDays): a new node certificate from the same CA;
- a node certificate with less than a third of its life left, seen by any preview or `up`: the
  same;
- the password set in stack config, changed or removed (a removed one is replaced by a
  generated one). Where the engine keeps its users in its own index once the cluster has formed
  (OpenSearch's security index: `password_in_index`), the password it replaces is kept as
  `previous_password`: the pods' readiness probe changes the one in force with it.
The CA is never reissued by an update: nodes trust it, and a new one would split the cluster.
A CA the user gives (security.caCertificate, caKey) takes its place; giving another one later,
or taking it away, is refused for the same reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pulumi
import pulumi.dynamic
from pulumi.runtime import rpc

from . import tls

# Outputs that hold a key or a password: Pulumi encrypts them in the state.
SECRET_OUTPUTS = ["ca_key", "tls_key", "password", "users", "previous_password"]
OUTPUTS = ["ca_crt", "tls_crt", *SECRET_OUTPUTS, "password_source"]
# Inputs kept among the outputs (as a dynamic resource keeps them all) that are secrets too.
SECRET_INPUTS = ["given_ca_key"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CredentialsRefused(Exception):
    """A change of the credentials that would break the running cluster, or cannot be made."""


def _check_given(news: dict[str, Any]) -> None:
    """The password and CA key as given, checked here where another resource gave them (through
    the component package, the config validation saw only that they would come). A value that
    resource has not made yet (a preview) is checked at the `up` that knows it."""
    given = news.get("password")
    if given and given != rpc.UNKNOWN and (problem := tls.password_problem(given)):
        raise CredentialsRefused(f"security.password: {problem}")
    key = news.get("given_ca_key")
    if key and key != rpc.UNKNOWN and (found := tls.ca_problem(news.get("given_ca_crt"), key)):
        raise CredentialsRefused(f"{found[0]}: {found[1]}")


def _password(news: dict[str, Any]) -> tuple[str, str]:
    given = news.get("password")
    return (given, "config") if given else (tls.new_password(), "generated")


def _given_ca(news: dict[str, Any], now: dt.datetime) -> Any:
    """The user's CA, refused when it expires before a node certificate issued now would."""
    ca = tls.load_cert(news["given_ca_crt"])
    days = int(news.get("certificate_days") or tls.NODE_DAYS)
    if not tls.outlives(ca, now, days):
        raise CredentialsRefused(
            f"security.caCertificate: expires {ca.not_valid_after_utc:%Y-%m-%d}, before a node certificate of {days} days "
            "issued now would: give a CA valid for longer, or a shorter security.certificateDays"
        )
    return ca


def _certificates(news: dict[str, Any], olds: dict[str, Any] | None, now: dt.datetime) -> dict[str, Any]:
    """A node certificate for the names asked for, from the CA given, the CA of `olds`, or a
    new one."""
    if not news.get("issue_certificates"):
        return {"ca_crt": "", "ca_key": "", "tls_crt": "", "tls_key": ""}
    days = int(news.get("certificate_days") or tls.NODE_DAYS)
    if news.get("given_ca_key"):
        ca_key, ca = tls.load_key(news["given_ca_key"]), _given_ca(news, now)
    elif olds and olds.get("ca_key"):
        ca_key, ca = tls.load_key(olds["ca_key"]), tls.load_cert(olds["ca_crt"])
    else:
        ca_key = tls.new_key()
        ca = tls.new_ca(news["cluster_name"], ca_key, now)
    key = tls.new_key()
    cert = tls.new_node_cert(news["cluster_name"], list(news["dns_names"]), key, ca, ca_key, now, days)
    return {"ca_crt": tls.cert_pem(ca), "ca_key": tls.key_pem(ca_key), "tls_crt": tls.cert_pem(cert), "tls_key": tls.key_pem(key)}


def _users(news: dict[str, Any], password: str) -> str:
    """The engine's users file (the profile's realm) for the superuser and this password."""
    return tls.realm_file(news.get("realm") or "file", tls.password_hash(password), news.get("superuser") or tls.SUPERUSER)


def changes(olds: dict[str, Any], news: dict[str, Any], now: dt.datetime) -> list[str]:
    """Which outputs an update would make anew: [] when the state's credentials still serve."""
    _check_given(news)
    out = []
    if news.get("issue_certificates"):
        _same_ca(olds, news)
        if news.get("given_ca_key"):
            _given_ca(news, now)
        if not olds.get("tls_crt"):  # none yet, or the user's own Secret until now
            out.append("tls_crt")
        else:
            cert = tls.load_cert(olds["tls_crt"])
            days = int(news.get("certificate_days") or tls.NODE_DAYS)
            if (
                sorted(tls.dns_names(cert)) != sorted(news["dns_names"])
                or tls.validity_days(cert) != days
                or tls.due_for_renewal(cert, now)
            ):
                out.append("tls_crt")
    elif olds.get("tls_crt"):
        out.append("tls_crt")  # the user's own Secret now: the issued ones go
    given = news.get("password") or None
    if given is not None and given != olds.get("password"):
        out.append("password")
    elif given is None and olds.get("password_source") == "config":
        out.append("password")
    return out


def _same_ca(olds: dict[str, Any], news: dict[str, Any]) -> None:
    """Refuses a change of the CA that issued the running nodes' certificates: nodes trust only
    their CA, so the cluster would split while the new certificates reach them."""
    if not olds.get("tls_crt"):
        return  # nothing issued yet (a first deploy, or the user's own Secret until now)
    given = news.get("given_ca_crt") or None
    if given is not None and tls.load_cert(given) == tls.load_cert(olds["ca_crt"]):
        return
    if given is None and not olds.get("given_ca_crt"):
        return
    what = "another CA" if given is not None else "the component's own CA in place of yours"
    raise CredentialsRefused(
        f"security.caCertificate: the running nodes trust only the CA that issued their certificates, and {what} would split the "
        "cluster while the new certificates reach them. Keep the CA; to move to another, deploy a new cluster with it and move the "
        "data (snapshot and restore, or reindex from remote)"
    )


class CredentialsProvider(pulumi.dynamic.ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        # At every preview, a first deploy's too (which calls no diff).
        _check_given(news)
        if news.get("issue_certificates") and news.get("given_ca_key"):
            _given_ca(news, _now())
        return pulumi.dynamic.CheckResult(news, [])

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        _check_given(props)
        now = _now()
        password, source = _password(props)
        outs = {
            **props,
            **_certificates(props, None, now),
            "password": password,
            "password_source": source,
            "users": _users(props, password),
            "previous_password": "",
        }
        return pulumi.dynamic.CreateResult(id_=f"{props['cluster_name']}-credentials", outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        what = changes(olds, news, _now())
        return pulumi.dynamic.DiffResult(changes=bool(what), replaces=[], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        now = _now()
        what = changes(olds, news, now)
        outs = {**news, **{k: olds.get(k) for k in OUTPUTS}}
        if "tls_crt" in what:
            outs.update(_certificates(news, olds, now))
        if "password" in what:
            password, source = _password(news)
            # The one the engine's index still holds, until the probe has changed it.
            previous = olds.get("password") if news.get("password_in_index") else ""
            outs.update(password=password, password_source=source, users=_users(news, password), previous_password=previous or "")
        return pulumi.dynamic.UpdateResult(outs=outs)


class Credentials(pulumi.dynamic.Resource):
    """The credentials of one cluster: outputs ca_crt, tls_crt, tls_key, password, users,
    previous_password."""

    ca_crt: pulumi.Output[str]
    tls_crt: pulumi.Output[str]
    tls_key: pulumi.Output[str]
    password: pulumi.Output[str]
    users: pulumi.Output[str]
    previous_password: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cluster_name: str,
        dns_names: list[str],
        issue_certificates: bool,
        password: str | None,
        certificate_days: int,
        opts: pulumi.ResourceOptions,
        given_ca_crt: str | None = None,
        given_ca_key: str | None = None,
        realm: str = "file",
        superuser: str = tls.SUPERUSER,
        password_in_index: bool = False,
    ):
        props: dict[str, Any] = {
            "cluster_name": cluster_name,
            "dns_names": dns_names,
            "issue_certificates": issue_certificates,
            "certificate_days": certificate_days,
            # The user's CA, which issues the node certificate in place of the component's own.
            "given_ca_crt": given_ca_crt,
            "given_ca_key": pulumi.Output.secret(given_ca_key) if given_ca_key is not None else None,
            # The users file's form and user (the engine profile's), and whether the engine
            # keeps the password in its own index once formed (the previous one is then kept).
            "realm": realm,
            "superuser": superuser,
            "password_in_index": password_in_index,
            **dict.fromkeys(OUTPUTS),
            # The password asked for (an input); the output of the same name is the one in force.
            "password": pulumi.Output.secret(password) if password is not None else None,
        }
        super().__init__(
            CredentialsProvider(),
            name,
            props,
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=SECRET_OUTPUTS + SECRET_INPUTS)),
        )
