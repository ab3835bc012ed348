"""What the component asks the engine for, exactly, as the engine receives it: each registration's
parent, dependencies and timeouts, the component's registered outputs, and where its messages
are attached. Pulumi's mocks hand `new_resource` only a resource's inputs, so these tests read
the registration requests themselves (the mock monitor's RegisterResource). The mutation run of
es_cluster.component found every one of these unpinned by the unit tests."""

from __future__ import annotations

import pulumi
import pytest
from google.protobuf import json_format
from pulumi.runtime.mocks import MockMonitor

from es_cluster import EsCluster, impact, parse_stack_config, validate
from es_cluster.component import ChangeRefused
from es_cluster.image import identity
from es_cluster.specs import rollout_timeout

from .test_component import _seed_record, settled

COMPONENT = "es-cluster:index:EsCluster"
WORKLOADS = ("kubernetes:apps/v1:DaemonSet", "kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")
CLUSTER_LEVEL = (
    "es-logging-namespace-elasticsearch",
    "es-logging-serviceaccount-es-logging",
    "es-logging-role-es-logging-discovery",
    "es-logging-rolebinding-es-logging-discovery",
    "es-logging-service-es-logging-transport",
    "es-logging-service-es-logging-http",
    "es-logging-networkpolicy-es-logging-es",
)


class Seen:
    def __init__(self):
        self.requests: dict[str, object] = {}  # name -> RegisterResourceRequest
        self.urns: dict[str, str] = {}  # name -> URN
        self.outputs: dict[str, dict] = {}  # URN -> registered outputs
        self.logs: list[tuple[str, str, object]] = []  # (level, message, resource)

    def deps(self, name: str) -> set[str]:
        """The names of the resources `name` was registered to depend on."""
        by_urn = {u: n for n, u in self.urns.items()}
        return {by_urn[u] for u in self.requests[name].dependencies}


@pytest.fixture
def seen(monkeypatch) -> Seen:
    s = Seen()
    register, read, register_outputs = MockMonitor.RegisterResource, MockMonitor.ReadResource, MockMonitor.RegisterResourceOutputs

    def on_register(self, request, call=register):
        response = call(self, request)
        s.requests[request.name] = request
        s.urns[request.name] = response.urn
        return response

    def on_outputs(self, request):
        s.outputs[request.urn] = json_format.MessageToDict(request.outputs)
        return register_outputs(self, request)

    monkeypatch.setattr(MockMonitor, "RegisterResource", on_register)
    # The stack reference is read, not registered.
    monkeypatch.setattr(MockMonitor, "ReadResource", lambda self, request: on_register(self, request, read))
    monkeypatch.setattr(MockMonitor, "RegisterResourceOutputs", on_outputs)
    for level in ("info", "warn", "error"):
        monkeypatch.setattr(pulumi.log, level, lambda msg, resource=None, level=level, **_: s.logs.append((level, msg, resource)))
    return s


def deploy(seed_config, mocks, previous: dict | None = None) -> EsCluster:
    if previous is not None:
        mocks.stack_outputs = {"es-cluster:es-logging": previous}
    return EsCluster("es-logging", parse_stack_config(seed_config))


@pulumi.runtime.test
def test_every_child_is_registered_under_the_component(seed_config, mocks, seen):
    es = deploy(seed_config, mocks)

    def check(_):
        component = seen.urns["es-logging"]
        assert seen.requests["es-logging"].type == COMPONENT
        children = [n for n, r in seen.requests.items() if n != "es-logging" and r.type != "pulumi:pulumi:Stack"]
        assert {"es-logging-last-deployed", "es-logging-image-build", "es-logging-image", *CLUSTER_LEVEL} <= set(children)
        for n in children:
            assert seen.requests[n].parent == component, n

    return settled(es, es.record).apply(check)


