"""security.*: defaults per engine, every problem word for word, the warning, and what the
objects then hold (Secrets, mounts, env, probes, https) and what a change to it does."""

from __future__ import annotations

import datetime as dt

import pytest

from es_cluster import ConfigError, engines, impact, parse_stack_config, specs, tls, validate
from es_cluster.config import EsClusterArgs, NodeGroupArgs, SecurityArgs
from es_cluster.model import Later, Security

GROUP = {"roles": ["master", "data", "client"], "replicas": 3, "workload": "StatefulSet", "storage": {"size": "1Gi"}}
ES8 = {"distribution": "elasticsearch", "version": "8.19.0"}


def raw(engine=ES8, **settings) -> dict:
    out = {"clusterName": "logs", "namespace": "ns", "nodeGroups": {"all": GROUP}, **settings}
    if engine is not None:
        out["engine"] = engine
    return out


def cluster(**kw):
    return validate(parse_stack_config(raw(**kw)))


def problems(**kw) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as e:
        cluster(**kw)
    return e.value.problems


@pytest.mark.parametrize("version", ["7.17.28", "8.19.0", "9.1.0"])
def test_security_is_on_by_default_on_elasticsearch_7_plus(version):
    assert cluster(engine={"distribution": "elasticsearch", "version": version}).security == Security(enabled=True, http_tls=True)


OS2 = {"distribution": "opensearch", "version": "2.19.4"}


@pytest.mark.parametrize("version", ["2.19.4", "2.19.6", "3.3.0"])
def test_security_is_on_by_default_on_opensearch(version):
    assert cluster(engine={"distribution": "opensearch", "version": version}).security == Security(enabled=True, http_tls=True)


def test_security_is_off_by_default_on_the_field_report_engine():
    assert cluster(engine=None).security == Security()


def test_null_security_is_the_default():
    assert cluster(security="").security == cluster().security == cluster(security=None).security


def test_the_field_report_engine_refuses_security_and_says_why():
    assert problems(engine=None, security={"enabled": True}) == [
        (
            "security.enabled",
            "elasticsearch 2.3.4: has no free TLS or authentication (they came with X-Pack, free from 6.8): deploy "
            "Elasticsearch 7+ for them, and keep this cluster's Services private",
        )
    ]


