"""Grades into the gradebook: the roster, ``export --canvas`` and the per-student CSVs
(autograder/lms.py).

The grades folders are written as ``grade`` writes them (``store.write_rows``), so no notebook runs
here: the point is who gets which score. The roster has a missing submission, a student with two, a
name with non-ASCII characters (and its folder name in the decomposed form macOS writes), a late
file as Canvas names it, a name that a spreadsheet would run as a formula, and a submission nobody
claims.
"""

import csv
import io
import subprocess
import sys
import unicodedata

import pytest

from autograder import REPO, lms
from autograder.grading import store

A1, A2 = "01_ols_raw_pixels", "02_logistic_regression_edges"


def _row(sid, file, assignment, status="graded", total="0", maximum="11", **extra):
    return sid, {
        "id": sid,
        "file": file,
        "assignment": assignment,
        "status": status,
        "reason": extra.pop("reason", ""),
        "flags": extra.pop("flags", ""),
        "seconds": "1.0",
        "total": total,
        "maximum": maximum,
        **extra,
    }


@pytest.fixture
def course(tmp_path):
    zoe_folder = unicodedata.normalize("NFD", "Zoë")
    g1 = dict(
        [
            _row("ana-01", f"ana/{A1}.ipynb", A1, total="7", ols_fit="3"),
            _row("zoe-01", f"{zoe_folder}/{A1}.ipynb", A1, total="11"),
            _row("cara-01", f"cara/{A1}.ipynb", A1, total="5"),
            _row("cara-01b", f"cara/{A1} (1).ipynb", A1, total="9"),
            _row(
                "cara-01c", "cara/empty.ipynb", "", status="invalid", maximum="", reason="not JSON"
            ),
            _row("dan-01", f"smithdan_late_1234_5678_{A1}.ipynb", A1, total="10"),
            _row("eve-01", f"eve/{A1}.ipynb", A1, status="crashed", reason="the grader failed"),
            _row(
                "fox-01",
                f"fox/{A1}.ipynb",
                A1,
                status="invalid",
                flags="run time (exec)",
                reason="audit",
            ),
            _row("stranger", f"stranger/{A1}.ipynb", A1, total="11"),
        ]
    )
    g2 = dict([_row("ana-02", f"ana/{A2}.ipynb", A2, total="4", maximum="8")])
    for name, rows in (("g1", g1), ("g2", g2)):
        (tmp_path / name).mkdir()
        store.write_rows(tmp_path / name / "grades.csv", rows)
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "\ufeffStudent_ID,Name,Email,Submission,Section\n"  # Excel's BOM and capitals
        's1,"Alvarez, Ana",ana@uni.edu,ana,A\n'
        's2,"Ñúñez, Zoë",zoe@uni.edu,zoë,A\n'
        's3,"Bell, Bob",bob@uni.edu,bob,B\n'
        's4,"Chen, Cara",cara@uni.edu,cara,B\n'
        's5,"Smith, Dan",dan@uni.edu,smithdan,B\n'
        "s6,=cmd|' /C calc'!A0,eve@uni.edu,eve,B\n"
        's7,"Fox, Fay",fay@uni.edu,fox,B\n',
        encoding="utf-8",
    )
    return tmp_path, roster


def _csv(path):
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_canvas_gradebook_import(course):
    root, roster = course
    out = root / "export"
    assert (
        lms.main(
            [
                str(root / "g1"),
                str(root / "g2"),
                "--roster",
                str(roster),
                "--out",
                str(out),
                "--canvas",
                "--column",
                f"{A2}=Notebook 2 (4712)",
            ]
        )
        == 0
    )
    rows = _csv(out / "canvas.csv")
    assert rows[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        A1,
        "Notebook 2 (4712)",
    ]
    assert rows[1] == ["    Points Possible", "", "", "", "", "11", "8"]
    by_id = {r[2]: r for r in rows[2:]}
    assert [r[2] for r in rows[2:]] == [
        "s1",
        "s2",
        "s3",
        "s4",
        "s5",
        "s6",
        "s7",
    ]  # the roster's order
    assert by_id["s1"][0] == "Alvarez, Ana" and by_id["s1"][5:] == ["7", "4"]
    assert by_id["s2"][0] == "Ñúñez, Zoë" and by_id["s2"][5:] == ["11", ""]  # NFD folder matched
    assert by_id["s3"][5:] == ["", ""]  # missing: left blank
    assert by_id["s4"][5] == "9"  # the better of two counts
    assert by_id["s5"][5] == "10"  # late, no penalty by default
    assert by_id["s6"][0].startswith("'=") and by_id["s6"][5] == ""  # formula escaped; crash: blank
    assert by_id["s7"][5] == ""  # withheld by the audit: blank
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "stranger/" in report and "no roster row names it" in report  # unmatched, listed
    assert "Bell, Bob" in report and "Chen, Cara" in report and "smithdan_late" in report
    assert "<script" not in report and "=cmd|&#39; /C calc&#39;!A0" in report  # escaped in HTML


