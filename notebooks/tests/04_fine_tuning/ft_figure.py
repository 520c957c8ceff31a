from otter.test_files import test_case

OK_FORMAT = False

name = "ft_figure"
points = 2

@test_case(points=None, hidden=False)
def test_figure_answer_format(k_half):
    import numbers
    assert isinstance(k_half, numbers.Real) and (not isinstance(k_half, bool)) and float(k_half).is_integer(), f'k_half: a whole number of stages, e.g. k_half = 2, got {k_half!r}'
    assert 0 <= k_half <= 9, f"k_half: a number of stages of the figure's network (0 to 9), got {k_half!r}"