def test_opensearch_takes_a_certificate_secret_of_the_users_with_the_subject_its_nodes_carry():
    assert problems(engine=OS2, security={"certificateSecret": "mine"}) == [
        (
            "security.certificateSubject",
            "opensearch 2.19.4: is needed with certificateSecret: the subject of the node certificate in it, which the security "
            "plugin knows its nodes by (plugins.security.nodes_dn), e.g. CN=logs-node,O=Example",
        )
    ]
    c = cluster(engine=OS2, security={"certificateSecret": "mine", "certificateSubject": "CN=logs-node,OU=Search,O=Example"})
    assert c.security.certificate_subject == "CN=logs-node,OU=Search,O=Example"
    [container] = objects(c)["StatefulSet/logs-all"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ES_CLUSTER_NODES_DN"] == "CN=logs-node,OU=Search,O=Example"
    assert "Secret/logs-certs" not in objects(c)


@pytest.mark.parametrize(
    ("subject", "why"),
    [
        ("", "must be a certificate subject such as CN=logs-node,O=Example, got ''"),
        (5, "must be a certificate subject such as CN=logs-node,O=Example, got 5"),
        ('CN=a"b', "must not hold a quote, a backslash or a control character (it is written into the node's YAML config)"),
        ("CN=a\\,b", "must not hold a quote, a backslash or a control character (it is written into the node's YAML config)"),
        ("CN=a\nO=b", "must not hold a quote, a backslash or a control character (it is written into the node's YAML config)"),
        ("no equals sign", "must be a certificate subject in RFC 4514 form such as CN=logs-node,O=Example, got 'no equals sign'"),
    ],
)
def test_a_certificate_subject_that_cannot_be_one_or_cannot_be_written_is_named(subject, why):
    found = problems(engine=OS2, security={"certificateSecret": "mine", "certificateSubject": subject})
    assert found == [("security.certificateSubject", why)]


def test_a_certificate_subject_is_asked_for_only_with_opensearch_and_its_own_certificates():
    assert problems(engine=OS2, security={"certificateSubject": "CN=x"}) == [
        ("security.certificateSubject", "is the subject of the certificates in certificateSecret: set that too, or remove it")
    ]
    assert problems(security={"certificateSecret": "mine", "certificateSubject": "CN=x"}) == [
        (
            "security.certificateSubject",
            "elasticsearch 8.19.0: has no effect (the engine does not ask for its nodes' subject): remove it",
        )
    ]


def test_the_plaintext_http_warning_names_the_engines_superuser():
    [warning] = cluster(engine=OS2, security={"httpTls": False}).warnings
    assert warning.startswith("security.httpTls: false leaves HTTP on 9200 in plaintext: the admin user's password")


def test_settings_beside_enabled_false_are_refused_as_having_no_effect():
    off = {"enabled": False, "httpTls": False, "password": "long-enough", "certificateSecret": "mine", "certificateDays": 30}
    assert problems(security=off) == [
        ("security.httpTls", "has no effect while security is off (security.enabled false): remove it"),
        ("security.password", "has no effect while security is off (security.enabled false): remove it"),
        ("security.certificateSecret", "has no effect while security is off (security.enabled false): remove it"),
        ("security.certificateDays", "has no effect while security is off (security.enabled false): remove it"),
    ]


@pytest.mark.parametrize(("days", "expected"), [(None, 365), (1, 1), ("30", 30), (912, 912)])
def test_the_node_certificates_validity_is_365_days_or_as_set(days, expected):
    security = {} if days is None else {"certificateDays": days}
    assert cluster(security=security).security.certificate_days == expected


@pytest.mark.parametrize("days", [0, 913, -1, 1.5, "a month", True])
def test_a_validity_outside_1_to_912_days_is_refused(days):
    assert problems(security={"certificateDays": days}) == [
        ("security.certificateDays", f"must be a whole number of days from 1 to 912 (half the CA's life), got {days!r}")
    ]


def test_a_validity_with_the_users_own_certificates_is_refused():
    assert problems(security={"certificateDays": 30, "certificateSecret": "mine"}) == [
        ("security.certificateDays", "is for the certificates the component issues; with certificateSecret, yours are used: remove it")
    ]


PASSWORD_RULE = (
    "must be 8 to 72 bytes of printable characters (bcrypt reads no further); "
    "set it with `pulumi config set --secret --path es-cluster:security.password`"
)


@pytest.mark.parametrize("password", ["short12", "x" * 73, "é" * 37, "tab\there-x", 12345678, ""])
def test_a_password_bcrypt_cannot_hold_is_refused_without_showing_it(password):
    assert problems(security={"password": password}) == [("security.password", PASSWORD_RULE)]


@pytest.mark.parametrize("password", ["8chars!!", "x" * 72, "é" * 36, "[secret]"])
def test_a_password_of_8_to_72_printable_bytes_is_taken(password):
    assert cluster(security={"password": password}).security.password == password


def test_the_password_is_never_in_the_models_repr():
    assert "hunter22hunter22" not in repr(cluster(security={"password": "hunter22hunter22"}))


def test_type_problems_are_named_under_security():
    assert problems(security={"enabled": "yes", "httpTls": 1}) == [
        ("security.enabled", "must be true or false, got 'yes'"),
        ("security.httpTls", "must be true or false, got 1"),
    ]
    [(key, msg)] = problems(security={"enabeld": True})
    assert key == "security.enabeld" and msg == (
        "unknown setting (did you mean 'enabled'?); allowed: caCertificate, caDays, caKey, certificateDays, certificateSecret, certificateSubject, enabled, httpTls, password"
    )
    assert problems(security=5) == [("security", "must be an object, got 5")]
    assert problems(security={"certificateSecret": "Not_A_Name"})[0][0] == "security.certificateSecret"


def test_a_python_caller_passing_something_else_is_named():
    args = EsClusterArgs(node_groups={"all": NodeGroupArgs(roles=["master", "data", "client"])}, security=5)
    with pytest.raises(ConfigError) as e:
        validate(args)
    assert e.value.problems == [
        (
            "security",
            "must be null or an object with enabled, httpTls, password, certificateSecret, certificateSubject, certificateDays, caDays, caCertificate and caKey, got 5",
        )
    ]
    assert validate(EsClusterArgs(node_groups={"all": NodeGroupArgs(roles=["master"])}, security=SecurityArgs())).security == Security()


def test_http_tls_off_warns_in_words_that_say_what_is_exposed():
    c = cluster(security={"httpTls": False})
    assert c.security == Security(enabled=True, http_tls=False)
    assert (
        "security.httpTls: false leaves HTTP on 9200 in plaintext: the elastic user's password and every document "
        "cross the network readable. Keep it on unless a proxy in front of the HTTP Service terminates TLS."
    ) in c.warnings
    assert not any("httpTls" in w for w in cluster().warnings)


# --- what the objects hold --------------------------------------------------------------------


def objects(c):
    return {f"{m['kind']}/{m['metadata']['name']}": m for m in specs.manifests(c, "img")}


def test_a_secured_cluster_has_its_three_secrets_before_its_services_with_placeholders_in_a_render():
    kinds = [f"{m['kind']}/{m['metadata']['name']}" for m in specs.manifests(cluster(), "img")]
    assert kinds[kinds.index("Secret/logs-certs") : kinds.index("Secret/logs-certs") + 4] == [
        "Secret/logs-certs",
        "Secret/logs-file-realm",
        "Secret/logs-elastic-user",
        "Service/logs-transport",
    ]
    o = objects(cluster())
    assert o["Secret/logs-certs"]["type"] == "kubernetes.io/tls"
    assert o["Secret/logs-certs"]["stringData"] == dict.fromkeys(("ca.crt", "tls.crt", "tls.key"), specs.CREDENTIAL_PLACEHOLDER)
    assert o["Secret/logs-file-realm"]["stringData"] == {"users": specs.CREDENTIAL_PLACEHOLDER, "users_roles": "superuser:elastic\n"}
    assert o["Secret/logs-elastic-user"]["stringData"] == {"elastic": specs.CREDENTIAL_PLACEHOLDER}


def test_the_credentials_given_fill_the_secrets():
    creds = {k: f"<{k}>" for k in specs.CREDENTIALS}
    o = {m["metadata"]["name"]: m for m in specs.cluster_manifests(cluster(), None, creds)}
    assert o["logs-certs"]["stringData"] == {"ca.crt": "<trusted>", "tls.crt": "<tls_crt>", "tls.key": "<tls_key>"}
    assert o["logs-file-realm"]["stringData"]["users"] == "<users>"
    assert o["logs-elastic-user"]["stringData"] == {"elastic": "<password>"}


def test_opensearch_keeps_its_admin_in_internal_users_yml_and_the_password_under_admin():
    creds = {k: f"<{k}>" for k in specs.CREDENTIALS}
    o = {m["metadata"]["name"]: m for m in specs.cluster_manifests(cluster(engine=OS2), None, creds)}
    assert o["logs-file-realm"]["stringData"] == {"internal_users.yml": "<users>"}
    # The password a change replaced, beside it: the probe changes the one in force with it.
    assert o["logs-elastic-user"]["stringData"] == {"admin": "<password>", "admin.previous": "<previous_password>"}
    assert specs.superuser(cluster(engine=OS2)) == "admin" and specs.superuser(cluster()) == "elastic"


def test_the_credentials_are_asked_for_in_the_engines_form():
    args = specs.credentials_args(cluster(engine=OS2, security={"certificateDays": 40}))
    assert {k: v for k, v in args.items() if k != "dns_names"} == {
        "cluster_name": "logs",
        "issue_certificates": True,
        "password": None,
        "certificate_days": 40,
        "realm": "internal_users",
        "superuser": "admin",
        "password_in_index": True,
        "ca_days": 1825,
        "given_ca_crt": None,
        "given_ca_key": None,
    }
    assert args["dns_names"] == specs.certificate_dns_names(cluster(engine=OS2))
    es = specs.credentials_args(cluster(security={"password": "long-enough", "certificateSecret": "mine"}))
    assert (es["realm"], es["superuser"], es["password_in_index"], es["password"], es["issue_certificates"]) == (
        "file", "elastic", False, "long-enough", False
    )  # fmt: skip


def test_opensearch_pods_are_told_the_node_certificates_subject_only_when_secured():
    def env(c):
        [container] = objects(c)["StatefulSet/logs-all"]["spec"]["template"]["spec"]["containers"]
        return {e["name"]: e.get("value") for e in container["env"]}

    assert env(cluster(engine=OS2))["ES_CLUSTER_NODES_DN"] == "CN=logs node,O=es-cluster"
    assert "ES_CLUSTER_NODES_DN" not in env(cluster(engine=OS2, security={"enabled": False}))
    assert "ES_CLUSTER_NODES_DN" not in env(cluster())


def test_a_users_own_certificate_secret_is_mounted_and_none_is_declared():
    o = objects(cluster(security={"certificateSecret": "from-cert-manager"}))
    assert "Secret/logs-certs" not in o and "Secret/logs-file-realm" in o
    volumes = o["StatefulSet/logs-all"]["spec"]["template"]["spec"]["volumes"]
    assert {"name": "certs", "secret": {"secretName": "from-cert-manager"}} in volumes


@pytest.mark.parametrize(("engine", "config"), [(ES8, "/usr/share/elasticsearch/config"), (OS2, "/usr/share/opensearch/config")])
def test_the_pods_mount_both_secrets_as_folders_in_the_config_folder_and_read_the_switches(engine, config):
    spec = objects(cluster(engine=engine))["StatefulSet/logs-all"]["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert container["volumeMounts"][-3:] == [
        {"name": "certs", "mountPath": f"{config}/certs", "readOnly": True},
        {"name": "file-realm", "mountPath": f"{config}/es-cluster-file-realm", "readOnly": True},
        # The superuser's password, for the pod hooks (images/modern/probe.sh).
        {"name": "credentials", "mountPath": "/etc/es-cluster/credentials", "readOnly": True},
    ]
    assert not any("subPath" in m for m in container["volumeMounts"])
    assert spec["volumes"][-3:] == [
        {"name": "certs", "secret": {"secretName": "logs-certs"}},
        {"name": "file-realm", "secret": {"secretName": "logs-file-realm"}},
        {"name": "credentials", "secret": {"secretName": "logs-elastic-user"}},
    ]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert (env["ES_CLUSTER_SECURITY"], env["ES_CLUSTER_HTTP_TLS"]) == ("true", "true")
    # The hooks authenticate as the superuser, whose password is the mounted file of that name.
    assert env["ES_CLUSTER_USER"] == engines.profile(cluster(engine=engine).engine).superuser
    assert container["readinessProbe"]["exec"]["command"] == ["/usr/local/bin/es-cluster-probe", "ready"]


def test_http_tls_off_reaches_the_pods_and_the_url():
    c = cluster(security={"httpTls": False})
    [container] = objects(c)["StatefulSet/logs-all"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert (env["ES_CLUSTER_SECURITY"], env["ES_CLUSTER_HTTP_TLS"]) == ("true", "false")
    assert specs.http_url(c) == "http://logs-http.ns.svc:9200"
    assert specs.http_url(cluster()) == "https://logs-http.ns.svc:9200"


def test_an_unsecured_cluster_has_no_secret_and_mounts_none_and_says_so_in_its_env():
    c = cluster(security={"enabled": False})
    o = objects(c)
    assert not [k for k in o if k.startswith("Secret/")]
    spec = o["StatefulSet/logs-all"]["spec"]["template"]["spec"]
    assert [v["name"] for v in spec["volumes"]] == ["bootstrap"]
    assert [m["name"] for m in spec["containers"][0]["volumeMounts"]] == ["storage", "bootstrap"]
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert (env["ES_CLUSTER_SECURITY"], env["ES_CLUSTER_HTTP_TLS"]) == ("false", "false")
    assert "ES_CLUSTER_USER" not in env
    assert spec["containers"][0]["readinessProbe"]["exec"]["command"] == ["/usr/local/bin/es-cluster-probe", "ready"]


def test_the_certificate_names_every_form_of_both_services_each_pod_and_localhost():
    assert specs.certificate_dns_names(cluster()) == [
        "logs-http",
        "logs-http.ns",
        "logs-http.ns.svc",
        "logs-http.ns.svc.cluster.local",
        "logs-transport",
        "logs-transport.ns",
        "logs-transport.ns.svc",
        "logs-transport.ns.svc.cluster.local",
        "*.logs-transport.ns.svc",
        "*.logs-transport.ns.svc.cluster.local",
        "localhost",
    ]


# --- what a change to it does -----------------------------------------------------------------


def quorum_loss_refusal(before, after, key: str):
    """The one refusal of deploying `after` over a running `before`: quorumLoss on `key`, which
    allowing quorumLoss lets through. Returns it, and the comparison."""
    result = impact.compare(impact.record(before, "img"), after, "img", frozenset())
    [refused] = result.refused
    assert refused.kind == impact.QUORUM_LOSS and refused.keys == (key,)
    allowed = impact.compare(impact.record(before, "img"), after, "img", frozenset({impact.QUORUM_LOSS}))
    assert not allowed.refused and [d.kind for d in allowed.allowed] == [impact.QUORUM_LOSS]
    return refused, result


def test_switching_security_on_a_running_cluster_is_refused_as_quorum_loss_either_way():
    on, off = cluster(), cluster(security={"enabled": False})
    for before, after, to in ((off, on, "on"), (on, off, "off")):
        refused, _ = quorum_loss_refusal(before, after, "security.enabled")
        assert refused.message == (
            f"turns security {to} in a running cluster. A node with TLS on transport and a node without cannot talk, so a "
            "rolling restart splits the cluster: once half of its 3 master-eligible nodes have restarted, neither side has a "
            f"quorum and no master is elected until the last node has restarted. Keep security.enabled "
            f"{'false' if to == 'on' else 'true'} to leave the running cluster as it is, or take it down for the switch."
        )


def test_moving_a_running_cluster_to_other_certificates_is_refused_as_quorum_loss_naming_the_way():
    issued, yours, other = cluster(), cluster(security={"certificateSecret": "logs-tls"}), cluster(security={"certificateSecret": "b"})
    for before, after, words in (
        (issued, yours, "from the component's (Secret logs-certs) certificates to Secret logs-tls's."),
        (yours, issued, "from Secret logs-tls's certificates to the component's (Secret logs-certs)."),
        (yours, other, "from Secret logs-tls's certificates to Secret b's."),
    ):
        refused, result = quorum_loss_refusal(before, after, "security.certificateSecret")
        assert refused.message == (
            f"moves the running cluster's nodes {words} The pods restart one at a time, and a restarted node rejoins only "
            "if the nodes still on the old certificates trust its new one and it trusts theirs: with another CA it stays "
            "out, the roll stops there, and once half of the master-eligible nodes have restarted no side has a quorum. "
            "Allow it only when both Secrets' certificates come from a CA both their ca.crt hold. To move from the "
            "component's CA to yours, give yours first (security.caCertificate and security.caKey: a rotation in three "
            "ups, with no restart), then a Secret whose certificates it signed."
        )
        [group] = result.groups
        assert group.restart == ("certificates",)
    # The same Secret, or a CA given for the component's certificates: no restart, no refusal.
    for before, after in ((yours, yours), (issued, cluster(security={"certificateDays": 100}))):
        result = impact.compare(impact.record(before, "img"), after, "img", frozenset())
        assert not result.refused and not any(g.restart for g in result.groups)


def test_a_record_from_before_security_counts_as_off():
    old = impact.record(cluster(security={"enabled": False}), "img")
    del old["security"]
    assert [d.keys for d in impact.compare(old, cluster(), "img", frozenset()).refused] == [("security.enabled",)]
    assert not impact.compare(old, cluster(security={"enabled": False}), "img", frozenset()).refused


def test_http_tls_and_the_password_change_without_a_refusal():
    on = cluster()
    for after in (cluster(security={"httpTls": False}), cluster(security={"password": "a-new-password"})):
        assert not impact.compare(impact.record(on, "img"), after, "img", frozenset()).refused


# --- security.caCertificate and security.caKey: the user's CA


@pytest.fixture(scope="module")
def own_ca():
    key = tls.new_key()
    return tls.cert_pem(tls.new_ca("corp", key, dt.datetime.now(dt.UTC))), tls.key_pem(key)


def test_a_users_ca_with_its_key_is_taken_into_the_model_and_asked_for_by_the_credentials(own_ca):
    cert, key = own_ca
    c = cluster(security={"caCertificate": cert, "caKey": key})
    assert (c.security.ca_certificate, c.security.ca_key) == (cert, key)
    assert key not in repr(c.security)
    args = specs.credentials_args(c)
    assert (args["given_ca_crt"], args["given_ca_key"], args["issue_certificates"]) == (cert, key, True)


def test_a_users_ca_needs_both_halves_and_a_key_that_fits(own_ca):
    cert, key = own_ca
    assert problems(security={"caCertificate": cert}) == [
        ("security.caKey", "is needed with security.caCertificate: give both, or neither")
    ]
    assert problems(security={"caKey": key}) == [("security.caCertificate", "is needed with security.caKey: give both, or neither")]
    assert problems(security={"caCertificate": "nope", "caKey": key}) == [
        ("security.caCertificate", "must be a PEM certificate (-----BEGIN CERTIFICATE-----)")
    ]
    found = problems(security={"caCertificate": cert, "caKey": "x"})
    assert found == [("security.caKey", "must be an unencrypted PEM private key (PKCS#8 or the key type's own form)")]


def test_a_users_ca_is_refused_with_their_own_certificates_and_while_security_is_off(own_ca):
    cert, key = own_ca
    why = "is for the certificates the component issues; with certificateSecret, yours are used: remove it"
    assert problems(security={"caCertificate": cert, "caKey": key, "certificateSecret": "mine"}) == [
        ("security.caCertificate", why),
        ("security.caKey", why),
    ]
    off = "has no effect while security is off (security.enabled false): remove it"
    assert problems(security={"enabled": False, "caCertificate": cert, "caKey": key}) == [
        ("security.caCertificate", off),
        ("security.caKey", off),
    ]


def test_secrets_another_resource_gives_are_taken_for_the_resource_that_uses_them_to_check(own_ca):
    """The component package hands over a secret output as a Later: its value is not known at
    validation, so the credentials resource checks it (test_credentials.py)."""
    cert, _key = own_ca
    later = Later(object())
    c = cluster(security={"password": later, "caCertificate": cert, "caKey": later})
    assert (c.security.password, c.security.ca_key) == (later, later)
    # The certificate is still checked alone.
    assert problems(security={"caCertificate": "nope", "caKey": later}) == [
        ("security.caCertificate", "must be a PEM certificate (-----BEGIN CERTIFICATE-----)")
    ]
    image = {"repository": "localhost:5000/x", "registryUsername": "me", "registryPassword": later}
    assert cluster(image=image).image.registry_password == later


def test_ca_days_sets_the_cas_validity_and_bounds_the_node_certificates(own_ca):
    assert cluster().security.ca_days == 1825
    assert cluster(security={"caDays": 100, "certificateDays": 50}).security.ca_days == 100
    assert problems(security={"caDays": 100, "certificateDays": 51}) == [
        ("security.certificateDays", "must be a whole number of days from 1 to 50 (half the CA's life), got 51")
    ]
    for bad in (1, 3651, "x"):
        assert problems(security={"caDays": bad}) == [("security.caDays", f"must be a whole number of days from 2 to 3650, got {bad!r}")]
    why = "is for the CA the component makes; with your own CA or certificates, theirs is used: remove it"
    assert problems(security={"caDays": 100, "certificateSecret": "mine"}) == [("security.caDays", why)]
    assert problems(security={"caDays": 100, "caCertificate": own_ca[0], "caKey": own_ca[1]}) == [("security.caDays", why)]
    assert specs.credentials_args(cluster(security={"caDays": 100}))["ca_days"] == 100