def test_late_penalty_missing_zero_and_one_csv_per_student(course):
    root, roster = course
    out = root / "export"
    lms.export(
        [root / "g1", root / "g2"], roster, out, canvas=True, late_penalty=0.25, missing_zero=True
    )
    by_id = {r[2]: r for r in _csv(out / "canvas.csv")[2:]}
    assert by_id["s5"][5] == "7.5" and by_id["s3"][5:] == ["0", "0"] and by_id["s6"][5] == ""
    dan = _csv(out / "students" / "s5.csv")
    assert dan[0][:4] == ["student_id", "name", "email", "assignment"]
    assert dan[1][3:9] == [A1, f"smithdan_late_1234_5678_{A1}.ipynb", "graded", "7.5", "11", "yes"]
    assert dan[2][3] == A2 and dan[2][5] == "missing"
    assert {p.name for p in (out / "students").iterdir()} == {f"s{i}.csv" for i in range(1, 8)}
    table = _csv(out / "grades_by_student.csv")
    assert table[0] == ["student_id", "name", "email", "section", A1, A2] and table[2][:2] == [
        "s2",
        "Ñúñez, Zoë",
    ]


def test_export_lists_who_is_missing_who_is_twice_and_what_nobody_claims(course):
    root, roster = course
    result = lms.export([root / "g1", root / "g2"], roster, root / "export")
    assert not (root / "export" / "canvas.csv").exists()  # only with --canvas
    assert {s.student_id for s in result.missing[A1]} == {"s3"}
    assert {s.student_id for s in result.missing[A2]} == {"s2", "s3", "s4", "s5", "s6", "s7"}
    ((student, assignment, kept, others),) = result.duplicates
    assert (student.student_id, assignment, kept.row["id"], [o.row["id"] for o in others]) == (
        "s4",
        A1,
        "cara-01b",
        ["cara-01", "cara-01c"],
    )  # the unreadable file counts as g1's only assignment
    assert {m.row["id"]: m.why for m in result.unmatched} == {"stranger": "no roster row names it"}
    mixed = root / "mixed"  # a folder of two assignments: an unreadable file is listed
    mixed.mkdir()
    store.write_rows(
        mixed / "grades.csv",
        dict(
            [
                _row("a1", f"ana/{A1}.ipynb", A1, total="7"),
                _row("a2", f"ana/{A2}.ipynb", A2, total="4", maximum="8"),
                _row("a3", "ana/x.ipynb", "", status="invalid", maximum=""),
            ]
        ),
    )
    result = lms.export([mixed], roster, root / "export-mixed")
    ((m,),) = [result.unmatched]
    assert m.row["id"] == "a3" and m.student.student_id == "s1" and "assignment is unknown" in m.why


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "student_id,name,mail,submission\n",
            r"missing column\(s\) email; unknown column\(s\) mail",
        ),
        ("student_id,name,email\n", r"missing column\(s\) submission"),
        (
            "student_id,name,email,submission\ns1,A,a@x,ana\ns1,B,b@x,bob\n",
            r"line 3: student_id 's1' is already on line 2",
        ),
        (
            "student_id,name,email,submission\ns1,A,a@x,ana\ns2,B,b@x,ANA\n",
            r"line 3: submission 'ANA' is already s1's",
        ),
        ("student_id,name,email,submission\ns1,A,a@x,\n", r"line 2: empty submission"),
        ("student_id,name,email,submission\ns1,A,a@x\n", r"line 2: 3 cells, the header has 4"),
        ("student_id,name,email,submission\n", r"no student"),
    ],
)
def test_a_bad_roster_names_its_problem(tmp_path, text, message):
    (tmp_path / "roster.csv").write_text(text, encoding="utf-8")
    with pytest.raises(SystemExit, match=message):
        lms.read_roster(tmp_path / "roster.csv")


