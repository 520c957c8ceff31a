from otter.test_files import test_case

OK_FORMAT = False

name = "ft_explain"
points = 2

@test_case(points=0, hidden=False)
def test_grid_explanation_written(grid_explanation):
    text = str(grid_explanation).strip()
    assert text not in ('...', '') and len(text.split()) >= 25, 'grid_explanation: write three or four sentences (at least 25 words) comparing your predictions with the grid'

