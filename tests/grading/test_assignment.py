"""``assignment``: what the host reads out of a built autograder zip (``Template``), on the real
zips.

The public tests a run sandbox gets must hold no hidden case; the secrets must cover every hidden
case; the points, the written questions and the order must be the notebook's; the fingerprint must
change with what a grade depends on and with nothing else."""

import ast
import json
import tempfile
from pathlib import Path

import pytest

from autograder.grading import assignment

DIST = Path(__file__).resolve().parents[2] / "autograder" / "dist"
STEMS = ("01_ols_raw_pixels", "04_fine_tuning")


@pytest.fixture(scope="module")
def templates():
    out = {}
    for stem in STEMS:
        if not (DIST / f"{stem}.zip").is_file():
            pytest.fail(f"{DIST / stem}.zip is missing: run `python -m autograder build` first")
        out[stem] = assignment.load_template(
            DIST / f"{stem}.zip", Path(tempfile.mkdtemp(prefix="ptm-test-"))
        )
    return out


def _hidden_cases(source):
    """(name, body lines) of every hidden case of an otter test file, read with ``ast``."""
    tree = ast.parse(source)
    lines = source.splitlines()
    for fn in tree.body:
        if isinstance(fn, ast.FunctionDef) and any(
            k.arg == "hidden" and getattr(k.value, "value", False) is True
            for d in fn.decorator_list
            if isinstance(d, ast.Call)
            for k in d.keywords
        ):
            yield fn.name, [ln.strip() for ln in lines[fn.lineno : fn.end_lineno]]


@pytest.mark.parametrize("stem", STEMS)
def test_public_tests_hold_no_hidden_case_and_the_secrets_cover_them(templates, stem):
    tpl = templates[stem]
    assert set(tpl.tests) == {p.name for p in tpl.public.glob("*.py")}
    hidden = redacted = 0
    for name, source in tpl.tests.items():
        public = (tpl.public / name).read_text()
        for case, body in _hidden_cases(source):
            hidden += 1
            assert f"def {case}(" not in public, (name, case)
            code = [
                ln
                for ln in body
                if len(ln) >= 12 and not ln.startswith(("assert", "import", "from"))
            ]
            # a case's own inputs are redacted from anything shown (a case of asserts alone has
            # none)
            assert not code or any(ln in tpl.secrets for ln in code), (name, case, code)
            redacted += bool(code)
    assert hidden >= 5, (
        f"{stem}: only {hidden} hidden cases found: is the test reading the right files?"
    )


def test_points_written_questions_and_order_are_the_notebooks(templates):
    tpl = templates["04_fine_tuning"]
    maxima = tpl.maxima()
    assert list(maxima) == list(tpl.order)  # every question, in the notebook's order
    assert set(tpl.manual) == {"ft_predict", "ft_explain"}
    assert sum(tpl.possible.values()) == pytest.approx(29)
    assert maxima["ft_bn_drift"] == 3 and all(isinstance(v, float) for v in maxima.values())
    assert "env" not in tpl.params and "grading_seed" not in tpl.params
    assert {"set_train_mode", "fraction_moved"} <= tpl.params
    assert tpl.given and all(isinstance(src, str) for src in tpl.given)
    assert "token" not in tpl.config


def test_the_fingerprint_follows_the_tests_and_the_written_points_only(templates, tmp_path):
    tpl = templates["01_ols_raw_pixels"]
    again = assignment.load_template(DIST / "01_ols_raw_pixels.zip", tmp_path / "again")
    assert again.fingerprint() == tpl.fingerprint()
    again.public = tmp_path  # where the files were unpacked: not part of a grade
    assert again.fingerprint() == tpl.fingerprint()
    name = sorted(again.tests)[0]
    again.tests = {**again.tests, name: again.tests[name].replace("points", "points ", 1)}
    assert again.fingerprint() != tpl.fingerprint()
    manual = assignment.load_template(DIST / "04_fine_tuning.zip", tmp_path / "m")
    before = manual.fingerprint()
    manual.manual = json.loads(json.dumps(manual.manual))
    manual.manual["ft_explain"]["points"] += 1
    assert manual.fingerprint() != before
