"""The grading service: ``python -m autograder grade SUBMISSION... --out DIR``.

One small module per job, in the order a submission meets them:

- ``inputs``:   find submissions, read them with bounded parsing, give each a unique stable id;
- ``tamper``:   the static audit (a second line of defence) and the graded definitions the judge runs;
- ``sandbox``:  one process tree per stage, bubblewrap as an unprivileged user, cgroup limits,
                a tmpfs work folder, results through a pipe the student's code never inherits;
- ``driver``:   runs INSIDE the sandbox: executes the student's cells (no hidden test present);
- ``judge``:    runs INSIDE a fresh sandbox: otter's hidden and public tests against the graded
                definitions only, tests received through stdin, never on disk;
- ``verdict``:  turns what came back (hostile data) into a status, a reason and clamped scores;
- ``store``:    grades.csv (atomic, formula-escaped), the lock on --out, safe reads;
- ``report``:   feedback pages and report.html from Jinja2 templates;
- ``batch``:    the command: a pool of submissions, resume, signals, sweep of stale folders.

Nothing here imports ``autograder.demo``, ``autograder.check`` or ``benchmarks``.
"""
