"""The package's shape stays one a newcomer can walk into: no import circles, no module
reaching into another's private names, a few modules at the top and a package per wing."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "digest"
# About twenty: the pipeline's stages and the few rules shared by several wings. A new
# module goes into its wing's package (cli/, sources/, render/, delivery/, store/, web/).
MAX_TOP_LEVEL_MODULES = 21
WINGS = ("cli", "sources", "render", "delivery", "store", "web")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def absolute(node: ast.ImportFrom, path: Path) -> str:
    """The module an import names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = package_of(path).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module → the digest modules it imports, anywhere in it (TYPE_CHECKING included:
    a circle there still means two modules that cannot be understood one without the other)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                target = absolute(node, path)
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    found = full if full in modules else target
                    if found in modules and found != name:
                        graph[name].add(found)
    return graph


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_circle_finder_sees_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles() -> None:
    assert circles(imports(all_modules())) == []


def test_no_module_imports_a_private_name_of_another() -> None:
    offenders = []
    for name, path in all_modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and absolute(node, path).startswith("digest"):
                names = [a.name for a in node.names]
                private = [n for n in names if n.startswith("_") and not n.startswith("__")]
                offenders += [f"{name}: {absolute(node, path)}.{p}" for p in private]
    assert offenders == []


def test_a_few_modules_at_the_top_and_a_package_per_wing() -> None:
    top = sorted(
        p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")
    )
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top
    for wing in WINGS:
        assert (PACKAGE / wing / "__init__.py").is_file(), wing


def test_the_cli_only_wires_through_its_public_state() -> None:
    """Every command module takes the group's state from cli/state.py, none from another."""
    for path in (PACKAGE / "cli").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "State" in text and path.name != "state.py":
            assert "from .state import" in text, path.name


def test_the_drawn_exception_tree_names_every_digest_error() -> None:
    """errors.py draws the whole tree (httpx's habit); a class left out is found here."""
    import importlib
    import re

    import digest.errors

    for name in all_modules():
        if not name.endswith("__main__"):  # that one runs the CLI
            importlib.import_module(name)
    drawn = set(re.findall(r"[├└]── (\w+)", digest.errors.__doc__ or ""))

    def subclasses(cls: type) -> set[str]:
        return {c.__name__ for c in cls.__subclasses__()} | {
            name for c in cls.__subclasses__() for name in subclasses(c)
        }

    assert subclasses(digest.errors.DigestError) == drawn
