"""The append-only predictions file, resume after a kill, shards and their merge."""
from __future__ import annotations

import csv
import json

import pytest

from inference.merge import main as merge_main
from inference.merge import merge_shards
from inference.outputs import PredictionLog, read_predictions, shard_file_name, write_csv
from inference.sharding import select_shard, shard_from_env


def _record(video, verdict="no", label_positive=None, error=None):
    return {"video": video, "verdict": verdict, "positive": verdict in ("yes", "potential"), "error": error,
            "label": None, "label_positive": label_positive, "seconds": 0.5, "frames": 8, "raw_text": "x\ny",
            "timings": {"decode": 0.1, "preprocess": 0.1, "generate": 0.3}}


def test_appended_lines_survive_a_reopen(tmp_path):
    log = PredictionLog(tmp_path / "out" / "predictions.jsonl")
    for name in ("a.avi", "b.avi"):
        log.append(_record(name))
    reopened = PredictionLog(tmp_path / "out" / "predictions.jsonl")
    assert reopened.done() == {"a.avi", "b.avi"}
    assert (tmp_path / "out" / "predictions.jsonl").read_text().count("\n") == 2


def test_a_line_cut_short_by_a_kill_is_dropped_and_redone(tmp_path):
    path = tmp_path / "predictions.jsonl"
    log = PredictionLog(path)
    log.append(_record("a.avi"))
    with open(path, "ab") as handle:
        handle.write(b'{"video": "b.avi", "verdict": "y')  # the process died mid-write
    assert [r["video"] for r in read_predictions(path)] == ["a.avi"]
    resumed = PredictionLog(path)
    assert resumed.done() == {"a.avi"}
    resumed.append(_record("b.avi"))
    lines = path.read_text().splitlines()
    assert [json.loads(line)["video"] for line in lines] == ["a.avi", "b.avi"]


def test_damage_in_the_middle_is_not_silently_skipped(tmp_path):
    path = tmp_path / "predictions.jsonl"
    path.write_text('{"video": "a.avi"}\nGARBAGE\n{"video": "b.avi"}\n')
    with pytest.raises(ValueError, match="line 2 is not valid JSON"):
        read_predictions(path)


def test_csv_keeps_answers_on_one_row(tmp_path):
    write_csv([_record("b.avi"), _record("a.avi", error="cannot read")], tmp_path / "p.csv")
    rows = list(csv.DictReader(open(tmp_path / "p.csv", newline="")))
    assert [row["video"] for row in rows] == ["a.avi", "b.avi"]
    assert rows[1]["raw_text"] == "x y" and rows[0]["error"] == "cannot read"


def test_shard_file_names():
    assert shard_file_name("predictions.jsonl", 0, 1) == "predictions.jsonl"
    assert shard_file_name("predictions.jsonl", 2, 4) == "predictions.shard-02-of-04.jsonl"
    assert shard_file_name("summary.json", 0, 2) == "summary.shard-00-of-02.json"


def test_shards_partition_the_sorted_list_deterministically():
    videos = [f"v{i:02d}.avi" for i in range(10)]
    shards = [select_shard(videos, index, 3) for index in range(3)]
    assert sorted(sum(shards, [])) == videos
    assert shards[0] == ["v00.avi", "v03.avi", "v06.avi", "v09.avi"]
    with pytest.raises(ValueError, match="outside 0..2"):
        select_shard(videos, 3, 3)


@pytest.mark.parametrize(
    "env, expected",
    [({}, (0, 1)), ({"RANK": "1", "WORLD_SIZE": "4"}, (1, 4)),
     ({"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "3"}, (2, 3)),
     ({"RANK": "0"}, (0, 1))],
)
def test_shard_from_rank_variables(env, expected):
    assert shard_from_env(env) == expected


def test_bad_rank_variables_are_named():
    with pytest.raises(ValueError, match="RANK='x'"):
        shard_from_env({"RANK": "x", "WORLD_SIZE": "2"})
    with pytest.raises(ValueError, match="outside"):
        shard_from_env({"RANK": "2", "WORLD_SIZE": "2"})


def test_merge_combines_shards_and_names_missing_ones(tmp_path, capsys):
    for index, names in ((0, ["a.avi", "c.avi"]), (1, ["b.avi"])):
        log = PredictionLog(tmp_path / shard_file_name("predictions.jsonl", index, 3))
        for name in names:
            log.append(_record(name, verdict="yes", label_positive=name != "c.avi"))
        (tmp_path / shard_file_name("summary.json", index, 3)).write_text(json.dumps(
            {"model": "m", "videos_total": len(names), "started_at": f"2026-01-0{index + 1}", "ended_at": "2026-02-01",
             "labels": {"path": "labels.tsv"}}))
    summary = merge_shards(tmp_path)
    assert [r["video"] for r in read_predictions(tmp_path / "predictions.jsonl")] == ["a.avi", "b.avi", "c.avi"]
    assert summary["missing_shards"] == [2]
    assert summary["videos_total"] == 3 and summary["started_at"] == "2026-01-01"
    assert summary["metrics"]["confusion"] == {"tp": 2, "fp": 1, "fn": 0, "tn": 0}
    assert (tmp_path / "summary.json").exists() and (tmp_path / "confusion_matrix.png").exists()
    assert merge_main([str(tmp_path)]) == 0
    assert "shards still missing: [2]" in capsys.readouterr().out


def test_merge_refuses_an_empty_folder_and_mixed_runs(tmp_path, capsys):
    assert merge_main([str(tmp_path)]) == 2
    assert "nothing to merge" in capsys.readouterr().out
    PredictionLog(tmp_path / shard_file_name("predictions.jsonl", 0, 2)).append(_record("a.avi"))
    PredictionLog(tmp_path / shard_file_name("predictions.jsonl", 0, 3)).append(_record("b.avi"))
    with pytest.raises(ValueError, match="mixes shard counts"):
        merge_shards(tmp_path)