@pulumi.runtime.test
def test_every_object_waits_for_the_verdict_and_pods_for_what_they_need(seed_config, mocks, seen):
    # Not a first deploy: the record of the same cluster, so groups roll one after another.
    es = deploy(seed_config, mocks, previous=_seed_record(seed_config))

    def check(_):
        last = "es-logging-last-deployed"
        namespace = "es-logging-namespace-elasticsearch"
        # The image is built and pushed only once the change is judged.
        assert last in seen.deps("es-logging-image-build") and last in seen.deps("es-logging-image")
        # The namespace first, then the rest of the cluster-level objects.
        assert seen.deps(namespace) == {last}
        for n in CLUSTER_LEVEL[1:]:
            assert seen.deps(n) == {last, namespace}, n
        # Each group's other objects wait for every cluster-level one.
        for n in ("es-logging-poddisruptionbudget-es-logging-data", "es-logging-poddisruptionbudget-es-logging-master"):
            assert seen.deps(n) == {last, *CLUSTER_LEVEL}, n
        # Workloads too, and each waits for the one before it: data, then client, masters last.
        data, client, master = (
            f"es-logging-{k}-es-logging-{g}" for k, g in (("daemonset", "data"), ("deployment", "client"), ("daemonset", "master"))
        )
        # (and for the pushed image, whose digest their pods name)
        image = "es-logging-image"
        assert seen.deps(data) == {last, *CLUSTER_LEVEL, image}
        assert seen.deps(client) == {last, *CLUSTER_LEVEL, image, data}
        assert seen.deps(master) == {last, *CLUSTER_LEVEL, image, client}

    return settled(es, es.record).apply(check)


@pulumi.runtime.test
def test_on_a_first_deploy_the_workloads_start_side_by_side(seed_config, mocks, seen):
    es = deploy(seed_config, mocks)

    def check(_):
        for g, k in (("data", "daemonset"), ("client", "deployment"), ("master", "daemonset")):
            assert seen.deps(f"es-logging-{k}-es-logging-{g}") == {"es-logging-last-deployed", *CLUSTER_LEVEL, "es-logging-image"}, g

    return settled(es, es.record).apply(check)


@pulumi.runtime.test
def test_workloads_and_only_workloads_carry_their_rollout_timeout(seed_config, mocks, seen):
    es = deploy(seed_config, mocks)
    cluster = validate(parse_stack_config(seed_config))

    def check(_):
        for name, request in seen.requests.items():
            if name == "es-logging-last-deployed":
                continue  # read, not registered: no timeouts to give
            timeouts = request.customTimeouts
            if request.type in WORKLOADS:
                group = cluster.group(name.rsplit("-", 1)[1])
                assert (timeouts.create, timeouts.update) == (rollout_timeout(group, cluster),) * 2, name
            else:
                assert (timeouts.create, timeouts.update, timeouts.delete) == ("", "", ""), name

    return settled(es, es.record).apply(check)


def test_the_component_registers_its_outputs_under_their_names(seed_config, mocks, seen):
    cluster = validate(parse_stack_config(seed_config))

    @pulumi.runtime.test
    def program():
        es = deploy(seed_config, mocks)
        return settled(es, es.record)

    program()  # returns once every RPC, the outputs' registration included, has run
    outputs = seen.outputs[seen.urns["es-logging"]]
    assert set(outputs) == {"namespace", "http_service", "transport_service", "http_url", "image_ref", "workloads", "impact", "record"}
    assert outputs["namespace"] == "elasticsearch"
    assert outputs["http_service"] == "es-logging-http"
    assert outputs["transport_service"] == "es-logging-transport"
    assert outputs["http_url"] == "http://es-logging-http.elasticsearch.svc:9200"
    assert outputs["workloads"] == {"master": "es-logging-master", "data": "es-logging-data", "client": "es-logging-client"}
    assert outputs["impact"]["firstDeploy"] is True
    # The record other stacks and the next deploy read: what was deployed, and this change's impact.
    assert set(outputs["record"]) == {"deployed", "impact"}
    assert outputs["record"]["deployed"] == impact.record(cluster, identity(cluster.image))
    assert outputs["record"]["impact"] == outputs["impact"]


@pulumi.runtime.test
def test_the_summary_and_warnings_are_attached_to_the_component(seed_config, mocks, seen):
    seed_config["nodeGroups"]["master"]["replicas"] = 4  # an even count: a warning
    es = deploy(seed_config, mocks)

    def check(_):
        levels = {level for level, _, _ in seen.logs}
        assert {"info", "warn"} <= levels
        for level, message, resource in seen.logs:
            assert resource is es, (level, message)
        assert any(level == "info" and m.startswith("es-cluster: first deploy: masters 4") for level, m, _ in seen.logs)
        assert any(level == "warn" and m.startswith("nodeGroups: 4 master-eligible nodes is an even number") for level, m, _ in seen.logs)

    return settled(es, es.record).apply(check)


