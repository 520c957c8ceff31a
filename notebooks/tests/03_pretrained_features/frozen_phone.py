from otter.test_files import test_case

OK_FORMAT = False

name = "frozen_phone"
points = 3

@test_case(points=None, hidden=False)
def test_phone_within_budget(phone):
    from utils import models
    zoo = {m['name']: m for m in models.all_metadata()}
    assert phone in zoo, f'phone: {phone!r} is not the name of a model in zoo (models.all_metadata())'
    m = zoo[phone]
    assert m['gflops'] <= 0.5, f"phone: {phone} needs {m['gflops']} GMACs per image, over the phone's 0.5: filter on the gflops column first"
    assert m['params'] <= 5000000.0, f"phone: {phone} has {m['params'] / 1000000.0:.1f} M parameters, over the phone's 5 M: BOTH limits must hold"

@test_case(points=None, hidden=False)
def test_server_within_budget(server):
    from utils import models
    zoo = {m['name']: m for m in models.all_metadata()}
    assert server in zoo, f'server: {server!r} is not the name of a model in zoo (models.all_metadata())'
    assert zoo[server]['gflops'] <= 20, f"server: {server} needs {zoo[server]['gflops']} GMACs per image, over the server's 20"

