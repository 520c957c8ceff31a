"""Install a requirements file into this virtual environment: with uv when it can, else with pip.

Run by `make` with the venv's own Python:
`.venv/bin/python tools/install_requirements.py requirements.txt`.

Why uv: pip unpacks and byte-compiles wheels one at a time, and torch's CUDA build unpacks to
gigabytes; uv does both in parallel, for the same pinned versions (checked with `pip freeze`),
byte-compiled like pip does. The measured times: docs/performance.md, "Installing the venv".

uv does not read pip's configuration. The settings pip would use here (its config files and PIP_*
variables, as `pip config list` reports them) are passed to uv as options. If a setting has no uv
equivalent, if uv cannot be installed, or if uv fails, pip installs instead: the environment is the
same either way, only slower. Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

UV = "uv==0.13.9"

# pip setting -> uv option. Space-separated lists (pip's format) become one option per item.
LIST_OPTIONS = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraint",
    "trusted-host": "--allow-insecure-host",
}
FLAG_OPTIONS = {"no-index": "--no-index", "pre": "--prerelease=allow"}
# pip settings that change nothing about what is installed (or that uv takes from the environment).
HARMLESS = {
    "cert",
    "default-timeout",
    "timeout",
    "disable-pip-version-check",
    "no-color",
    "progress-bar",
    "quiet",
    "verbose",
    "retries",
    "no-cache-dir",
    "cache-dir",
    "root-user-action",
    "no-input",
    "require-virtualenv",
    "break-system-packages",
    "config-file",
}
# pip's precedence: a PIP_* variable over the [install] section over [global].
SECTIONS = (":env:", "install", "global")


def pip_settings(python: str) -> dict[str, str]:
    """pip's effective settings, {name: value}, from `pip config list`."""
    out = subprocess.run(
        [python, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
    ).stdout  # main() falls back to pip if this fails
    found: dict[str, dict[str, str]] = {}
    for line in out.splitlines():
        key, sep, value = line.partition("=")
        section, dot, name = key.rpartition(".")
        if not (sep and dot) or section not in SECTIONS:
            continue
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            pass
        found.setdefault(name, {})[section] = str(value)
    return {name: next(by[s] for s in SECTIONS if s in by) for name, by in found.items()}


def uv_options(settings: dict[str, str]) -> tuple[list[str], dict[str, str]] | str:
    """uv's options and environment for pip's settings, or the reason there are none."""
    options = ["--index-strategy", "unsafe-best-match"]  # pip's rule: the best version on any index
    env: dict[str, str] = {}
    for name, value in sorted(settings.items()):
        if name in LIST_OPTIONS:
            for item in value.split():
                options += [LIST_OPTIONS[name], item]
        elif name in FLAG_OPTIONS:
            if value.lower() in {"1", "true", "yes", "on"}:
                options.append(FLAG_OPTIONS[name])
        elif name == "cert":
            env["SSL_CERT_FILE"] = value
        elif name in {"default-timeout", "timeout"}:
            env["UV_HTTP_TIMEOUT"] = value
        elif name not in HARMLESS:
            return f"pip setting {name!r} has no uv equivalent here"
    return options, env


def run(cmd: list[str], env: dict[str, str] | None = None) -> bool:
    return subprocess.run(cmd, env=env).returncode == 0


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python tools/install_requirements.py REQUIREMENTS_FILE", file=sys.stderr)
        return 2
    requirements, python = argv[0], sys.executable
    if not os.path.isfile(requirements):
        print(f"install_requirements: no such file: {requirements}", file=sys.stderr)
        return 2
    try:
        plan = uv_options(pip_settings(python))
    except (OSError, subprocess.CalledProcessError) as error:
        plan = f"`pip config list` failed: {error}"
    if isinstance(plan, str):
        print(f"install_requirements: installing with pip ({plan})")
    elif run([python, "-m", "pip", "install", "--quiet", UV]):
        options, extra_env = plan
        uv = [
            python,
            "-m",
            "uv",
            "pip",
            "install",
            "--python",
            python,
            "--compile-bytecode",
            "--quiet",
        ]
        if run(uv + options + ["-r", requirements], env={**os.environ, **extra_env}):
            return 0
        print("install_requirements: uv failed (above); installing with pip instead")
    else:
        print(f"install_requirements: could not install {UV}; installing with pip instead")
    if not run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"]):
        print("install_requirements: could not upgrade pip; going on with this one")
    return 0 if run([python, "-m", "pip", "install", "--quiet", "-r", requirements]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
