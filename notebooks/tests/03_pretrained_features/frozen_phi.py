from otter.test_files import test_case

OK_FORMAT = False

name = "frozen_phi"
points = 4

@test_case(points=None, hidden=False)
def test_headless_shape(headless, env):
    import torch
    from torchvision.models import resnet18
    from utils import checks
    torch.manual_seed(0)
    model = checks.mutable(env, resnet18(weights=None).eval())
    x = torch.randn(2, 3, 64, 64)
    f = headless(model, 'fc')
    with torch.no_grad():
        f, out = (f(x), model(x))
    assert tuple(f.shape) != (2, 1000), 'headless: Φ(x) still has the 1000 ImageNet class scores: replace the head (here model.fc) with nn.Identity()'
    assert f.dim() == 2, f"headless: Φ(x) must be a matrix (n, d), one feature vector per image, got shape {tuple(f.shape)}: keep the model's own global pooling and flattening, and replace only the head"
    assert tuple(f.shape) == (2, 512), f"headless: ResNet-18's Φ(x) has 512 features per image, got shape {tuple(f.shape)}"
    assert tuple(out.shape) == (2, 1000), 'headless: the original model lost its head: change a copy (copy.deepcopy(model)), not the backbone itself'

@test_case(points=None, hidden=False)
def test_headless_values(headless):
    import torch
    from torchvision.models import resnet18
    torch.manual_seed(1)
    m = resnet18(weights=None).eval()
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        h = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        ref = torch.flatten(m.avgpool(m.layer4(m.layer3(m.layer2(m.layer1(h))))), 1)
        f = headless(m, 'fc')(x)
    assert torch.allclose(f, ref, atol=1e-05), 'headless: Φ(x) must be the penultimate layer, the pooled features the head reads; your values differ'

