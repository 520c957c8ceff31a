"""The similarity check flags a copy with renamed variables, and not independent solutions.

The class is built from the real notebook 01: the untouched student notebook with its answer cells
filled in three independent ways (the course solution, and two differently written correct
solutions, checked against the course solution on random inputs), plus a copy of one of them with
every name renamed and the code reformatted and commented, plus an untouched notebook.
"""

import io
import json
import re
import tokenize

import nbformat
import numpy as np
import pytest
from notebook_helpers import load_built

from autograder import NOTEBOOKS, similarity

STEM = "01_ols_raw_pixels"
# Two correct solutions written differently from the course's: {function: body}.
LOOPS_AND_DOT = {
    "phi": """n = len(images)
flat = np.reshape(images, (n, -1))
return flat""",
    "add_bias": """ones = np.ones(len(Phi))
return np.column_stack((ones, Phi))""",
    "fit_ols": """X = add_bias(Phi).astype(float)
A = X.T.dot(X)
b = X.T.dot(Y)
w = np.linalg.solve(A, b)
return w""",
    "predict": """s = add_bias(Phi).dot(w)
labels = np.ones(len(s), dtype=int)
labels[s < 0] = -1
return labels""",
    "accuracy": """correct = np.sum(np.array(Y_hat) == np.array(Y))
return correct / len(Y)""",
    "fit_min_norm": """X = add_bias(Phi)
pseudo = np.linalg.pinv(X)
return pseudo.dot(Y)""",
    "split_trainval": """perm = np.random.default_rng(seed).permutation(n)
k = int(round(val_fraction * n))
train = sorted(perm[k:])
val = sorted(perm[:k])
return np.array(train), np.array(val)""",
    "squared_loss_grad": """r = X.dot(w) - Y
return 2 * X.T.dot(r)""",
    "choose": """best = None
for r in records:
    key = (-r["val_acc"], r["s"], -r["lam"])
    if best is None or key < best[0]:
        best = (key, r)
return best[1]""",
    "fit_ridge": """X = add_bias(Phi).astype(float)
d = X.shape[1]
penalty = lam * np.identity(d)
penalty[0][0] = 0
w = np.linalg.inv(X.T.dot(X) + penalty).dot(X.T.dot(Y))
return w""",
}
LSTSQ_STYLE = {
    "phi": "return np.array([img.flatten() for img in images])",
    "add_bias": """Phi = np.atleast_2d(Phi)
X = np.empty((Phi.shape[0], Phi.shape[1] + 1))
X[:, 0] = 1
X[:, 1:] = Phi
return X""",
    "fit_ols": """X = add_bias(Phi)
gram = X.T @ X
return np.linalg.lstsq(gram, X.T @ Y, rcond=None)[0]""",
    "predict": """out = np.sign(add_bias(Phi) @ w)
out[out == 0] = 1
return out.astype(int)""",
    "accuracy": "return np.count_nonzero(np.equal(Y_hat, Y)) / np.size(Y)",
    "fit_min_norm": """X = add_bias(Phi)
w, *_ = np.linalg.lstsq(X, Y, rcond=None)
return w""",
    "split_trainval": """rng = np.random.default_rng(seed)
idx = rng.permutation(np.arange(n))
cut = n - int(round(val_fraction * n))
return np.sort(idx[:cut]), np.sort(idx[cut:])""",
    "squared_loss_grad": "return 2 * (X.T @ X @ w - X.T @ Y)",
    "choose": """ranked = sorted(records, key=lambda rec: (rec["val_acc"], -rec["s"], rec["lam"]))
return ranked[-1]""",
    "fit_ridge": """X = add_bias(Phi)
reg = np.diag(np.r_[0.0, np.full(X.shape[1] - 1, lam)])
return np.linalg.solve(X.T @ X + reg, X.T @ Y)""",
}
RENAMES = {
    "n": "count",
    "flat": "flattened",
    "ones": "bias_column",
    "A": "gram",
    "b": "rhs",
    "w": "theta",
    "X": "design",
    "s": "scores",
    "labels": "out",
    "correct": "n_right",
    "pseudo": "pinv_x",
    "d": "dim",
    "penalty": "reg",
}
RAISE = re.compile(r'^(\s*)raise NotImplementedError\("(\w+):.*$', re.M)


def _answer_cells(nb):
    return [c for c in nb.cells if "otter_answer_cell" in c.metadata.get("tags", [])]


def _fill(student, bodies):
    """The student notebook with each ``raise NotImplementedError`` replaced by the body of
    ``bodies``."""
    nb = nbformat.from_dict(student)
    for cell in _answer_cells(nb):
        cell.source = RAISE.sub(
            lambda m: "\n".join(m[1] + line for line in bodies[m[2]].splitlines()), cell.source
        )
        cell.source = cell.source.replace("ols_mc_answer = ...", 'ols_mc_answer = "C"')
    return nb


