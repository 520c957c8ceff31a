from otter.test_files import test_case

OK_FORMAT = False

name = "edges_explain"
points = 1

@test_case(points=0, hidden=False)
def test_explanation_written(edges_explain):
    words = str(edges_explain).split()
    assert isinstance(edges_explain, str) and len(words) >= 20, f'edges_explain: explain the outcome in a few sentences (at least 20 words), got {len(words)} words'

