"""Reading the project's stack config: from the Pulumi engine, or from Pulumi.<stack>.yaml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

PROJECT = "es-cluster"
_PREFIX = PROJECT + ":"


def _decode(value: Any) -> Any:
    # The engine hands objects and lists over as JSON text; plain strings stay strings.
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _own_keys(config: dict[str, Any]) -> dict[str, Any]:
    return {k[len(_PREFIX) :]: _decode(v) for k, v in config.items() if k.startswith(_PREFIX)}


def config_from_runtime() -> dict[str, Any]:
    """All `es-cluster:*` keys of the running stack, so unknown keys can be reported too."""
    from pulumi.runtime import config as runtime_config

    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return _own_keys(merged)


def config_from_file(path: str | Path) -> dict[str, Any]:
    """The `es-cluster:*` keys of a Pulumi.<stack>.yaml, as the engine would pass them."""
    doc = yaml.safe_load(Path(path).read_text()) or {}
    return _own_keys(doc.get("config") or {})
