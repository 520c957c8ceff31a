"""autograder/grading/inputs.py: finding and reading submissions, their ids (no notebook is run)."""

import pytest

from autograder.grading import inputs


def test_more_code_than_the_limit_is_refused_with_its_reason():
    nb = {
        "nbformat": 4,
        "cells": [
            {"cell_type": "code", "source": "x = 1\n" + "#" * ((1 << 20) - 100)} for _ in range(6)
        ],
    }
    with pytest.raises(ValueError, match="MB of code in all"):
        inputs.rebuild(nb)


def test_ids_are_stable_wherever_the_folder_lies(tmp_path):
    found = []
    for where in ("one", "two/deeper"):
        root = tmp_path / where
        (root / "a").mkdir(parents=True)
        for name in ("名前", "名字", "a_b", "a/b", "=1+2"):
            (root / f"{name}.ipynb").write_text("")
        found.append([(sid, shown) for sid, _, shown in inputs.collect([root])])
    assert found[0] == found[1]
    ids = [sid for sid, _ in found[0]]
    assert len(set(ids)) == 5 and all(inputs.SAFE.sub("", i) == i for i in ids)


def test_an_id_depends_on_its_own_path_alone(tmp_path):
    """Adding files never changes another's id, and a file named like a hashed id cannot take it."""
    (tmp_path / "a b.ipynb").write_text("")
    alone = dict((shown, sid) for sid, _, shown in inputs.collect([tmp_path]))
    hashed = alone["a b.ipynb"]
    (tmp_path / f"{hashed}.ipynb").write_text("")
    (tmp_path / "a_b.ipynb").write_text("")
    both = dict((shown, sid) for sid, _, shown in inputs.collect([tmp_path]))
    assert both["a b.ipynb"] == hashed
    assert len(set(both.values())) == 3
