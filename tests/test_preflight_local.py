"""Preflight of local folders: missing, empty, wrong files, corrupt clips, counts, labels, and the CLI's exit codes."""
import json
import shutil

import pytest

from tasks.preflight import PreflightOptions, run_preflight
from flows.cli import preflight as preflight_command
from flows.cli.common import standalone_parser
from flows.sample_data import make_sample_dataset

SMALL = dict(width=96, height=64, fps=10, seconds=2)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """Six decodable clips and their labels, in a folder named like the users' (with a differently-cased twin)."""
    return make_sample_dataset(tmp_path_factory.mktemp("data") / "DADA-100-Videos", videos=6, seed=1, **SMALL)


def copy_of(dataset, tmp_path, name="copy"):
    target = tmp_path / name
    shutil.copytree(dataset.folder, target)
    return target


def ids(findings):
    return [finding.id for finding in findings]


def test_good_folder_passes_with_a_full_manifest(good):
    result = run_preflight(PreflightOptions(uri=str(good.folder), labels_path=str(good.labels_path), expected_count=6))

    assert result.passed, result.to_markdown()
    assert result.blocking == [] and result.warnings == []
    assert result.access.kind == "local" and result.access.auth == "local" and not result.access.use_identity
    assert result.access.job_input == str(good.folder.resolve())
    assert sorted(row["name"] for row in result.manifest) == sorted(path.name for path in good.videos)
    row = result.manifest[0]
    assert row["readable"] is True and row["fps"] == 10.0 and row["frames"] == 20
    assert (row["width"], row["height"], row["duration"]) == (96, 64, 2.0)
    assert row["label"] == good.labels[row["name"]]
    assert result.stats["probed"] == 6 and result.stats["labelled"] == 6
    json.loads(result.to_json())  # everything serialises


def test_missing_folder_names_the_path_and_the_nearest_sibling(good):
    missing = good.folder.parent / "DADA-100-videos"

    result = run_preflight(PreflightOptions(uri=str(missing)))

    assert not result.passed
    [finding] = result.blocking
    assert finding.category == "data_not_found" and str(missing) in finding.message
    assert result.access.suggestions == [str(good.folder) + "/"]
    assert str(good.folder) in finding.message


def test_missing_folder_under_a_hidden_folder_is_suggested_from_inside_it(tmp_path):
    # The demo keeps its data under .demo/: a hidden folder on the path is walked through, not replaced by a look-alike.
    (tmp_path / "node_modules").mkdir()
    data = tmp_path / ".demo" / "datastore" / "DADA-100-video"
    data.mkdir(parents=True)

    result = run_preflight(PreflightOptions(uri=str(data.parent / "DADA-100-videos")))

    assert result.access.suggestions == [str(data) + "/"]


def test_missing_folder_without_lookalike_lists_what_exists(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "models").mkdir()

    result = run_preflight(PreflightOptions(uri=str(tmp_path / "DADA-100-videos")))

    [finding] = result.blocking
    assert result.access.suggestions == []
    assert "results" in finding.message and "models" in finding.message


def test_empty_folder_blocks(tmp_path):
    result = run_preflight(PreflightOptions(uri=str(tmp_path)))

    assert not result.passed
    assert ids(result.blocking) == ["videos_present"]
    assert result.blocking[0].category == "data_not_found"
    assert "found 0 other file(s): nothing" in result.blocking[0].message


def test_folder_without_videos_lists_what_it_found(tmp_path):
    (tmp_path / "clips.zip").write_bytes(b"PK\x03\x04")
    (tmp_path / "frame_0001.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "groundtruth_labels.csv").write_text("video_id\tground_truth_label\n")  # a sidecar, not offending

    result = run_preflight(PreflightOptions(uri=str(tmp_path)))

    assert ids(result.blocking) == ["videos_present"]
    assert result.blocking[0].offending == ["clips.zip", "frame_0001.jpg"]
    assert "clips.zip" in result.blocking[0].message


def test_one_corrupt_clip_warns_and_passes(good, tmp_path):
    folder = copy_of(good, tmp_path)
    (folder / "images_1_003.avi").write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(1000))

    result = run_preflight(PreflightOptions(uri=str(folder), expected_count=6))

    assert result.passed
    assert ids(result.warnings) == ["decodable"]
    assert result.warnings[0].offending == ["images_1_003.avi"]
    bad = next(row for row in result.manifest if row["name"] == "images_1_003.avi")
    assert bad["readable"] is False and bad["probe_error"]


def test_mostly_corrupt_clips_block(good, tmp_path):
    folder = copy_of(good, tmp_path)
    for name in ("images_1_001.avi", "images_1_002.avi", "images_1_003.avi", "images_1_004.avi"):
        (folder / name).write_bytes(b"not a video")

    result = run_preflight(PreflightOptions(uri=str(folder), expected_count=6))

    assert not result.passed
    assert ids(result.blocking) == ["mostly_decodable"]
    assert len(result.blocking[0].offending) == 4


