from otter.test_files import test_case

OK_FORMAT = False

name = "frozen_explain"
points = 2

@test_case(points=0, hidden=False)
def test_explanation_written(random_explanation):
    text = str(random_explanation).strip()
    assert text not in ('...', '') and len(text.split()) >= 15, 'random_explanation: write two or three sentences (at least 15 words) comparing your prediction with the measured accuracy of the random network'

