from otter.test_files import test_case

OK_FORMAT = False

name = "ft_scenarios"
points = 4

@test_case(points=None, hidden=False)
def test_advice_format(advice, STRATEGIES):
    keys = {('small', 'similar'), ('large', 'similar'), ('small', 'different'), ('large', 'different')}
    assert set(advice) == keys, f'advice: expected exactly the four keys {sorted(keys)}'
    for key, choice in advice.items():
        assert choice in STRATEGIES, f'advice[{key}]: use one of the four strategy constants (LINEAR_FINAL, ...), got {choice!r}'

@test_case(points=None, hidden=False)
def test_pets_scenario_format(pets_scenario):
    assert tuple(pets_scenario)[0] in ('small', 'large') and tuple(pets_scenario)[1] in ('similar', 'different'), "pets_scenario: a key of advice, e.g. ('large', 'different'): a size, then a similarity"

