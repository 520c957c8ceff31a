"""The grading service: ``python -m autograder grade SUBMISSION... --out DIR``.

One small module per job, in the order a submission meets them:

- ``inputs``:   find submissions, read them with bounds, give each an id from its own path;
- ``analyze``:  runs in a limited subprocess: a notebook's JSON, its graded definitions and the audit;
- ``tamper``:   the graded definitions (a linear closure) and the audit (advice for review, never a verdict);
- ``sandbox``:  one process tree per stage, bubblewrap (or setpriv alone) as nobody, cgroup limits and a CPU
                share, a tmpfs work folder, results through a pipe the student's code never inherits;
- ``driver``:   runs INSIDE the sandbox: executes the student's cells (no hidden test present);
- ``judge``:    trusted, on the host: otter's tests, received through stdin, against the student's
                functions, which it calls in ``worker``s; never runs student code;
- ``worker``:   runs INSIDE a sandbox: the graded definitions, answering the judge's calls;
- ``wire``:     the data-only format of those calls (no code, no pickle);
- ``verdict``:  turns what came back into a status, a reason and clamped scores;
- ``store``:    grades.csv (atomic, formula-escaped), the lock on --out, safe reads;
- ``report``:   feedback pages and report.html from Jinja2 templates;
- ``shard``:    a deterministic 1/N of a batch, and the merge of the shards;
- ``gradescope``: Gradescope's entry point, the same service in /autograder;
- ``batch``:    the command: a pool of submissions, resume, signals, sweep of stale folders.

Nothing here imports ``autograder.demo``, ``autograder.check`` or ``benchmarks``.
"""
