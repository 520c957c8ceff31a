"""``verdict``: what came back from the sandboxes (hostile data) becomes a status, a reason and
clamped scores.

Unit tests on hand-made stage outcomes: every status the run stage decides, every way a judge's
result can be wrong, and the review flags. The stages that produce real outcomes are tested in
``test_batch.py``."""

import json
from types import SimpleNamespace

import pytest

from autograder.grading import verdict
from autograder.grading.sandbox import Limits, Outcome

LIMITS = Limits()
CELLS = [
    (1, [], "import numpy as np"),
    (2, [], "def fit(X):\n    return X"),
    (3, [], "while True: pass"),
]
SECRET = "HIDDEN_VALUE_1234"
TPL = SimpleNamespace(possible={"q1": 2.0, "q2": 3.0}, secrets=(SECRET,), manual={})


def run(*events, kind="finished", breaches=None, **kw):
    channel = "\n".join(e if isinstance(e, str) else json.dumps(e) for e in events).encode()
    return Outcome(kind, 1.0, channel=channel, breaches=dict(breaches or {}), **kw)


def judge(questions=None, raw=None, **kw):
    channel = raw if raw is not None else json.dumps({"questions": questions or {}}).encode()
    return Outcome(kw.pop("kind", "finished"), 1.0, channel=channel, **kw)


DONE = {"event": "done"}


def test_events_drop_what_is_not_an_event_and_stop_at_the_bound():
    channel = "\n".join(
        [
            "{bad json",
            "[1, 2]",
            '{"no": "event"}',
            '{"event": 3}',
            json.dumps({"event": "start", "cell": 1}),
        ]
        + [json.dumps(DONE)] * (verdict.MAX_EVENTS + 10)
    )
    got = verdict.events(channel)
    assert got[0] == {"event": "start", "cell": 1}
    assert len(got) == verdict.MAX_EVENTS - 4


def test_a_clean_run_with_cell_errors_is_graded_and_names_the_cells():
    outcome = run(
        {"event": "start", "cell": 1},
        {
            "event": "cell",
            "cell": 2,
            "text": "",
            "error": {"ename": "Value<Error>!", "evalue": "bad " + SECRET},
        },
        DONE,
    )
    early, errors, _ = verdict.stage_one(outcome, CELLS, TPL.secrets, LIMITS)
    assert early is None
    ((number, line),) = errors
    assert number == 2 and line.startswith("cell 2 (`def fit(X):`) raised ValueError:")
    assert SECRET not in line


@pytest.mark.parametrize("status", verdict.LIMIT_STATUSES)
def test_a_breached_limit_is_its_own_status_with_the_limit_named(status):
    outcome = run({"event": "start", "cell": 3}, breaches={status: "went over"})
    early, _, _ = verdict.stage_one(outcome, CELLS, (), LIMITS)
    assert early.status == status and "not graded" in early.reason
    assert early.questions is None


def test_the_drivers_output_event_is_the_output_status():
    outcome = run({"event": "start", "cell": 3}, {"event": "limit", "what": "output", "cell": 3})
    early, _, _ = verdict.stage_one(outcome, CELLS, (), LIMITS)
    assert early.status == "output" and "while running cell 3 (`while True: pass`)" in early.reason


def test_a_timeout_names_the_last_cell_started_and_the_clock():
    early, _, _ = verdict.stage_one(
        run({"event": "start", "cell": 3}, kind="timeout", cpu_seconds=600.0), CELLS, (), LIMITS
    )
    assert early.status == "timeout"
    assert "cell 3 (`while True: pass`)" in early.reason and "of CPU time" in early.reason
    early, _, _ = verdict.stage_one(run(kind="timeout"), CELLS, (), LIMITS)
    assert "while running the start" in early.reason and "of wall-clock time" in early.reason


def test_a_dead_shell_and_a_runner_that_never_finished_are_crashes():
    died, _, _ = verdict.stage_one(
        run({"event": "start", "cell": 2}, {"event": "died"}), CELLS, (), LIMITS
    )
    assert died.status == "crashed" and "cell 2" in died.reason
    failed, _, _ = verdict.stage_one(
        run(
            {"event": "failed", "error": "the notebook's Python process did not start: boom"},
            returncode=0,
        ),
        CELLS,
        (),
        LIMITS,
    )
    assert failed.status == "crashed" and "did not start: boom" in failed.reason
    silent, _, _ = verdict.stage_one(run(log_tail="last words\n", returncode=1), CELLS, (), LIMITS)
    assert (
        silent.status == "crashed" and "last words" in silent.reason and "exit 1" in silent.reason
    )


