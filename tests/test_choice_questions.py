"""A multiple-choice question (ols_mc): the public format check earns nothing and says the answer is
only recorded; the point is the hidden test's, for the right letter. Read from the built public
tests and the built autograder zip, as the student's grader.check and the grader run them."""

import zipfile

import pytest
from otter.test_files import ExceptionTestFile

from autograder import REPO, check, zip_path

STEM = "01_ols_raw_pixels"


@pytest.fixture(scope="module")
def tests(tmp_path_factory):
    check.ensure_built([STEM])
    hidden = tmp_path_factory.mktemp("hidden") / "ols_mc.py"
    with zipfile.ZipFile(zip_path(STEM)) as zf:
        hidden.write_bytes(zf.read("tests/ols_mc.py"))
    public = REPO / "notebooks" / "tests" / STEM / "ols_mc.py"
    return ExceptionTestFile.from_file(str(public)), ExceptionTestFile.from_file(str(hidden))


@pytest.mark.parametrize("answer", ["A", "B", "D"])
def test_a_wrong_letter_earns_nothing_and_is_not_called_a_pass_of_the_question(tests, answer):
    public, hidden = tests
    public.run({"ols_mc_answer": answer})
    said = public.summary(public_only=True)
    assert public.score == 0 and public.possible == 0
    assert "recorded; checked when graded" in said, said
    hidden.run({"ols_mc_answer": answer})
    assert hidden.score == 0 and hidden.possible == 1


@pytest.mark.parametrize("answer", ["C", "c", "C.", 3])
def test_the_right_letter_earns_the_point_and_a_bad_format_gets_the_hint(tests, answer):
    public, hidden = tests
    hidden.run({"ols_mc_answer": answer})
    public.run({"ols_mc_answer": answer})
    if answer == "C":
        assert hidden.score == 1 and "recorded; checked when graded" in public.summary(
            public_only=True
        )
    else:
        assert (
            hidden.score == 0
            and "must be one of the strings 'A', 'B', 'C', 'D'" in public.summary()
        )
