"""Instructor tools: build the assignment, self-check it, grade submissions.

Run as ``python -m autograder build|check|grade|demo|bench``. Nothing here is
imported by a student notebook; ``utils/`` holds what notebooks import.
"""
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
NOTEBOOKS = REPO / "notebooks"
DIST = REPO / "autograder" / "dist"
BUILD = REPO / "build"
