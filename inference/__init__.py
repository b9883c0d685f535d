"""The ghost-probing GPU job's code snapshot: standalone, never imports Prefect, Azure SDKs, flows/ or tasks/.

Pure-Python modules the orchestrator may import: labels, metrics, summary, outputs, sharding, verdicts, merge.
"""
