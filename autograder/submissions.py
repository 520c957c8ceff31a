"""Find, read and vet submissions: notebooks, ``grader.export`` zips, folders of either.

Nothing here runs student code. ``load`` turns a path into a ``Submission``
whose ``problem`` is set when the file cannot be graded at all (empty,
corrupted JSON, not a notebook); ``audit`` reads the code cells (``ast`` only)
for attempts to tamper with the grader.
"""
import ast
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

MAX_NOTEBOOK_BYTES = 50 << 20
GRADER_NAMES = {"grader", "otter"}
OTTER_INTERNALS = {"Checker", "GradingResults", "TestFile", "ExceptionTestFile", "OKTestFile",
                   "test_case", "init_grading_mode", "PythonRunner", "grade_notebook"}
FORBIDDEN_STRINGS = ("results.json", "results.pkl", "driver.json", "progress.json", "otter_config",
                     "/autograder", ".OTTER_LOG")
READ_CALLS = {"open", "read_text", "read_bytes", "listdir", "glob", "rglob", "iterdir", "scandir",
              "walk", "copy", "copyfile", "copy2", "copytree", "run", "system", "popen", "check_output"}
WRITE_CALLS = {"open", "write_text", "write_bytes", "remove", "unlink", "rename", "replace",
               "rmtree", "copy", "copyfile", "copy2", "move", "truncate", "chmod", "symlink"}


@dataclass
class Submission:
    id: str
    path: Path
    nb_name: str = ""            # file name the notebook is graded under
    nb_bytes: bytes = b""
    assignment: str = None       # from the notebook's otter metadata
    problem: str = None          # why it cannot be graded (status "invalid")
    notebook: dict = None


def collect(paths):
    """Expand files and folders into sorted (id, path) pairs; ids are unique and stable."""
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(q for q in p.rglob("*") if q.is_file() and q.suffix in (".ipynb", ".zip")
                            and ".ipynb_checkpoints" not in q.parts)
        else:
            files.append(p)
    seen, out = {}, []
    for f in files:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", f.stem) or "submission"
        n = seen.get(base, 0) + 1
        seen[base] = n
        out.append((base if n == 1 else f"{base}-{n}", f))
    return out


def _read_bytes(path):
    """(file name, bytes) of the notebook in ``path``; a zip must hold exactly one .ipynb."""
    if path.suffix != ".zip":
        return path.name, path.read_bytes()[:MAX_NOTEBOOK_BYTES + 1]
    with zipfile.ZipFile(path) as zf:
        nbs = [i for i in zf.infolist() if i.filename.endswith(".ipynb")
               and not i.filename.startswith(("__MACOSX", ".")) and "/." not in i.filename]
        if len(nbs) != 1:
            raise ValueError(f"zip holds {len(nbs)} notebooks, expected exactly 1")
        if nbs[0].file_size > MAX_NOTEBOOK_BYTES:
            raise ValueError(f"notebook in zip is {nbs[0].file_size >> 20} MB")
        return Path(nbs[0].filename).name, zf.read(nbs[0])


def load(sub_id, path):
    """Read and validate one submission file; sets ``problem`` instead of raising."""
    sub = Submission(sub_id, Path(path))
    try:
        sub.nb_name, data = _read_bytes(sub.path)
    except (OSError, zipfile.BadZipFile, ValueError) as e:
        sub.problem = f"cannot read submission: {e}"
        return sub
    if not data.strip():
        sub.problem = "empty file: no notebook to grade"
        return sub
    if len(data) > MAX_NOTEBOOK_BYTES:
        sub.problem = f"notebook larger than {MAX_NOTEBOOK_BYTES >> 20} MB"
        return sub
    try:
        nb = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        sub.problem = "not a notebook: the file is binary, not JSON text"
        return sub
    except ValueError as e:
        sub.problem = f"corrupted notebook: invalid JSON ({e})"
        return sub
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list) or "nbformat" not in nb:
        sub.problem = "not a Jupyter notebook: JSON without 'cells' and 'nbformat'"
        return sub
    nb.setdefault("metadata", {}).setdefault("kernelspec", {})
    nb["metadata"]["kernelspec"].update(name="python3", language="python")   # as otter's Docker grading
    sub.notebook = nb
    sub.nb_bytes = json.dumps(nb).encode()
    sub.nb_name = expected_name(nb) or re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(sub.nb_name).stem) + ".ipynb"
    sub.assignment = assignment_of(nb)
    return sub


