"""A worker without the inference extra, asked to run the local backend, says exactly what to install."""
import stat
import sys

from tasks.backends.local_deps import JOB_PACKAGES, dependency_problem, missing_job_packages


def test_this_interpreter_has_the_job_packages():
    assert missing_job_packages(sys.executable) == []
    assert dependency_problem(sys.executable) is None


def test_an_interpreter_without_them_is_told_what_to_install(tmp_path):
    bare = tmp_path / "python"  # this Python without its site-packages: as a `pip install .` worker would be
    bare.write_text(f"#!/bin/sh\nexec {sys.executable} -S \"$@\"\n")
    bare.chmod(bare.stat().st_mode | stat.S_IEXEC)
    assert missing_job_packages(str(bare)) == list(JOB_PACKAGES)
    problem = dependency_problem(str(bare))
    assert "pip install 'ghostwatch[inference]'" in problem and "torch" in problem
    assert problem.startswith("ModuleNotFoundError: No module named 'torch'")
