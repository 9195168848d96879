"""The package's layering, read from its source: no import cycle, and Dagster only where definitions live."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ml_assets.settings import PACKAGE_DIR

pytestmark = pytest.mark.unit

# Modules that may use Dagster: the definitions, their asset/check/sensor modules, and the resources.
# progress.py follows runs in the Dagster instance for ``ml-assets materialize``.
DAGSTER_HOMES = (
    "definitions.py",
    "resources/",
    "assets.py",
    "checks.py",
    "sensors.py",
    "partitions.py",
    "conditions.py",
    "asset_catalog.py",
    "external.py",  # the training process Dagster Pipes starts (dagster_pipes: its side of the protocol)
    "progress.py",
)


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts).removesuffix(".__init__")


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports anywhere (top level, in functions, under TYPE_CHECKING)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE_DIR.rglob("*.py")}
    return {name: {t for t in imports_of(path) if t in modules and t != name} for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_pure_logic_knows_nothing_of_dagster() -> None:
    offenders = []
    for path in PACKAGE_DIR.rglob("*.py"):
        relative = path.relative_to(PACKAGE_DIR).as_posix()
        if relative.startswith(DAGSTER_HOMES) or relative.endswith(DAGSTER_HOMES):
            continue
        if any(name == "dagster" or name.startswith(("dagster.", "dagster_")) for name in imports_of(path)):
            offenders.append(relative)
    assert offenders == []


def test_a_deprecated_dagster_call_fails_the_suite() -> None:
    """setup.cfg turns Dagster's deprecation warnings into errors, other libraries' stay quiet."""
    import warnings

    from dagster_shared.utils.warnings import deprecation_warning

    with pytest.raises(DeprecationWarning, match=r"is deprecated and will be removed in 2\.0"):
        deprecation_warning("Function `old_api`", "2.0")
    with warnings.catch_warnings(record=True):
        warnings.warn("x is deprecated and will be removed in a future version", DeprecationWarning, stacklevel=1)


def test_the_readmes_layout_matches_the_tree() -> None:
    """Every package folder and top-level module is in the README's layout, and every file it names exists."""
    import re

    root = PACKAGE_DIR.parent
    readme = (root / "README.md").read_text()
    layout = readme[readme.index("## Layout") : readme.index("## Dependencies")]
    folders = [p.name for p in PACKAGE_DIR.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    tests = [p.name for p in (root / "ml_assets_tests").iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    modules = [p.name for p in PACKAGE_DIR.glob("*.py") if p.name != "__init__.py"]
    missing = [f"{name}/" for name in folders if f"  {name}/" not in layout]
    missing += [name for name in modules if name not in layout]
    missing += [f"ml_assets_tests/{name}/" for name in tests if name not in folders and f"{name}/" not in layout]
    root_files = [p.name for p in root.iterdir() if p.is_file() and not p.name.startswith(".")]
    missing += [name for name in root_files if name != "README.md" and name not in layout]
    assert missing == []
    # The test folders mirror the package; the one exception is named in the layout.
    assert set(tests) - set(folders) == {"infrastructure"}
    named = set(re.findall(r"[\w.-]+\.py\b", layout)) - {"ml_assets.definitions"}
    tracked = ("ml_assets", "ml_assets_tests", "benchmarks")
    everywhere = {p.name for folder in tracked for p in (root / folder).rglob("*.py")}
    assert sorted(named - everywhere) == []


def test_every_environment_variable_is_documented() -> None:
    from ml_assets.environment_variables import ALL

    readme = (PACKAGE_DIR.parent / "README.md").read_text()
    settings = readme[readme.index("## Settings") : readme.index("## The config")]
    assert [name for name in ALL if f"`{name}`" not in settings] == []


def test_environment_variables_are_read_only_through_their_declarations() -> None:
    """No module but environment_variables.py reads os.environ by name (writes, to child processes, are fine)."""
    import re

    offenders = []
    for path in PACKAGE_DIR.rglob("*.py"):
        if path.name == "environment_variables.py":
            continue
        for line in path.read_text().splitlines():
            if re.search(r"os\.environ\.get\(|os\.getenv\(|os\.environ\[|in os\.environ|os\.environ\.setdefault", line):
                offenders.append(f"{path.relative_to(PACKAGE_DIR)}: {line.strip()}")
    assert offenders == []