def _course_solution(student, solution):
    """The student notebook answered with the course solution's code (otter's markers removed)."""
    by_id = {c.id: c for c in solution.cells}
    nb = nbformat.from_dict(student)
    for cell in _answer_cells(nb):
        source = re.sub(
            r'\n\s*""" # BEGIN PROMPT.*?""" # END PROMPT', "", by_id[cell.id].source, flags=re.S
        )
        source = re.sub(r"\n\s*# (BEGIN|END) SOLUTION.*", "", source)
        cell.source = source.replace("  # SOLUTION", "")
    return nb


def _renamed_copy(nb):
    """``nb`` with the names of RENAMES changed (tokens only), respaced and commented: a disguised
    copy."""
    nb = nbformat.from_dict(nb)
    for cell in _answer_cells(nb):
        tokens = list(tokenize.generate_tokens(io.StringIO(cell.source).readline))
        out, previous = [], None
        for tok in tokens:
            text = tok.string
            if tok.type == tokenize.NAME and text in RENAMES and previous != ".":
                text = RENAMES[text]
            out.append((tok.type, text))
            previous = tok.string
        cell.source = "# my own work\n" + tokenize.untokenize(out)
    return nb


def _functions(nb):
    namespace = {"np": np}
    for cell in _answer_cells(nb):
        exec(cell.source, namespace)
    return namespace


@pytest.fixture(scope="module")
def notebooks():
    solution, student = load_built(STEM)
    course = _course_solution(student, solution)
    return {
        "course": course,
        "loops": _fill(student, LOOPS_AND_DOT),
        "lstsq": _fill(student, LSTSQ_STYLE),
        "renamed": _renamed_copy(_fill(student, LOOPS_AND_DOT)),
        "untouched": student,
    }


def test_the_independent_solutions_are_correct_and_the_copy_is_disguised(notebooks):
    rng = np.random.default_rng(0)
    images, Phi, Y = (
        rng.normal(size=(30, 4, 4)),
        rng.normal(size=(30, 6)),
        rng.choice([-1, 1], size=30),
    )
    reference = _functions(notebooks["course"])
    for name in ("loops", "lstsq", "renamed"):
        f = _functions(notebooks[name])
        np.testing.assert_allclose(f["phi"](images), reference["phi"](images))
        np.testing.assert_allclose(f["add_bias"](Phi), reference["add_bias"](Phi))
        for fit in ("fit_ols", "fit_min_norm"):
            np.testing.assert_allclose(f[fit](Phi, Y), reference[fit](Phi, Y), atol=1e-8)
        np.testing.assert_allclose(
            f["fit_ridge"](Phi, Y, 3.0), reference["fit_ridge"](Phi, Y, 3.0), atol=1e-8
        )
        w = reference["fit_ols"](Phi, Y)
        np.testing.assert_array_equal(f["predict"](Phi, w), reference["predict"](Phi, w))
        assert f["accuracy"](Y, -Y) == 0.0 and f["accuracy"](Y, Y) == 1.0
        w0, X = rng.normal(size=7), reference["add_bias"](Phi)
        np.testing.assert_allclose(
            f["squared_loss_grad"](w0, X, Y), reference["squared_loss_grad"](w0, X, Y)
        )
        for got, want in zip(
            f["split_trainval"](30, 0.2, 1), reference["split_trainval"](30, 0.2, 1)
        ):
            assert len(got) == len(want)
        records = [
            {"s": s, "lam": lam, "val_acc": acc}
            for s, lam, acc in ((8, 1.0, 0.5), (4, 10.0, 0.6), (12, 1.0, 0.6), (4, 1.0, 0.6))
        ]
        assert f["choose"](records) == reference["choose"](records)
    loops = "\n".join(c.source for c in _answer_cells(notebooks["loops"]))
    renamed = "\n".join(c.source for c in _answer_cells(notebooks["renamed"]))
    assert "pseudo" in loops and "pseudo" not in renamed and "pinv_x" in renamed


