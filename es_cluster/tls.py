"""The cluster's certificates and its superuser's password hash: pure functions of their
inputs (and the keys they are given), so the credentials resource (credentials.py) only decides
when to call them.

A CA per cluster signs one node certificate that every node presents on both layers, as ECK's
HTTP certificate does: its SANs are the HTTP Service's names and every pod's name under the
transport Service, so a client that verifies the host name reaches any node through either
Service. Transport verification is `certificate` (the CA's signature, not the name), which is
what ECK sets too. Keys are PKCS#8 PEM, the form OpenSearch's security plugin requires and
Elasticsearch reads.
"""

from __future__ import annotations

import datetime as dt
import secrets

import bcrypt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .constants import CA_CERTIFICATE_DAYS, NODE_CERTIFICATE_DAYS, SUPERUSER
from .names import CERTIFICATE_ORGANIZATION, node_certificate_common_name

KEY_BITS = 2048
# The keys a CA may sign with: the component's own (RSA), or a user's CA's (RSA or EC).
SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
# Validity: the CA outlives many node certificates, so renewing a node certificate never changes
# what the nodes trust (a CA change would split the cluster until every node had the new one).
CA_DAYS = CA_CERTIFICATE_DAYS
NODE_DAYS = NODE_CERTIFICATE_DAYS
# A node certificate is renewed by the first `up` once less than this part of its life is left.
RENEW_FRACTION = 1 / 3
# Bytes of randomness in a generated password (URL-safe base64: 32 characters).
PASSWORD_BYTES = 24
BCRYPT_ROUNDS = 10


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def key_pem(key: SigningKey) -> str:
    """PKCS#8, unencrypted: the file the nodes read (kept in a Secret, and a Pulumi secret)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def load_key(pem: str) -> SigningKey:
    """A key the component made (RSA), or a CA key the user gave (RSA or EC, checked by
    ca_problem first)."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, SigningKey)
    return key


def ca_certificate_problem(cert_pem: object) -> tuple[str, str] | None:
    """What is wrong with a CA certificate the user gives, on its own, as (the key to name, the
    problem), or None."""
    try:
        ca = load_cert(str(cert_pem))
    except ValueError:
        return "security.caCertificate", "must be a PEM certificate (-----BEGIN CERTIFICATE-----)"
    try:
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        return "security.caCertificate", f"is not a CA certificate (no basicConstraints CA:TRUE): {ca.subject.rfc4514_string()}"
    try:
        usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.key_cert_sign:
        return "security.caCertificate", f"may not sign certificates (its keyUsage lacks keyCertSign): {ca.subject.rfc4514_string()}"
    return None


def ca_problem(cert_pem: object, key_pem: object) -> tuple[str, str] | None:
    """What is wrong with a CA the user gives (security.caCertificate, security.caKey), as (the
    key to name, the problem), or None. The key's content is never shown: it is a secret."""
    problem = ca_certificate_problem(cert_pem)
    if problem is not None:
        return problem
    try:
        key = serialization.load_pem_private_key(str(key_pem).encode(), password=None)
    except (ValueError, TypeError):
        return "security.caKey", "must be an unencrypted PEM private key (PKCS#8 or the key type's own form)"
    if not isinstance(key, SigningKey):
        return "security.caKey", "must be an RSA or EC key"
    if key.public_key().public_numbers() != load_cert(str(cert_pem)).public_key().public_numbers():  # type: ignore[union-attr]
        return "security.caKey", "is not the key of security.caCertificate"
    return None


def subject_problem(subject: object) -> str | None:
    """What is wrong with a certificate subject the user names (RFC 4514, as OpenSearch's
    nodes_dn takes it), or None."""
    if not isinstance(subject, str) or not subject.strip():
        return f"must be a certificate subject such as CN=logs-node,O=Example, got {subject!r}"
    if any(ch in subject for ch in '"\\') or not subject.isprintable():
        return "must not hold a quote, a backslash or a control character (it is written into the node's YAML config)"
    try:
        x509.Name.from_rfc4514_string(subject)
    except ValueError:
        return f"must be a certificate subject in RFC 4514 form such as CN=logs-node,O=Example, got {subject!r}"
    return None


def outlives(ca: x509.Certificate, now: dt.datetime, days: int) -> bool:
    """Whether the CA is valid for the whole life of a node certificate issued now."""
    return ca.not_valid_after_utc >= now + dt.timedelta(days=days)


