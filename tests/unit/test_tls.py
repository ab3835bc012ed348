"""The cluster's certificates and the superuser's hash (es_cluster/tls.py), checked with the
cryptography and bcrypt libraries themselves; the engines' acceptance of them is proven in
tests/e2e/test_modern_engines.py."""

from __future__ import annotations

import datetime as dt

import bcrypt
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding
from cryptography.x509.oid import ExtendedKeyUsageOID

from es_cluster import names, tls

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
NAMES = ["logs-http", "logs-http.ns.svc", "*.logs-transport.ns.svc", "localhost"]


@pytest.fixture(scope="module")
def issued():
    ca_key, key = tls.new_key(), tls.new_key()
    ca = tls.new_ca("logs", ca_key, NOW)
    return ca_key, ca, key, tls.new_node_cert("logs", NAMES, key, ca, ca_key, NOW)


def test_the_ca_is_a_ca_for_end_entities_only_and_outlives_the_node_certificate(issued):
    _, ca, _, cert = issued
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    assert ca.subject == ca.issuer and ca.subject.rfc4514_string() == "CN=logs CA,O=es-cluster"
    assert ca.not_valid_after_utc - NOW == dt.timedelta(days=tls.CA_DAYS)
    assert cert.not_valid_after_utc - NOW == dt.timedelta(days=tls.NODE_DAYS)
    assert ca.not_valid_after_utc > cert.not_valid_after_utc
    # Both valid from five minutes before: a node whose clock is a little behind accepts them.
    assert NOW - ca.not_valid_before_utc == NOW - cert.not_valid_before_utc == dt.timedelta(minutes=5)


def test_the_node_certificate_is_signed_by_the_ca_for_both_ends_of_a_connection_with_the_names_asked(issued):
    ca_key, ca, key, cert = issued
    ca.public_key().verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
    assert cert.issuer == ca.subject
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and (usage.value.digital_signature, usage.value.key_encipherment) == (True, True)
    assert not (usage.value.key_cert_sign or usage.value.crl_sign or usage.value.key_agreement)
    ca_usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ca_usage.digital_signature and not (ca_usage.key_encipherment or ca_usage.data_encipherment)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert tls.dns_names(cert) == NAMES
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier == (
        ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    )
    assert key.key_size == ca_key.key_size == 2048


def test_keys_are_pkcs8_pem_and_load_back(issued):
    _, ca, key, cert = issued
    pem = tls.key_pem(key)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----\n")  # PKCS#8, which OpenSearch requires
    assert tls.load_key(pem).private_numbers() == key.private_numbers()
    assert tls.load_cert(tls.cert_pem(cert)) == cert


@pytest.mark.parametrize(("age_days", "due"), [(0, False), (243, False), (244, True), (364, True)])
def test_a_node_certificate_is_due_for_renewal_with_less_than_a_third_of_its_life_left(issued, age_days, due):
    *_, cert = issued
    # 365 days' life (and the 5 minutes before): due once less than 121 days 16 h are left.
    assert tls.due_for_renewal(cert, NOW + dt.timedelta(days=age_days)) is due


def test_the_password_hash_is_bcrypt_in_the_2a_form_elasticsearch_reads():
    hashed = tls.password_hash("correct horse")
    assert hashed.startswith("$2a$10$") and len(hashed) == 60
    assert bcrypt.checkpw(b"correct horse", ("$2b$" + hashed[4:]).encode())
    assert tls.password_matches("correct horse", hashed) and not tls.password_matches("correct horsf", hashed)
    assert tls.password_hash("correct horse") != hashed  # salted


def test_a_generated_password_is_32_url_safe_characters_and_new_each_time():
    a, b = tls.new_password(), tls.new_password()
    assert len(a) == 32 and a != b
    assert set(a) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_the_users_file_names_the_elastic_user_and_its_hash():
    assert tls.users_file("$2a$10$abc") == "elastic:$2a$10$abc\n"


def test_the_node_certificates_subject_is_the_one_opensearch_is_told_it_is(issued):
    # plugins.security.nodes_dn compares the subject as RFC 4514 writes it.
    assert issued[3].subject.rfc4514_string() == names.node_certificate_subject("logs") == "CN=logs node,O=es-cluster"


