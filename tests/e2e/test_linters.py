"""Independent linters on what the component declares: kube-score and checkov, built and installed
by scripts/toolchain.sh, run on five layouts: the dev and local stacks (the field report's),
examples/hardened (Pod Security `restricted`), and the secured modern stacks es8 and opensearch. The objects are those the component declares: the
image by digest when pushed, as image.declare() gives it.

Every finding that remains is a row of the table in docs/security.md, "What the linters still say", with the
reason it stays. The test fails on a finding not in the table, and on a row no linter raises any
more, so the table stays exactly true."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from es_cluster import specs
from es_cluster.config import parse_stack_config, validate
from es_cluster.model import Cluster
from es_cluster.render import image_for_render, write
from es_cluster.stack import config_from_file

ROOT = Path(__file__).resolve().parents[2]
LAYOUTS = {
    "dev": ROOT / "Pulumi.dev.yaml",
    "local": ROOT / "Pulumi.local.yaml",
    "hardened": ROOT / "examples" / "hardened" / "Pulumi.hardened.yaml",
    # The modern engines' layouts, secured by default (their Secrets hold a render's placeholders).
    "es8": ROOT / "Pulumi.es8.yaml",
    "opensearch": ROOT / "Pulumi.opensearch.yaml",
}
WORKLOADS = {"DaemonSet", "Deployment", "StatefulSet"}
TABLE_HEADING = "## What the linters still say"


@dataclass(frozen=True, order=True)
class Finding:
    linter: str
    check: str
    layout: str
    obj: str  # the object's name without the `<clusterName>-` prefix: the group, for workloads

    def __str__(self) -> str:
        return f"{self.linter} {self.check} on {self.layout}:{self.obj}"


def declared_image(cluster: Cluster) -> str:
    """The image reference the component puts in the pods: repository@digest when pushed (any
    digest: the linters look at its form), repository:tag when not."""
    img = cluster.image
    if img.push and not img.reference:
        return f"{img.repository}@sha256:{'0' * 64}"
    return image_for_render(cluster)


def layout(name: str) -> Cluster:
    return validate(parse_stack_config(config_from_file(LAYOUTS[name])))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, tuple[Cluster, Path]]:
    out = {}
    for name in LAYOUTS:
        cluster = layout(name)
        folder = tmp_path_factory.mktemp(f"lint-{name}")
        write(specs.manifests(cluster, declared_image(cluster)), folder)
        out[name] = (cluster, folder)
    return out


def short(cluster: Cluster, name: str) -> str:
    return name.removeprefix(f"{cluster.name}-")


def kube_score(env: dict[str, str], cluster: Cluster, name: str, folder: Path) -> set[Finding]:
    files = sorted(str(p) for p in folder.glob("*.yaml"))
    proc = subprocess.run(
        ["kube-score", "score", "--kubernetes-version", "v1.35", "-o", "json", *files],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Exit status 1 means "critical findings"; anything else that is not JSON is a failure to run.
    assert proc.returncode in (0, 1), proc.stderr
    found = set()
    for obj in json.loads(proc.stdout):
        for check in obj["checks"]:
            if not check["skipped"] and check["grade"] < 10:  # 10 = OK, 5 = warning, 1 = critical
                found.add(Finding("kube-score", check["check"]["id"], name, short(cluster, obj["object_meta"]["name"])))
    return found


def checkov(env: dict[str, str], cluster: Cluster, name: str, folder: Path) -> set[Finding]:
    # --skip-download: no call to Prisma Cloud for guidelines (the machine has no internet).
    proc = subprocess.run(
        ["checkov", "-d", str(folder), "--framework", "kubernetes", "--skip-download", "--quiet", "--compact", "-o", "json"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report.get("results") is not None or report.get("failed", 0) == 0, report
    assert (report.get("summary") or {}).get("parsing_errors", 0) == 0, report["summary"]
    found = set()
    for f in (report.get("results") or {}).get("failed_checks", []):
        _kind, _ns, obj = f["resource"].split(".", 2)
        found.add(Finding("checkov", f["check_id"], name, short(cluster, obj)))
    return found


def readme_table() -> list[tuple[str, str, list[str], str]]:
    """The rows of docs/security.md's table: (linter, check, where, why)."""
    text = (ROOT / "docs" / "security.md").read_text()
    start = text.index(TABLE_HEADING)
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("#"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) != 4 or cells[0] in ("linter", "---"):
            continue
        linter, check, where, why = cells
        rows.append((linter, check.strip("`"), [w.strip() for w in where.split(",")], why))
    return rows


def expected(clusters: dict[str, Cluster]) -> set[Finding]:
    """The table's rows as findings. `where` lists `layout` (every ES workload of that layout)
    or `layout:object` (one object, named without the cluster prefix)."""
    out = set()
    for linter, check, where, _why in readme_table():
        for token in where:
            name, _, obj = token.strip("`").partition(":")
            objs = [obj] if obj else [g.name for g in clusters[name].groups]
            out |= {Finding(linter, check, name, o) for o in objs}
    return out


def test_the_readme_table_gives_a_reason_for_every_row():
    rows = readme_table()
    assert len(rows) >= 5, "docs/security.md's linter table was not found or lost its rows"
    for linter, check, where, why in rows:
        assert linter in ("kube-score", "checkov"), linter
        assert re.fullmatch(r"[A-Za-z0-9_-]+", check), check
        assert all(w.strip("`").partition(":")[0] in LAYOUTS for w in where), where
        assert len(why) > 40, f"{linter} {check}: the reason is too short to be one"


@pytest.mark.parametrize("linter", ["kube-score", "checkov"])
def test_every_finding_is_in_the_readme_with_its_reason(linter, rendered, tool_env):
    run = kube_score if linter == "kube-score" else checkov
    actual = set()
    for name, (cluster, folder) in rendered.items():
        actual |= run(tool_env, cluster, name, folder)
    want = {f for f in expected({n: c for n, (c, _) in rendered.items()}) if f.linter == linter}
    new = sorted(actual - want)
    gone = sorted(want - actual)
    assert not new, "findings not listed in docs/security.md (fix them, or add a row saying why they stay):\n" + "\n".join(map(str, new))
    assert not gone, "docs/security.md rows the linter no longer raises (remove them):\n" + "\n".join(map(str, gone))


def test_the_linters_do_flag_a_bad_object(tmp_path, tool_env):
    """The harness sees findings at all: a privileged, root, capability-adding pod is flagged by
    both linters on the checks the hardened layout passes."""
    cluster = layout("hardened")
    manifests: list[dict[str, Any]] = specs.manifests(cluster, declared_image(cluster))
    for m in manifests:
        if m["kind"] in WORKLOADS:
            c = m["spec"]["template"]["spec"]["containers"][0]
            c["securityContext"] = {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}}
            m["spec"]["template"]["spec"]["securityContext"] = {}
    write(manifests, tmp_path)
    ks = {f.check for f in kube_score(tool_env, cluster, "hardened", tmp_path)}
    ck = {f.check for f in checkov(tool_env, cluster, "hardened", tmp_path)}
    assert "container-security-context-privileged" in ks, ks
    assert {"CKV_K8S_16", "CKV_K8S_39"} <= ck, ck  # privileged; CAP_SYS_ADMIN