def test_a_roster_not_in_utf8_or_a_folder_without_grades_is_refused(tmp_path):
    (tmp_path / "roster.csv").write_bytes(
        "student_id,name,email,submission\ns1,Zoë,z@x,z\n".encode("latin-1")
    )
    with pytest.raises(SystemExit, match="not UTF-8.*save it as CSV UTF-8"):
        lms.read_roster(tmp_path / "roster.csv")
    (tmp_path / "roster.csv").write_text("student_id,name,email,submission\ns1,Z,z@x,z\n")
    with pytest.raises(SystemExit, match="holds no grades.csv"):
        lms.export([tmp_path / "nowhere"], tmp_path / "roster.csv", tmp_path / "out")


def test_the_export_verb_runs_from_the_command_line(course):
    root, roster = course
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "export",
            str(root / "g1"),
            "--roster",
            str(roster),
            "--out",
            str(root / "cli"),
            "--canvas",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        "7 students, 6 submissions counted, 1 unmatched, 1 missing, 1 students with several"
    )
    assert (root / "cli" / "canvas.csv").is_file()


# Late work (autograder/late.py): due dates, extensions, Canvas's record of when each file came in.
GRADEBOOK = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Notebook 1 (4711),Current Points,Final Points,"
    "Current Score,Unposted Current Score,Final Score,Unposted Final Score\n"
    "    Points Possible,,,,,11,(read only),(read only),"
    "(read only),(read only),(read only),(read only)\n"
    ",,,,,Manual Posting,,,,,,\n"
    '"Alvarez, Ana",1234,S1001,ana@uni.edu,A,,0,0,,,0,\n'
    '"Bell, Bob",1235,,bob@uni.edu,A,,0,0,,,0,\n'
    '"Smith, John",1236,S1003,js1@uni.edu,B,,0,0,,,0,\n'
    '"Smith, John",1237,S1004,js2@uni.edu,B,,0,0,,,0,\n'
    '"Student, Test",9999,,,A,,0,0,,,0,\n'
)
DUE = "2027-02-01T23:59:00-05:00"


def _late_course(tmp_path, policy="per_day = 0.1\n"):
    """Canvas's download of notebook 01: Ana twice (an on-time 7 and a late 11), Bob late, two John
    Smiths."""
    rows = dict(
        [
            _row("a1", f"alvarezana_1234_501_{A1}.ipynb", A1, total="7"),
            _row("a2", f"alvarezana_late_1234_502_{A1}-1.ipynb", A1, total="11"),
            _row("b1", f"bellbob_late_1235_503_{A1}.ipynb", A1, total="10"),
            _row("j1", f"smithjohn_1236_504_{A1}.ipynb", A1, total="9"),
            _row("j2", f"smithjohn_late_1237_505_{A1}.ipynb", A1, total="8"),
        ]
    )
    (tmp_path / "g").mkdir()
    store.write_rows(tmp_path / "g" / "grades.csv", rows)
    (tmp_path / "gradebook.csv").write_text(GRADEBOOK, encoding="utf-8")
    (tmp_path / "course.toml").write_text(
        f'[late]\n{policy}\n[due]\n{A1} = "{DUE}"\n', encoding="utf-8"
    )
    history = lambda *attempts: [
        {"attempt": i + 1, "submitted_at": when, "attachments": [{"id": att}]}
        for i, (when, att) in enumerate(attempts)
    ]
    api = [
        {
            "user_id": 1234,
            "submitted_at": "2027-02-03T10:00:00Z",
            "submission_history": history(
                ("2027-02-01T20:00:00Z", 501), ("2027-02-03T10:00:00Z", 502)
            ),
        },
        {"user_id": 1235, "submitted_at": "2027-02-02T05:30:00Z", "submission_history": None},
        {"user_id": 1236, "submitted_at": "2027-02-01T12:00:00Z"},
        {"user_id": 1237, "submitted_at": "2027-02-05T04:59:01Z"},
    ]
    (tmp_path / "submissions.json").write_text(__import__("json").dumps(api), encoding="utf-8")
    return tmp_path


def _export(root, *extra):
    out = root / "out"
    assert (
        lms.main(
            [
                str(root / "g"),
                "--roster",
                str(root / "gradebook.csv"),
                "--out",
                str(out),
                "--canvas",
                "--course",
                str(root / "course.toml"),
                "--submitted",
                f"{A1}={root / 'submissions.json'}",
                "--column",
                f"{A1}=Notebook 1 (4711)",
                *extra,
            ]
        )
        == 0
    )
    return {r[1]: r for r in _csv(out / "canvas.csv")[2:]}, out


