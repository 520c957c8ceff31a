"""The programs the grading service runs in processes of their own (never imported by the batch).

``driver.py`` runs a student's notebook (the run stage), ``judge.py`` scores the graded definitions
(the judge stage) through ``worker.py`` processes that hold the student's code, and ``wire.py`` is
the data format between judge and worker. Each is started as ``python -I <program>.py``: they import
only the standard library, numpy/torch where a value needs them, and ``wire.py`` beside them.
"""
