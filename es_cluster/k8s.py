"""Kubernetes' own rules for the values es-cluster passes through, as the API server applies them.

Each check takes any value (the caller may hold the wrong type) and returns None when the value
is valid, or a short reason to show after the config key. Every string rule is a full match: a
trailing newline, a NUL byte or surrounding spaces never pass. Sources: k8s.io/apimachinery's
validation (names, labels, quantities), k8s.io/kubernetes pkg/apis/core/validation
(tolerations, resources, host paths) and the distribution/reference grammar (image references).
"""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal, InvalidOperation
from typing import Any

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = _QUALIFIED_NAME_PART

# resource.Quantity's grammar (the OpenAPI pattern of io.k8s.apimachinery...Quantity).
_QUANTITY = re.compile(
    r"(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))?"
)
_SUFFIX = {
    None: Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
# Quantities beyond this (about 9.2e18, int64) are not stored as written by the API server.
_QUANTITY_MAX = Decimal(INT64_MAX)

# Container resources es-cluster accepts: the standard ones (hugepages-<size> too).
STANDARD_RESOURCES = ("cpu", "memory", "ephemeral-storage")

# distribution/reference, as Docker and containerd parse image references.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"(?P<name>{_REPOSITORY.pattern})(?::{_TAG})?(?:@{_DIGEST})?")
_SHA256_REFERENCE = re.compile(rf"(?P<name>{_REPOSITORY.pattern})(?::{_TAG})?@sha256:[0-9a-f]{{64}}")
MAX_REPOSITORY = 255

TOLERATION_FIELDS = ("key", "operator", "value", "effect", "tolerationSeconds")
TOLERATION_OPERATORS = ("Exists", "Equal")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def is_int(v: Any) -> bool:
    """A whole number as Kubernetes takes it: an int, never a bool (True is an int in Python)."""
    return isinstance(v, int) and not isinstance(v, bool)


# --- names --------------------------------------------------------------------------------------


def _name(v: Any, pattern: re.Pattern[str], rule: str, max_len: int) -> str | None:
    if not _is_str(v) or not pattern.fullmatch(v):
        return f"must be {rule}"
    if len(v) > max_len:
        return f"must be at most {max_len} characters, not {len(v)}"
    return None


def dns1123_label(v: Any, max_len: int = 63) -> str | None:
    return _name(v, _DNS1123_LABEL, "lower-case letters, digits and '-', starting and ending with a letter or digit", max_len)


def dns1035_label(v: Any, max_len: int = 63) -> str | None:
    rule = "lower-case letters, digits and '-', starting with a letter and ending with a letter or digit"
    return _name(v, _DNS1035_LABEL, rule, max_len)


def dns1123_subdomain(v: Any, max_len: int = 253) -> str | None:
    rule = "lower-case letters, digits, '-' and '.', each part starting and ending with a letter or digit"
    return _name(v, _DNS1123_SUBDOMAIN, rule, max_len)


def label_key(v: Any) -> str | None:
    """A qualified name: [DNS-1123 subdomain prefix/]name, name at most 63 characters."""
    if not _is_str(v):
        return "must be a string"
    prefix, slash, name = v.rpartition("/")
    if slash and (not prefix or dns1123_subdomain(prefix) is not None):
        return "must have a DNS subdomain prefix (lower-case, at most 253 characters) before '/'"
    if not name or len(name) > 63 or not _QUALIFIED_NAME_PART.fullmatch(name):
        return "must be [prefix/]name, name at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit"
    return None


def label_value(v: Any) -> str | None:
    if not _is_str(v):
        return 'must be a string (quote "true" and numbers in YAML)'
    if len(v) > 63 or (v and not _LABEL_VALUE.fullmatch(v)):
        return "must be at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit"
    return None


# --- int-or-percent (rolling updates, disruption budgets) --------------------------------------

_PERCENT = re.compile(r"(?P<n>[0-9]{1,3})%")


def int_or_percent(v: Any) -> str | None:
    """A positive IntOrString as rollingUpdate.maxUnavailable takes it: a whole number from 1, or
    a percentage from 1% to 100% (written "25%", a string)."""
    if is_int(v):
        if v < 1:
            return "must be at least 1 (or a percentage such as '25%')"
        if v > INT32_MAX:
            return f"must be at most {INT32_MAX} (Kubernetes' int32)"
        return None
    if _is_str(v):
        m = _PERCENT.fullmatch(v)
        if m is None:
            return "must be a whole number such as 2, or a percentage such as '25%'"
        if not 1 <= int(m.group("n")) <= 100:
            return "must be a percentage from 1% to 100%"
        return None
    return "must be a whole number such as 2, or a percentage such as '25%'"


def scaled(v: int | str, total: int, *, round_up: bool) -> int:
    """An int-or-percent resolved against `total` as the controllers do: a percentage of it,
    rounded up (DaemonSet, StatefulSet, disruption budget) or down (Deployment)."""
    if is_int(v):
        return v
    n = int(_PERCENT.fullmatch(v).group("n"))  # type: ignore[union-attr]
    return -(-n * total // 100) if round_up else n * total // 100


# --- quantities and resources -------------------------------------------------------------------


def parse_quantity(v: Any) -> Decimal | None:
    """The value of a quantity string, or None when it is not one."""
    if not _is_str(v):
        return None
    m = _QUANTITY.fullmatch(v)
    if not m:
        return None
    try:
        number = Decimal(m.group("num"))
        suffix = m.group("suffix")
        if suffix not in _SUFFIX:  # a decimal exponent, e3 / E-3
            return number * Decimal(10) ** Decimal(suffix[1:])
        return number * _SUFFIX[suffix]
    except (InvalidOperation, OverflowError):
        return None


def quantity(v: Any, *, positive: bool = False) -> str | None:
    value = parse_quantity(v)
    if value is None:
        return "must be a Kubernetes quantity given as a string, such as 500m, 2Gi or 50Gi"
    if value < 0:
        return "must not be negative"
    if positive and value == 0:
        return "must be greater than zero"
    if value > _QUANTITY_MAX:
        return "is too large for Kubernetes (at most about 8Ei)"
    return None


def resource_name(v: Any) -> str | None:
    if not _is_str(v):
        return "must be a string"
    if v in STANDARD_RESOURCES:
        return None
    if v.startswith("hugepages-") and parse_quantity(v[len("hugepages-") :]) is not None:
        return None
    return f"is not a container resource es-cluster knows; allowed: {', '.join(STANDARD_RESOURCES)}, hugepages-<size>"


# --- tolerations ---------------------------------------------------------------------------------


def toleration(t: Any) -> list[tuple[str, str]]:
    """Problems of one toleration, as (field or "", reason), by ValidateTolerations' rules."""
    if not isinstance(t, dict) or not t:
        return [("", f"must be a toleration: an object with some of {', '.join(TOLERATION_FIELDS)}")]
    out: list[tuple[str, str]] = []
    for k in t:
        if k not in TOLERATION_FIELDS:
            out.append(("", f"unknown toleration field {k!r}; allowed: {', '.join(TOLERATION_FIELDS)}"))
    key, operator, value, effect = (t.get(f, "") for f in ("key", "operator", "value", "effect"))
    for f, v in (("key", key), ("operator", operator), ("value", value), ("effect", effect)):
        if v is None:
            continue
        if not _is_str(v):
            out.append((f, "must be a string"))
    if out:
        return out
    key, operator, value, effect = key or "", operator or "Equal", value or "", effect or ""
    if key and (why := label_key(key)) is not None:
        out.append(("key", why))
    if operator not in TOLERATION_OPERATORS:
        out.append(("operator", f"must be one of {', '.join(TOLERATION_OPERATORS)}, got {operator!r}"))
    if not key and operator != "Exists":
        out.append(("operator", "must be Exists when key is empty (it then tolerates every taint)"))
    if operator == "Exists" and value:
        out.append(("value", "must be empty when operator is Exists"))
    if operator == "Equal" and (why := label_value(value)) is not None:
        out.append(("value", why))
    if effect and effect not in TAINT_EFFECTS:
        out.append(("effect", f"must be one of {', '.join(TAINT_EFFECTS)} (or empty for all), got {effect!r}"))
    if "tolerationSeconds" in t and t["tolerationSeconds"] is not None:
        secs = t["tolerationSeconds"]
        if not is_int(secs) or not -(2**63) <= secs <= INT64_MAX:
            out.append(("tolerationSeconds", "must be a whole number of seconds"))
        elif effect != "NoExecute":
            out.append(("tolerationSeconds", "only applies with effect NoExecute"))
    return out


# --- paths and images ----------------------------------------------------------------------------


def host_path(v: Any) -> str | None:
    """An absolute path on the node without '..' components or control characters."""
    if not _is_str(v) or not v.startswith("/"):
        return "must be an absolute path on the node, starting with /"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in v):
        return "must not contain control characters (newline, NUL, …)"
    if ".." in v.split("/"):
        return "must not contain '..' components"
    return None


def _host_like(component: str) -> bool:
    """Docker reads a name's first component as a registry host only with a '.' or ':' or as
    localhost; otherwise it is a path component, which must be lower-case."""
    return "." in component or ":" in component or component.startswith("[") or component == "localhost"


def _name_ok(name: str) -> bool:
    first, slash, _ = name.partition("/")
    return len(name) <= MAX_REPOSITORY and (not slash or _host_like(first) or bool(re.fullmatch(_PATH_COMPONENT, first)))


def repository(v: Any) -> str | None:
    """An image name without tag or digest, such as registry.example.com:5000/team/es."""
    if not _is_str(v) or not _REPOSITORY.fullmatch(v) or not _name_ok(v):
        ref = _REFERENCE.fullmatch(v) if _is_str(v) else None
        if ref and ref.group("name") != v:
            return "must not carry a tag or digest (the tag is derived from the image context)"
        return "must be an image name such as localhost:5000/es-kubernetes (lower-case path, optional registry host)"
    return None


def image_reference(v: Any) -> str | None:
    """name[:tag][@digest], as docker pull takes it."""
    m = _REFERENCE.fullmatch(v) if _is_str(v) else None
    if not m or not _name_ok(m.group("name")):
        return "must be an image reference such as registry.example.com/es:2.3.4"
    return None


def digest_reference(v: Any) -> str | None:
    m = _SHA256_REFERENCE.fullmatch(v) if _is_str(v) else None
    if not m or not _name_ok(m.group("name")):
        return "must be pinned by digest, as repository@sha256:<64 hex digits>"
    return None


# --- pod security context and network policy peers ----------------------------------------------

POD_SECURITY_CONTEXT_FIELDS = ("runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "fsGroupChangePolicy", "supplementalGroups")
FS_GROUP_CHANGE_POLICIES = ("OnRootMismatch", "Always")
SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def _id(v: Any) -> bool:
    return is_int(v) and 0 <= v <= INT64_MAX


def pod_security_context(ctx: Any) -> list[tuple[str, str]]:
    """Problems of a pod securityContext limited to the fields es-cluster passes on, by
    ValidatePodSecurityContext's rules: (field or "", reason)."""
    if not isinstance(ctx, dict):
        return [("", f"must be an object with some of {', '.join(POD_SECURITY_CONTEXT_FIELDS)}")]
    out: list[tuple[str, str]] = []
    for k, v in ctx.items():
        if k not in POD_SECURITY_CONTEXT_FIELDS:
            out.append(("", f"unknown or unsupported field {k!r}; allowed: {', '.join(POD_SECURITY_CONTEXT_FIELDS)}"))
        elif k in ("runAsUser", "runAsGroup", "fsGroup") and not _id(v):
            out.append((k, f"must be a whole number from 0 to {INT64_MAX}"))
        elif k == "runAsNonRoot" and not isinstance(v, bool):
            out.append((k, "must be true or false"))
        elif k == "fsGroupChangePolicy" and v not in FS_GROUP_CHANGE_POLICIES:
            out.append((k, f"must be one of {', '.join(FS_GROUP_CHANGE_POLICIES)}"))
        elif k == "supplementalGroups" and not (isinstance(v, list) and all(_id(g) for g in v)):
            out.append((k, "must be a list of whole numbers >= 0"))
    if not out and ctx.get("runAsNonRoot") is True and ctx.get("runAsUser") in (None, 0):
        out.append(("runAsNonRoot", "needs runAsUser set to a non-zero uid: the image's own user is root"))
    return out


def label_selector(sel: Any) -> list[tuple[str, str]]:
    """Problems of a LabelSelector (matchLabels, matchExpressions): (field or "", reason)."""
    if not isinstance(sel, dict):
        return [("", "must be a label selector: an object with matchLabels and/or matchExpressions")]
    out: list[tuple[str, str]] = []
    for k in sel:
        if k not in ("matchLabels", "matchExpressions"):
            out.append(("", f"unknown selector field {k!r}; allowed: matchLabels, matchExpressions"))
    labels = sel.get("matchLabels", {})
    if not isinstance(labels, dict):
        out.append(("matchLabels", "must be a map of label key to value"))
    else:
        for key, value in labels.items():
            why = label_key(key) or label_value(value)
            if why:
                out.append((f"matchLabels.{key}", why))
    exprs = sel.get("matchExpressions", [])
    if not isinstance(exprs, list):
        return out + [("matchExpressions", "must be a list")]
    for i, e in enumerate(exprs):
        f = f"matchExpressions[{i}]"
        if not isinstance(e, dict) or set(e) - {"key", "operator", "values"}:
            out.append((f, "must be an object with key, operator and values"))
            continue
        if (why := label_key(e.get("key"))) is not None:
            out.append((f"{f}.key", why))
        op, values = e.get("operator"), e.get("values", [])
        if op not in SELECTOR_OPERATORS:
            out.append((f"{f}.operator", f"must be one of {', '.join(SELECTOR_OPERATORS)}"))
        elif not isinstance(values, list) or not all(_is_str(v) and label_value(v) is None for v in values):
            out.append((f"{f}.values", "must be a list of label values"))
        elif op in ("In", "NotIn") and not values:
            out.append((f"{f}.values", f"must not be empty for {op}"))
        elif op in ("Exists", "DoesNotExist") and values:
            out.append((f"{f}.values", f"must be empty for {op}"))
    return out


def network_policy_peer(peer: Any) -> list[tuple[str, str]]:
    """Problems of a NetworkPolicyPeer: podSelector and/or namespaceSelector, or ipBlock alone."""
    if not isinstance(peer, dict) or not peer:
        return [("", "must be a peer: an object with podSelector and/or namespaceSelector, or ipBlock")]
    out: list[tuple[str, str]] = []
    for k in peer:
        if k not in ("podSelector", "namespaceSelector", "ipBlock"):
            out.append(("", f"unknown peer field {k!r}; allowed: podSelector, namespaceSelector, ipBlock"))
    if "ipBlock" in peer and len(peer) > 1:
        out.append(("ipBlock", "must stand alone, without podSelector or namespaceSelector"))
    for k in ("podSelector", "namespaceSelector"):
        if k in peer:
            out += [(f"{k}.{f}" if f else k, why) for f, why in label_selector(peer[k])]
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        if not isinstance(block, dict) or set(block) - {"cidr", "except"} or "cidr" not in block:
            out.append(("ipBlock", "must be an object with cidr and optionally except"))
        else:
            net = _cidr(block["cidr"])
            if net is None:
                out.append(("ipBlock.cidr", f"must be a CIDR such as 10.0.0.0/8, got {block['cidr']!r}"))
            for i, e in enumerate(block.get("except") or []):
                sub = _cidr(e)
                if sub is None or net is None or sub.version != net.version or not sub.subnet_of(net):  # type: ignore[arg-type]
                    out.append((f"ipBlock.except[{i}]", "must be a CIDR inside cidr"))
    return out


def _cidr(v: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not _is_str(v) or "/" not in v:
        return None
    try:
        return ipaddress.ip_network(v, strict=True)
    except ValueError:
        return None
