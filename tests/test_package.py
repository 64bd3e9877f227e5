"""The package as a whole: its import graph has no cycle, and each module says its one job."""

import ast
import re
from pathlib import Path

import course_utils

PACKAGE = Path(course_utils.__file__).parent


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, anywhere in the file (inside functions too:
    an import placed in a function to dodge a circle is still a circle)."""
    graph = {}
    for path in sorted(PACKAGE.glob("*.py")):
        module = path.stem
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    imported.add(node.module.split(".")[0])
                else:
                    imported.update(alias.name for alias in node.names)
        graph[module] = imported - {module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state = {}

    def visit(module, path):
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state:
                found = visit(target, path + [target])
                if found:
                    return found
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module, [module])
            if found:
                return found
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_import_graph_has_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_imports_flow_one_way_as_the_package_docstring_lists_the_modules():
    """Settings at the bottom, data and models above them, the session and the runner on top."""
    order = [name for name in re.findall(r"`(\w+)`", course_utils.__doc__.split("Modules,")[1])
             if (PACKAGE / f"{name}.py").is_file()]
    for module, imported in import_graph().items():
        if module in order:
            below = set(order[:order.index(module)])
            assert imported <= below, f"{module} imports {sorted(imported - below)}, listed after it"


def test_every_module_has_a_docstring_and_is_listed_in_the_package_docstring():
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{path.name} has no module docstring"
        if path.stem not in ("__init__", "__main__"):
            assert f"`{path.stem}`" in course_utils.__doc__, f"the package docstring does not list {path.stem}"


def test_every_module_reads_in_one_sitting():
    """About 450 lines at most: a module that grows past it is doing two jobs (split it along its seams)."""
    lengths = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in PACKAGE.glob("*.py")}
    assert max(lengths.values()) <= 450, {name: n for name, n in lengths.items() if n > 450}
