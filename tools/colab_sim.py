"""The simulated Colab kernel, shared by tests/test_colab.py (project env),
tests/test_colab_runtime.py and `make bench` (Colab's published runtime): a real IPython kernel
whose shell class lives in ``google.colab._shell``, so the setup cell
(``"google.colab" in sys.modules``) and otter's own detection (``str(get_ipython())``) see Colab.
The fake ``google/colab`` package is on a path only this kernel sees (its kernelspec's PYTHONPATH).
"""

import json
from pathlib import Path

SHELL = '''"""Stand-in for Colab's shell module: otter checks that str(get_ipython()) names google.colab."""
from ipykernel.zmqshell import ZMQInteractiveShell


class Shell(ZMQInteractiveShell):
    pass
'''  # noqa: E501
LAUNCHER = '''"""Start an IPython kernel whose shell is google.colab._shell.Shell, as Colab's is."""
from ipykernel.ipkernel import IPythonKernel
from ipykernel.kernelapp import IPKernelApp
from traitlets import Type

from google.colab._shell import Shell


class ColabKernel(IPythonKernel):
    shell_class = Type(Shell)


if __name__ == "__main__":
    IPKernelApp.launch_instance(kernel_class=ColabKernel)
'''


def write_kernelspec(root: Path, python: str, name: str, env=None) -> Path:
    """Write the fake google.colab package and the kernelspec ``name`` (running ``python``) under
    ``root``.

    Returns the folder to put on JUPYTER_PATH."""
    pkg = (
        root / "site" / "google" / "colab"
    )  # google/ stays a namespace package (google.protobuf still imports)
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""Fake google.colab for the simulated Colab kernel."""\n')
    (pkg / "_shell.py").write_text(SHELL)
    (root / "site" / "colab_kernel_launcher.py").write_text(LAUNCHER)
    spec = root / "jupyter" / "kernels" / name
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(python), "-m", "colab_kernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (simulated Colab)",
                "language": "python",
                "env": {"PYTHONPATH": str(root / "site"), **(env or {})},
            }
        )
    )
    return root / "jupyter"