def test_events_whose_cell_is_not_a_number_name_no_cell():
    outcome = run(
        {"event": "start", "cell": "2; rm -rf /"},
        {"event": "cell", "cell": None, "error": {}},
        DONE,
    )
    early, errors, _ = verdict.stage_one(outcome, CELLS, (), LIMITS)
    assert early is None and errors == []


def test_judged_clamps_scores_and_takes_the_maxima_from_the_host():
    raw = {
        "questions": {
            "q1": {
                "score": 99,
                "possible": 99,
                "cases": [{"name": "c", "passed": True, "points": 99}],
            },
            "q2": {"score": "NaN"},
            "q3": {"score": 5},  # not a question of this assignment
        }
    }
    questions, cases = verdict.judged(json.dumps(raw).encode(), TPL.possible, ())
    assert questions == {"q1": (2.0, 2.0), "q2": (0.0, 3.0)}
    assert cases["q1"][0]["points"] == 2.0 and cases["q2"] == []


def test_judged_bounds_and_cleans_the_cases():
    case = {
        "name": "x" * 500,
        "hidden": "yes",
        "passed": "true",
        "hint": f"got {SECRET}",
        "kind": "<script>",
    }
    raw = {"questions": {"q1": {"score": 1, "cases": [case] * 80 + ["not a dict"]}}}
    _, cases = verdict.judged(json.dumps(raw).encode(), TPL.possible, TPL.secrets)
    assert len(cases["q1"]) == 50
    first = cases["q1"][0]
    assert len(first["name"]) <= 80 and first["passed"] is False and first["kind"] == ""
    assert SECRET not in first["hint"] and first["hidden"] is True


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1]", b'{"questions": []}', b"[" * 100000])
def test_a_judge_result_that_cannot_be_read_is_none(raw):
    assert verdict.judged(raw, TPL.possible, ()) is None


def test_decide_stops_at_the_run_stage_then_reads_the_judge():
    broken = verdict.decide(run({"event": "died"}), None, CELLS, TPL, ["a flag"], LIMITS)
    assert broken.status == "crashed" and broken.flags == ["a flag"]

    ok = run(DONE)
    assert (
        verdict.decide(ok, judge(breaches={"memory": "4 GB"}), CELLS, TPL, [], LIMITS).status
        == "memory"
    )
    assert verdict.decide(ok, judge(kind="timeout"), CELLS, TPL, [], LIMITS).status == "timeout"
    lost = verdict.decide(
        ok, judge(raw=b"", log_tail=f"Traceback {SECRET}"), CELLS, TPL, [], LIMITS
    )
    assert lost.status == "crashed" and SECRET not in lost.reason

    scores = {"q1": {"score": 2, "cases": []}, "q2": {"score": 1.5, "cases": []}}
    graded = verdict.decide(ok, judge(scores), CELLS, TPL, [], LIMITS)
    assert graded.status == "graded" and graded.reason == ""
    assert graded.questions == {"q1": (2.0, 2.0), "q2": (1.5, 3.0)}


def test_a_failed_zero_point_check_beside_points_is_a_review_flag_never_a_deduction():
    check = {
        "name": "how",
        "passed": False,
        "points": 0,
        "kind": "assert",
        "hint": "use your own formula",
    }
    scores = {
        "q1": {"score": 2, "cases": [check]},  # points earned, the check fired: flagged
        "q2": {"score": 0, "cases": [dict(check, hint="nothing to confirm")]},  # no points: no flag
    }
    graded = verdict.decide(run(DONE), judge(scores), CELLS, TPL, [], LIMITS)
    assert graded.questions["q1"] == (2.0, 2.0)
    assert graded.flags == ["q1: use your own formula"]
    assert "flagged for review" in graded.reason
    raised = dict(check, kind="raised")
    assert verdict.review_flags({"q1": [raised]}, {}, {"q1": (2.0, 2.0)}) == []
    assert (
        verdict.review_flags({"q1": [check]}, {"q1": {}}, {"q1": (2.0, 2.0)}) == []
    )  # a written answer
