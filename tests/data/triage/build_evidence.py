"""Rebuild the evidence folders under tests/data/triage/evidence/ (run once; the folders are committed).

    .venv/bin/python tests/data/triage/build_evidence.py [--labels /work/shared/fixtures/dada100/groundtruth_labels.tsv]

seed_data_not_found: the seed failure (/work/shared/seeds/000_*.txt) as Azure ML's `az ml job download --all` lays it
    out, with the real mount-failure lines and the usual benign noise (metrics capability probing containerd, hosttools
    parse warnings, rslex HEAD 404 probes) and a log-upload warning carrying a SAS signature (must be redacted).
completed_degenerate: a job that Completed with 100 videos all answered "no" on a labelled set with both classes.
healthy_completed: a job that Completed with a plausible mix of answers; noisy system logs; must come out `none`.
Log wording follows the real excerpts cited in excerpts.yaml; ids, the subscription and the SAS are fake.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path

HERE = Path(__file__).parent / "evidence"
SUB = "00000000-1111-2222-3333-444444444444"
DATA_URI = (f"azureml://subscriptions/{SUB}/resourcegroups/llava-resourcegroup/workspaces/llava-workspace/"
            "datastores/workspaceblobstore/paths/DADA-100-videos/")
FAKE_SIG = "fake-sas-signature-for-tests%3D"


def write(folder: Path, rel: str, text: str) -> None:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.lstrip("\n"), encoding="utf-8")


def noise(job: str, day: str, hour: str) -> dict[str, str]:
    """Benign system-log noise every Azure ML job has."""
    t = f"{day}T{hour}"
    return {
        "system_logs/metrics_capability/metrics-capability.log": f"""
{t}:11.512000Z INFO metrics-capability: Starting metrics capability
{t}:12.341000Z ERROR metrics-capability: failed to get container stats from containerd: rpc error: code = NotFound desc = container "{job}-user" not found
{t}:12.350000Z INFO metrics-capability: Capability started
{t}:13.341000Z ERROR metrics-capability: failed to get container stats from containerd: rpc error: code = NotFound desc = container not found, ServiceError will retry
{t}:14.341000Z ERROR metrics-capability: failed to get container stats from containerd: rpc error: code = NotFound desc = container not found, ServiceError will retry
""",
        "system_logs/hosttools_capability/hosttools-capability.log": f"""
{t}:11.620000Z INFO hosttools-capability: Starting hosttools capability
{t}:11.902000Z WARN hosttools-capability: failed to parse /etc/azureml/node_config.json: ImportError: libnvidia-ml.so not loaded, skipping GPU topology
{t}:11.905000Z WARN hosttools-capability: failed to parse /etc/infiniband/ib.conf: no such file, InfiniBand disabled
{t}:12.011000Z INFO hosttools-capability: Capability started
""",
        "system_logs/snapshot_capability/snapshot-capability.log": f"""
{t}:11.700100Z INFO snapshot-capability: Downloading code snapshot
{t}:12.398000Z INFO snapshot-capability: Snapshot downloaded: 4 files, 38.2 KiB
{t}:12.402000Z INFO snapshot-capability: Capability started
""",
    }


def seed(folder: Path) -> None:
    job = "stoic_kitchen_mz0lhlfq29"
    record = {
        "handle": {"backend": "azureml", "name": job, "attempt": 1,
                   "details": {"compute": "llava-a100-low-priority", "spec_name": "llava-ghost-probing-fixed-0721_144428"}},
        "state": "Failed",
        "started_at": "2025-07-21T06:45:08+00:00",
        "ended_at": "2025-07-21T06:45:33+00:00",
        "exit_code": None,
        "error": {"code": "ScriptExecution.StreamAccess.NotFound",
                  "message": "The requested stream was not found. Please make sure the request uri is correct.",
                  "category": "UserError", "target": "UriMountSession:INPUT_video_data"},
        "studio_url": f"https://ml.azure.com/runs/{job}?wsid=/subscriptions/{SUB}/resourcegroups/llava-resourcegroup/workspaces/llava-workspace",
        "properties": {"compute": "llava-a100-low-priority", "experiment": "llava-ghost-probing",
                       "display_name": "llava-ghost-probing-fixed-0721_144428",
                       "environment": "AzureML-ACPT-pytorch-1.13-py38-cuda11.7-gpu:10"},
    }
    write(folder, "job.json", json.dumps(record, indent=2) + "\n")
    for rel, text in noise(job, "2025-07-21", "06:45").items():
        write(folder, rel, text)
    write(folder, "system_logs/lifecycler/lifecycler.log", f"""
