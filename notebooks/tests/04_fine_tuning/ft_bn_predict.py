from otter.test_files import test_case

OK_FORMAT = False

name = "ft_bn_predict"
points = 1

@test_case(points=None, hidden=False)
def test_bn_prediction_recorded(bn_prediction, UNCHANGED, PART_WAY, REPLACED):
    assert bn_prediction is not ..., 'bn_prediction: record your prediction (UNCHANGED, PART_WAY or REPLACED) before the measurement'
    assert bn_prediction in (UNCHANGED, PART_WAY, REPLACED), f'bn_prediction: {bn_prediction!r} is not one of the three outcomes: use the constants UNCHANGED, PART_WAY, REPLACED'

