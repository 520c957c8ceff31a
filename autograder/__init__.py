"""Instructor tools: build the assignment, self-check it, grade submissions.

Run as ``python -m autograder build|check|grade|merge|export|demo|bench|release|similarity``.
Nothing here is imported by a student notebook; ``utils/`` holds what notebooks import.
"""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
NOTEBOOKS = REPO / "notebooks"
DIST = REPO / "autograder" / "dist"
BUILD = REPO / "build"


def zip_path(stem, dist=None) -> Path:
    """The otter autograder zip of notebook ``stem`` (``autograder/dist/<stem>.zip``)."""
    return Path(dist or DIST) / f"{stem}.zip"


def solution_path(stem, dist=None) -> Path:
    """The solution notebook otter assign writes next to the zip (``<stem>-solution.ipynb``)."""
    return Path(dist or DIST) / f"{stem}-solution.ipynb"