2025-07-21T06:45:09.881203Z INFO lifecycler: Lifecycler starting for job {job}
2025-07-21T06:45:10.002931Z INFO lifecycler: Image mcr.microsoft.com/azureml/curated/acpt-pytorch-1.13-py38-cuda11.7-gpu:10 found in cache
2025-07-21T06:45:11.100873Z INFO lifecycler: Starting execution wrapper
2025-07-21T06:45:13.050411Z WARN lifecycler::log_upload: upload of system_logs/data_capability/rslex.log.2025-07-21-06 to https://llavaworstoragea223ed2d6.blob.core.windows.net/azureml/ExperimentRun/dcid.{job}/system_logs/data_capability/rslex.log.2025-07-21-06?sv=2019-07-07&sr=b&sig={FAKE_SIG}&se=2025-07-22T06%3A45%3A00Z&sp=rcw failed: 403 KeyBasedAuthenticationNotPermitted: Key based authentication is not permitted on this storage account. Will retry with the run token.
2025-07-21T06:45:13.311902Z INFO lifecycler::log_upload: upload retried with the run token: ok
2025-07-21T06:45:33.402118Z INFO lifecycler: Job finished with state Failed
""")
    write(folder, "system_logs/lifecycler/execution-wrapper.log", f"""
2025-07-21T06:45:11.204518Z INFO execution_wrapper: Starting execution wrapper for job {job}
2025-07-21T06:45:11.318220Z INFO execution_wrapper::capabilities: Starting capability cs-capability
2025-07-21T06:45:11.318731Z INFO execution_wrapper::capabilities: Starting capability metrics-capability
2025-07-21T06:45:11.319002Z INFO execution_wrapper::capabilities: Starting capability snapshot-capability
2025-07-21T06:45:11.319254Z INFO execution_wrapper::capabilities: Starting capability data-capability
2025-07-21T06:45:11.319611Z INFO execution_wrapper::capabilities: Starting capability hosttools-capability
2025-07-21T06:45:12.120044Z INFO execution_wrapper::capabilities: cs-capability started
2025-07-21T06:45:12.350871Z INFO execution_wrapper::capabilities: metrics-capability started
2025-07-21T06:45:12.402190Z INFO execution_wrapper::capabilities: snapshot-capability started
2025-07-21T06:45:12.981301Z ERROR execution_wrapper::capabilities: data-capability failed to start; not starting the user process
2025-07-21T06:45:13.002317Z INFO execution_wrapper: Job marked as failed; cleaning up
2025-07-21T06:45:33.410207Z INFO execution_wrapper: Cleanup finished, exit code 1
""")
    write(folder, "system_logs/cs_capability/cs-capability.log", f"""
2025-07-21T06:45:11.402811Z INFO cs-capability: Starting common-runtime capability
2025-07-21T06:45:11.988120Z INFO cs-capability: Registered job {job} with the control service
2025-07-21T06:45:12.120001Z INFO cs-capability: Capability started
2025-07-21T06:45:13.020934Z INFO cs-capability: Reporting job status Failed (UserError: ScriptExecution.StreamAccess.NotFound, target UriMountSession:INPUT_video_data)
""")
    write(folder, "system_logs/data_capability/data-capability.log", f"""
