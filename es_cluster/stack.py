"""Reading the project's stack config: from the Pulumi engine, or from Pulumi.<stack>.yaml.

`config_from_file` gives what the engine would give the program for the same file, so `render`
and `pulumi preview` judge one config alike. The Pulumi CLI reads the file as YAML 1.2 (Go's
yaml.v3) and hands each top-level value over as a string, objects and lists as JSON. Where PyYAML
(YAML 1.1) would read the file differently (a duplicate key, `yes`/`on`, `0755`, `1_000`,
`1:30`), the reader refuses, naming the file and the line.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
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


def runtime_config() -> dict[str, Any]:
    """Every key of the running stack, whatever its namespace."""
    from pulumi.runtime import config as runtime

    return {**runtime.get_config_env(), **runtime.CONFIG.get()}


def config_from_runtime() -> dict[str, Any]:
    """All `es-cluster:*` keys of the running stack, so unknown keys can be reported too."""
    return _own_keys(runtime_config())


# How alike a namespace must be to the project's to be taken for a misspelling of it
# (difflib's ratio: es-clustr 0.95, es_cluster 0.9, cluster 0.82; kubernetes 0.3).
_NEAR_MISS = 0.8


def near_miss_warnings(keys: Iterable[str]) -> list[str]:
    """Keys whose namespace looks like a misspelling of the project's (`es-clustr:clusterName`,
    `ES-Cluster:…`): the engine hands them to the program under their own namespace, and
    nothing reads them, so without this the default is used in silence."""
    out = []
    for key in sorted(keys):
        namespace, colon, rest = key.partition(":")
        if colon and namespace != PROJECT and difflib.SequenceMatcher(None, namespace.lower(), PROJECT).ratio() >= _NEAR_MISS:
            out.append(f"{key} is not read: its namespace {namespace!r} is not this project's {PROJECT!r} (did you mean {_PREFIX}{rest}?)")
    return out


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


_MERGE_TAG = "tag:yaml.org,2002:merge"


class _CliLikeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing what it would read unlike the CLI's YAML 1.2 parser."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._flattened: set[int] = set()

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        """Resolve merge keys (`<<: *defaults`, `<<: [*a, *b]`) as Go's yaml.v3 does for the CLI,
        and as the YAML spec has it: the mapping's own keys win, then the first mapping merged,
        then the later ones. (PyYAML's own merge drops a repeated key by the identity of its
        string, so which source wins depends on string interning.) Only a mapping's own keys
        can be set twice. Each node once: an anchored mapping is flattened where first met."""
        if id(node) in self._flattened:
            return
        self._flattened.add(id(node))
        own: list[tuple[yaml.Node, yaml.Node]] = []
        sources: list[list[tuple[yaml.Node, yaml.Node]]] = []
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:
                for source in value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]:
                    if not isinstance(source, yaml.MappingNode):
                        raise StackFileError(f"line {line}: a merge key (<<) takes a mapping or a list of mappings")
                    self.flatten_mapping(source)
                    sources.append(source.value)
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (list, dict)):
                raise StackFileError(f"line {line}: a key must be a plain value")
            if key in seen:
                raise StackFileError(
                    f"line {line}: key {key!r} is set twice (first on line {seen[key]}); the Pulumi CLI refuses duplicate keys"
                )
            seen[key] = line
            own.append((key_node, value_node))
        # construct_mapping keeps the last value of a key: the last source first, own keys last.
        node.value = [pair for pairs in reversed(sources) for pair in pairs] + own

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
    return read_stack_file(path)[0]


def read_stack_file(path: str | Path) -> tuple[dict[str, Any], list[str]]:
    """`config_from_file`'s keys, and the warnings about the file's other keys (near misses of
    the project's namespace)."""
    path = Path(path)
    try:
        doc = yaml.load(path.read_text(), Loader=_CliLikeLoader)  # noqa: S506 - a SafeLoader subclass
    except StackFileError as e:
        raise StackFileError(f"{path}: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        # A reader error (a control character) has no problem or mark, and its text two lines.
        detail = getattr(e, "problem", None) or " ".join(str(e).split())
        raise StackFileError(f"{path}: {where}not valid YAML ({detail})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise StackFileError(f"{path}: cannot be read ({e})") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict) or not isinstance(doc.get("config") or {}, dict):
        raise StackFileError(f"{path}: must be a mapping with a `config:` mapping, as Pulumi stack files are")
    config = {str(k): _without_secrets(v) for k, v in (doc.get("config") or {}).items()}
    return _own_keys({k: _as_cli_value(v) for k, v in config.items()}), near_miss_warnings(config)


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
