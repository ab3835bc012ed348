"""`python -m es_cluster render` writes what a stack declares, and it passes the Kubernetes
OpenAPI schema (strict: unknown fields fail) of several current Kubernetes minors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from es_cluster import parse_stack_config, validate
from es_cluster.image import build_tag
from es_cluster.render import render, write
from es_cluster.specs import CREDENTIAL_PLACEHOLDER
from es_cluster.stack import config_from_file

from .render_cli import render_command

ROOT = Path(__file__).resolve().parents[2]
K8S_VERSIONS = ["1.33.0", "1.34.0", "1.35.0"]
VARIANTS = {
    "statefulsets.yaml": """
config:
  es-cluster:clusterName: metrics
  es-cluster:namespace: monitoring
  es-cluster:createNamespace: false
  es-cluster:httpServiceType: LoadBalancer
  es-cluster:image:
    reference: registry.example/es@sha256:1111111111111111111111111111111111111111111111111111111111111111
  es-cluster:nodeGroups:
    master: {roles: [master], replicas: 3, storage: {size: 5Gi}, antiAffinity: soft,
             tolerations: [{key: dedicated, operator: Equal, value: es, effect: NoSchedule}]}
    data: {roles: [data], replicas: 4, storage: {size: 500Gi, storageClass: fast-ssd}, heapSize: 8g,
           resources: {requests: {cpu: "2", memory: 16Gi}, limits: {memory: 16Gi}}, maxUnavailable: 2}
    client: {roles: [client], replicas: 2, maxUnavailable: "50%"}
""",
    "combined.yaml": """
config:
  es-cluster:nodeGroups:
    all: {roles: [master, data, client], replicas: 1, workload: Deployment}