INFO 2025-07-21 06:45:11,702 data_capability.py:88 [31] - Starting data capability
INFO 2025-07-21 06:45:11,803 data_capability.py:120 [31] - Input INPUT_video_data: mode=ro_mount uri=azureml://datastores/workspaceblobstore/paths/DADA-100-videos/
INFO 2025-07-21 06:45:11,910 sdk_logger.py:44 [31] - ActivityStarted, mount
INFO 2025-07-21 06:45:11,911 mount.py:212 [31] - create dir for /mnt/azureml/cr/j/3f1c/cap/data-capability/wd/INPUT_video_data
WARNING 2025-07-21 06:45:12,873 mount.py:257 [31] - Failed to mount URI {DATA_URI} at mount point /mnt/azureml/cr/j/3f1c/cap/data-capability/wd/INPUT_video_data due to exception of type ExecutionError with message:
Error Code: ScriptExecution.StreamAccess.NotFound
Native Error: error in streaming from input data sources
	StreamError(NotFound)
=> stream not found
	NotFound
Error Message: The requested stream was not found. Please make sure the request uri is correct.| session_id=8c1d2f7e-5b0a-4f7e-9d11-0c2f6a3b9e10
INFO 2025-07-21 06:45:12,874 sdk_logger.py:44 [31] - ActivityCompleted: Activity=mount, HowEnded=Failure, Duration=963.21 [ms]
ERROR 2025-07-21 06:45:12,880 capability_session.py:76 [31] - ##[error] [CapabilitySession][start] Failed to start data session.
INFO 2025-07-21 06:45:13,001 data_capability.py:201 [31] - Data capability stopped
""")
    write(folder, "system_logs/data_capability/rslex.log.2025-07-21-06", """
2025-07-21T06:45:12.101200Z  INFO rslex::prepared_dataflow: opening stream handler for azureml://datastores/workspaceblobstore/paths/DADA-100-videos/
2025-07-21T06:45:12.512100Z  INFO rslex_azure_storage::blob: HEAD request_uri=https://llavaworstoragea223ed2d6.blob.core.windows.net/azureml-blobstore-1b2c/DADA-100-videos response_status_code=404 StreamError(NotFound) retrying as directory
2025-07-21T06:45:12.690400Z  INFO rslex_azure_storage::blob: GET request_uri=https://llavaworstoragea223ed2d6.blob.core.windows.net/azureml-blobstore-1b2c?restype=container&comp=list&prefix=DADA-100-videos%2F response_status_code=200 items=0
2025-07-21T06:45:12.701000Z  WARN rslex::stream_handler: prefix DADA-100-videos/ holds no blobs
""")


def read_labels(path: Path) -> list[tuple[str, str]]:
    rows: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            video, label = line.split("\t", 1)
            if video.strip():  # the real file has a row with no video id (line 87); no video, no prediction
                rows.setdefault(video.strip(), label.strip())
    return list(rows.items())


def completed(folder: Path, labels: list[tuple[str, str]], degenerate: bool) -> None:
    from inference.labels import parse_label  # the same rule the job applies
    job = "witty_garden_7k2m9q" if degenerate else "brave_river_x81p0c"
    rng = random.Random(7)
    record = {
        "handle": {"backend": "azureml", "name": job, "attempt": 1, "details": {"compute": "llava-a100-low-priority"}},
        "state": "Completed", "started_at": "2025-07-22T09:10:00+00:00", "ended_at": "2025-07-22T09:58:41+00:00",
        "exit_code": 0, "error": None, "studio_url": f"https://ml.azure.com/runs/{job}",
        "properties": {"compute": "llava-a100-low-priority", "experiment": "llava-ghost-probing"},
    }
    write(folder, "job.json", json.dumps(record, indent=2) + "\n")
    for rel, text in noise(job, "2025-07-22", "09:10").items():
        write(folder, rel, text)
    write(folder, "system_logs/data_capability/rslex.log.2025-07-22-09", """
