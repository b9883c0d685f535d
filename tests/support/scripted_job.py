"""A stand-in for the inference job, for LocalBackend tests: behaves as told by GW_SCRIPTED_JOB.

GW_SCRIPTED_JOB: 'ok' (writes predictions and exits 0), 'fail' (traceback, exit 1), 'sleep' (runs until killed).
"""
import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    output = Path(argv[argv.index("--output-folder") + 1])
    output.mkdir(parents=True, exist_ok=True)
    mode = os.environ.get("GW_SCRIPTED_JOB", "ok")
    print(f"scripted job starting in mode {mode}", flush=True)
    if mode == "sleep":
        time.sleep(600)
    if mode == "fail":
        raise RuntimeError("scripted failure")
    with open(output / "predictions.jsonl", "a") as f:
        f.write(json.dumps({"video": "images_1_001.avi", "verdict": "no", "positive": False, "error": None}) + "\n")
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
