from otter.test_files import test_case

OK_FORMAT = False

name = "edges_predict"
points = 1

@test_case(points=0, hidden=False)
def test_prediction_recorded(edges_prediction, edges_prediction_why):
    assert edges_prediction in ('edges', 'control', 'no clear difference'), f"edges_prediction must be one of the strings 'edges', 'control', 'no clear difference', got {edges_prediction!r}"
    words = str(edges_prediction_why).split()
    assert isinstance(edges_prediction_why, str) and len(words) >= 8, f'edges_prediction_why: give your reason in a sentence or two (at least 8 words), got {len(words)} words'

