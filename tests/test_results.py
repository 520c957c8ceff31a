"""utils.results: balanced and per-group accuracy, and the course data's composition they are read
against."""

import numpy as np
import pytest

from utils import data, results


def test_balanced_accuracy_is_the_mean_of_per_class_hits():
    y = np.array([1] * 8 + [-1] * 2)
    assert (
        results.balanced_accuracy(np.ones(10), y) == 0.5
    )  # a constant answer, whatever the proportions
    y_hat = np.array([1] * 6 + [-1] * 2 + [-1, 1])  # 6/8 cats, 1/2 dogs right
    assert results.balanced_accuracy(y_hat, y) == pytest.approx((6 / 8 + 1 / 2) / 2)
    torch = pytest.importorskip("torch")
    assert results.balanced_accuracy(
        torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0])
    ) == pytest.approx(0.75)


def test_by_group_rows_and_constant_baselines():
    y = np.array([1, 1, -1, -1, -1, 1])
    y_hat = np.array([1, 1, 1, -1, 1, -1])
    groups = np.array(["a", "a", "a", "b", "b", "b"])
    rows = results.by_group(y_hat, y, groups, {1: "cat", -1: "dog"})
    assert [r["group"] for r in rows] == ["all images", "a", "b"] and [r["n"] for r in rows] == [
        6,
        3,
        3,
    ]
    assert rows[1]["accuracy"] == pytest.approx(2 / 3) and rows[2]["accuracy"] == pytest.approx(
        1 / 3
    )
    assert rows[1]["always cat"] == pytest.approx(2 / 3) and rows[2]["always dog"] == pytest.approx(
        2 / 3
    )
    with pytest.raises(ValueError, match="one entry per image"):
        results.by_group(y_hat[:5], y, groups, {1: "cat", -1: "dog"})
    table = results.group_table({"m1": y_hat, "m2": -y_hat}, y, groups, {1: "cat", -1: "dog"})
    assert table.count("all images") == 2 and "always dog" in table.splitlines()[0]


def test_composition_of_the_course_data(pets_root):
    """Read from the lists: a few breeds hold most images; the groups follow pets_arrays' order."""
    rows = data.composition()
    assert (
        len(rows) == 37
        and sum(r["trainval"] for r in rows) == data.course_counts()["trainval"]["n"]
    )
    big = data.big_breeds()
    assert big == [r["breed"] for r in rows[: len(big)]] and 0 < len(big) < len(rows)
    groups = data.breed_groups("test")
    _, y = data.pets_arrays("test", size=4)
    assert len(groups) == len(y) and len(set(groups.tolist())) == 2
    names = data.pets_dataset("test").names
    assert [data.breed_of(n) in big for n in names] == [g.endswith("big breeds") for g in groups]