def expected_name(nb):
    """The file name the notebook's own ``otter.Notebook("NAME.ipynb")`` cell expects."""
    for _, _, source in code_cells(nb):
        m = re.search(r"Notebook\(\s*(?:nb_path\s*=\s*)?[\"']([A-Za-z0-9_.-]+\.ipynb)[\"']", source)
        if m:
            return m.group(1)
    return None


def assignment_of(nb):
    """The assignment name otter assign writes into ``metadata.otter.assignment_name``."""
    meta = nb.get("metadata", {}).get("otter", {})
    name = meta.get("assignment_name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) and name else None


def code_cells(nb):
    """(1-based cell number, id, source) of every code cell."""
    for i, cell in enumerate(nb.get("cells", []), 1):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            src = cell.get("source", "")
            yield i, cell.get("id"), "".join(src) if isinstance(src, list) else str(src)


def _parse(source):
    lines = [("pass" if line.lstrip().startswith(("%", "!")) else line) for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _root_name(node):
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.value if not isinstance(node, ast.Call) else node.func
    return node.id if isinstance(node, ast.Name) else None


def _findings(tree, support):
    aliases = set(GRADER_NAMES)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mod = node.module if isinstance(node, ast.ImportFrom) else None
            for a in node.names:
                name = mod or a.name
                if name.split(".")[0] == "otter":
                    if name != "otter" or (mod and a.name != "Notebook"):
                        yield f"imports otter internals ({name}{'.' + a.name if mod else ''})"
                    aliases.add(a.asname or a.name.split(".")[0])
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        for t in targets:
            if isinstance(t, (ast.Attribute, ast.Subscript)) and _root_name(t) in aliases:
                yield f"replaces part of the grader ({ast.unparse(t)})"
            if isinstance(t, ast.Name) and t.id in GRADER_NAMES and not (
                    isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                    and ast.unparse(node.value.func) in ("otter.Notebook", "Notebook")):
                yield f"rebinds `{t.id}`"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (
                "setattr", "delattr") and node.args and _root_name(node.args[0]) in aliases:
            yield f"replaces part of the grader ({node.func.id}({ast.unparse(node.args[0])}, ...))"
        if isinstance(node, (ast.Name, ast.Attribute)):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name in OTTER_INTERNALS:
                yield f"uses otter internals ({name})"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            s = node.value
            if any(f in s for f in FORBIDDEN_STRINGS):
                yield f"refers to grader files ({s[:60]!r})"
        if isinstance(node, ast.Call):
            fname = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if fname in READ_CALLS and any(
                    isinstance(a, ast.Constant) and isinstance(a.value, str)
                    and re.match(r"^(\.{1,2}/)*tests(/|$)", a.value) for a in ast.walk(node)):
                yield f"reads the test files ({ast.unparse(node)[:60]})"
            if fname in WRITE_CALLS:
                for arg in ast.walk(node):
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and any(
                            re.match(rf"^(\./)?{re.escape(s)}(/|$)", arg.value) for s in support):
                        if fname != "open" or _is_write_open(node):
                            yield f"modifies support files ({arg.value[:60]!r})"


def _is_write_open(call):
    modes = [a for a in call.args[1:2]] + [k.value for k in call.keywords if k.arg == "mode"]
    return any(isinstance(m, ast.Constant) and isinstance(m.value, str)
               and set(m.value) & set("wax+") for m in modes)


def audit(nb, support=("utils",)):
    """Static signs of tampering with the grader: list of 'cell N: what' strings."""
    found = []
    for number, _, source in code_cells(nb):
        tree = _parse(source)
        if tree is None:
            continue
        for what in dict.fromkeys(_findings(tree, support)):
            found.append(f"cell {number} {what}")
    return found
