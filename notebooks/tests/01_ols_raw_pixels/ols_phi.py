from otter.test_files import test_case

OK_FORMAT = False

name = "ols_phi"
points = 1

@test_case(points=None, hidden=False)
def test_phi_shape(phi):
    import numpy as np
    images = np.zeros((5, 4, 4))
    got = np.shape(phi(images))
    assert got != (16, 5), f'phi: got shape {got}, expected (5, 16): rows are images, so do not transpose'
    assert got == (5, 16), f'phi: got shape {got}, expected (5, 16): φ turns each s×s image into ONE row of s*s numbers'

@test_case(points=None, hidden=False)
def test_add_bias_shape(add_bias):
    import numpy as np
    got = np.shape(add_bias(np.zeros((5, 16))))
    assert got != (5, 16), f'add_bias: got shape {got}, expected (5, 17): did you add the bias column of ones?'
    assert got != (17, 5), f'add_bias: got shape {got}, expected (5, 17): add a COLUMN (axis 1), one row per image'
    assert got == (5, 17), f'add_bias: got shape {got}, expected (5, 17): one extra column of ones for the bias'

