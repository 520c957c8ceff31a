"""The built zips are valid Gradescope autograders, and their results follow Gradescope's schema.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once
to build the image, then ``run_autograder`` per submission, and reads
``/autograder/results/results.json``. The sandboxed batch's results are checked
against the same schema in tests/test_grade.py, on the attack batch it grades anyway.
"""
import json
import subprocess
import sys
import zipfile

import pytest

from autograder import DIST, check, zip_path
from autograder.build import masters

from grading_fixtures import check_results_schema


@pytest.fixture
def built(request):
    """The zip of one master, built first when missing or stale (locked: the other test process may build too)."""
    check.ensure_built([request.param])
    return zip_path(request.param)


@pytest.mark.parametrize("built", [m.stem for m in masters()], indirect=True)
def test_zip_is_a_gradescope_autograder(built):
    with zipfile.ZipFile(built) as zf:
        names = set(zf.namelist())
        for required in ("run_autograder", "setup.sh", "run_otter.py", "otter_config.json"):
            assert required in names, f"{built.name} lacks {required}"
        assert names & {"requirements.txt", "environment.yml"}, "no requirements/environment file"
        tests = [n for n in names if n.startswith("tests/") and n.endswith(".py")]
        assert tests, "no tests/ in the zip"
        assert any(n.startswith("files/utils/") for n in names), "support files (utils) missing"
        config = json.loads(zf.read("otter_config.json"))
        run = zf.read("run_autograder").decode()
    assert config["assignment_name"] == built.stem
    assert config.get("lang", "python") == "python" and "token" not in config
    assert run.startswith("#!") and "run_otter.py" in run
    for t in tests:
        text = zipfile.ZipFile(built).read(t).decode()
        assert "OK_FORMAT = False" in text, f"{t}: tests must be exception-based"


@pytest.mark.slow
def test_otter_run_writes_gradescope_results(tmp_path):
    """Grade the full sample with plain ``otter run`` (what run_autograder calls) and check the schema."""
    from autograder.demo import SAMPLES
    stem = "01_ols_raw_pixels"
    check.ensure_built([stem])
    sub = SAMPLES / f"{stem}-full.ipynb"
    subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(DIST / f"{stem}.zip"),
                    "-o", str(tmp_path), str(sub)], check=True, capture_output=True, cwd=tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    check_results_schema(results)
    scored = [t for t in results["tests"] if "score" in t]
    assert sum(t["score"] for t in scored) == sum(t["max_score"] for t in scored) > 0
