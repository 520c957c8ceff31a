from otter.test_files import test_case

OK_FORMAT = False

name = "edges_design"
points = 2

@test_case(points=None, hidden=False)
def test_kernel_shape_and_flat(my_kernel):
    import numpy as np
    K = np.asarray(my_kernel, dtype=float)
    assert K.shape == (3, 3), f'my_kernel: got shape {K.shape}, expected a 3×3 array'
    assert np.all(np.isfinite(K)) and np.abs(K).max() > 0, 'my_kernel: all zeros (or not finite) responds to nothing'
    flat = (np.full((5, 5), 7.0)[:3, :3] * K).sum()
    assert abs(flat) < 1e-09, f'my_kernel: on a constant image (every pixel 7) its response is {flat:g}, not 0: a filter that ignores flat regions responds only to CHANGES in brightness; what must its nine numbers add up to?'

@test_case(points=None, hidden=False)
def test_kernel_separates_patterns(my_kernel):
    import numpy as np
    from scipy.signal import correlate2d
    K = np.asarray(my_kernel, dtype=float)
    i, j = np.indices((12, 12))
    a, b = (((i - j) % 4 < 2).astype(float), ((i + j) % 4 < 2).astype(float))
    ra, rb = (np.abs(correlate2d(a, K, mode='valid')).mean(), np.abs(correlate2d(b, K, mode='valid')).mean())
    assert ra >= 3 * rb and ra > 0, f'my_kernel: mean |response| is {ra:.3g} on pattern_a and {rb:.3g} on pattern_b; it must be at least 3 times larger on pattern_a. A vertical or horizontal edge filter sees both patterns alike; which direction does the brightness change in pattern_a, and in pattern_b?'

