"""``python -m autograder VERB ...``: one module per verb, imported lazily."""

import importlib
import sys

VERBS = {
    "build": "autograder.build",  # otter assign for every master
    "check": "autograder.check",  # grade built solutions and blank notebooks
    "grade": "autograder.grading.batch",  # sandboxed parallel batch grading
    "merge": "autograder.grading.shard",  # the shards of `grade --shard I/N` into one batch
    # the TA's scores of the written answers into grades.csv
    "merge-manual": "autograder.grading.manual",
    "export": "autograder.lms",  # grades by student: Canvas gradebook CSV, one CSV per student
    "demo": "autograder.demo",  # the main job: build, run, grade, report
    "bench": "benchmarks.bench",  # speed figures into build/bench.json
    "release": "autograder.release",  # the student repository, ready to push
    "similarity": "autograder.similarity",  # pairs of submissions far more alike than the class
}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in VERBS:
        print("usage: python -m autograder {%s} [options]" % "|".join(VERBS), file=sys.stderr)
        return 2
    module = importlib.import_module(VERBS[argv[0]])
    return module.main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
