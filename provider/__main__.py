"""Hosts es_cluster.package.EsCluster as the component package `es-cluster`; the SDK's host
infers the schema from the class's annotations."""

import sys
import tomllib
from pathlib import Path

# Run from a checkout: the package is the folder next to this one (an installed es_cluster
# serves as well).
_ROOT = Path(__file__).resolve().parent.parent
if (_ROOT / "es_cluster").is_dir():
    sys.path.insert(0, str(_ROOT))

from pulumi.provider.experimental import component_provider_host  # noqa: E402

from es_cluster.package import EsCluster  # noqa: E402

# The package version is the Python package's, read from the checkout's pyproject.toml.
VERSION = tomllib.loads((_ROOT / "pyproject.toml").read_text())["project"]["version"]

if __name__ == "__main__":
    component_provider_host(name="es-cluster", components=[EsCluster], version=VERSION)
