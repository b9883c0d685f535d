"""Whether the interpreter that runs a local job has the job's packages (the `inference` extra)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys

# What the job imports before it can load a model; `pip install .` (the orchestrator) has none of them.
JOB_PACKAGES = ("torch", "torchvision", "transformers", "accelerate")
INSTALL_HINT = "pip install 'ghostwatch[inference]'  (from a checkout: pip install -e '.[inference]')"


def missing_job_packages(python: str) -> list[str]:
    """The job packages `python` cannot import (checked without importing them: torch takes seconds to import)."""
    if python == sys.executable:
        return [name for name in JOB_PACKAGES if importlib.util.find_spec(name) is None]
    probe = ("import importlib.util, sys; "
             f"print(' '.join(n for n in {JOB_PACKAGES!r} if importlib.util.find_spec(n) is None))")
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        return list(JOB_PACKAGES)
    return done.stdout.split()


def dependency_problem(python: str) -> str | None:
    """A workspace problem naming exactly what to install, or None when the job can run here."""
    missing = missing_job_packages(python)
    if not missing:
        return None
    return (f"ModuleNotFoundError: No module named '{missing[0]}': this worker's Python ({python}) lacks the local "
            f"job's packages ({', '.join(missing)}); install the inference extra where the worker runs: "
            f"{INSTALL_HINT}, or run the job on Azure ML (backend 'azureml')")
