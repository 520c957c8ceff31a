from otter.test_files import test_case

OK_FORMAT = False

name = "ft_scenarios"
points = 4

@test_case(points=None, hidden=False)
def test_similar_data(advice):
    linear_final = 'linear classifier on the final pooled features'
    fine_tune = 'fine-tune the network (the last stages, or all of it)'
    choice = advice['small', 'similar']
    assert choice != fine_tune, "advice[('small', 'similar')]: fine-tuning millions of parameters on a few hundred images overfits; the final features already suit ImageNet-like images, so train only a linear classifier on them"
    assert choice == linear_final, "advice[('small', 'similar')]: little data, ImageNet-like images: which features already fit?"
    choice = advice['large', 'similar']
    assert choice != linear_final, "advice[('large', 'similar')]: with plenty of data, overfitting is no longer the risk: adapting the network itself (fine-tuning) gains accuracy over fixed features"
    assert choice == fine_tune, "advice[('large', 'similar')]: much data, ImageNet-like images: enough to adapt the network"

@test_case(points=None, hidden=False)
def test_pets_scenario(pets_scenario):
    assert tuple(pets_scenario) == ('small', 'similar'), "pets_scenario: 469 labelled images is a small dataset, and ImageNet's classes include dozens of cat and dog breeds: the pets are small and similar"

