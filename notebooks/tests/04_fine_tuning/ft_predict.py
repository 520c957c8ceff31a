from otter.test_files import test_case

OK_FORMAT = False

name = "ft_predict"
points = 2

@test_case(points=0, hidden=False)
def test_prediction_recorded(prediction):
    from utils import transfer
    keys = {('3 breeds', 'small'), ('3 breeds', 'large'), ('digits', 'small'), ('digits', 'large')}
    assert set(prediction) == keys, f'prediction: expected exactly the four keys {sorted(keys)}'
    for key, choice in prediction.items():
        assert choice is not ..., f'prediction[{key}]: record your prediction (RAW, FINAL, EARLIER, FINETUNE or SCRATCH)'
        assert choice in transfer.STRATEGIES, f'prediction[{key}]: {choice!r} is not one of the five strategies: use the constants RAW, FINAL, EARLIER, FINETUNE, SCRATCH'