def test_empty_video_file_and_foreign_extension_warn(good, tmp_path):
    folder = copy_of(good, tmp_path)
    (folder / "images_1_007.avi").write_bytes(b"")
    (folder / "images_1_008.webm").write_bytes(b"\x1aE\xdf\xa3")

    result = run_preflight(PreflightOptions(uri=str(folder), expected_count=None))

    assert "non_empty_files" in ids(result.warnings)
    assert next(f for f in result.warnings if f.id == "non_empty_files").offending == ["images_1_007.avi"]
    assert next(f for f in result.warnings if f.id == "allowed_extensions").offending == ["images_1_008.webm"]


def test_expected_count_blocks_and_can_be_turned_off(good):
    result = run_preflight(PreflightOptions(uri=str(good.folder)))  # default: 100 expected

    assert ids(result.blocking) == ["expected_count"]
    assert result.blocking[0].offending == [6]
    assert "Expected 100 videos" in result.blocking[0].message and "found 6" in result.blocking[0].message

    skipped = run_preflight(PreflightOptions(uri=str(good.folder), expected_count=None))
    assert skipped.passed
    assert {"id": "expected_count", "severity": "blocking", "status": "skipped",
            "note": "turned off (parameter is none)"} in skipped.stats["checks"]


def test_label_quirks_warn_and_fail_on_warnings_blocks(good, tmp_path):
    labels = tmp_path / "labels.tsv"
    rows = [f"{name}\t{label}" for name, label in list(good.labels.items())[1:]]  # first video unlabelled
    rows += ["images_9_999.avi\tnone", "images_1_001.avi\tbanana"]  # label without video; unparseable label
    labels.write_text("video_id\tground_truth_label\n" + "\n".join(rows) + "\n")

    result = run_preflight(PreflightOptions(uri=str(good.folder), labels_path=str(labels), expected_count=6))

    assert result.passed
    found = {finding.id: finding for finding in result.warnings}
    assert found["every_video_labelled"].offending == ["images_1_001.avi"]
    assert found["every_label_has_video"].offending == ["images_9_999.avi"]
    assert len(found["labels_parse"].offending) == 1 and "line 8" in found["labels_parse"].offending[0]
    assert all(not finding.blocking for finding in result.warnings)

    strict = run_preflight(PreflightOptions(uri=str(good.folder), labels_path=str(labels), expected_count=6,
                                            fail_on_warnings=True))
    assert not strict.passed and strict.blocking == []


def test_unreadable_label_file_blocks(good, tmp_path):
    result = run_preflight(PreflightOptions(uri=str(good.folder), labels_path=str(tmp_path / "nope.csv"), expected_count=6))

    assert ids(result.blocking) == ["labels_unreadable"]
    assert "nope.csv" in result.blocking[0].message


def test_quiet_and_nothing_written_into_the_users_folder_or_cwd(good, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in good.folder.iterdir())

    run_preflight(PreflightOptions(uri=str(good.folder), labels_path=str(good.labels_path), expected_count=6))

    assert sorted(p.name for p in good.folder.iterdir()) == before
    assert list(tmp_path.iterdir()) == []
    printed = capfd.readouterr()
    assert printed.out == "" and "Calculating Metrics" not in printed.err and "great_expectations" not in printed.err


@pytest.mark.parametrize("bad", [dict(expected_count=0), dict(concurrency=0), dict(probe_sample=-1)])
def test_bad_options_raise_value_error(good, bad):
    with pytest.raises(ValueError):
        run_preflight(PreflightOptions(uri=str(good.folder), **bad))


def cli(*argv):
    return preflight_command.main(standalone_parser(preflight_command).parse_args(list(argv)))


def test_cli_exit_codes_and_json(good, tmp_path, capsys):
    assert cli(str(good.folder), "--labels", str(good.labels_path), "--expected-count", "6", "--json") == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["passed"] is True and len(printed["manifest"]) == 6

    assert cli(str(tmp_path / "missing")) == 1
    assert "Preflight FAILED" in capsys.readouterr().out

    assert cli("ftp://example.org/videos") == 2
    assert "unsupported scheme 'ftp'" in capsys.readouterr().err


def test_cli_azureml_uri_without_a_workspace_says_what_to_pass(monkeypatch, capsys):
    from flows.cli.workspace import WORKSPACE_FLAGS

    for name in (v for _, _, names in WORKSPACE_FLAGS for v in names):
        monkeypatch.delenv(name, raising=False)

    assert cli("azureml://datastores/workspaceblobstore/paths/DADA-100-videos/") == 2
    assert "--subscription-id" in capsys.readouterr().err


def test_cli_rejects_a_bad_count():
    with pytest.raises(SystemExit):
        cli("/tmp", "--expected-count", "zero")
