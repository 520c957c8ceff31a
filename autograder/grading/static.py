"""Static reading of a notebook (``ast`` only, never run): the graded definitions and the reviewer's
flags.

No score rests on this module. The tests run in the judge, a process that never runs student code;
the student's functions run in a worker and answer as data. So the audit is advice for the
instructor's report: "flagged for review", with the cell and the reason, and never a withheld score.
It flags only precise patterns, each one a thing no answer of this course needs:

* the builtins ``eval``, ``exec``, ``compile`` and ``__import__`` called by name (a method such as
  ``model.eval()`` is another name and is never flagged);
* imports of otter's internals (``otter.test_files``, ``otter.check``...; ``import otter`` and
  ``otter.Notebook`` are what the setup cell uses);
* assignments to the ``grader`` object or otter's attributes (the student's own kernel: harmless to
  the score, worth a look);
* a grader file or folder named in a string or a shell command.

``graded_definitions`` picks, from the top level of the code cells, the imports, ``def``/``class``
statements and plain assignments that define the names the tests take as arguments, and everything
those refer to: a worklist over an index of which statement binds which name, linear in the size of
the notebook. Statements that change a needed name (``advice[k] = v``, a loop that assigns it) come
along too; every other statement (prints, plots, training loops that change no answer, magics) never
runs in the worker.
"""

import ast
import re
import threading

# CPython 3.11 keeps the AST constructor's recursion depth in interpreter-wide state: two threads
# parsing at once fail with "SystemError: AST constructor recursion depth mismatch". Every parse
# here takes this lock.
_AST_LOCK = threading.Lock()


def _ast_parse(text):
    with _AST_LOCK:
        return ast.parse(text)


GRADER_NAMES = {"grader", "otter"}
GRADER_PATHS = (
    "/autograder",
    "driver.json",
    "results.pkl",
    "otter_config",
    ".OTTER_LOG",
    "judge.py",
    "worker.py",
    "driver.py",
    "/sys/fs/cgroup",
)
DYNAMIC_CALLS = {"exec", "eval", "compile", "__import__"}
SHELL_MAGICS = (
    "%%bash",
    "%%sh",
    "%%script",
    "%%writefile",
    "%%python",
    "%%perl",
    "%%ruby",
    "%%file",
)


def parse(source):
    """The cell as an ``ast.Module`` (magic and shell lines read as ``pass``), or None."""
    if source.lstrip().startswith("%%"):
        return None
    lines = [
        ("pass" if line.lstrip().startswith(("%", "!")) else line) for line in source.splitlines()
    ]
    try:
        return _ast_parse("\n".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _root_name(node):
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.value if not isinstance(node, ast.Call) else node.func
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node):
    try:
        return ast.unparse(node)[:80]
    except (ValueError, RecursionError):
        return "?"


def _findings(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
            )
            for name in names:
                if name.startswith("otter."):
                    yield f"imports otter internals ({name[:60]})"
            if isinstance(node, ast.ImportFrom) and node.module == "otter":
                for a in node.names:
                    if a.name != "Notebook":
                        yield f"imports otter internals (otter.{a.name[:40]})"
        targets = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        for t in targets:
            if isinstance(t, (ast.Attribute, ast.Subscript)) and _root_name(t) in GRADER_NAMES:
                yield f"replaces part of the grader ({_dotted(t)})"
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in DYNAMIC_CALLS
        ):
            yield f"runs code built at run time ({node.func.id})"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if any(p in node.value for p in GRADER_PATHS):
                yield f"refers to grader files ({node.value[:60]!r})"


def _shell_findings(source):
    lines = source.splitlines()
    shell = (
        lines
        if source.lstrip().startswith(SHELL_MAGICS)
        else [ln for ln in lines if ln.lstrip().startswith("!")]
    )
    text = "\n".join(shell)
    if any(p in text for p in GRADER_PATHS) or re.search(
        r"(^|[\s/'\"])(tests|results)(/|\s|$)", text
    ):
        yield "a shell command touches grader files"


def audit(cells):
    """Flags for review, as 'cell N what' strings, from [(number, tags, source)]."""
    found = []
    for number, _, source in cells:
        tree = parse(source)
        what = list(_shell_findings(source)) + (list(_findings(tree)) if tree else [])
        found += [f"cell {number} {w}" for w in dict.fromkeys(what)]
    return found