""",
}


def run_render(project_dir: Path, stack: str, out: Path) -> subprocess.CompletedProcess:
    return render_command("render", "--stack", stack, "--project-dir", str(project_dir), "-o", str(out))


def load_dir(out: Path) -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted(out.glob("*.yaml"))]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, list[dict]]:
    base = tmp_path_factory.mktemp("render")
    result = {}
    proc = run_render(ROOT, "dev", base / "dev")
    assert proc.returncode == 0, proc.stderr
    result["dev"] = load_dir(base / "dev")
    # A secured modern stack: its Secrets (placeholders, never a credential) and their mounts.
    proc = run_render(ROOT, "es8", base / "es8")
    assert proc.returncode == 0, proc.stderr
    result["es8"] = load_dir(base / "es8")
    for name, text in VARIANTS.items():
        stack = name.removesuffix(".yaml")
        (base / f"Pulumi.{stack}.yaml").write_text(text)
        proc = run_render(base, stack, base / stack)
        assert proc.returncode == 0, proc.stderr
        result[stack] = load_dir(base / stack)
    return result


def test_a_secured_stack_renders_its_secrets_with_placeholders_and_no_credential(rendered):
    secrets = {m["metadata"]["name"]: m for m in rendered["es8"] if m["kind"] == "Secret"}
    assert sorted(secrets) == ["es8-certs", "es8-elastic-user", "es8-file-realm"]
    values = [v for m in secrets.values() for v in m["stringData"].values()]
    assert values.count(CREDENTIAL_PLACEHOLDER) == 5 and "superuser:elastic\n" in values
    assert not any("PRIVATE KEY" in v or v.startswith("$2") for v in values)


def test_dev_stack_renders_the_seed_layout(rendered):
    objs = [(m["kind"], m["metadata"]["name"]) for m in rendered["dev"]]
    assert objs == [
        ("Namespace", "elasticsearch"),
        ("ServiceAccount", "es-logging"),
        ("Role", "es-logging-discovery"),
        ("RoleBinding", "es-logging-discovery"),
        ("Service", "es-logging-transport"),
        ("Service", "es-logging-http"),
        ("NetworkPolicy", "es-logging-es"),
        ("DaemonSet", "es-logging-master"),
        ("PodDisruptionBudget", "es-logging-master"),
        ("DaemonSet", "es-logging-data"),
        ("PodDisruptionBudget", "es-logging-data"),
        ("Deployment", "es-logging-client"),
        ("PodDisruptionBudget", "es-logging-client"),
    ]
    image = rendered["dev"][7]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.startswith("localhost:5000/es-kubernetes:ctx-")


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("stack", ["dev", "statefulsets", "combined", "es8"])
def test_rendered_objects_pass_the_kubernetes_schema(rendered, stack, version):
    for manifest in rendered[stack]:
        kubernetes_validate.validate(manifest, version, strict=True)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_schema_validation_catches_a_misspelt_field(rendered, version):
    broken = yaml.safe_load(yaml.safe_dump(rendered["dev"][7]))
    broken["spec"]["template"]["spec"]["containers"][0]["volumeMount"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


def test_render_rejects_bad_config_with_the_key_and_writes_nothing(tmp_path):
    (tmp_path / "Pulumi.bad.yaml").write_text("config:\n  es-cluster:nodeGroups:\n    master: {roles: [master], replicas: -1}\n")
    proc = run_render(tmp_path, "bad", tmp_path / "out")
    assert proc.returncode == 2
    assert "nodeGroups.master.replicas: must be a whole number >= 0, got -1" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_render_reports_a_missing_stack_file(tmp_path):
    proc = run_render(tmp_path, "nope", tmp_path / "out")
    assert proc.returncode == 2
    assert "no stack config" in proc.stderr


def test_python_dash_m_es_cluster_render_is_the_entry_point(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "es_cluster", "render", "--stack", "dev", "-o", str(tmp_path / "out")],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and proc.stdout == f"wrote 13 objects to {tmp_path / 'out'}/\n", proc.stdout + proc.stderr


def test_rendered_pods_name_the_image_by_its_content_tag(rendered):
    """Only a push yields a digest: render shows the tag `up` would build under."""
    cluster = validate(parse_stack_config(config_from_file(ROOT / "Pulumi.dev.yaml")))
    images = {
        c["image"] for m in rendered["dev"] if m["kind"] in ("DaemonSet", "Deployment") for c in m["spec"]["template"]["spec"]["containers"]
    }
    assert images == {f"{cluster.image.repository}:{build_tag(cluster.image)}"}


def test_the_help_names_the_command_its_purpose_and_each_option(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    top = render_command("--help")
    assert top.returncode == 0 and top.stdout.startswith("usage: python -m es_cluster [-h] {render} ...\n"), top.stdout
    assert "Render a stack's Kubernetes objects to YAML without the engine" in top.stdout
    assert "\n    render    write the objects a stack would declare as Kubernetes YAML\n" in top.stdout, top.stdout
    sub = render_command("render", "--help")
    assert sub.stdout.startswith("usage: python -m es_cluster render [-h] [--stack STACK] [--project-dir PROJECT_DIR] [-o OUT]\n")
    for line in (
        "--stack STACK         stack name: reads Pulumi.<stack>.yaml (default: dev)",
        "--project-dir PROJECT_DIR\n                        folder holding Pulumi.<stack>.yaml",
        "-o OUT, --out OUT     output folder (default: out/)",
    ):
        assert line in sub.stdout, sub.stdout


def test_a_missing_command_is_a_usage_error():
    proc = render_command()
    assert proc.returncode == 2 and "error: the following arguments are required: command" in proc.stderr, proc.stderr


def test_the_defaults_are_the_dev_stack_of_this_folder_into_out(tmp_path, monkeypatch):
    (tmp_path / "Pulumi.dev.yaml").write_text((ROOT / "Pulumi.dev.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    proc = render_command("render")
    assert proc.returncode == 0 and proc.stdout == "wrote 13 objects to out/\n", proc.stdout + proc.stderr
    assert len(list((tmp_path / "out").glob("*.yaml"))) == 13


def test_render_makes_the_output_folder_and_its_parents_and_keeps_each_objects_key_order(tmp_path):
    out = tmp_path / "a" / "b"
    assert run_render(ROOT, "dev", out).returncode == 0
    cluster = validate(parse_stack_config(config_from_file(ROOT / "Pulumi.dev.yaml")))
    manifests = render(cluster)
    files = sorted(out.iterdir())
    assert [f.read_text() for f in files] == [yaml.safe_dump(m, sort_keys=False) for m in manifests]
    assert write(manifests, tmp_path / "again") == sorted((tmp_path / "again").iterdir())


def test_a_folder_that_cannot_be_made_is_one_error_line(tmp_path):
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "out"
    proc = run_render(ROOT, "dev", out)
    assert proc.returncode == 2 and proc.stderr == f"error: cannot write to {out}: Not a directory\n", proc.stderr
