"""Reading the project's stack config: from the Pulumi engine, or from Pulumi.<stack>.yaml.

`config_from_file` gives what the engine would give the program for the same file, so `render`
and `pulumi preview` judge one config alike. The Pulumi CLI reads the file as YAML 1.2 (Go's
yaml.v3) and hands each top-level value over as a string, objects and lists as JSON. Where PyYAML
(YAML 1.1) would read the file differently (a duplicate key, `yes`/`on`, `0755`, `1_000`,
`1:30`), the reader refuses, naming the file and the line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

PROJECT = "es-cluster"
_PREFIX = PROJECT + ":"


class StackFileError(ValueError):
    """A stack file that cannot be read as the Pulumi CLI reads it; str() is one line."""


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


# Plain scalars YAML 1.1 (PyYAML) and YAML 1.2 (the CLI) read as different types.
_YAML11_ONLY = re.compile(
    r"""(?x)
    (?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)   # 1.1 booleans
    | [-+]?0[0-7]+                                          # 1.1 octal (1.2 reads 0755 as 755)
    | [-+]?0b[01_]+                                         # binary
    | 0o[0-7]+                                              # 1.2 octal, a string to 1.1
    | [-+]?[0-9]+[eE][-+]?[0-9]+                            # 1.2 float without a dot, a string to 1.1
    | [-+]?(?:[0-9][0-9_]*)?_[0-9_]*(?:\.[0-9_]*)?          # digits with '_'
    | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?      # sexagesimal 1:30
    """
)


class _CliLikeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing what it would read unlike the CLI's YAML 1.2 parser."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, (list, dict)):
                raise StackFileError(f"line {line}: a key must be a plain value")
            if key in seen:
                raise StackFileError(
                    f"line {line}: key {key!r} is set twice (first on line {seen[key]}); the Pulumi CLI refuses duplicate keys"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_scalar(self, node: yaml.ScalarNode) -> Any:
        if node.style is None and _YAML11_ONLY.fullmatch(node.value):
            raise StackFileError(
                f"line {node.start_mark.line + 1}: {node.value!r} means something else to the Pulumi CLI (YAML 1.2) than to YAML 1.1; "
                "write true/false or a plain number, or quote it"
            )
        return super().construct_scalar(node)


def _as_cli_value(v: Any) -> Any:
    """A top-level config value as the CLI hands it over: scalars as strings, null as ""."""
    if isinstance(v, (dict, list)):
        return json.loads(json.dumps(v))
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def config_from_file(path: str | Path) -> dict[str, Any]:
    """The `es-cluster:*` keys of a Pulumi.<stack>.yaml, as the engine would pass them.

    Raises StackFileError, one line naming the file, when it cannot be read that way."""
    path = Path(path)
    try:
        doc = yaml.load(path.read_text(), Loader=_CliLikeLoader)  # noqa: S506 - a SafeLoader subclass
    except StackFileError as e:
        raise StackFileError(f"{path}: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise StackFileError(f"{path}: {where}not valid YAML ({getattr(e, 'problem', None) or e})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise StackFileError(f"{path}: cannot be read ({e})") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict) or not isinstance(doc.get("config") or {}, dict):
        raise StackFileError(f"{path}: must be a mapping with a `config:` mapping, as Pulumi stack files are")
    config = {str(k): _without_secrets(v) for k, v in (doc.get("config") or {}).items()}
    return _own_keys({k: _as_cli_value(v) for k, v in config.items()})


SECRET_PLACEHOLDER = "[secret]"


def _without_secrets(v: Any) -> Any:
    """Encrypted values ({secure: ...}) as a placeholder: only the engine can decrypt them, and
    no rendered object contains one (the registry password goes to the push only)."""
    if isinstance(v, dict):
        if set(v) == {"secure"}:
            return SECRET_PLACEHOLDER
        return {k: _without_secrets(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_without_secrets(x) for x in v]
    return v