def _bound(stmt):
    """Names a top-level statement defines, or None if the worker never runs such a statement."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        if any(
            (getattr(stmt, "module", None) or a.name).split(".")[0] == "otter" for a in stmt.names
        ):
            return None
        if any(a.name == "*" for a in stmt.names):
            return None
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    targets = (
        stmt.targets
        if isinstance(stmt, ast.Assign)
        else [stmt.target]
        if isinstance(stmt, ast.AnnAssign) and stmt.value is not None
        else None
    )
    if not targets:
        return None
    names = set()
    for t in targets:
        elts = t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t]
        if not all(isinstance(e, ast.Name) for e in elts):
            return None
        names |= {e.id for e in elts}
    return names - GRADER_NAMES or None


def _touched(stmt):
    """Names a top-level statement changes without being a plain definition: item and attribute
    assignments, augmented assignments, method calls (``advice[k] = v``, ``prediction.update(...)``)
    and whatever a loop, an ``if``, a ``with`` or a ``try`` assigns (``for m in zoo: best = m``)."""
    names = set()
    for node in ast.walk(stmt):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.NamedExpr, ast.For, ast.AsyncFor)):
            targets = [node.target]
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            targets = [node.optional_vars]
        for t in targets:
            names |= {e.id for e in ast.walk(t) if isinstance(e, ast.Name)}
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            root = _root_name(node.func.value)
            if root:
                names.add(root)
    return names - GRADER_NAMES


def _uses(stmt):
    """Names a statement reads from the notebook's globals: for a function or a class, its free
    names only (its parameters and the names it assigns are its own; ``phi = ...`` inside
    ``headless`` needs no global)."""
    loads = {
        n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return loads
    own = {
        n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
    }
    own |= {
        a.arg
        for n in ast.walk(stmt)
        if isinstance(n, ast.arguments)
        for a in n.posonlyargs + n.args + n.kwonlyargs + [x for x in (n.vararg, n.kwarg) if x]
    }
    declared = {
        name
        for n in ast.walk(stmt)
        if isinstance(n, (ast.Global, ast.Nonlocal))
        for name in n.names
    }
    return loads - (own - declared)


def _statements(cells):
    """[(cell number, statement, names it binds or changes)] the worker may run, in notebook order.

    Plain definitions come from every cell, but one in an ``otter_ignore`` cell only for names no
    graded cell defines (as in otter, a skipped cell never replaces a graded definition; it may
    still define a table an answer reads). Statements that change names (``_touched``) come only
    from graded cells, and never count the import names (``plt.show()`` changes no answer).
    """
    out, modules, normal = [], set(), set()
    for number, tags, source in cells:
        tree, ignored = parse(source), "otter_ignore" in tags
        for stmt in tree.body if tree else []:
            bound = _bound(stmt)
            if isinstance(stmt, (ast.Import, ast.ImportFrom)) and bound:
                modules |= bound
            if bound:
                out.append((number, stmt, bound, ignored))
                normal |= set() if ignored else bound
            elif not ignored and not isinstance(
                stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            ):
                out.append((number, stmt, None, False))
    return [
        (number, stmt, _touched(stmt) - modules if bound is None else bound)
        for number, stmt, bound, ignored in out
        if not (ignored and bound & normal)
    ]


def graded_definitions(cells, names):
    """[(cell number, source)] of the statements that define ``names`` and what they use, in order.

    Linear: one index from each name to the statements binding or changing it, and a worklist of
    names still needed; each statement is kept (and its names looked up) at most once.
    """
    stmts, binders = _statements(cells), {}
    for i, (_, _, bound) in enumerate(stmts):
        for name in bound:
            binders.setdefault(name, []).append(i)
    keep, seen, todo = set(), set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for i in binders.get(name, ()):
            if i not in keep:
                keep.add(i)
                todo.extend(n for n in _uses(stmts[i][1]) if n not in seen)
    out = []
    for i in sorted(keep):
        try:
            out.append((stmts[i][0], ast.unparse(stmts[i][1])))
        except (ValueError, RecursionError):
            pass
    return out


def _is_hidden_case(fn):
    for d in fn.decorator_list:
        if isinstance(d, ast.Call) and _dotted(d.func).endswith("test_case"):
            if any(
                k.arg == "hidden" and isinstance(k.value, ast.Constant) and k.value.value
                for k in d.keywords
            ):
                return True
    return False


def split_tests(text):
    """(public-only source, secrets, parameter names) of one exception-based otter test file."""
    tree = _ast_parse(text)
    lines = text.splitlines(keepends=True)
    drop, secrets, public, params = set(), set(), set(), set()
    for fn in [n for n in tree.body if isinstance(n, ast.FunctionDef)]:
        params |= {a.arg for a in fn.args.args}
        start = min([d.lineno for d in fn.decorator_list] + [fn.lineno])
        segment = "".join(lines[start - 1 : fn.end_lineno])
        found = {ln.strip() for ln in segment.splitlines() if len(ln.strip()) >= 12}
        found |= {
            n.value
            for n in ast.walk(fn)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and len(n.value) >= 12
        }
        if _is_hidden_case(fn):
            drop |= set(range(start, fn.end_lineno + 1))
            hints = {
                n.value
                for a in ast.walk(fn)
                if isinstance(a, ast.Assert) and a.msg is not None
                for n in ast.walk(a.msg)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            }
            secrets |= found - hints  # a failed test's hint is meant to be shown
        else:
            public |= found
    kept = "".join(ln for i, ln in enumerate(lines, 1) if i not in drop)
    return kept, secrets - public, params
