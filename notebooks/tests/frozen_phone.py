from otter.test_files import test_case

OK_FORMAT = False

name = "frozen_phone"
points = 2

@test_case(points=None, hidden=False)
def test_phone(phone):
    hints = {'mobilenet_v3_small': 'MobileNet-V3-small fits the phone budget, but EfficientNet-Lite0 fits too (0.39 GFLOPs, 4.7 M parameters) and is about 7 points more accurate on ImageNet: take the most accurate model that fits', 'resnet18': "ResNet-18 needs 1.8 GFLOPs and 11.7 M parameters per image: over the phone's budget of 0.5 GFLOPs and 5 M", 'resnet50': "ResNet-50 needs 4.1 GFLOPs and 25.6 M parameters: far over the phone's budget"}
    assert phone in ('resnet18', 'resnet50', 'mobilenet_v3_small', 'efficientnet_lite0'), f'phone: {phone!r} is not one of the four names in models.NAMES'
    assert phone == 'efficientnet_lite0', 'phone: ' + hints[phone]

@test_case(points=None, hidden=False)
def test_server(server):
    assert server in ('resnet18', 'resnet50', 'mobilenet_v3_small', 'efficientnet_lite0'), f'server: {server!r} is not one of the four names in models.NAMES'
    assert server == 'resnet50', f'server: {server} is cheaper, but a server with a GPU can afford 4 GFLOPs per image: take the most accurate model on ImageNet (ResNet-50, 80.9% top-1)'

