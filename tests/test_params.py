"""Run parameters: one pydantic model; a bad value gives an error that names the field."""
import json

import pytest

from flows.params import ParameterError, load_run_config


def test_defaults_and_file_merge(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("video_uri: /data/videos\nnum_frames: 8\nazureml:\n  subscription_id: s\n  resource_group: rg\n  workspace_name: ws\n")
    config = load_run_config({"num_frames": 12}, str(params))
    assert config.video_uri == "/data/videos" and config.num_frames == 12  # flags win over the file
    assert config.azureml.compute == "llava-a100-low-priority"
    assert config.expected_count == 100 and config.backend == "local"


@pytest.mark.parametrize(
    "values, field",
    [
        ({"video_uri": "/v", "num_frames": 0}, "num_frames"),
        ({"video_uri": "/v", "batch_size": 1000}, "batch_size"),
        ({"video_uri": "/v", "model_family": "llava-1.5"}, "model_family"),
        ({"video_uri": "/v", "backend": "kubernetes"}, "backend"),
        ({"video_uri": "/v", "num_fames": 8}, "num_fames"),
        ({}, "video_uri"),
    ],
)
def test_invalid_parameter_names_the_field(values, field):
    with pytest.raises(ParameterError) as err:
        load_run_config(values)
    assert f"  {field}:" in str(err.value)


def test_unreadable_parameters_file(tmp_path):
    bad = tmp_path / "p.json"
    bad.write_text("{not json")
    with pytest.raises(ParameterError, match="not valid json"):
        load_run_config({}, str(bad))
    with pytest.raises(ParameterError, match="does not exist"):
        load_run_config({}, str(tmp_path / "missing.json"))
    listed = tmp_path / "l.json"
    listed.write_text(json.dumps([1, 2]))
    with pytest.raises(ParameterError, match="mapping"):
        load_run_config({}, str(listed))
