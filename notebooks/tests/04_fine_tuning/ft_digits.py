from otter.test_files import test_case

OK_FORMAT = False

name = "ft_digits"
points = 3

@test_case(points=None, hidden=False)
def test_digits_shape_and_range(digits_to_images):
    import numpy as np
    import torch
    mean, std = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    X = np.array([np.full(64, 16.0), np.zeros(64)])
    x = torch.as_tensor(digits_to_images(X, 32, mean, std))
    assert tuple(x.shape) == (2, 3, 32, 32), f'digits_to_images: expected shape (2, 3, 32, 32), got {tuple(x.shape)}'
    assert x.dtype == torch.float32, f"digits_to_images: expected float32 (the backbone's dtype), got {x.dtype}"
    m, s = (torch.tensor(mean), torch.tensor(std))

    def close(t, value):
        return torch.allclose(t, torch.full((3,), float(value)), atol=0.001)
    white, black = (x[0].mean((1, 2)) * s + m, x[1].mean((1, 2)) * s + m)
    assert not close(white, 16), "digits_to_images: divide by 16 first: the digits' pixel values go from 0 to 16, the backbone expects [0, 1]"
    scaled_right = close(white, 1) and close(black, 0)
    assert not (close(white, white[0]) and close(black, black[0])) or scaled_right, f"digits_to_images: before the normalization a white digit pixel (16) is {float(white[0]):.3g} and a black one (0) is {float(black[0]):.3g}, not 1 and 0: check how you scale the digits to [0, 1] (their values go from 0 to 16, not 0 to 255 as a photo's do)"
    assert scaled_right, 'digits_to_images: a white pixel (16) should become (1 - mean_c) / std_c in channel c, a black one -mean_c / std_c: normalize each channel with its own mean and std'

@test_case(points=None, hidden=False)
def test_digits_layout(digits_to_images):
    import numpy as np
    import torch
    image = np.zeros((8, 8))
    image[:, :2] = 16
    x = torch.as_tensor(digits_to_images(image.reshape(1, 64), 16, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)))
    assert torch.allclose(x[0, 0], x[0, 1]) and torch.allclose(x[0, 0], x[0, 2]), 'digits_to_images: the three colour channels should be copies of the gray image (repeat over dimension 1)'
    left, right = (x[0, 0, :, :3].mean(), x[0, 0, :, -3:].mean())
    top, bottom = (x[0, 0, :3, :].mean(), x[0, 0, -3:, :].mean())
    assert left > 0.8 and right < 0.1 and (abs(float(top - bottom)) < 1e-05), 'digits_to_images: the bright bar on the left of the 8 × 8 image is not on the left after resizing: reshape each row of 64 values to (8, 8) in row-major order, (n, 1, 8, 8), before F.interpolate'

