from otter.test_files import test_case

OK_FORMAT = False

name = "ft_figure"
points = 2

@test_case(points=None, hidden=False)
def test_figure_answer_format(figure_backbone, k_half):
    assert figure_backbone in ('resnet18', 'efficientnet_lite0'), f"figure_backbone: the backbone named in the figure's title, as a string (resnet18 or efficientnet_lite0), got {figure_backbone!r}"
    assert type(k_half) is int and 0 <= k_half <= 9, f'k_half: a whole number of stages (an int), got {k_half!r}'

