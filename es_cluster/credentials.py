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
The CA changes only in three steps, each at an `up` at least SETTLE after the one before,
since nodes trust only the CAs in the certificate Secret's ca.crt, and the kubelet brings a
Secret's update to each pod in its own time:
1. trust: ca.crt holds the new CA beside the old; every node still presents a certificate of
   the old one;
2. sign: the node certificate is issued by the new CA; both are still trusted, so a node with
   the new certificate and one with the old still talk;
3. retire: ca.crt holds the new CA alone.
What starts it: the component's CA with less than a third of its life left, a new
security.caDays, a CA the user gives (security.caCertificate, caKey) in place of the one in use,
or the component's CA in place of the user's.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pulumi
import pulumi.dynamic
from pulumi.runtime import rpc

from . import tls

# Outputs that hold a key or a password: Pulumi encrypts them in the state.
SECRET_OUTPUTS = ["ca_key", "tls_key", "password", "users", "previous_password", "next_ca_key"]
# trusted: the CAs the nodes trust (the Secret's ca.crt); next_ca_crt: the CA a rotation moves
# to, trusted and not yet signing; step_at: when the rotation's last step was made.
OUTPUTS = ["ca_crt", "tls_crt", *SECRET_OUTPUTS, "password_source", "trusted", "next_ca_crt", "step_at"]
# How long a CA rotation's step waits after the one before: the kubelet refreshes a mounted
# Secret within about a minute (its sync period and cache). ES_CLUSTER_CA_SETTLE_SECONDS sets it.
SETTLE_SECONDS = 300
# Inputs kept among the outputs (as a dynamic resource keeps them all) that are secrets too.
SECRET_INPUTS = ["given_ca_key"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _settle() -> dt.timedelta:
    return dt.timedelta(seconds=int(os.environ.get("ES_CLUSTER_CA_SETTLE_SECONDS", SETTLE_SECONDS)))


def bundle(*pems: str) -> str:
    """CA certificates in one PEM file, as the engines read a CA file."""
    return "".join(p if p.endswith("\n") else p + "\n" for p in pems if p)


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


def _node_days(news: dict[str, Any]) -> int:
    return int(news.get("certificate_days") or tls.NODE_DAYS)


def _refuse(news: dict[str, Any], now: dt.datetime) -> None:
    """What no preview or `up` may take: a given password or CA key that breaks the rules, or a
    given CA that expires before a node certificate issued now would."""
    _check_given(news)
    if news.get("issue_certificates") and news.get("given_ca_key"):
        _given_ca(news, now)


def _given_ca(news: dict[str, Any], now: dt.datetime) -> Any:
    """The user's CA, refused when it expires before a node certificate issued now would."""
    ca = tls.load_cert(news["given_ca_crt"])
    days = _node_days(news)
    if not tls.outlives(ca, now, days):
        raise CredentialsRefused(
            f"security.caCertificate: expires {ca.not_valid_after_utc:%Y-%m-%d}, before a node certificate of {days} days "
            "issued now would: give a CA valid for longer, or a shorter security.certificateDays"
        )
    return ca


def _ca_days(news: dict[str, Any]) -> int:
    return int(news.get("ca_days") or tls.CA_DAYS)


def _first_ca(news: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """The CA a cluster starts with: the one given, or a new one; trusted alone."""
    if news.get("given_ca_key"):
        ca, key_pem = _given_ca(news, now), tls.key_pem(tls.load_key(news["given_ca_key"]))
    else:
        key = tls.new_key()
        ca, key_pem = tls.new_ca(news["cluster_name"], key, now, _ca_days(news)), tls.key_pem(key)
    return {"ca_crt": tls.cert_pem(ca), "ca_key": key_pem, "trusted": tls.cert_pem(ca), "next_ca_crt": "", "next_ca_key": "", "step_at": ""}


def _node_certificate(news: dict[str, Any], ca_crt: str, ca_key: str, now: dt.datetime) -> dict[str, Any]:
    """A node certificate for the names asked for, from the CA that signs now."""
    key = tls.new_key()
    cert = tls.new_node_cert(
        news["cluster_name"], list(news["dns_names"]), key, tls.load_cert(ca_crt), tls.load_key(ca_key), now, _node_days(news)
    )
    return {"tls_crt": tls.cert_pem(cert), "tls_key": tls.key_pem(key)}


def _certificates(news: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """A new cluster's CA and node certificate (none for the user's own Secret)."""
    if not news.get("issue_certificates"):
        return dict.fromkeys(("ca_crt", "ca_key", "tls_crt", "tls_key", "trusted", "next_ca_crt", "next_ca_key", "step_at"), "")
    ca = _first_ca(news, now)
    return {**ca, **_node_certificate(news, ca["ca_crt"], ca["ca_key"], now)}


def _users(news: dict[str, Any], password: str) -> str:
    """The engine's users file (the profile's realm) for the superuser and this password."""
    return tls.realm_file(news.get("realm") or "file", tls.password_hash(password), news.get("superuser") or tls.SUPERUSER)


def changes(olds: dict[str, Any], news: dict[str, Any], now: dt.datetime) -> list[str]:
    """Which outputs an update would make anew ([] when the state's credentials still serve),
    and which step of a CA rotation it makes ("trust", "sign", "retire")."""
    _refuse(news, now)
    out = []
    if news.get("issue_certificates"):
        if not olds.get("tls_crt"):  # none yet, or the user's own Secret until now
            return ["tls_crt", *_password_change(olds, news)]
        step = rotation_step(olds, news, now)
        if step:
            out.append(step)
        cert = tls.load_cert(olds["tls_crt"])
        if (
            step == "sign"
            or sorted(tls.dns_names(cert)) != sorted(news["dns_names"])
            or tls.validity_days(cert) != _node_days(news)
            or tls.due_for_renewal(cert, now)
        ):
            out.append("tls_crt")
    elif olds.get("tls_crt"):
        out.append("tls_crt")  # the user's own Secret now: the issued ones go
    return out + _password_change(olds, news)


def _password_change(olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    given = news.get("password") or None
    if given is not None and given != olds.get("password"):
        return ["password"]
    if given is None and olds.get("password_source") == "config":
        return ["password"]
    return []


def _trusted(olds: dict[str, Any]) -> str:
    """The CAs the nodes trust (a state an earlier es-cluster made knows only its CA)."""
    return olds.get("trusted") or olds.get("ca_crt") or ""


def _settled(olds: dict[str, Any], now: dt.datetime) -> bool:
    step_at = olds.get("step_at")
    return not step_at or now - dt.datetime.fromisoformat(step_at) >= _settle()


def _new_ca_wanted(olds: dict[str, Any], news: dict[str, Any], now: dt.datetime) -> bool:
    """Whether the CA that signs must change: another one given, the component's in place of
    the user's, a new caDays, or less than a third of its life left."""
    current = tls.load_cert(olds["ca_crt"])
    given = news.get("given_ca_crt") or None
    if given is not None:
        return tls.load_cert(given) != current
    if olds.get("given_ca_crt"):
        return True
    return tls.validity_days(current) != _ca_days(news) or tls.due_for_renewal(current, now)


def rotation_step(olds: dict[str, Any], news: dict[str, Any], now: dt.datetime) -> str | None:
    """The CA rotation's next step that is due now, or None (none under way and none wanted,
    or the last step too recent for every pod to have it)."""
    if olds.get("next_ca_crt"):
        given = news.get("given_ca_crt") or None
        if given is not None and tls.load_cert(given) != tls.load_cert(olds["next_ca_crt"]):
            raise CredentialsRefused(
                "security.caCertificate: a CA rotation to another CA is under way (its nodes trust it beside the one that signs "
                "their certificates): give the CA it moves to until it is done, then the next one"
            )
        return "sign" if _settled(olds, now) else None
    if len(tls.load_certs(_trusted(olds))) > 1:
        return "retire" if _settled(olds, now) else None
    return "trust" if _new_ca_wanted(olds, news, now) else None


def rotation_message(next_ca_crt: str | None, trusted: str | None, step_at: str | None) -> str | None:
    """What the preview and `up` say of a CA rotation under way, from the state, or None."""
    if not step_at or not (next_ca_crt or len(tls.load_certs(trusted or "")) > 1):
        return None
    when = (dt.datetime.fromisoformat(step_at) + _settle()).strftime("%Y-%m-%d %H:%M UTC")
    if next_ca_crt:
        return (
            "security: CA rotation, step 1 of 3 done: the nodes trust the new CA beside the old. The first `up` from "
            f"{when} on has them present certificates of the new CA (step 2)"
        )
    return (
        "security: CA rotation, step 2 of 3 done: the nodes present certificates of the new CA and trust both. The first `up` "
        f"from {when} on stops the trust in the old CA (step 3)"
    )


def check(_olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
    # At every preview, a first deploy's too (which calls no diff).
    _refuse(news, _now())
    return pulumi.dynamic.CheckResult(news, [])


def create(props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
    now = _now()
    _refuse(props, now)
    password, source = _password(props)
    outs = {
        **props,
        **_certificates(props, now),
        "password": password,
        "password_source": source,
        "users": _users(props, password),
        "previous_password": "",
    }
    return pulumi.dynamic.CreateResult(id_=f"{props['cluster_name']}-credentials", outs=outs)


def diff(olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
    what = changes(olds, news, _now())
    return pulumi.dynamic.DiffResult(changes=bool(what), replaces=[], delete_before_replace=False)


def update(olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
    now = _now()
    what = changes(olds, news, now)
    outs = {**news, **{k: olds.get(k) for k in OUTPUTS}}
    outs["trusted"] = _trusted(olds)
    if "trust" in what:
        nxt = _first_ca(news, now)  # the CA given, or a new one of the component's
        outs.update(
            next_ca_crt=nxt["ca_crt"], next_ca_key=nxt["ca_key"], trusted=bundle(nxt["ca_crt"], olds["ca_crt"]), step_at=now.isoformat()
        )
    if "sign" in what:
        outs.update(ca_crt=olds["next_ca_crt"], ca_key=olds["next_ca_key"], next_ca_crt="", next_ca_key="", step_at=now.isoformat())
    if "retire" in what:
        outs.update(trusted=olds["ca_crt"], step_at=now.isoformat())
    if "tls_crt" in what and news.get("issue_certificates") and olds.get("tls_crt"):
        outs.update(_node_certificate(news, outs["ca_crt"], outs["ca_key"], now))
    elif "tls_crt" in what:
        # None now (the user's own Secret), or the component's first after the user's Secret.
        outs.update(_certificates(news, now))
    if "password" in what:
        password, source = _password(news)
        # The one the engine's index still holds, until the probe has changed it.
        previous = olds.get("password") if news.get("password_in_index") else ""
        outs.update(password=password, password_source=source, users=_users(news, password), previous_password=previous or "")
    return pulumi.dynamic.UpdateResult(outs=outs)


# Pulumi runs a dynamic provider in a process of its own, from the provider object pickled by
# dill into the state. dill pickles a class of an importable module by reference, so that process
# would have to import es_cluster, which a program in another language (the component package)
# does not have on its path. So the provider class is made from this source under `__main__`,
# which dill pickles by value: its methods import es_cluster from where it was when the resource
# was declared (the checkout, or site-packages), and run the functions above.
_PROVIDER_SOURCE = """
import pulumi.dynamic


class CredentialsProvider(pulumi.dynamic.ResourceProvider):
    home = ""

    def _impl(self):
        import importlib
        import sys

        if self.home not in sys.path:
            sys.path.insert(0, self.home)
        return importlib.import_module("es_cluster.credentials")

    def check(self, olds, news):
        return self._impl().check(olds, news)

    def create(self, props):
        return self._impl().create(props)

    def diff(self, _id, olds, news):
        return self._impl().diff(olds, news)

    def update(self, _id, olds, news):
        return self._impl().update(olds, news)
"""


class CredentialsProvider(pulumi.dynamic.ResourceProvider):
    """The provider as states made before the one above pickled it, by reference: kept so they
    still load, since a destroy or a refresh runs the provider the state holds (and such a state
    comes from a Python program, whose provider process imports es_cluster)."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        return check(olds, news)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        return create(props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        return diff(olds, news)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        return update(olds, news)


def provider() -> pulumi.dynamic.ResourceProvider:
    """The provider every resource is declared with (pickled by value)."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(_PROVIDER_SOURCE, "<es_cluster.credentials provider>", "exec"), namespace)  # noqa: S102 - our own source, above
    cls = namespace["CredentialsProvider"]
    cls.home = str(Path(__file__).resolve().parents[1])
    return cls()


class Credentials(pulumi.dynamic.Resource):
    """The credentials of one cluster: outputs ca_crt, tls_crt, tls_key, password, users,
    previous_password."""

    ca_crt: pulumi.Output[str]
    tls_crt: pulumi.Output[str]
    tls_key: pulumi.Output[str]
    password: pulumi.Output[str]
    users: pulumi.Output[str]
    previous_password: pulumi.Output[str]
    trusted: pulumi.Output[str]
    next_ca_crt: pulumi.Output[str]
    step_at: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cluster_name: str,
        dns_names: list[str],
        issue_certificates: bool,
        password: str | None,
        certificate_days: int,
        opts: pulumi.ResourceOptions,
        ca_days: int = tls.CA_DAYS,
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
            "ca_days": ca_days,
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
            provider(),
            name,
            props,
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=SECRET_OUTPUTS + SECRET_INPUTS)),
        )
