"""Static reading of a notebook (``ast`` only, never run): the audit and the graded definitions.

The guarantees do not rest on this module: hidden tests never reach the
sandbox that runs the student's cells, and the score comes from a judge that
runs only the graded definitions. The audit is the second line: it flags
attempts (status ``invalid``, otter's score kept in the reason for review).

``graded_definitions`` picks, from the top level of the code cells, the
imports, ``def``/``class`` statements and plain assignments that define the
names the tests take as arguments, and everything those refer to; loops,
expression statements, magics and attribute assignments are left out, so
code that tampers at the top level of a cell never runs in the judge.
"""
import ast
import re
import threading

# CPython 3.11 keeps the AST constructor's recursion depth in interpreter-wide state: two grading threads
# parsing at once (a garbage collection inside one parse can hand the GIL to the other) fail with
# "SystemError: AST constructor recursion depth mismatch", and a student's submission was marked as a
# grader crash (make demo, 2026-11-26). Every parse in this module takes this lock.
_AST_LOCK = threading.Lock()


def _ast_parse(text):
    with _AST_LOCK:
        return ast.parse(text)

OTTER_INTERNALS = {"Checker", "GradingResults", "TestFile", "ExceptionTestFile", "OKTestFile",
                   "test_case", "init_grading_mode", "PythonRunner", "grade_notebook"}
GRADER_NAMES = {"grader", "otter"}
GRADER_PATHS = ("/autograder", "driver.json", "results.pkl", "otter_config", ".OTTER_LOG", "judge.py",
                "/proc/", "/sys/fs/cgroup")
DYNAMIC_CALLS = {"exec", "eval", "compile", "__import__"}
HOOK_NAMES = {"setprofile", "settrace", "_getframe", "get_objects", "get_referrers", "f_back", "f_globals",
              "tb_frame", "__globals__", "__code__", "__subclasses__", "__builtins__"}
# not flagged at the top of a cell: subprocess and sys.modules, which the course's own setup cell uses
RISKY_MODULES = {"importlib", "ctypes", "gc", "inspect", "builtins", "marshal", "pickle", "dill",
                 "cloudpickle", "socket", "multiprocessing", "signal", "pty"}
# in graded definitions (code the judge runs) more is flagged: nothing there needs the system
JUDGE_NAMES = {"os", "sys", "open", "globals", "locals", "vars", "getattr", "setattr", "delattr", "input",
               "breakpoint", "threading", "atexit", "weakref", "faulthandler", "resource"}
SHELL_MAGICS = ("%%bash", "%%sh", "%%script", "%%writefile", "%%python", "%%perl", "%%ruby", "%%file")


def parse(source):
    """The cell as an ``ast.Module`` (magic and shell lines read as ``pass``), or None."""
    if source.lstrip().startswith("%%"):
        return None
    lines = [("pass" if line.lstrip().startswith(("%", "!")) else line) for line in source.splitlines()]
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


def _grader_findings(tree):
    aliases = set(GRADER_NAMES)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mod = node.module if isinstance(node, ast.ImportFrom) else None
            for a in node.names:
                name = mod or a.name
                top = name.split(".")[0]
                if top == "otter":
                    if name != "otter" or (mod and a.name != "Notebook"):
                        yield f"imports otter internals ({name}{'.' + a.name if mod else ''})"
                    aliases.add(a.asname or a.name.split(".")[0])
                if top in RISKY_MODULES:
                    yield f"imports {top}"
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        for t in targets:
            if isinstance(t, (ast.Attribute, ast.Subscript)) and _root_name(t) in aliases:
                yield f"replaces part of the grader ({_dotted(t)})"
            if isinstance(t, ast.Name) and t.id in GRADER_NAMES and not (
                    isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                    and _dotted(node.value.func) in ("otter.Notebook", "Notebook")):
                yield f"rebinds `{t.id}`"
        if isinstance(node, ast.Call):
            fname = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if fname in ("setattr", "delattr") and node.args and _root_name(node.args[0]) in aliases:
                yield f"replaces part of the grader ({fname}({_dotted(node.args[0])}, ...))"
            if fname in DYNAMIC_CALLS:
                yield f"runs code built at run time ({fname})"
        if isinstance(node, (ast.Name, ast.Attribute)):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in OTTER_INTERNALS:
                yield f"uses otter internals ({name})"
            if name in HOOK_NAMES or _dotted(node) in HOOK_NAMES:
                yield f"reaches into the interpreter ({name})"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if any(p in node.value for p in GRADER_PATHS):
                yield f"refers to grader files ({node.value[:60]!r})"


