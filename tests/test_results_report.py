"""The report fits the outcome: a healthy run's results report, and local advice for a local folder that is missing."""
import json

from tasks.preflight.local_advice import local_advice
from tasks.results_report import render_results_report, table_rows


def write_outputs(folder):
    folder.mkdir(parents=True)
    records = [
        {"video": "a.avi", "verdict": "yes", "positive": True, "start_second": 2.0, "reason": "pedestrian | from van",
         "label": "1", "label_positive": True, "error": None},
        {"video": "b.avi", "verdict": "yes", "positive": True, "reason": "cyclist", "label": "0", "label_positive": False,
         "error": None},
        {"video": "c.avi", "verdict": None, "positive": None, "error": "unreadable", "label": "0", "label_positive": False},
    ]
    (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    metrics = {"n": 2, "positives": 1, "negatives": 1, "confusion": {"tp": 1, "fp": 1, "fn": 0, "tn": 0}, "f1": 0.667,
               "precision": 0.5, "recall": 1.0, "accuracy": 0.5, "balanced_accuracy": 0.5, "mcc": 0.0,
               "baseline_always_positive": {"f1": 0.667, "precision": 0.5, "recall": 1.0, "mcc": 0.0}}
    (folder / "summary.json").write_text(json.dumps({"metrics": metrics}))
    return folder


def test_results_report_has_metrics_baseline_matrix_verdicts_links_and_no_error_sections(tmp_path):
    outputs = write_outputs(tmp_path / "outputs")
    text = render_results_report(outputs, "gw-1234-a1", "all 3 videos answered", {"Predictions": str(outputs)},
                                 {"Prefect flow run": "http://127.0.0.1:4200/runs/flow-run/1"})
    assert "| F1 | 0.667 | 0.667 |" in text and "Always-yes baseline" in text
    assert "| **Labelled yes** | 1 | 0 |" in text and "| **Labelled no** | 1 | 0 |" in text
    assert "| a.avi | yes | 2.0 | pedestrian \\| from van | 1 | ✅ correct |" in text
    assert "| b.avi | yes |  | cyclist | 0 | ❌ incorrect |" in text
    assert "error: unreadable" in text
    assert "[Prefect flow run](http://127.0.0.1:4200/runs/flow-run/1)" in text
    assert "Error Details" not in text and "Error details" not in text and "Root Cause" not in text


def test_results_table_rows_say_why_and_whether_right(tmp_path):
    rows = table_rows(write_outputs(tmp_path / "outputs"))
    assert [r["correct"] for r in rows] == ["correct", "incorrect", None]
    assert rows[0]["reason"] == "pedestrian | from van"


def test_local_folder_gets_shell_advice_and_remote_uris_keep_the_catalogue():
    recs, steps = local_advice("data_not_found", "/data/DADA-100-videos", ["/data/DADA-100-video"])
    assert all("az " not in r for r in recs + steps)
    assert "ls -la /data" in recs[0] and "`/data/DADA-100-video`" in recs[0]
    assert local_advice("data_not_found", "azureml://datastores/x/paths/y", []) is None
    assert local_advice("cuda_oom", "/data/x", []) is None
