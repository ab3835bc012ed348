"""Each module of es_cluster imports only what docs/architecture.md's table allows: the spec
builders, the model and the rules stay pure, and only the component declares resources."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "es_cluster"


def table() -> dict[str, tuple[str, str]]:
    """module -> (its es_cluster cell, its outside cell), from the page."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("\n## What each module may import\n", 1)[1]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            for module in re.findall(r"`([\w_]+)`", cells[0]):
                rows[module] = (cells[1], cells[2])
    return rows


def modules() -> dict[str, list[Path]]:
    """Each documented unit: a module of the package, or the engines package as one."""
    found = {p.stem: [p] for p in PACKAGE.glob("*.py")}
    found["engines"] = sorted((PACKAGE / "engines").glob("*.py"))
    return found


def imports(path: Path, unit: str) -> list[tuple[str, str, str | None]]:
    """(kind, name, enclosing function) of each import: kind "own" for es_cluster modules,
    "outside" for what is neither es_cluster nor the standard library."""
    tree = ast.parse(path.read_text())
    out = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level == 0:
                    if base != "__future__":
                        out.append(_classify(base, function))
                elif child.level == 2 or (child.level == 1 and unit != "engines"):
                    # es_cluster's own: `from . import a, b`, `from .config import x`, `from ..names import y`.
                    names = [base.split(".")[0]] if base else [a.name for a in child.names]
                    out.extend(("own", n, function) for n in names)
            elif isinstance(child, ast.Import):
                out.extend(_classify(a.name, function) for a in child.names)
            visit(child, inner)

    visit(tree, None)
    return out


def _classify(name: str, function: str | None) -> tuple[str, str, str | None]:
    top = name.split(".")[0]
    if top == "es_cluster":
        return ("own", name.split(".")[1] if "." in name else top, function)
    return ("stdlib" if top in sys.stdlib_module_names else "outside", top, function)


def allowed(cell: str) -> set[str]:
    return set() if cell.startswith("nothing") or cell.startswith("what they") else set(re.findall(r"`([\w_]+)`", cell))


def test_the_table_covers_every_module():
    assert set(table()) == set(modules())


@pytest.mark.parametrize("unit", sorted(modules()))
def test_a_module_imports_only_what_the_architecture_page_allows(unit):
    own_cell, outside_cell = table()[unit]
    if own_cell.startswith("what they"):
        return  # __init__ and __main__ re-export and run
    only_inside = dict(re.findall(r"`([\w_]+)` \(inside `([\w_]+)` only\)", outside_cell))
    for path in modules()[unit]:
        for kind, name, function in imports(path, unit):
            where = f"{path.relative_to(ROOT)} imports {name}"
            if kind == "own":
                assert name == unit or name in allowed(own_cell), f"{where}, which docs/architecture.md does not allow"
            elif kind == "outside" and name != "mutmut":  # `make mutation`'s trampolines, in its copy only
                assert name in allowed(outside_cell), f"{where}, which docs/architecture.md does not allow"
                if name in only_inside:
                    assert function == only_inside[name], f"{where} outside {only_inside[name]}"


def test_the_check_sees_an_import_the_table_does_not_allow(tmp_path):
    """The harness itself: a spec builder that imported Pulumi would be caught."""
    bad = tmp_path / "specs.py"
    bad.write_text("import pulumi\nfrom . import component\n")
    found = imports(bad, "specs")
    assert ("outside", "pulumi", None) in found and ("own", "component", None) in found
    assert "pulumi" not in allowed(table()["specs"][1]) and "component" not in allowed(table()["specs"][0])