2025-07-22T09:10:12.512100Z  INFO rslex_azure_storage::blob: HEAD request_uri=https://llavaworstoragea223ed2d6.blob.core.windows.net/azureml-blobstore-1b2c/DADA-100-videos response_status_code=404 StreamError(NotFound) retrying as directory
2025-07-22T09:10:12.690400Z  INFO rslex_azure_storage::blob: GET request_uri=https://llavaworstoragea223ed2d6.blob.core.windows.net/azureml-blobstore-1b2c?restype=container&comp=list&prefix=DADA-100-videos%2F response_status_code=200 items=100
""")
    std = ["2025-07-22T09:10:20Z INFO loading llava-hf/LLaVA-NeXT-Video-7B-hf as llava-next-video",
           "2025-07-22T09:11:02Z INFO model loaded in 41.8 s (bf16, cuda:0)"]
    predictions = []
    counts = {"yes": 0, "potential": 0, "no": 0, "unparsed": 0}
    for i, (video, label) in enumerate(labels, start=1):
        positive, second = parse_label(label)
        if degenerate:
            verdict = "no"
        else:
            right = rng.random() < 0.8
            verdict = ("yes" if positive else "no") if right else ("no" if positive else "potential")
        counts[verdict] += 1
        minute, sec = divmod(11 * 60 + 2 + i * 28, 60)
        std.append(f"2025-07-22T09:{minute % 60:02d}:{sec:02d}Z INFO [{i}/{len(labels)}] {video} 2.8s verdict={verdict}")
        predictions.append({
            "video": video, "verdict": verdict, "positive": verdict in ("yes", "potential"), "start_second": None,
            "actor": None, "reason": "pedestrian stays on the sidewalk" if verdict == "no" else "a pedestrian emerges from behind a parked van",
            "parsed_by": "json", "raw_text": json.dumps({"ghost_probing": verdict}), "error": None, "seconds": 2.8,
            "frames": 16, "decoder": "decord", "label": label, "label_positive": positive, "label_start_second": second,
            "model": "llava-hf/LLaVA-NeXT-Video-7B-hf", "model_family": "llava-next-video", "shard": "0/1",
            "finished_at": f"2025-07-22T09:{minute % 60:02d}:{sec:02d}+00:00",
        })
    std.append(f"2025-07-22T09:58:30Z INFO done: {len(labels)} videos predicted, 0 failed; summary in ./outputs/summary.json")
    write(folder, "user_logs/std_log.txt", "\n".join(std) + "\n")
    write(folder, "outputs/predictions.jsonl", "".join(json.dumps(p) + "\n" for p in predictions))
    positives = sum(1 for _, l in labels if parse_label(l)[0])
    summary = {"model": "llava-hf/LLaVA-NeXT-Video-7B-hf", "model_family": "llava-next-video", "num_frames": 16,
               "videos_total": len(labels), "videos_recorded": len(labels), "videos_done": len(labels),
               "videos_failed": 0, "failures": [], "verdict_counts": counts,
               "label_distribution": {"positive": positives, "negative": len(labels) - positives, "unlabelled": 0},
               "load_warnings": [], "newly_initialized": []}
    write(folder, "outputs/summary.json", json.dumps(summary, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=Path("/work/shared/fixtures/dada100/groundtruth_labels.tsv"))
    args = parser.parse_args()
    labels = read_labels(args.labels)
    for name, build in (("seed_data_not_found", seed),
                        ("completed_degenerate", lambda f: completed(f, labels, True)),
                        ("healthy_completed", lambda f: completed(f, labels, False))):
        folder = HERE / name
        shutil.rmtree(folder, ignore_errors=True)
        build(folder)
        print("wrote", folder)


if __name__ == "__main__":
    main()