def test_copy_with_renamed_variables_is_flagged_and_independent_solutions_are_not(
    notebooks, tmp_path
):
    (tmp_path / "in").mkdir()
    for name, nb in notebooks.items():
        nbformat.write(nb, str(tmp_path / "in" / f"{name}.ipynb"))
    results, skipped, paths = similarity.run([tmp_path / "in"], tmp_path / "out", NOTEBOOKS)

    res = results[STEM]
    scores = {frozenset((p["a"], p["b"])): p for p in res["pairs"]}
    flagged = {pair for pair, p in scores.items() if p["flagged"]}
    assert flagged == {frozenset(("loops", "renamed"))}, {
        tuple(k): round(p["score"], 2) for k, p in scores.items()
    }
    assert scores[frozenset(("loops", "renamed"))]["score"] > 0.9
    assert [s for s, _ in skipped] == ["untouched"] and "too little own code" in skipped[0][1]

    page = paths["html"].read_text()
    assert "loops ~ renamed" in page and "<mark>" in page and "pinv_x" in page
    assert "course ~" not in page and "~ course" not in page
    report = json.loads(paths["json"].read_text())
    assert len(report["assignments"][STEM]["pairs"]) == 6
    assert paths["csv"].read_text().count("\n") == 7


def test_starter_code_alone_makes_nobody_alike(notebooks):
    """The given signatures, docstrings and prompts leave no fingerprint once the starter is
    boilerplate."""
    _, boilerplate = similarity.starter(STEM, NOTEBOOKS)
    starter_cells = [
        c.source + "\n# I have not started yet\n" for c in _answer_cells(notebooks["untouched"])
    ]
    assert similarity.fingerprint(starter_cells, boilerplate).token_coverage == 0
    own = [c.source for c in _answer_cells(notebooks["loops"])]
    assert similarity.fingerprint(own, boilerplate).token_coverage > similarity.MIN_TOKENS


def test_report_escapes_student_text(notebooks, tmp_path):
    evil = nbformat.from_dict(notebooks["loops"])
    _answer_cells(evil)[0].source += '\n# </pre><script>alert("x")</script>\n'
    (tmp_path / "in").mkdir()
    nbformat.write(evil, str(tmp_path / "in" / "=cmd()<b>.ipynb"))
    nbformat.write(_renamed_copy(evil), str(tmp_path / "in" / "copy.ipynb"))
    nbformat.write(notebooks["course"], str(tmp_path / "in" / "course.ipynb"))
    _, _, paths = similarity.run([tmp_path / "in"], tmp_path / "out", NOTEBOOKS)
    page = paths["html"].read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page and "=cmd()&lt;b&gt;.ipynb" in page
    assert ",'=cmd()<b>.ipynb," in paths["csv"].read_text()  # the file column, formula-escaped


def test_cli_reports_missing_paths_and_writes_the_report(notebooks, tmp_path, capsys):
    from autograder.__main__ import main

    assert main(["similarity", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
    for name in ("course", "loops", "renamed"):
        nbformat.write(notebooks[name], str(tmp_path / f"{name}.ipynb"))
    files = [str(tmp_path / f"{n}.ipynb") for n in ("course", "loops", "renamed")]
    assert main(["similarity", *files, "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "loops ~ renamed" in out and (tmp_path / "out" / "similarity.html").exists()


def test_students_in_folders_are_named_and_identical_notebooks_are_flagged(notebooks, tmp_path):
    """The guide's layout (one folder per student): ids and files are the grading service's, and two
    byte-identical notebooks are flagged whatever the class looks like."""
    from autograder.grading import inputs

    subs = tmp_path / "subs"
    for student, name in (("alice", "loops"), ("bob", "lstsq"), ("dan", "course")):
        (subs / student).mkdir(parents=True)
        nbformat.write(notebooks[name], str(subs / student / f"{STEM}.ipynb"))
    (subs / "carol").mkdir()
    (subs / "carol" / f"{STEM}.ipynb").write_bytes((subs / "alice" / f"{STEM}.ipynb").read_bytes())
    results, skipped, paths = similarity.run(
        [subs], tmp_path / "out", NOTEBOOKS, min_z=50, min_score=1.01
    )

    ids = {shown.split("/")[0]: sid for sid, _, shown in inputs.collect([subs])}
    pairs = {frozenset((p["a"], p["b"])): p for p in results[STEM]["pairs"]}
    assert set().union(*pairs) == set(ids.values()) and not skipped
    same = pairs[frozenset((ids["alice"], ids["carol"]))]
    assert same["identical"] and same["flagged"]  # flagged although the bar is unreachable
    assert [p for p in pairs.values() if p["flagged"]] == [same]
    assert {same["a_file"], same["b_file"]} == {f"alice/{STEM}.ipynb", f"carol/{STEM}.ipynb"}
    assert all(sid.startswith(student) for student, sid in ids.items())
    page = paths["html"].read_text()
    assert "Byte-identical notebooks" in page and f"carol/{STEM}.ipynb" in page
    csv_text = paths["csv"].read_text()
    assert f"alice/{STEM}.ipynb" in csv_text and csv_text.splitlines()[0].endswith(
        "identical,a_file,b_file"
    )
