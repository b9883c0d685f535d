"""`ghostwatch triage` from a shell: evidence folders, a message corpus, and a workspace job."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from flows.cli import triage as triage_command
from flows.cli.common import standalone_parser

EVIDENCE = Path(__file__).parent / "data" / "triage" / "evidence"


def _run(argv: list[str]) -> int:
    return triage_command.main(standalone_parser(triage_command).parse_args(list(argv)))


def test_evidence_json_verdict(capsys):
    status = _run(["--evidence", str(EVIDENCE / "seed_data_not_found"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 1
    assert {"category", "retryable", "action", "summary", "evidence"} <= set(out)
    assert (out["category"], out["retryable"], out["action"]) == ("data_not_found", False, "stop")
    assert any(e["file"].endswith("data-capability.log") for e in out["evidence"])


def test_evidence_markdown_and_report_dir(tmp_path, capsys):
    status = _run(["--evidence", str(EVIDENCE / "healthy_completed"), "--report-dir", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert status == 0
    assert captured.out.startswith("# Investigation report: brave_river_x81p0c")
    assert (tmp_path / "out" / "investigation_report.md").is_file()
    assert json.loads((tmp_path / "out" / "verdict.json").read_text())["category"] == "none"


def test_expected_videos_flag_reaches_the_output_checks(capsys):
    status = _run(["--evidence", str(EVIDENCE / "healthy_completed"), "--expected-videos", "120", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 1 and out["category"] == "output_invalid" and "100 of 120" in out["summary"]


def test_missing_evidence_folder_is_bad_input(tmp_path, capsys):
    assert _run(["--evidence", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_classify_jsonl_writes_one_line_per_input(tmp_path, capsys):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join([
        json.dumps({"id": "a", "message": "Error Code: ScriptExecution.StreamAccess.NotFound"}),
        json.dumps({"id": "b", "message": "torch.OutOfMemoryError: CUDA out of memory."}),
        json.dumps({"id": 3, "message": "nothing recognisable"}),
    ]) + "\n", encoding="utf-8")
    out_file = tmp_path / "out" / "classified.jsonl"
    assert _run(["--classify-jsonl", str(corpus), "--output", str(out_file)]) == 0
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [(r["id"], r["category"], r["retryable"], r["action"]) for r in rows] == [
        ("a", "data_not_found", False, "stop"), ("b", "cuda_oom", True, "resubmit_smaller_batch"),
        (3, "other", False, "stop")]


def test_classify_jsonl_reports_bad_lines_and_keeps_the_rest(tmp_path, capsys):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"id": "ok", "message": "PreemptionError: Nodes of this job got pre-empted"}\n'
                      "not json\n"
                      '{"message": "no id"}\n', encoding="utf-8")
    status = _run(["--classify-jsonl", str(corpus)])
    captured = capsys.readouterr()
    assert status == 2
    assert [json.loads(l)["id"] for l in captured.out.splitlines()] == ["ok"]
    assert f"{corpus}:2: not valid JSON" in captured.err and f"{corpus}:3: expected an object" in captured.err


def test_job_without_workspace_settings_is_bad_input(monkeypatch, capsys):
    from flows.cli.workspace import WORKSPACE_FLAGS

    for name in (v for _, _, names in WORKSPACE_FLAGS for v in names):
        monkeypatch.delenv(name, raising=False)
    assert _run(["--job", "stoic_kitchen_mz0lhlfq29", "--resource-group", "rg"]) == 2
    err = capsys.readouterr().err
    assert "--subscription-id" in err and "--workspace-name" in err and "--resource-group " not in err


def test_job_when_the_backend_cannot_be_imported(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tasks.backends.azureml", None)  # what an install without azure-ai-ml looks like
    status = _run(["--job", "j1", "--subscription-id", "s", "--resource-group", "rg", "--workspace-name", "ws"])
    err = capsys.readouterr().err
    assert status == 2 and "could not be imported" in err and "az ml job download --name j1 --all" in err


def test_parser_needs_exactly_one_source():
    with pytest.raises(SystemExit):
        _run([])
    with pytest.raises(SystemExit):
        _run(["--evidence", "a", "--job", "b"])


def test_triage_imports_neither_torch_nor_the_azure_sdk():
    import subprocess

    code = ("import sys, tasks.triage, flows.cli.triage; "
            "print(sorted(m for m in ('torch', 'transformers', 'azure.ai.ml', 'prefect') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    assert out == "[]"


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path):
    import subprocess

    source = tmp_path / "many.jsonl"
    source.write_text("".join(json.dumps({"id": i, "message": f"job {i}: No space left on device"}) + "\n"
                              for i in range(5000)), encoding="utf-8")
    command = (f"{sys.executable} -c 'import sys; from flows.cli import main; sys.exit(main())' "
               f"triage --classify-jsonl {source} | head -n 1")
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parents[1])
    seen = f"status {done.returncode}, stdout {done.stdout[:300]!r}, stderr {done.stderr[-2000:]!r}"
    assert json.loads(done.stdout)["category"] == "disk_full", seen
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, seen
    assert done.returncode == 141, seen
