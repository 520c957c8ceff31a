from otter.test_files import test_case

OK_FORMAT = False

name = "edges_conv"
points = 3

@test_case(points=None, hidden=False)
def test_conv_note_example(conv2d_valid):
    import numpy as np
    image = np.zeros((6, 6))
    image[:, :3] = 10
    kernel = np.array([[1, 0, -1]] * 3)
    R = np.asarray(conv2d_valid(image, kernel))
    expected = np.array([[0, 30, 30, 0]] * 4)
    assert R.shape == (4, 4), f"conv2d_valid: got shape {R.shape} for a 6×6 image and a 3×3 kernel: 'valid' keeps only the positions where the kernel fits entirely inside the image"
    assert not np.allclose(R, -expected), "conv2d_valid: your response has the opposite sign of the note's example: you flipped the kernel. The note (like DL libraries) calls cross-correlation 'convolution': slide the kernel as it is"
    assert np.allclose(R, expected), "conv2d_valid: the note's 6×6 example gives a different response: compare with §2.1"

@test_case(points=None, hidden=False)
def test_conv_matches_scipy(conv2d_valid):
    import numpy as np
    from scipy.signal import correlate2d
    rng = np.random.default_rng(0)
    image, kernel = (rng.normal(size=(7, 7)), rng.normal(size=(3, 3)))
    expected = correlate2d(image, kernel, mode='valid')
    R = np.asarray(conv2d_valid(image.copy(), kernel.copy()))
    assert np.allclose(R, expected), "conv2d_valid: differs from scipy.signal.correlate2d(image, kernel, mode='valid') on a random input"

@test_case(points=0, hidden=False)
def test_conv_written_yourself(conv2d_valid, env):
    import importlib
    import numpy as np
    from utils import checks
    rng = np.random.default_rng(2)
    image, kernel = (rng.normal(size=(8, 9)), rng.normal(size=(3, 2)))
    engines = {'scipy.signal._sigtools': ('_convolve2d', '_correlateND'), 'scipy.signal._signaltools': ('_freq_domain_conv',), 'scipy.ndimage._nd_image': ('correlate', 'correlate1d'), checks.ATEN: ('convolution', '_convolution')}
    used = []
    for module, names in engines.items():
        try:
            names = [name for name in names if module == checks.ATEN or hasattr(importlib.import_module(module), name)]
        except ImportError:
            continue
        with checks.count_calls(env, module, names) as calls:
            conv2d_valid(image, kernel)
        used += [f'{module}.{name}' for name, count in calls.items() if count]
    assert not used, f"conv2d_valid: your function hands the sliding sum to a library's convolution ({', '.join(used)} ran): this question asks you to compute R[i, j] = sum over a, b of K[a, b] V[i + a, j + b] yourself; the hint under the question says how to keep it short"

