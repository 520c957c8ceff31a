"""The grading service: ``python -m autograder grade SUBMISSION... --out DIR``.

One small module per job, in the order a submission meets them:

- ``inputs``:     find submissions, read them with bounds, give each an id from its own path;
- ``assignment``: an assignment as the host reads it from its built zip (``Template``);
- ``analyze``:    runs in a limited subprocess: a notebook's JSON, its graded definitions, the
                  audit;
- ``static``:     the graded definitions (a linear closure), the audit (advice for review, never a
                  verdict) and the split of otter's tests into public and hidden parts;
- ``stages``:     the analyze, run and judge stages of one submission, and the folders they get;
- ``sandbox``:    one process tree per stage, bubblewrap (or setpriv alone) as nobody, cgroup limits
                  and a CPU share, a tmpfs work folder, results through a pipe the student's code
                  never inherits;
- ``programs/``:  what runs in processes of its own: ``driver`` (INSIDE the sandbox: the student's
                  cells), ``judge`` (trusted, on the host: otter's tests, never student code),
                  ``worker`` (INSIDE a sandbox: the graded definitions, answering the judge's
                  calls), ``wire`` (the data-only format of those calls);
- ``verdict``:    turns what came back into a status, a reason and clamped scores;
- ``store``:      the ``--out`` folder: grades.csv (atomic, formula-escaped), the lock, safe reads;
- ``report``:     feedback pages, report.html and Gradescope's results from Jinja2 templates;
- ``manual``:     the written answers read by people (``merge-manual``);
- ``shard``:      a deterministic 1/N of a batch, and the merge of the shards (``merge``);
- ``gradescope``: Gradescope's entry point, the same service in /autograder;
- ``batch``:      the command: a pool of submissions, resume, signals, sweep of stale folders.

Nothing here imports ``autograder.demo``, ``autograder.check`` or ``benchmarks``.
"""
