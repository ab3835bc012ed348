"""When the cluster's credentials change (es_cluster/credentials.py): the provider's own
create, diff and update, called as the engine calls them. The real CLI and engine run the
resource in tests/e2e/test_modern_engines.py."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys

import dill
import pytest
import yaml
from cryptography import x509
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc

from es_cluster import credentials, tls
from es_cluster.credentials import CredentialsProvider, changes

NAMES = ["logs-http", "localhost"]
NOW = dt.datetime.now(dt.UTC)


def props(**over):
    base = {"cluster_name": "logs", "dns_names": NAMES, "issue_certificates": True, "password": None}
    return {**base, **dict.fromkeys(credentials.OUTPUTS), **base, **over}


@pytest.fixture(scope="module")
def made():
    return CredentialsProvider().create(props()).outs


def test_create_issues_a_ca_and_a_node_certificate_for_the_names_and_generates_a_password(made):
    ca, cert = tls.load_cert(made["ca_crt"]), tls.load_cert(made["tls_crt"])
    assert cert.issuer == ca.subject and tls.dns_names(cert) == NAMES
    assert tls.load_key(made["tls_key"]).public_key().public_numbers() == cert.public_key().public_numbers()
    assert tls.load_key(made["ca_key"]).public_key().public_numbers() == ca.public_key().public_numbers()
    assert len(made["password"]) == 32 and made["password_source"] == "generated"
    user, hashed = made["users"].rstrip("\n").split(":", 1)
    assert user == "elastic" and tls.password_matches(made["password"], hashed)


def test_create_takes_the_password_given(made):
    outs = CredentialsProvider().create(props(password="a-given-password")).outs
    assert outs["password"] == "a-given-password" and outs["password_source"] == "config"


def test_create_issues_nothing_for_a_users_own_secret():
    outs = CredentialsProvider().create(props(issue_certificates=False)).outs
    assert (outs["ca_crt"], outs["ca_key"], outs["tls_crt"], outs["tls_key"]) == ("", "", "", "")
    assert outs["password"]


def test_nothing_changes_when_the_same_config_comes_again(made):
    assert changes(made, props(), NOW) == []
    assert CredentialsProvider().diff("id", made, props()).changes is False


@pytest.mark.parametrize(
    ("news", "expected"),
    [
        (props(dns_names=[*NAMES, "more"]), ["tls_crt"]),
        (props(issue_certificates=False), ["tls_crt"]),
        (props(password="now-given-1"), ["password"]),
        (props(dns_names=["other"], password="now-given-1"), ["tls_crt", "password"]),
        (props(certificate_days=30), ["tls_crt"]),
    ],
)
def test_what_makes_the_credentials_change(made, news, expected):
    assert changes(made, news, NOW) == expected
    assert CredentialsProvider().diff("id", made, news).changes is True


def test_a_node_certificate_with_less_than_a_third_of_its_life_left_is_renewed_from_the_same_ca(made):
    later = NOW + dt.timedelta(days=250)
    assert changes(made, props(), later) == ["tls_crt"]


def test_an_update_for_new_names_keeps_the_ca_and_the_password(made):
    news = props(dns_names=["renamed-http", "localhost"])
    outs = CredentialsProvider().update("id", made, news).outs
    assert outs["ca_crt"] == made["ca_crt"] and outs["ca_key"] == made["ca_key"]
    cert = tls.load_cert(outs["tls_crt"])
    assert tls.dns_names(cert) == ["renamed-http", "localhost"] and cert.issuer == tls.load_cert(made["ca_crt"]).subject
    assert outs["tls_key"] != made["tls_key"]
    assert (outs["password"], outs["users"]) == (made["password"], made["users"])


def test_a_new_validity_reissues_the_node_certificate_for_that_long_from_the_same_ca(made):
    outs = CredentialsProvider().update("id", made, props(certificate_days=30)).outs
    cert = tls.load_cert(outs["tls_crt"])
    assert tls.validity_days(cert) == 30 and outs["ca_crt"] == made["ca_crt"] and outs["tls_crt"] != made["tls_crt"]
    assert changes(outs, props(certificate_days=30), NOW) == []
    assert tls.validity_days(tls.load_cert(made["tls_crt"])) == 365  # the default, when none is asked


def test_an_update_for_a_new_password_keeps_every_certificate(made):
    outs = CredentialsProvider().update("id", made, props(password="a-new-password")).outs
    assert outs["password"] == "a-new-password" and outs["password_source"] == "config"
    assert tls.password_matches("a-new-password", outs["users"].rstrip("\n").split(":", 1)[1])
    assert all(outs[k] == made[k] for k in ("ca_crt", "ca_key", "tls_crt", "tls_key"))


def test_a_password_removed_from_config_is_replaced_by_a_generated_one_and_a_generated_one_stays(made):
    given = CredentialsProvider().update("id", made, props(password="a-new-password")).outs
    assert changes(given, props(), NOW) == ["password"]
    back = CredentialsProvider().update("id", given, props()).outs
    assert back["password_source"] == "generated" and back["password"] not in ("a-new-password", made["password"])
    assert changes(back, props(), NOW) == []
    # The same password given as the generated one: nothing to change.
    assert changes(made, props(password=made["password"]), NOW) == []


def test_where_the_engine_keeps_the_password_in_its_index_a_change_keeps_the_one_it_replaces(made):
    """OpenSearch: the probe changes the password in force with the previous one."""
    olds = {**made, "password_source": "config", "password": "a-given-password", "previous_password": ""}
    assert changes(olds, props(password="now-given-1", password_in_index=True), NOW) == ["password"]
    outs = CredentialsProvider().update("id", olds, props(password="now-given-1", password_in_index=True)).outs
    assert (outs["password"], outs["previous_password"]) == ("now-given-1", "a-given-password")
    # Removed from config: a generated one, and the given one kept as the previous.
    back = CredentialsProvider().update("id", outs, props(password_in_index=True)).outs
    assert back["previous_password"] == "now-given-1" and back["password"] not in ("now-given-1", "a-given-password")
    # Certificates alone keep the previous one as it was.
    renewed = CredentialsProvider().update("id", back, props(password_in_index=True, certificate_days=30)).outs
    assert renewed["previous_password"] == "now-given-1" and renewed["password"] == back["password"]
    # Elasticsearch reloads its users file: no previous password is kept.
    es = CredentialsProvider().update("id", olds, props(password="now-given-1")).outs
    assert es["previous_password"] == ""
    assert "previous_password" in credentials.SECRET_OUTPUTS


def test_a_new_cluster_has_no_previous_password(made):
    assert made["previous_password"] == ""


def test_opensearch_gets_its_users_file_for_its_admin():
    outs = CredentialsProvider().create(props(realm="internal_users", superuser="admin", issue_certificates=False)).outs
    users = yaml.safe_load(outs["users"])
    assert list(users) == ["_meta", "admin"] and tls.password_matches(outs["password"], users["admin"]["hash"])


# --- a CA the user gives


def corp_ca(days: int = 3650) -> tuple[str, str]:
    key = tls.new_key()
    ca = tls.new_ca("corp", key, NOW - dt.timedelta(days=tls.CA_DAYS - days))
    return tls.cert_pem(ca), tls.key_pem(key)


@pytest.fixture(scope="module")
def corp():
    return corp_ca()


def test_a_users_ca_issues_the_node_certificate_and_is_the_ca_the_nodes_trust(corp):
    cert, key = corp
    outs = CredentialsProvider().create(props(given_ca_crt=cert, given_ca_key=key)).outs
    assert tls.load_cert(outs["ca_crt"]) == tls.load_cert(cert)
    tls.load_cert(outs["tls_crt"]).verify_directly_issued_by(tls.load_cert(cert))
    # The same CA again (even with its PEM re-wrapped): nothing changes; renewal stays with it.
    assert changes(outs, props(given_ca_crt=cert.replace("\n", "\r\n"), given_ca_key=key), NOW) == []
    renewed = CredentialsProvider().update("id", outs, props(given_ca_crt=cert, given_ca_key=key, certificate_days=30)).outs
    tls.load_cert(renewed["tls_crt"]).verify_directly_issued_by(tls.load_cert(cert))
    assert "given_ca_key" in credentials.SECRET_INPUTS


def step(olds, news):
    """One `up` now: what it changes, and the state after it."""
    what = changes(olds, news, dt.datetime.now(dt.UTC))
    return what, (CredentialsProvider().update("id", olds, news).outs if what else olds)


def issuer_of(outs) -> x509.Name:
    return tls.load_cert(outs["tls_crt"]).issuer


def trusted(outs) -> list[x509.Certificate]:
    return tls.load_certs(outs["trusted"])


@pytest.fixture
def settle_now(monkeypatch):
    """Steps apart by no time at all (the e2e's setting); SETTLE is checked on its own below."""
    monkeypatch.setenv("ES_CLUSTER_CA_SETTLE_SECONDS", "0")


def test_a_new_ca_days_rotates_the_ca_in_three_steps_trust_sign_retire(made, settle_now):
    old_ca = tls.load_cert(made["ca_crt"])
    news = props(ca_days=1000)
    what, s1 = step(made, news)
    # 1. trust: both CAs in ca.crt, the node certificate still the old CA's.
    assert what == ["trust"] and s1["tls_crt"] == made["tls_crt"] and s1["ca_crt"] == made["ca_crt"]
    new_ca = tls.load_cert(s1["next_ca_crt"])
    assert tls.validity_days(new_ca) == 1000 and trusted(s1) == [new_ca, old_ca]
    # 2. sign: the node certificate from the new CA, both still trusted.
    what, s2 = step(s1, news)
    assert what == ["sign", "tls_crt"] and issuer_of(s2) == new_ca.subject
    tls.load_cert(s2["tls_crt"]).verify_directly_issued_by(new_ca)
    assert tls.load_cert(s2["ca_crt"]) == new_ca and s2["next_ca_crt"] == "" and trusted(s2) == [new_ca, old_ca]
    # 3. retire: the new CA alone.
    what, s3 = step(s2, news)
    assert what == ["retire"] and trusted(s3) == [new_ca] and s3["tls_crt"] == s2["tls_crt"]
    # Done: nothing more, and the password and its hash untouched throughout.
    assert changes(s3, news, dt.datetime.now(dt.UTC)) == []
    assert (s3["password"], s3["users"]) == (made["password"], made["users"])


def test_each_step_waits_for_the_settle_time_after_the_one_before(made, monkeypatch):
    monkeypatch.setenv("ES_CLUSTER_CA_SETTLE_SECONDS", "300")
    news = props(ca_days=1000)
    _, s1 = step(made, news)
    at = dt.datetime.fromisoformat(s1["step_at"])
    assert changes(s1, news, at + dt.timedelta(seconds=299)) == []
    assert changes(s1, news, at + dt.timedelta(seconds=300)) == ["sign", "tls_crt"]
    assert credentials.rotation_message(s1["next_ca_crt"], s1["trusted"], s1["step_at"]) == (
        "security: CA rotation, step 1 of 3 done: the nodes trust the new CA beside the old. The first `up` from "
        f"{(at + dt.timedelta(seconds=300)):%Y-%m-%d %H:%M} UTC on has them present certificates of the new CA (step 2)"
    )
    assert credentials.rotation_message(made["next_ca_crt"], made["trusted"], made["step_at"]) is None


def test_a_ca_with_less_than_a_third_of_its_life_left_is_rotated(made, settle_now):
    later = NOW + dt.timedelta(days=tls.CA_DAYS * 2 // 3 + 1)
    assert changes(made, props(), later)[0] == "trust"


def test_a_users_ca_given_to_a_running_cluster_changed_or_removed_is_rotated_to(made, corp, settle_now):
    cert, key = corp
    news = props(given_ca_crt=cert, given_ca_key=key)
    what, s1 = step(made, news)
    assert what == ["trust"] and tls.load_cert(s1["next_ca_crt"]) == tls.load_cert(cert)
    _, s2 = step(s1, news)
    tls.load_cert(s2["tls_crt"]).verify_directly_issued_by(tls.load_cert(cert))
    _, s3 = step(s2, news)
    assert trusted(s3) == [tls.load_cert(cert)] and changes(s3, news, dt.datetime.now(dt.UTC)) == []
    # Yours removed: the component's own again, the same way.
    assert changes(s3, props(), dt.datetime.now(dt.UTC)) == ["trust"]


def test_another_ca_while_a_rotation_is_under_way_is_refused(made, corp, settle_now):
    _, s1 = step(made, props(ca_days=1000))
    cert, key = corp
    with pytest.raises(credentials.CredentialsRefused, match="^security.caCertificate: a CA rotation to another CA is under way"):
        changes(s1, props(given_ca_crt=cert, given_ca_key=key), dt.datetime.now(dt.UTC))


def test_a_state_an_earlier_es_cluster_made_trusts_its_one_ca(made, settle_now):
    old = {k: v for k, v in made.items() if k not in ("trusted", "next_ca_crt", "next_ca_key", "step_at", "ca_days")}
    assert changes(old, props(), NOW) == []
    outs = CredentialsProvider().update("id", old, props(certificate_days=30)).outs
    assert outs["trusted"] == made["ca_crt"] and tls.load_cert(outs["tls_crt"]).issuer == tls.load_cert(made["ca_crt"]).subject


def test_your_own_secret_until_now_takes_the_ca_given():
    own_secret = CredentialsProvider().create(props(issue_certificates=False)).outs
    cert, key = corp_ca()
    assert changes(own_secret, props(given_ca_crt=cert, given_ca_key=key), NOW) == ["tls_crt"]
    outs = CredentialsProvider().update("id", own_secret, props(given_ca_crt=cert, given_ca_key=key)).outs
    tls.load_cert(outs["tls_crt"]).verify_directly_issued_by(tls.load_cert(cert))


def test_a_users_ca_that_expires_before_the_node_certificate_would_is_refused():
    cert, key = corp_ca(days=100)
    with pytest.raises(credentials.CredentialsRefused) as e:
        CredentialsProvider().create(props(given_ca_crt=cert, given_ca_key=key))
    expiry = tls.load_cert(cert).not_valid_after_utc
    assert str(e.value) == (
        f"security.caCertificate: expires {expiry:%Y-%m-%d}, before a node certificate of 365 days issued now would: "
        "give a CA valid for longer, or a shorter security.certificateDays"
    )
    with pytest.raises(credentials.CredentialsRefused, match="expires"):
        CredentialsProvider().check({}, props(given_ca_crt=cert, given_ca_key=key))  # a first deploy's preview
    outs = CredentialsProvider().create(props(given_ca_crt=cert, given_ca_key=key, certificate_days=90)).outs
    with pytest.raises(credentials.CredentialsRefused, match="expires"):
        changes(outs, props(given_ca_crt=cert, given_ca_key=key, certificate_days=90), NOW + dt.timedelta(days=20))


def test_a_password_or_ca_key_another_resource_gave_is_checked_here_once_known(corp):
    """Through the component package a secret output skips the config's checks (its value is
    not known then): the same rules refuse it here, at create and at every diff."""
    cert, key = corp
    short = "security.password: must be 8 to 72 bytes of printable characters (bcrypt reads no further)"
    for bad in ("short", "tab\tinside-it", "x" * 73):
        with pytest.raises(credentials.CredentialsRefused, match=f"^{re.escape(short)}"):
            CredentialsProvider().create(props(password=bad))
    with pytest.raises(credentials.CredentialsRefused, match="^security.password: must be"):
        CredentialsProvider().diff("id", CredentialsProvider().create(props()).outs, props(password="short"))
    wrong = tls.key_pem(tls.new_key())
    with pytest.raises(credentials.CredentialsRefused, match="^security.caKey: is not the key of security.caCertificate$"):
        CredentialsProvider().create(props(given_ca_crt=cert, given_ca_key=wrong))
    with pytest.raises(credentials.CredentialsRefused) as e:
        CredentialsProvider().diff(
            "id",
            CredentialsProvider().create(props(given_ca_crt=cert, given_ca_key=key)).outs,
            props(given_ca_crt=cert, given_ca_key=wrong),
        )
    assert "PRIVATE KEY" not in str(e.value)


def test_a_preview_checks_the_given_secrets_and_leaves_those_not_made_yet_to_the_up(corp):
    cert, key = corp
    with pytest.raises(credentials.CredentialsRefused, match="^security.password: must be"):
        CredentialsProvider().check({}, props(password="short"))
    with pytest.raises(credentials.CredentialsRefused, match="^security.caKey: must be an unencrypted PEM"):
        CredentialsProvider().check({}, props(given_ca_crt=cert, given_ca_key="nope"))
    # Another resource's output, not made yet: unknown at this preview.
    unknown = props(password=rpc.UNKNOWN, given_ca_crt=cert, given_ca_key=rpc.UNKNOWN)
    assert CredentialsProvider().check({}, unknown).inputs == unknown
    made = CredentialsProvider().create(props(given_ca_crt=cert, given_ca_key=key)).outs
    assert changes(made, unknown, NOW) == ["password"]


def test_the_provider_runs_in_a_process_that_cannot_import_es_cluster_from_its_own_path(tmp_path):
    """Pulumi runs the provider from its pickle in a process of its own, whose folder is the
    program's: a program in another language (the component package) has no es_cluster there."""
    blob = serialize_provider(credentials.provider())
    code = (
        "import base64, sys, dill\n"
        "assert 'es_cluster' not in sys.modules\n"
        f"p = dill.loads(base64.b64decode({blob!r}))\n"
        "print(sorted(p.check({}, {'cluster_name': 'x', 'password': 'long-enough-1'}).inputs))\n"
        "try:\n"
        "    p.check({}, {'cluster_name': 'x', 'password': 'short'})\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, str(e)[:40])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["['cluster_name', 'password']", "CredentialsRefused security.password: must be 8 to 72 bytes"]


def test_a_provider_an_earlier_es_cluster_pickled_by_reference_still_loads_and_serves(made):
    """A destroy or refresh runs the provider a state holds: one pickled before the provider
    was made by value names es_cluster.credentials.CredentialsProvider."""
    old = dill.loads(dill.dumps(CredentialsProvider()))
    assert type(old) is CredentialsProvider
    assert old.diff("id", made, props()).changes is False
    assert old.check({}, props()).inputs == props()
