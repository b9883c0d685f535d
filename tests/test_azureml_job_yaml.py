"""deployments/azureml/job.yaml: what `az ml job create -f` accepts, and the run's overrides on top of it."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from tasks.backends.azureml_job import DEFAULT_JOB_YAML, JobDefinitionError, build_job, job_name, load_job_definition
from tasks.backends.base import JobSpec
from tasks.config import AzureMLSettings

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = AzureMLSettings(subscription_id="00000000-0000-0000-0000-000000000000", resource_group="rg", workspace_name="ws")
SPEC = JobSpec(
    name="gw-3f2a9c1d-a2", video_input="azureml://datastores/workspaceblobstore/paths/DADA-100-videos/",
    output_dir="azureml://datastores/workspaceblobstore/paths/ghostwatch/3f2a9c1d", model="llava-hf/LLaVA-NeXT-Video-7B-hf",
    attempt=2,
)


def test_job_yaml_loads_as_the_cli_would_with_its_schema_line():
    text = DEFAULT_JOB_YAML.read_text()
    assert text.startswith("$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json")
    job = load_job_definition(DEFAULT_JOB_YAML)

    assert job.type == "command"
    assert job.inputs["video_data"].mode == "ro_mount"
    assert job.outputs["results"].mode == "rw_mount"
    assert job.compute == "llava-a100-low-priority"
    assert job.queue_settings.job_tier.lower() == "spot"
    assert job.command.startswith("python -m inference.llava_ghost_probing_batch --video-folder ${{inputs.video_data}}")
    assert job.environment.image.split(":")[-1]  # pinned tag
    assert Path(job.environment.conda_file if isinstance(job.environment.conda_file, str) else DEFAULT_JOB_YAML.parent / "environment/conda.yaml").exists()


def test_environment_pins_every_package_of_the_inference_extra():
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["inference"]
    wanted = {re.split(r"[<>=!~\[ ]", req, maxsplit=1)[0].lower() for req in extra}
    conda = yaml.safe_load((DEFAULT_JOB_YAML.parent / "environment/conda.yaml").read_text())
    pip = next(dep["pip"] for dep in conda["dependencies"] if isinstance(dep, dict))
    pinned = {line.split("==")[0].lower(): line.split("==")[1] for line in pip}

    assert wanted <= set(pinned), f"conda.yaml lacks {sorted(wanted - set(pinned))} from the inference extra"
    assert all(version for version in pinned.values())
    assert "python=3.11" in conda["dependencies"]


def test_overrides_apply_the_run_and_keep_the_rest_of_the_yaml():
    spec = JobSpec(**{**SPEC.__dict__, "limit": 5, "labels": "azureml://datastores/workspaceblobstore/paths/labels.tsv", "use_identity": True, "env": {"HF_HUB_OFFLINE": "1"}, "extra_args": ("--save-interval", "5")})
    job = build_job(spec, SETTINGS, input_mode="download")

    assert job.name == "gw-3f2a9c1d-a2"
    assert job.compute == "llava-a100-low-priority" and job.experiment_name == "ghost-probing"
    assert job.inputs["video_data"].path == SPEC.video_input and job.inputs["video_data"].mode == "download"
    assert job.outputs["results"].path == SPEC.output_dir + "/" and job.outputs["results"].mode == "rw_mount"
    as_yaml = job._to_dict()  # what `az ml job show` would print
    assert as_yaml["inputs"]["limit"] == 5 and as_yaml["inputs"]["model"] == SPEC.model
    assert as_yaml["inputs"]["labels"]["type"] == "uri_file"
    assert job.command.endswith("--limit ${{inputs.limit}} --labels ${{inputs.labels}} --save-interval 5")
    assert job.identity.type == "managed_identity"
    assert job.environment_variables["HF_HUB_OFFLINE"] == "1"
    assert job.tags["ghostwatch.attempt"] == "2"
    assert job.queue_settings.job_tier.lower() == "spot"  # untouched YAML fields survive


def test_without_identity_the_yaml_identity_is_kept():
    assert build_job(SPEC, SETTINGS).identity.type == "user_identity"


@pytest.mark.parametrize("requested, expected", [
    ("gw-3f2a9c1d-a1", "gw-3f2a9c1d-a1"),
    ("GW 3F2A9C1D / attempt 1", "gw-3f2a9c1d-attempt-1"),
    ("-gw.run.a1_", "gw-run-a1"),
])
def test_job_names_follow_azure_rules_deterministically(requested, expected):
    assert job_name(requested) == expected == job_name(requested)


def test_a_name_without_letters_or_digits_is_refused():
    with pytest.raises(JobDefinitionError, match="no letters or digits"):
        job_name("//--//")


def test_yaml_without_the_video_input_is_refused_with_the_reason(tmp_path):
    broken = tmp_path / "job.yaml"
    broken.write_text(DEFAULT_JOB_YAML.read_text().replace("  video_data:", "  videos:").replace("inputs.video_data", "inputs.videos"))
    with pytest.raises(JobDefinitionError, match="no input 'video_data'"):
        build_job(SPEC, SETTINGS, job_yaml=broken)


def test_unknown_input_mode_is_refused():
    with pytest.raises(JobDefinitionError, match="input mode 'mount' is not one of ro_mount, download"):
        build_job(SPEC, SETTINGS, input_mode="mount")
