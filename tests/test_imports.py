"""The import graphs of ``utils/`` and ``autograder/``: no circles (function-local imports
included), no instructor code in student code.

Read from the source with ``ast``, not by importing: a circle hidden in a function body (a lazy
``from . import x``) counts as much as one at the top, because it ties two modules' internals
together.
"""

import ast
from pathlib import Path

from autograder import REPO

UTILS = REPO / "utils"
AUTOGRADER = REPO / "autograder"


def imports_of(path, package):
    """Modules of ``package`` that ``path`` imports anywhere in its body: {module name}."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:  # from .data import x
                found.add(node.module.split(".")[0])
            elif node.level == 1:  # from . import data, train
                found |= {a.name for a in node.names}
            elif node.level == 0 and (node.module or "").startswith(package + "."):
                found.add(node.module.split(".")[1])
            elif node.level == 0 and node.module == package:  # from utils import data
                found |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith(package + ".")}
    return found


def graph(folder, package):
    modules = {p.stem for p in Path(folder).glob("*.py") if p.stem != "__init__"}
    return {
        m: sorted((imports_of(Path(folder) / f"{m}.py", package) & modules) - {m})
        for m in sorted(modules)
    }


def circles(edges):
    """Every elementary circle found by a depth-first walk, each as [a, b, ..., a] starting at its
    smallest name."""
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


def module_names(root):
    """{dotted name: path} of every module under the package folder ``root``, subpackages
    included."""
    names = {}
    for path in sorted(Path(root).rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def _resolve(name, imported, level, names, path):
    """The modules of ``names`` that one import statement of module ``name`` (file ``path``)
    loads."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    if level:
        package = ".".join(package.split(".")[: len(package.split(".")) - level + 1])
    found = set()
    for target in imported:
        full = f"{package}.{target}".strip(".") if level else target
        while full and full not in names:
            full = full.rpartition(".")[0]
        if not full and not level and (path.parent / f"{target.split('.')[0]}.py").exists():
            full = f"{package}.{target.split('.')[0]}"  # a program's sibling (its own sys.path)
        if full in names:
            found.add(full)
    return found


def package_graph(root):
    """{module: [modules it imports anywhere in its body]} of the package folder ``root``, by dotted
    names."""
    names = module_names(root)
    edges = {}
    for name, path in names.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= _resolve(name, [a.name for a in node.names], 0, names, path)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                targets = [f"{base}.{a.name}".strip(".") for a in node.names]
                targets += [base] if base else []
                found |= _resolve(name, targets, node.level, names, path)
        edges[name] = sorted(found - {name})
    return edges


def test_autograder_has_no_import_circle():
    edges = package_graph(AUTOGRADER)
    # the reader sees the real imports: relative, absolute, function-local, a program's sibling
    assert "autograder.grading.stages" in edges["autograder.grading.batch"]
    assert "autograder.grading.batch" in edges["autograder.grading.gradescope"]
    assert "autograder.grading.batch" in edges["autograder.check"]  # inside a function
    assert "autograder.grading.programs.wire" in edges["autograder.grading.programs.judge"]
    assert "autograder" in edges["autograder.grading.batch"]  # from .. import DIST
    assert circles(edges) == [], " ; ".join(" -> ".join(c) for c in circles(edges))


def test_a_circle_inside_a_subpackage_is_found(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "top.py").write_text("def f():\n    from .sub import low\n")
    (pkg / "sub" / "low.py").write_text("from ..top import f\n")
    (pkg / "sub" / "other.py").write_text("import pkg.top\n")
    assert circles(package_graph(pkg)) == [("pkg.sub.low", "pkg.top", "pkg.sub.low")]


def test_utils_has_no_import_circle():
    edges = graph(UTILS, "utils")
    assert "data" in edges and "cache" in edges["data"]  # the reader sees the real imports
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
        names |= {
            n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0
        }
        assert not {m for m in names if m.split(".")[0] in ("autograder", "benchmarks", "tests")}, (
            path.name
        )


def test_every_module_of_the_grading_wing_has_a_test_module_of_its_name():
    """tests/grading mirrors autograder/grading (issue 28 §1): a new module comes with its own
    tests."""
    wing = AUTOGRADER / "grading"
    modules = {p.stem for p in [*wing.glob("*.py"), *(wing / "programs").glob("*.py")]}
    tested = {p.stem.removeprefix("test_") for p in (REPO / "tests" / "grading").glob("test_*.py")}
    assert modules - {"__init__"} <= tested, sorted(modules - {"__init__"} - tested)
