"""Readable flow run names: what the run reads, where the job runs, and when it started."""
from __future__ import annotations

import datetime as dt
import re


def flow_run_name() -> str:
    """`<data folder>-<backend>-<MMDD-HHMMSS>`, e.g. `DADA-100-video-local-1201-2340`, from the run's parameters."""
    from prefect import runtime

    config = runtime.flow_run.parameters.get("config") or {}
    if hasattr(config, "model_dump"):
        config = config.model_dump()
    uri = str(config.get("video_uri") or "videos").rstrip("/")
    folder = re.sub(r"[^A-Za-z0-9._-]+", "-", uri.rsplit("/", 1)[-1] or "videos")[:40]
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%m%d-%H%M%S")
    return f"{folder}-{config.get('backend') or 'local'}-{stamp}"