def test_opensearchs_internal_users_file_holds_only_the_superuser_with_the_admin_backend_role():
    loaded = yaml.safe_load(tls.internal_users_file("$2a$10$abc", "admin"))
    assert loaded == {
        "_meta": {"type": "internalusers", "config_version": 2},
        "admin": {"hash": "$2a$10$abc", "reserved": False, "backend_roles": ["admin"], "description": "es-cluster's superuser"},
    }
    assert tls.realm_file("internal_users", "$2a$10$abc", "admin") == tls.internal_users_file("$2a$10$abc", "admin")
    assert tls.realm_file("file", "$2a$10$abc", "elastic") == "elastic:$2a$10$abc\n"


# --- a CA the user gives (security.caCertificate, security.caKey)


def self_signed(key, ca: bool = True, usage: x509.KeyUsage | None = None, days: int = 3650) -> x509.Certificate:
    """A certificate for `key`, signed by itself, as a user's own CA might be made."""
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "Corp Root")])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    return builder.sign(key, hashes.SHA256())


def usage(*granted: str) -> x509.KeyUsage:
    return tls._key_usage(*granted)


def test_a_users_rsa_or_ec_ca_with_its_key_is_taken_and_issues_node_certificates():
    for key in (tls.new_key(), ec.generate_private_key(ec.SECP256R1())):
        ca = self_signed(key, usage=usage("key_cert_sign", "crl_sign"))
        assert tls.ca_problem(tls.cert_pem(ca), tls.key_pem(key)) is None
        node_key = tls.new_key()
        cert = tls.new_node_cert("logs", ["logs-http"], node_key, ca, tls.load_key(tls.key_pem(key)), dt.datetime.now(dt.UTC))
        assert cert.issuer == ca.subject
        cert.verify_directly_issued_by(ca)
    # No keyUsage at all: allowed to sign (RFC 5280 leaves it unrestricted).
    key = tls.new_key()
    assert tls.ca_problem(tls.cert_pem(self_signed(key)), tls.key_pem(key)) is None


def test_what_is_wrong_with_a_users_ca_is_named_and_the_key_never_shown():
    key, other = tls.new_key(), tls.new_key()
    ca = tls.cert_pem(self_signed(key))
    secret = tls.key_pem(key)
    cases = [
        (("not pem", secret), ("security.caCertificate", "must be a PEM certificate (-----BEGIN CERTIFICATE-----)")),
        (
            (tls.cert_pem(self_signed(key, ca=False)), secret),
            ("security.caCertificate", "is not a CA certificate (no basicConstraints CA:TRUE): CN=Corp Root"),
        ),
        (
            (tls.cert_pem(self_signed(key, usage=usage("digital_signature"))), secret),
            ("security.caCertificate", "may not sign certificates (its keyUsage lacks keyCertSign): CN=Corp Root"),
        ),
        (
            (ca, "-----BEGIN PRIVATE KEY-----\nbroken\n"),
            ("security.caKey", "must be an unencrypted PEM private key (PKCS#8 or the key type's own form)"),
        ),
        ((ca, 42), ("security.caKey", "must be an unencrypted PEM private key (PKCS#8 or the key type's own form)")),
        ((ca, tls.key_pem(other)), ("security.caKey", "is not the key of security.caCertificate")),
        ((ca, tls.key_pem(ec.generate_private_key(ec.SECP256R1()))), ("security.caKey", "is not the key of security.caCertificate")),
        ((ca, ed25519_pem()), ("security.caKey", "must be an RSA or EC key")),
    ]
    for (cert_pem, key_pem), expected in cases:
        found = tls.ca_problem(cert_pem, key_pem)
        assert found == expected
        assert "PRIVATE KEY" not in found[1]


def ed25519_pem() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def test_a_ca_outlives_a_node_certificate_only_if_valid_for_its_whole_life():
    key = tls.new_key()
    ca = self_signed(key, days=100)
    now = dt.datetime.now(dt.UTC)
    assert tls.outlives(ca, now, 99) and not tls.outlives(ca, now, 101)
