from otter.test_files import test_case

OK_FORMAT = False

name = "frozen_predict"
points = 1

@test_case(points=0, hidden=False)
def test_prediction_recorded(predicted_random_acc):
    import numbers
    assert predicted_random_acc is not ..., 'predicted_random_acc: write your prediction (a number between 0 and 1) before running the control experiment'
    assert isinstance(predicted_random_acc, numbers.Real) and 0 <= predicted_random_acc <= 1, f'predicted_random_acc: an accuracy is a number between 0 and 1, got {predicted_random_acc!r}'

