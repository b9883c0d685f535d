"""The label reader on the users' two real label files and on broken ones."""
from __future__ import annotations

import subprocess
import sys

import pytest

from inference.labels import match_labels, parse_label, read_labels, video_key
from tests.inference_fixtures import REPO_ROOT, dada_fixture


def users_folder(tsv_table) -> list[str]:
    """The users' 100-video folder: the TSV's videos without images_2_005, plus images_5_039 (fixtures README)."""
    return [label.video_id for key, label in tsv_table.labels.items() if key != "images_2_005"] + ["images_5_039.avi"]


@pytest.mark.parametrize(
    "name, key",
    [("images_1_001.avi", "images_1_001"), ("images_1_001", "images_1_001"), ("dir/images_1_001.AVI", "images_1_001"),
     ("\ufeffimages_5_039.avi ", "images_5_039"), ("C:\\data\\images_2_004.mp4", "images_2_004"), ("clip.v2", "clip.v2")],
)
def test_video_key_ignores_folder_extension_and_case(name, key):
    assert video_key(name) == key


@pytest.mark.parametrize(
    "text, expected",
    [("none", (False, None)), ("cut-in", (False, None)), ("13: cut-in", (False, None)), ("10s: cut-in", (False, None)),
     ("5s: ghost probing", (True, 5.0)), ("17s: ghost probing", (True, 17.0)), ("potential ghost probing", (True, None)),
     ("  2.5 s - Ghost Probing ", (True, 2.5)), ("ghost probing at 4s", (True, 4.0)), ("None", (False, None))],
)
def test_parse_label_applies_the_users_rule(text, expected):
    assert parse_label(text) == expected


@pytest.mark.parametrize("text, reason", [("", "empty label"), ("banana", "unknown label 'banana'"), ("5s:", "unknown")])
def test_parse_label_rejects_unknown_text_with_a_reason(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_label(text)


def test_tab_separated_file_reports_the_row_without_video_id():
    table = read_labels(dada_fixture("groundtruth_labels.tsv"))
    assert len(table.labels) == 100
    assert sum(label.positive for label in table.labels.values()) == 52
    assert [(p.line, p.reason) for p in table.problems] == [(87, "no video id in the first column")]
    assert table.duplicates == []
    first = table.labels["images_1_002"]
    assert (first.video_id, first.raw, first.positive, first.start_second, first.line) == (
        "images_1_002.avi", "5s: ghost probing", True, 5.0, 3)
    assert table.labels["images_5_038"].raw == "13: cut-in" and not table.labels["images_5_038"].positive


def test_comma_separated_file_with_bom_crlf_and_trailing_commas():
    table = read_labels(dada_fixture("groundtruth_labels_v2.csv"))
    assert table.problems == [] and table.duplicates == []
    assert len(table.labels) == 201
    label = table.labels["images_1_001"]
    assert (label.video_id, label.raw, label.positive, label.line) == ("images_1_001.avi", "none", False, 2)
    assert table.labels["images_1_002"].start_second == 5.0
    assert not any(key.startswith("\ufeff") or key.endswith(",") for key in table.labels)


def test_match_against_the_users_folder_reports_both_mismatches():
    table = read_labels(dada_fixture("groundtruth_labels.tsv"))
    match = match_labels(table, users_folder(table))
    assert len(match.matched) == 99
    assert match.unlabelled == ["images_5_039.avi"]
    assert match.labels_without_video == ["images_2_005.avi"]


def test_match_without_extension_and_in_other_case(tmp_path):
    path = tmp_path / "labels.tsv"
    path.write_text("video_id\tground_truth_label\nimages_1_001\tnone\nIMAGES_1_002.AVI\t3s: ghost probing\n")
    match = match_labels(read_labels(path), ["images_1_001.avi", "images_1_002.avi"])
    assert {name: label.positive for name, label in match.matched.items()} == {
        "images_1_001.avi": False, "images_1_002.avi": True}


def test_malformed_rows_are_reported_by_line_and_the_rest_kept(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(
        "video_id,ground_truth_label\n"
        "images_1_001.avi,none\n"
        "images_1_002.avi\n"  # line 3: one column
        "images_1_003.avi,banana\n"  # line 4: unknown label
        "\n"
        ",4s: ghost probing\n"  # line 6: no id
        "images_1_001.avi,2s: ghost probing\n"  # line 7: duplicate, different label
        "images_1_004.avi,3s: ghost probing,\n"
    )
    table = read_labels(path)
    assert sorted(table.labels) == ["images_1_001", "images_1_004"]
    assert table.labels["images_1_001"].raw == "none"  # first row wins
    assert [(p.line, p.reason.split(" (")[0]) for p in table.problems] == [
        (3, "expected 2 columns, found 1"), (4, "unknown label 'banana'"), (6, "no video id in the first column")]
    assert [d.line for d in table.duplicates] == [7]
    assert "different label 'none'" in table.duplicates[0].reason


def test_headerless_file_is_read_from_the_first_line(tmp_path):
    path = tmp_path / "labels.tsv"
    path.write_text("images_1_001.avi\tnone\nimages_1_002.avi\t5s: ghost probing\n")
    table = read_labels(path)
    assert [label.line for label in table.labels.values()] == [1, 2]


def test_missing_and_unrecognisable_files_raise_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="labels file not found"):
        read_labels(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("\n\n")
    with pytest.raises(ValueError, match="is empty"):
        read_labels(tmp_path / "empty.csv")
    (tmp_path / "one.txt").write_text("just some words\n")
    with pytest.raises(ValueError, match="no tab, comma or semicolon"):
        read_labels(tmp_path / "one.txt")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x81bad")
    with pytest.raises(ValueError, match="not UTF-8"):
        read_labels(tmp_path / "binary.csv")


def test_pure_modules_import_neither_numpy_nor_torch():
    code = ("import sys, inference.labels, inference.metrics, inference.summary, inference.outputs, "
            "inference.sharding, inference.merge; "
            "bad = [m for m in ('numpy', 'torch', 'transformers', 'prefect', 'azure') if m in sys.modules]; "
            "sys.exit(f'imported {bad}' if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + result.stdout
