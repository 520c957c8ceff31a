"""The import graph of ``utils/``: no circles (function-local imports included), no instructor code.

Read from the source with ``ast``, not by importing: a circle hidden in a function body (a lazy
``from . import x``) counts as much as one at the top, because it ties two modules' internals together.
"""
import ast
from pathlib import Path

from autograder import REPO

UTILS = REPO / "utils"


def imports_of(path, package):
    """Modules of ``package`` that ``path`` imports anywhere in its body: {module name}."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:                      # from .data import x
                found.add(node.module.split(".")[0])
            elif node.level == 1:                                    # from . import data, train
                found |= {a.name for a in node.names}
            elif node.level == 0 and (node.module or "").startswith(package + "."):
                found.add(node.module.split(".")[1])
            elif node.level == 0 and node.module == package:         # from utils import data
                found |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith(package + ".")}
    return found


def graph(folder, package):
    modules = {p.stem for p in Path(folder).glob("*.py") if p.stem != "__init__"}
    return {m: sorted((imports_of(Path(folder) / f"{m}.py", package) & modules) - {m}) for m in sorted(modules)}


def circles(edges):
    """Every elementary circle found by a depth-first walk, each as [a, b, ..., a] starting at its smallest name."""
    found = set()

    def walk(node, path):
        for nxt in edges.get(node, ()):
            if nxt == path[0]:
                cycle = path + [nxt]
                start = cycle.index(min(cycle[:-1]))
                found.add(tuple(cycle[start:-1] + cycle[:start] + [cycle[start]]))
            elif nxt not in path and nxt > path[0]:
                walk(nxt, path + [nxt])

    for node in edges:
        walk(node, [node])
    return sorted(found)


def test_utils_has_no_import_circle():
    edges = graph(UTILS, "utils")
    assert "data" in edges and "cache" in edges["data"]          # the reader sees the real imports
    assert circles(edges) == [], " ; ".join(" -> ".join(c) for c in circles(edges))


def test_a_circle_through_a_function_local_import_is_found(tmp_path):
    (tmp_path / "a.py").write_text("from . import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from .c import g\n    return g\n")
    (tmp_path / "c.py").write_text("def g():\n    from utils.a import x\n")
    (tmp_path / "d.py").write_text("from . import a\n")
    assert circles(graph(tmp_path, "utils")) == [("a", "b", "c", "a")]


def test_student_code_never_imports_instructor_code():
    for path in sorted(UTILS.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
        assert not {m for m in names if m.split(".")[0] in ("autograder", "benchmarks", "tests")}, path.name