@pulumi.runtime.test
def test_an_allow_disruptive_no_change_needs_is_flagged_once_with_how_to_remove_it(seed_config, mocks, seen):
    seed_config["allowDisruptive"] = ["quorumLoss", "dataReplace"]
    es = deploy(seed_config, mocks, previous=_seed_record(seed_config))

    def check(_):
        warnings = [(m, r) for level, m, r in seen.logs if level == "warn"]
        assert warnings == [
            (
                "allowDisruptive allows dataReplace, quorumLoss, and this change needs none of it: remove it "
                "(pulumi config rm es-cluster:allowDisruptive) so the next change that loses quorum or data is refused again",
                es,
            )
        ]

    return settled(es, es.record).apply(check)


@pulumi.runtime.test
def test_no_allow_disruptive_flag_when_the_change_needs_it_or_none_is_set(seed_config, mocks, seen):
    before = _seed_record(seed_config)
    seed_config["nodeGroups"]["master"]["replicas"] = 1  # 3 -> 1 masters: a quorum loss
    seed_config["allowDisruptive"] = ["quorumLoss"]
    es = deploy(seed_config, mocks, previous=before)

    def check(_):
        assert not [m for level, m, _ in seen.logs if level == "warn" and m.startswith("allowDisruptive")]

    return settled(es, es.record).apply(check)


def test_a_refused_change_logs_each_refusal_on_the_component_and_names_them_all_in_the_error(seed_config, mocks, seen):
    before = _seed_record(seed_config)
    seed_config["namespace"] = "other"  # replaces every master and data pod: two refusals
    made: list[EsCluster] = []

    @pulumi.runtime.test
    def program():
        made.append(deploy(seed_config, mocks, previous=before))
        return made[0].impact

    with pytest.raises(ChangeRefused) as refused:
        program()
    errors = [(m, r) for level, m, r in seen.logs if level == "error"]
    assert len(errors) == 2
    assert [m for m, _ in errors] == errors_expected(seed_config, before)
    assert all(r is made[0] for _, r in errors)
    assert str(refused.value) == "es-logging: refused: " + " ".join(m for m, _ in errors)


def errors_expected(seed_config, before) -> list[str]:
    cluster = validate(parse_stack_config(seed_config))
    result = impact.compare(before["deployed"], cluster, identity(cluster.image), cluster.allow_disruptive)
    return [d.refusal() for d in result.refused]


@pytest.mark.parametrize("status", [{"desiredNumberScheduled": 3}, {}, None])
def test_the_count_warning_is_attached_to_the_component_and_an_unreported_count_is_no_warning(seed_config, seen, status):
    from .test_rolling import CountingMocks, scaled_seed

    class Mocks(CountingMocks):
        def new_resource(self, args):
            rid, outputs = super().new_resource(args)
            if args.typ == "kubernetes:apps/v1:DaemonSet" and args.inputs["metadata"]["name"] == "es-logging-data":
                outputs["status"] = status
            return [rid, outputs]

    pulumi.runtime.set_mocks(Mocks({"es-logging-master": 3, "es-logging-data": 3}), preview=False)
    made: list[EsCluster] = []

    @pulumi.runtime.test
    def program():
        made.append(EsCluster("es-logging", scaled_seed(seed_config)))  # data replicas 2
        return made[0].record

    program()
    drift = [(m, r) for level, m, r in seen.logs if level == "warn" and "node(s) match the nodeSelector" in m]
    if status:
        assert [r for _, r in drift] == [made[0]]
        assert drift[0][0].startswith("nodeGroups.data.replicas is 2, but 3 node(s) match")
    else:
        assert drift == []  # the controller has not counted yet: nothing to compare


def test_the_record_is_exported_under_the_components_name_when_a_stack_runs_it(seed_config, mocks, seen, monkeypatch):
    exports: list[tuple[str, object]] = []
    monkeypatch.setattr(pulumi, "export", lambda name, value: exports.append((name, value)))
    made: list[EsCluster] = []

    @pulumi.runtime.test
    def program():
        made.append(deploy(seed_config, mocks))
        return settled(made[0], made[0].record)

    program()
    # Under the mocks, as under the engine, the root resource is the stack: the program's own.
    assert [(name, value is made[0].record) for name, value in exports] == [("es-cluster:es-logging", True)]