def test_the_penalty_comes_before_the_best_copy_is_chosen(tmp_path):
    """Ana's late 11 (2 started days late at 10 % a day: 8.8) beats her on-time 7; at 50 % flat
    (5.5) it does not."""
    root = _late_course(tmp_path)
    by_id, out = _export(root)
    assert by_id["1234"][5] == "8.8"
    by_id, out = _export(root, "--late-penalty", "0.5")
    assert by_id["1234"][5] == "7"
    ana = _csv(out / "students" / "S1001.csv")
    assert ana[1][4] == f"alvarezana_1234_501_{A1}.ipynb" and ana[1][8] == "no"


def test_days_late_come_from_canvas_times_and_the_students_due_date(tmp_path):
    root = _late_course(tmp_path)
    by_id, out = _export(root)
    # Bob: 05:30 UTC on the 2nd is 00:30 EST, 31 minutes late: one started day, 10 %
    assert by_id["1235"][:3] == ["Bell, Bob", "1235", "1235"] and by_id["1235"][5] == "9"
    # the two John Smiths, told apart by Canvas's ID only: 9 on time; 8 at 3 days and 1 s late (4
    # started days): 40 % off
    assert by_id["1236"][5] == "9" and by_id["1237"][5] == "4.8"
    assert set(by_id) == {"1234", "1235", "1236", "1237"}  # the test student is not exported
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "10% per started day" in report and "Canvas deducts a second time" in report
    john = _csv(out / "students" / "S1004.csv")
    assert john[1][9:12] == ["2027-02-05T04:59:01+00:00", "4", "0.4"]


def test_an_extension_moves_one_students_due_date(tmp_path):
    root = _late_course(tmp_path)
    (root / "extensions.csv").write_text(
        f"student_id,assignment,days\n1235,{A1},1\nS1004,{A1},\n", encoding="utf-8"
    )
    with pytest.raises(SystemExit, match="line 3: days must be a number"):
        _export(root, "--extensions", str(root / "extensions.csv"))
    (root / "extensions.csv").write_text(
        f"student_id,assignment,days,due\n1235,{A1},1,\nS1004,{A1},,2027-02-05T00:00:00-05:00\n",
        encoding="utf-8",
    )
    by_id, _ = _export(root, "--extensions", str(root / "extensions.csv"))
    assert by_id["1235"][5] == "10" and by_id["1237"][5] == "8" and by_id["1234"][5] == "8.8"


def test_without_a_recorded_time_canvas_late_counts_as_one_day(tmp_path):
    root = _late_course(tmp_path, "flat = 0.2\nper_day = 0.05\n")
    out = root / "out"
    lms.export(
        [root / "g"],
        root / "gradebook.csv",
        out,
        canvas=True,
        policy=lms.late_work.load_policy(root / "course.toml"),
    )
    by_id = {r[1]: r for r in _csv(out / "canvas.csv")[2:]}
    assert by_id["1235"][5] == "7.5" and by_id["1234"][5] == "8.25"  # 25 % off 10 and 11


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[late]\nper_dya = 0.1\n", r"unknown key\(s\) per_dya"),
        ("[late]\nper_day = 10\n", r"per_day must lie in \[0, 1\]"),
        (f'[due]\n{A1} = "2027-02-01 23:59"\n', "has no UTC offset"),
        (f'[due]\n{A1} = "Feb 1"\n', "is not a date and time"),
    ],
)
def test_a_bad_late_policy_names_its_problem(tmp_path, toml, message):
    (tmp_path / "course.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(SystemExit, match=message):
        lms.late_work.load_policy(tmp_path / "course.toml")


def test_a_csv_of_submission_times_by_file(tmp_path):
    (tmp_path / "times.csv").write_text(
        "file,submitted_at\nana/01.ipynb,2027-02-02T10:00:00Z\n", encoding="utf-8"
    )
    times = lms.late_work.read_submitted(tmp_path / "times.csv")
    assert (
        lms.late_work.submitted_at("'ana/01.ipynb", times).isoformat()
        == "2027-02-02T10:00:00+00:00"
    )
    (tmp_path / "bad.csv").write_text("who,when\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="needs submitted_at"):
        lms.late_work.read_submitted(tmp_path / "bad.csv")
