"""The documentation stays true mechanically: the set builds with MkDocs in strict mode (a broken
link or anchor between pages fails it), every README link reaches a page and an anchor of the
built set, the configuration reference names exactly the keys the validator accepts, and
Pulumi.yaml declares only accepted keys, with the program's own defaults."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from es_cluster import config as cfg
from es_cluster.config import parse_stack_config, validate

ROOT = Path(__file__).resolve().parents[2]
# Objects whose keys are documented one by one (`image.repository`), and the object's own row
# may stand beside them (`kubeconfig`: null or an object).
_TOP_OBJECTS = {
    "image": cfg._IMAGE_KEYS,
    "kubeconfig": cfg._KUBECONFIG_KEYS,
    "networkPolicy": cfg._NETWORK_POLICY_KEYS,
    "engine": cfg._ENGINE_KEYS,
    "security": cfg._SECURITY_KEYS,
}
_GROUP_OBJECTS = {"storage": cfg._STORAGE_KEYS}
GROUP = {"all": {"roles": ["master", "data", "client"], "replicas": 1}}


def accepted(keys: dict[str, str], objects: dict[str, dict[str, str]]) -> tuple[set[str], set[str]]:
    """(every leaf key the validator takes, the object keys that hold some of them)."""
    leaves = {k for k in keys if k not in objects}
    leaves |= {f"{k}.{sub}" for k, subs in objects.items() for sub in subs}
    return leaves, set(objects)


def reference_keys(heading: str) -> set[str]:
    """The keys in the first column of the table under `heading` in docs/configuration.md."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Za-z.]+)` \|", section, re.M))


@pytest.mark.parametrize(
    "heading, keys, objects",
    [
        # nodeGroups' own keys have the next table; its row may stand here.
        ("Cluster settings", cfg._TOP_KEYS, {**_TOP_OBJECTS, "nodeGroups": {}}),
        ("Node group settings", cfg._GROUP_KEYS, _GROUP_OBJECTS),
    ],
)
def test_the_reference_names_every_key_the_validator_accepts_and_no_other(heading, keys, objects):
    leaves, parents = accepted(keys, objects)
    documented = reference_keys(heading)
    assert leaves - documented == set(), f"accepted by the validator, missing from docs/configuration.md ({heading})"
    assert documented - leaves - parents == set(), f"in docs/configuration.md ({heading}), not accepted by the validator"


def test_the_reference_tables_are_found():
    assert "clusterName" in reference_keys("Cluster settings") and "roles" in reference_keys("Node group settings")


def pulumi_yaml_config() -> dict:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]


def test_pulumi_yaml_declares_only_keys_the_program_reads():
    assert set(pulumi_yaml_config()) <= set(cfg._TOP_KEYS)


@pytest.mark.parametrize("key", [k for k, v in pulumi_yaml_config().items() if "default" in v])
def test_each_default_pulumi_yaml_declares_is_the_programs_own(key):
    """The CLI hands a declared default to the program as if the stack had set it: it must
    change nothing."""
    default = pulumi_yaml_config()[key]["default"]
    as_cli_sends = default if isinstance(default, dict | list) else str(default).lower() if isinstance(default, bool) else str(default)
    with_default = validate(parse_stack_config({"nodeGroups": GROUP, key: as_cli_sends}))
    without = validate(parse_stack_config({"nodeGroups": GROUP}))
    assert with_default == without


def test_pulumi_yaml_requires_only_node_groups():
    """A declared key without a default is one the CLI demands of every stack."""
    assert [k for k, v in pulumi_yaml_config().items() if "default" not in v] == ["nodeGroups"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_the_documentation_builds_in_strict_mode(site):
    assert (site / "index.html").is_file() and (site / "configuration" / "index.html").is_file()


README_LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_every_readme_link_reaches_a_file_and_its_anchor(site):
    links = README_LINK.findall((ROOT / "README.md").read_text())
    assert any(link.startswith("docs/") for link in links)
    for link in links:
        if link.startswith(("http://", "https://")):
            continue
        path, _, anchor = link.partition("#")
        assert (ROOT / path).exists(), link
        if path.startswith("docs/") and path.endswith(".md"):
            page = path.removeprefix("docs/").removesuffix(".md")
            html = (site / ("" if page == "index" else page) / "index.html").read_text()
            assert not anchor or f'id="{anchor}"' in html, f"README links {link}, and the page has no such anchor"


def test_every_docs_page_is_in_the_navigation():
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    listed = {next(iter(item.values())) for item in nav}
    assert listed == {p.name for p in (ROOT / "docs").glob("*.md")}