def _shell_findings(source):
    lines = source.splitlines()
    shell = lines if source.lstrip().startswith(SHELL_MAGICS) else [
        ln for ln in lines if ln.lstrip().startswith("!")]
    text = "\n".join(shell)
    if any(p in text for p in GRADER_PATHS) or re.search(r"(^|[\s/'\"])(tests|results)(/|\s|$)", text):
        yield "a shell command touches grader files"


def audit(cells):
    """Signs of tampering, as 'cell N what' strings, from [(number, tags, source)]."""
    found = []
    for number, _, source in cells:
        tree = parse(source)
        what = list(_shell_findings(source)) + (list(_grader_findings(tree)) if tree else [])
        found += [f"cell {number} {w}" for w in dict.fromkeys(what)]
    return found


def _bound(stmt):
    """Names a top-level statement defines, or None if the judge never runs such a statement."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        if any((getattr(stmt, "module", None) or a.name).split(".")[0] == "otter" for a in stmt.names):
            return None
        if any(a.name == "*" for a in stmt.names):
            return None
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(
        stmt, ast.AnnAssign) and stmt.value is not None else None
    if not targets:
        return None
    names = set()
    for t in targets:
        elts = t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t]
        if not all(isinstance(e, ast.Name) for e in elts):
            return None
        names |= {e.id for e in elts}
    return names - GRADER_NAMES or None


def graded_definitions(cells, names):
    """[(cell number, source)] of the statements that define ``names`` and what they use, in order."""
    stmts = []
    for number, tags, source in cells:
        if "otter_ignore" in tags:
            continue
        tree = parse(source)
        for stmt in (tree.body if tree else []):
            bound = _bound(stmt)
            if bound:
                uses = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)} - bound
                stmts.append((number, stmt, bound, uses))
    needed, keep = set(names), set()
    changed = True
    while changed:
        changed = False
        for i, (_, _, bound, uses) in enumerate(stmts):
            if i not in keep and bound & needed:
                keep.add(i)
                new = uses - needed
                if new:
                    needed |= new
                    changed = True
    return [(number, ast.unparse(stmt)) for i, (number, stmt, _, _) in enumerate(stmts) if i in keep]


def judge_findings(definitions):
    """Flags for graded definitions (the only student code the judge runs)."""
    found = []
    for number, source in definitions:
        tree = _ast_parse(source)
        what = list(_grader_findings(tree))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in JUDGE_NAMES:
                what.append(f"uses `{node.id}` in a graded definition")
            if isinstance(node, ast.Attribute) and node.attr.startswith("__") and node.attr != "__init__":
                what.append(f"uses `{node.attr}` in a graded definition")
            if isinstance(node, ast.Global):
                what.append("declares `global` in a graded definition")
        found += [f"cell {number} {w}" for w in dict.fromkeys(what)]
    return found


def _is_hidden_case(fn):
    for d in fn.decorator_list:
        if isinstance(d, ast.Call) and _dotted(d.func).endswith("test_case"):
            if any(k.arg == "hidden" and isinstance(k.value, ast.Constant) and k.value.value for k in d.keywords):
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
        segment = "".join(lines[start - 1:fn.end_lineno])
        found = {ln.strip() for ln in segment.splitlines() if len(ln.strip()) >= 12}
        found |= {n.value for n in ast.walk(fn) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                  and len(n.value) >= 12}
        if _is_hidden_case(fn):
            drop |= set(range(start, fn.end_lineno + 1))
            hints = {n.value for a in ast.walk(fn) if isinstance(a, ast.Assert) and a.msg is not None
                     for n in ast.walk(a.msg) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
            secrets |= found - hints      # a failed test's hint is meant to be shown
        else:
            public |= found
    kept = "".join(ln for i, ln in enumerate(lines, 1) if i not in drop)
    return kept, secrets - public, params