def load_cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _key_usage(*granted: str) -> x509.KeyUsage:
    """A KeyUsage extension granting only the named uses."""
    uses = (
        "digital_signature content_commitment key_encipherment data_encipherment key_agreement key_cert_sign crl_sign "
        "encipher_only decipher_only"
    ).split()
    return x509.KeyUsage(**{use: use in granted for use in uses})


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, CERTIFICATE_ORGANIZATION), x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    )


def load_certs(pem: str) -> list[x509.Certificate]:
    """Every certificate of a PEM file (a CA bundle)."""
    return x509.load_pem_x509_certificates(pem.encode()) if pem.strip() else []


def new_ca(cluster_name: str, key: rsa.RSAPrivateKey, now: dt.datetime, days: int = CA_DAYS) -> x509.Certificate:
    """A self-signed CA for one cluster, allowed to sign end-entity certificates only."""
    name = _name(f"{cluster_name} CA")
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage("digital_signature", "key_cert_sign", "crl_sign"), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )


def new_node_cert(
    cluster_name: str,
    dns_names: list[str],
    key: rsa.RSAPrivateKey,
    ca: x509.Certificate,
    ca_key: SigningKey,
    now: dt.datetime,
    days: int = NODE_DAYS,
) -> x509.Certificate:
    """The certificate every node presents, on transport (as server and as client) and on HTTP."""
    return (
        x509.CertificateBuilder()
        .subject_name(_name(node_certificate_common_name(cluster_name)))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage("digital_signature", "key_encipherment"), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def dns_names(cert: x509.Certificate) -> list[str]:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)


def validity_days(cert: x509.Certificate) -> int:
    """The whole days a certificate was issued for (its five minutes before not counted)."""
    return (cert.not_valid_after_utc - cert.not_valid_before_utc).days


def due_for_renewal(cert: x509.Certificate, now: dt.datetime) -> bool:
    """Whether less than RENEW_FRACTION of the certificate's life is left."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return end - now < (end - start) * RENEW_FRACTION


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


# bcrypt reads at most 72 bytes of a password; Elasticsearch asks for at least 6 characters.
PASSWORD_SIZE = (8, 72)


def password_problem(password: object) -> str | None:
    """What is wrong with a superuser password given in config, or None (never showing it)."""
    size = len(password.encode()) if isinstance(password, str) else -1
    if PASSWORD_SIZE[0] <= size <= PASSWORD_SIZE[1] and password.isprintable():  # type: ignore[union-attr]
        return None
    return (
        f"must be {PASSWORD_SIZE[0]} to {PASSWORD_SIZE[1]} bytes of printable characters (bcrypt reads no further); "
        "set it with `pulumi config set --secret --path es-cluster:security.password`"
    )


def password_hash(password: str) -> str:
    """A bcrypt hash in the `$2a$` form Elasticsearch's file realm reads (the same algorithm
    as the library's `$2b$` for any password under 72 bytes, which the validator enforces)."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode()
    return "$2a$" + hashed[4:]


def password_matches(password: str, hashed: str) -> bool:
    return bcrypt.checkpw(password.encode(), ("$2b$" + hashed[4:]).encode())


def users_file(hashed: str, user: str = SUPERUSER) -> str:
    """Elasticsearch's file realm `users`: the superuser and its password's hash."""
    return f"{user}:{hashed}\n"


def internal_users_file(hashed: str, user: str) -> str:
    """OpenSearch's security plugin `internal_users.yml`: the superuser with the admin backend
    role (which the plugin's default roles_mapping.yml maps to all_access), and no other user:
    none of the plugin's demo users with their published passwords. Not `reserved`: the plugin's
    account API refuses to change a reserved user's password, and that API is how a password
    changed in config reaches the security index (images/modern/probe.sh)."""
    return (
        '_meta:\n  type: "internalusers"\n  config_version: 2\n'
        f'{user}:\n  hash: "{hashed}"\n  reserved: false\n  backend_roles: ["admin"]\n'
        '  description: "es-cluster\'s superuser"\n'
    )


# The users file each engine reads, by the profile's `realm`.
REALMS = {"file": users_file, "internal_users": internal_users_file}


def realm_file(realm: str, hashed: str, user: str) -> str:
    return REALMS[realm](hashed, user)
